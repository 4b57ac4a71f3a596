"""desktop.screenshots renders real pages to PNG files (offscreen)."""

from __future__ import annotations

from PySide6.QtGui import QImage

from desktop.screenshots import main, render_pages


def distinct_colours(image: QImage, step: int = 7) -> int:
    """How many colours a grid of sampled pixels holds (a blank grab has one or two)."""
    return len(
        {
            image.pixel(x, y)
            for x in range(0, image.width(), step)
            for y in range(0, image.height(), step)
        }
    )


def test_the_project_page_of_a_fresh_project_renders(qapp, new_project, tmp_path):
    out = tmp_path / "shots"
    written = render_pages(new_project, out, size=(1100, 700), device="CPU", pages=["project"])
    assert [path.name for path in written] == ["00-start.png", "01-project.png"]
    for path in written:
        image = QImage(str(path))
        assert (image.width(), image.height()) == (1100, 700)
        assert path.stat().st_size > 10_000
        assert distinct_colours(image) > 50  # text, sidebar, fields: not a blank window
    assert QImage(str(written[0])) != QImage(str(written[1]))  # two different views


def test_quantized_pngs_are_smaller_and_the_same_size(qapp, new_project, tmp_path):
    plain = render_pages(new_project, tmp_path / "plain", device="CPU", pages=["project"])
    small = render_pages(
        new_project, tmp_path / "small", device="CPU", pages=["project"], quantize=True
    )
    assert small[1].stat().st_size < plain[1].stat().st_size
    assert QImage(str(small[1])).size() == QImage(str(plain[1])).size()


def test_bad_arguments_are_one_line_errors(qapp, tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--size", "800x10"]) == 2
    assert "at least 900x600" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--pages", "project,nonsense", "--device", "CPU"]) == 2
    assert "unknown page 'nonsense'" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--project", str(tmp_path), "--device", "CPU"]) == 2
    assert "could not be opened" in capsys.readouterr().err
