from __future__ import annotations

import bz2
import gzip

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.data.formats import resolve_source
from core.errors import DataFileError, UserError

CSV_BYTES = b"text,label\nhello there,a\ngood bye,b\n"


def write_xlsx(path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["text", "label"])
    workbook.active.append(["hello there", "a"])
    workbook.save(path)
    return path


def write_parquet(path):
    pq.write_table(pa.table({"text": ["hello there"], "label": ["a"]}), path)
    return path


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("data.csv", CSV_BYTES, "csv"),
        ("data.tsv", b"text\tlabel\nhello\ta\n", "tsv"),
        ("data.jsonl", b'{"text": "hello"}\n', "jsonl"),
        ("data.ndjson", b'{"text": "hello"}\n', "jsonl"),
        ("data.json", b'\n  {"text": "hello"}\n', "jsonl"),
        ("data.txt", b'{"text": "hello"}\n', "jsonl"),
        ("data.txt", CSV_BYTES, "csv"),
        ("data", CSV_BYTES, "csv"),
        ("data.txt", b"PAR1,PAR2\n1,2\n", "csv"),
        ("data.dat", "text\nhéllo\n".encode("utf-16"), "csv"),
    ],
)
def test_text_formats_come_from_the_extension_or_the_content(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    source = resolve_source(path)
    assert source.format == expected
    assert source.compression is None
    assert source.path == path.resolve()


def test_binary_formats_are_recognised_by_their_magic_bytes_whatever_the_name(tmp_path):
    assert resolve_source(write_parquet(tmp_path / "data.bin")).format == "parquet"
    assert resolve_source(write_xlsx(tmp_path / "data.bin2")).format == "excel"


@pytest.mark.parametrize(("name", "expected"), [("data.csv.gz", "gzip"), ("data.jsonl.bz2", "bz2")])
def test_compression_comes_from_the_name_and_the_format_from_the_inner_name(
    tmp_path, name, expected
):
    path = tmp_path / name
    content = CSV_BYTES if ".csv" in name else b'{"text": "a"}\n'
    path.write_bytes(gzip.compress(content) if expected == "gzip" else bz2.compress(content))
    source = resolve_source(path)
    assert (source.format, source.compression) == (name.split(".")[1], expected)


def test_a_workbook_named_csv_is_refused_with_a_rename_hint(tmp_path):
    path = write_xlsx(tmp_path / "data.csv")
    with pytest.raises(DataFileError, match=r"data\.csv looks like an Excel workbook") as caught:
        resolve_source(path)
    assert "not CSV" in caught.value.message
    assert "rename it to .xlsx or pass --format excel" in caught.value.hint


def test_a_parquet_file_named_jsonl_is_refused(tmp_path):
    path = write_parquet(tmp_path / "data.jsonl")
    with pytest.raises(DataFileError, match="looks like a Parquet file, not JSON Lines") as caught:
        resolve_source(path)
    assert "--format parquet" in caught.value.hint


def test_a_declared_format_must_match_the_content_too(tmp_path):
    path = write_parquet(tmp_path / "data.parquet")
    with pytest.raises(DataFileError, match="not CSV"):
        resolve_source(path, "csv")


def test_a_text_file_named_parquet_or_xlsx_is_refused(tmp_path):
    for name in ("data.parquet", "data.xlsx"):
        path = tmp_path / name
        path.write_bytes(CSV_BYTES)
        with pytest.raises(DataFileError, match="looks like a text file") as caught:
            resolve_source(path)
        assert "--format csv" in caught.value.hint


def test_a_legacy_xls_workbook_gets_save_as_advice(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(DataFileError, match=r"legacy Excel \.xls") as caught:
        resolve_source(path)
    assert "save it as .xlsx or CSV" in caught.value.hint


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00\x01" * 50, "a PNG image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 50, "a program"),
        (bytes(range(256)) * 4, "a binary file"),
        (gzip.compress(CSV_BYTES), "a gzip-compressed file"),
    ],
)
def test_binary_files_are_refused(tmp_path, content, what):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=f"looks like {what}, not a data file") as caught:
        resolve_source(path)
    assert caught.value.hint


def test_gzip_content_without_gz_suffix_gets_a_rename_hint(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(gzip.compress(CSV_BYTES))
    with pytest.raises(DataFileError) as caught:
        resolve_source(path)
    assert "data.csv.gz" in caught.value.hint


def test_a_gz_name_on_an_uncompressed_file_is_refused(tmp_path):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(CSV_BYTES)
    with pytest.raises(DataFileError, match="named as gzip-compressed but is not") as caught:
        resolve_source(path)
    assert "data.csv" in caught.value.hint


def test_compressed_parquet_or_excel_is_refused(tmp_path):
    path = tmp_path / "data.parquet.gz"
    path.write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(DataFileError, match="compressed Parquet"):
        resolve_source(path)


def test_a_json_array_is_refused_with_a_json_lines_hint(tmp_path):
    path = tmp_path / "data.json"
    path.write_bytes(b'[{"text": "a"}, {"text": "b"}]')
    with pytest.raises(DataFileError, match="JSON array, not JSON Lines") as caught:
        resolve_source(path)
    assert "one JSON object per line" in caught.value.hint


def test_missing_file_directory_and_empty_file(tmp_path):
    with pytest.raises(DataFileError, match="was not found"):
        resolve_source(tmp_path / "nope.csv")
    with pytest.raises(DataFileError, match="is a folder, not a file") as caught:
        resolve_source(tmp_path)
    assert "data file inside it" in caught.value.hint
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataFileError, match=r"empty\.csv is empty"):
        resolve_source(empty)
    blank = tmp_path / "blank.csv"
    blank.write_bytes(b"\n \n\t\n")
    with pytest.raises(DataFileError, match=r"blank\.csv is empty"):
        resolve_source(blank)
    compressed_empty = tmp_path / "nothing.csv.gz"
    compressed_empty.write_bytes(gzip.compress(b""))
    with pytest.raises(DataFileError, match="is empty"):
        resolve_source(compressed_empty)


def test_an_unknown_format_name_is_a_user_error(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(CSV_BYTES)
    with pytest.raises(UserError, match="unknown format 'xml'") as caught:
        resolve_source(path, "xml")
    assert "csv" in caught.value.hint


def test_a_damaged_gzip_file_is_reported_as_damaged(tmp_path):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(CSV_BYTES * 100)[:40])
    with pytest.raises(DataFileError, match="damaged or not really gzip-compressed"):
        resolve_source(path)
