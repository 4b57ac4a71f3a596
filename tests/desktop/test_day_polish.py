"""Issue 20's small fixes: bin counts on the reliability diagram, the window title, file
names in banners, feedback when no browser opens, the import split as used, the model
look-up's wording."""

from __future__ import annotations

from core.evaluate.figures import ReliabilityCurve
from desktop.main_window import window_title
from desktop.pages import evaluate_page
from desktop.pages.evaluate_page import EvaluatePage
from desktop.widgets.banner import InlineBanner
from desktop.widgets.reliability_chart import ReliabilityChart
from desktop.widgets.student_picker import StudentPicker


def _curve(counts):
    bins = len(counts)
    return ReliabilityCurve(
        "test", "student", "student", False, tuple(i / bins for i in range(bins + 1)),
        tuple(counts), tuple(0.1 + i / bins for i in range(bins)), (0.0, 0.5, 0.9), 0.1,
    )  # fmt: skip


def test_the_reliability_diagram_labels_each_bin_with_its_count(qtbot):
    chart = ReliabilityChart()
    qtbot.addWidget(chart)
    chart.set_curves(_curve((1, 0, 40)), None)
    (labels,) = chart.bin_labels().values()
    assert labels == ["n=1", "n=40"]  # the empty bin is not drawn; the lone record is marked


def test_the_title_does_not_repeat_the_app_name(qapp):
    assert window_title("demo") == "Stillroom — demo"
    qapp.setApplicationDisplayName("Stillroom")
    try:
        assert window_title("demo") == "demo"  # Qt appends " — Stillroom" itself
    finally:
        qapp.setApplicationDisplayName("")


def test_a_file_name_keeps_its_case_in_a_banner(qtbot):
    banner = InlineBanner()
    qtbot.addWidget(banner)
    banner.show_error("binary.csv is not a text file")
    assert banner.message().startswith("binary.csv")
    banner.show_error("the file is empty")
    assert banner.message().startswith("The file")


def test_no_browser_says_where_the_report_is(qtbot, app_context, tmp_path, monkeypatch):
    page = EvaluatePage(app_context)
    qtbot.addWidget(page)
    report = tmp_path / "report.html"
    report.write_text("<html></html>", encoding="utf-8")
    monkeypatch.setattr(evaluate_page, "open_url", lambda url: False)
    page.open_report(report)
    assert page.banner.level() == "warning"
    assert str(report) in page.banner.message()


def test_the_student_list_says_it_is_looking_until_the_scan_answers(qtbot):
    picker = StudentPicker()
    qtbot.addWidget(picker)
    assert picker.model_combo.itemText(0) == "Looking for models…"
    picker.set_entries([], "classification")
    assert "No local models found" in picker.model_combo.itemText(0)


def test_the_import_form_shows_the_split_the_data_used(qtbot, app_context, tmp_path):
    from desktop_fixtures import run_stage_in_process

    from core.data.importer import ImportConfig
    from core.jobs.registry import IMPORT
    from core.project import Project, QualityFloor
    from desktop.pages.data_page import DataPage

    source = tmp_path / "d.csv"
    rows = "".join(f"note number {i} about a bill,{'ab'[i % 2]}\n" for i in range(40))
    source.write_text("text,label\n" + rows, encoding="utf-8")
    path = tmp_path / "p"
    Project.create(path, task="classification", labels=("a", "b"), floor=QualityFloor(0.9)).close()
    config = ImportConfig(source=source, text_column="text", label_column="label",
                          split=(0.7, 0.1, 0.2), seed=5)  # fmt: skip
    run_stage_in_process(path, IMPORT, config)
    app_context.open_project(path)
    page = DataPage(app_context)
    qtbot.addWidget(page)
    page.show()
    assert page.split.fractions() == (0.7, 0.1, 0.2)
    assert page.split.seed.value() == 5
