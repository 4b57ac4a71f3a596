"""Hostile files are refused early, in bounded memory, by the limits of core.data.limits.

The files are built here, streaming: a gzip or bzip2 of one 256 MiB line is a few hundred
kilobytes; an .xlsx whose single cell is 256 MiB of one letter is about 250 KB. Before the
limits, importing a 1 GB line from a 1 MB .csv.gz peaked at 2.1 GB of memory.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from core.data.limits import InputLimits, parse_size
from core.data.textio import CappedStream
from core.errors import DataFileError, UserError

MIB = 1 << 20
HUGE = 256 * MIB
# Well above a refusal that reads 16 MiB, well below reading the 256 MiB line (over 500 MB).
RSS_BOUND_MB = 200


def _stream_line(handle, size: int) -> None:
    handle.write(b"text,label\n")
    block = b"a" * MIB
    for _ in range(size // MIB):
        handle.write(block)
    handle.write(b",x\n")


def _huge_gz(path: Path, size: int = HUGE) -> Path:
    with gzip.open(path, "wb", compresslevel=6) as handle:
        _stream_line(handle, size)
    return path


def _huge_bz2(path: Path, size: int = HUGE) -> Path:
    with bz2.open(path, "wb") as handle:
        _stream_line(handle, size)
    return path


def _workbook_with_cell(path: Path, write_cell) -> Path:
    """An .xlsx whose cell A2 holds what ``write_cell(stream)`` writes, streamed into the zip."""
    book = Workbook()
    book.active.append(["text", "label"])
    book.active.append(["PLACEHOLDER", "x"])
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if b"PLACEHOLDER" not in data:
                out.writestr(info, data)
                continue
            before, after = data.split(b"PLACEHOLDER")
            with out.open(info.filename, "w", force_zip64=True) as part:
                part.write(before)
                write_cell(part)
                part.write(after)
    return path


def _peak_rss(argv: list[str]) -> tuple[int, float, str]:
    """Run ``stillroom ARGV`` in a fresh interpreter: exit code, peak RSS in MB above the
    RSS it had with the CLI imported (its baseline), and stderr.

    The peak is the kernel's VmHWM, which starts afresh at exec; ``ru_maxrss`` would not do
    here, as Linux carries it over from the parent (pytest) across exec.
    """
    script = (
        "import json, resource, sys\n"
        "from core.cli import main\n"
        "def hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1])\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "base = hwm()\n"
        "code = main(sys.argv[1:])\n"
        "print(json.dumps({'code': code, 'base': base, 'peak': hwm()}))\n"
    )
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["code"], (report["peak"] - report["base"]) / 1024, done.stderr


@pytest.fixture
def cli_project(tmp_path) -> Path:
    from core.cli import main

    target = tmp_path / "proj"
    assert main(["init", str(target), "--floor", "0.9"]) == 0
    return target


@pytest.mark.parametrize("make", [_huge_gz, _huge_bz2], ids=["gz", "bz2"])
def test_a_compressed_file_of_one_huge_line_is_refused_in_bounded_memory(
    tmp_path, cli_project, make, capsys
):
    suffix = ".csv.gz" if make is _huge_gz else ".csv.bz2"
    path = make(tmp_path / f"one-line{suffix}")
    assert path.stat().st_size < 2 * MIB
    capsys.readouterr()

    code, above_base, err = _peak_rss(["import", str(cli_project), str(path), "--text", "text"])

    assert above_base < RSS_BOUND_MB, f"peak {above_base:.0f} MB above the baseline"
    assert code == 2
    assert "line 2 is longer than the line limit of 16 MiB" in err
    assert "--max-line-bytes" in err


def test_an_xlsx_zip_bomb_is_refused_before_it_is_opened(tmp_path, cli_project, capsys):
    def letters(part):
        block = b"a" * MIB
        for _ in range(HUGE // MIB):
            part.write(block)

    path = _workbook_with_cell(tmp_path / "bomb.xlsx", letters)
    assert path.stat().st_size < 2 * MIB
    capsys.readouterr()

    code, above_base, err = _peak_rss(["import", str(cli_project), str(path), "--text", "text"])

    assert above_base < RSS_BOUND_MB, f"peak {above_base:.0f} MB above the baseline"
    assert code == 2
    assert "decompression bomb" in err


def test_a_long_line_is_refused_at_the_limit_with_the_option_to_raise_it(
    tmp_path, do_import, project, nothing_written
):
    path = _huge_gz(tmp_path / "long.csv.gz", size=2 * MIB)
    with pytest.raises(DataFileError) as caught:
        do_import(path, max_line_bytes=MIB)
    assert "line 2 is longer than the line limit of 1 MiB" in caught.value.message
    assert "--max-line-bytes 2M" in caught.value.hint
    nothing_written(project)

    result = do_import(path, max_line_bytes=4 * MIB, max_chars=3 * MIB)
    assert result.rows_imported == 1


def test_a_jsonl_line_longer_than_the_limit_is_refused(tmp_path, do_import):
    path = tmp_path / "long.jsonl"
    path.write_text('{"text": "short"}\n{"text": "' + "b" * (2 * MIB) + '"}\n')
    with pytest.raises(DataFileError, match="line 2 is longer than the line limit"):
        do_import(path, max_line_bytes=MIB)


def test_a_row_of_many_short_quoted_lines_is_refused_at_the_limit(tmp_path, do_import):
    path = tmp_path / "many-lines.csv"
    # One row whose quoted cells each span a line: no line is long, the row is.
    path.write_text("text,label\n" + '"a\n",' * 300_000 + "x\n")
    with pytest.raises(DataFileError, match="row 1 is longer than the line limit of 1 MiB"):
        do_import(path, max_line_bytes=MIB)


def test_decompressing_past_the_limit_is_refused(tmp_path, do_import, project, nothing_written):
    path = tmp_path / "many.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("text,label\n")
        handle.writelines(f"row number {i},{'ab'[i % 2]}\n" for i in range(100_000))
    with pytest.raises(DataFileError) as caught:
        do_import(path, max_decompressed_bytes=MIB)
    assert "it decompresses to more than the decompressed-size limit of 1 MiB" in str(
        caught.value.message
    )
    assert "--max-decompressed-bytes 2M" in caught.value.hint
    nothing_written(project)
    assert do_import(path).rows_imported == 100_000


def test_an_xlsx_cell_longer_than_the_limit_is_refused_before_openpyxl(tmp_path, do_import):
    def random_text(part):
        part.write(os.urandom(MIB).hex().encode())  # 2 MiB that deflate cannot shrink

    path = _workbook_with_cell(tmp_path / "long-cell.xlsx", random_text)
    with pytest.raises(DataFileError, match="a cell or tag of the workbook is longer than"):
        do_import(path, max_line_bytes=MIB)


def test_an_xlsx_declaring_more_than_the_decompressed_limit_is_refused(tmp_path, do_import):
    path = _workbook_with_cell(tmp_path / "small.xlsx", lambda part: part.write(b"hello"))
    with pytest.raises(DataFileError, match="the parts of the workbook declare more than"):
        do_import(path, max_decompressed_bytes=4096)


def test_parquet_column_chunks_are_checked_from_the_footer(tmp_path, do_import):
    import pyarrow as pa
    import pyarrow.parquet as pq

    bomb = tmp_path / "bomb.parquet"
    pq.write_table(
        pa.table({"text": ["a" * (32 * MIB), "b"], "label": ["x", "y"]}), bomb, compression="zstd"
    )
    with pytest.raises(DataFileError, match=r"column 'text' expands .*decompression bomb"):
        do_import(bomb)

    long_values = tmp_path / "long.parquet"
    texts = [os.urandom(MIB).hex() for _ in range(2)]
    pq.write_table(pa.table({"text": texts, "label": ["x", "y"]}), long_values)
    with pytest.raises(DataFileError, match="a value of column 'text' is longer than"):
        do_import(long_values, max_line_bytes=MIB)
    with pytest.raises(DataFileError, match="the columns to read declare more than"):
        do_import(long_values, max_decompressed_bytes=MIB)


@pytest.mark.parametrize("reads", [1, 3, 7, 64])
def test_capped_stream_refuses_exactly_the_lines_longer_than_the_limit(reads):
    lines = [b"x" * n for n in (0, 3, 10, 9, 10, 1)]
    fits = b"\n".join(lines) + b"\n"
    assert _drain(fits, limit=10, reads=reads) == fits

    too_long = fits + b"y" * 11 + b"\nz\n"
    with pytest.raises(DataFileError, match="line 7 is longer than the line limit of 10 bytes"):
        _drain(too_long, limit=10, reads=reads)
    with pytest.raises(DataFileError, match="line 7 is longer"):
        _drain(fits + b"y" * 11, limit=10, reads=reads)  # the last line, unterminated


def test_only_a_compressed_stream_has_a_decompressed_limit():
    limits = InputLimits(max_line_bytes=100, max_decompressed_bytes=10)
    data = b"row\n" * 10
    assert CappedStream(io.BytesIO(data), "f", limits, compressed=False).read() == data
    with pytest.raises(DataFileError, match="decompresses to more than"):
        CappedStream(io.BytesIO(data), "f", limits, compressed=True).read()


def _drain(data: bytes, *, limit: int, reads: int) -> bytes:
    stream = CappedStream(io.BytesIO(data), "f", InputLimits(limit, 1 << 30), compressed=False)
    out = b""
    while chunk := stream.read1(reads):
        out += chunk
    return out


def test_sizes_take_units():
    assert parse_size("16M") == 16 * MIB
    assert parse_size("8g") == 8 << 30
    assert parse_size("512KiB") == 512 << 10
    assert parse_size("1000") == 1000
    for bad in ("", "0", "-1", "1.5M", "lots"):
        with pytest.raises(UserError):
            parse_size(bad)


def test_the_line_limit_never_refuses_a_text_within_max_chars():
    assert InputLimits.for_import(MIB, 1 << 30, max_chars=1_000_000).max_line_bytes == 4_000_000
    assert InputLimits.for_import(MIB, 1 << 30, max_chars=100).max_line_bytes == MIB


def test_the_cli_options_set_the_limits(tmp_path, cli_project, capsys):
    from core.cli import main

    path = tmp_path / "two-kib.csv"
    path.write_text("text,label\n" + "c" * 2048 + ",x\nshort,y\n")
    base = ["import", str(cli_project), str(path), "--text", "text", "--max-chars", "100"]
    capsys.readouterr()
    assert main([*base, "--max-line-bytes", "1K"]) == 2
    assert "longer than the line limit of 1 KiB" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main([*base, "--max-line-bytes", "lots"])
    assert usage.value.code == 2
    assert "'lots' is not a size in bytes" in capsys.readouterr().err
