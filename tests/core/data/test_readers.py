from __future__ import annotations

import bz2
import gzip
import json

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.data.formats import resolve_source
from core.data.readers import open_table
from core.errors import ColumnError, DataFileError


def read_all(path, columns=("text",), **options):
    source = resolve_source(path, options.pop("format", None))
    options.setdefault("encoding", "utf-8" if source.format in ("csv", "tsv", "jsonl") else None)
    with open_table(source, field_limit=1 << 20, **options) as table:
        return table.columns, list(table.rows(columns))


def stored(project, column="text"):
    return [
        row[0] for row in project.store.conn.execute(f"SELECT {column} FROM records ORDER BY id")
    ]


# -- CSV and TSV -----------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiter_is_sniffed(write_csv, delimiter):
    rows = [["id", "text", "label"], [1, "one, two; three", "a"], [2, "four | five", "b"]]
    path = write_csv(rows, delimiter=delimiter)
    columns, read = read_all(path, ("text", "label"))
    assert columns == ("id", "text", "label")
    assert read == [(1, ("one, two; three", "a")), (2, ("four | five", "b"))]


def test_csv_with_one_column_and_no_delimiter(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("text\nfirst\nsecond\n")
    assert read_all(path) == (("text",), [(1, ("first",)), (2, ("second",))])


def test_quoted_fields_keep_delimiters_quotes_and_newlines(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b'text,label\r\n"a, b ""quoted""\r\nsecond line",x\r\nplain,y\r\n')
    _, read = read_all(path, ("text", "label"))
    assert read == [(1, ('a, b "quoted"\r\nsecond line', "x")), (2, ("plain", "y"))]


def test_bom_is_not_part_of_the_first_column_name(tmp_path, do_import, project):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\nhello there,a\nbye now,b\n")
    result = do_import(path, label_column="label")
    assert result.encoding == "utf-8-sig"
    assert stored(project) == ["hello there", "bye now"]


def test_tsv_is_read_with_tabs(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("text\tlabel\na, b; c\tx\n")
    assert read_all(path, ("text", "label"))[1] == [(1, ("a, b; c", "x"))]


def test_blank_lines_are_skipped_but_keep_row_numbers(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("\ntext\nfirst\n\nthird\n")
    assert read_all(path)[1] == [(1, ("first",)), (3, ("third",))]


def test_short_rows_are_padded_and_long_rows_with_data_are_refused(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("text,label\nonly text\ntrailing,x,,\n")
    assert read_all(path, ("text", "label"))[1] == [(1, ("only text", "")), (2, ("trailing", "x"))]
    path.write_text("text,label\nan unquoted, comma,x\n")
    with pytest.raises(DataFileError, match="row 1 has 3 fields but the header has 2") as caught:
        read_all(path)
    assert "double quotes" in caught.value.hint


def test_fields_beyond_the_default_csv_limit_are_read(tmp_path, do_import, project):
    long_text = "word " * 40_000  # 200,000 characters; the csv default limit is 131,072
    path = tmp_path / "long.csv"
    path.write_text(f'text\n"{long_text}"\nshort one\n')
    result = do_import(path, max_chars=250_000)
    assert result.rows_imported == 2
    assert max(len(text) for text in stored(project)) == len(long_text.strip())


def test_an_unclosed_quote_is_explained(tmp_path):
    path = tmp_path / "unclosed.csv"
    path.write_text('text\n"never closed\n' + "more text\n" * 3)
    source = resolve_source(path)
    with (
        open_table(source, encoding="utf-8", field_limit=16) as table,
        pytest.raises(DataFileError, match="far longer than the text limit") as caught,
    ):
        list(table.rows(("text",)))
    assert "unclosed quote" in caught.value.hint


# -- JSON Lines -----------------------------------------------------------------------------


def test_jsonl_skips_blank_lines_and_numbers_rows_by_line(tmp_path):
    path = tmp_path / "data.jsonl"
    lines = ['{"text": "first", "label": 1}', "", "   ", '{"text": "second", "extra": true}']
    path.write_text("\n".join(lines) + "\n")
    columns, read = read_all(path, ("text", "label"))
    assert columns == ("text", "label", "extra")
    assert read == [(1, ("first", 1)), (4, ("second", None))]


def test_jsonl_with_a_bom_reads_even_when_utf8_is_named(tmp_path, do_import):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "first"}\n{"text": "second"}\n')
    assert do_import(path, encoding="utf-8").rows_imported == 2


def test_a_malformed_jsonl_line_is_named_by_number_without_its_content(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "fine"}\n\n{"text": "broken SECRET-VALUE\n')
    with pytest.raises(DataFileError, match="line 3 is not valid JSON") as caught:
        read_all(path)
    assert "SECRET-VALUE" not in str(caught.value) + caught.value.hint


@pytest.mark.parametrize(
    ("line", "kind"), [("[1, 2]", "a list"), ('"just text"', "a single value")]
)
def test_a_jsonl_line_that_is_not_an_object_is_refused(tmp_path, line, kind):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "fine"}\n' + line + "\n")
    with pytest.raises(DataFileError, match=f"line 2 holds {kind}, not a JSON object"):
        read_all(path)


def test_jsonl_nested_values_in_the_text_column_are_a_column_error(tmp_path, do_import):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "fine"}\n{"text": {"nested": "SECRET"}}\n')
    with pytest.raises(ColumnError, match="holds a JSON object at line 2") as caught:
        do_import(path)
    assert "SECRET" not in str(caught.value)


# -- compressed text -------------------------------------------------------------------------


def test_gzip_and_bzip2_files_are_read_transparently(tmp_path, do_import, project):
    csv_bytes = b"text,label\ngzipped one,a\ngzipped two,b\n"
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(csv_bytes))
    jsonl = "".join(json.dumps({"text": f"bz {i}", "label": "ab"[i % 2]}) + "\n" for i in range(4))
    (tmp_path / "b.jsonl.bz2").write_bytes(bz2.compress(jsonl.encode()))
    first = do_import(tmp_path / "a.csv.gz", label_column="label")
    second = do_import(tmp_path / "b.jsonl.bz2", label_column="label")
    assert (first.format, first.rows_imported, first.name) == ("csv", 2, "a")
    assert (second.format, second.rows_imported, second.name) == ("jsonl", 4, "b")
    assert "gzipped one" in stored(project)


def test_a_truncated_bz2_file_fails_as_damaged(tmp_path, do_import, project, nothing_written):
    data = "".join(f"row {i} of a longer compressed file,a\n" for i in range(5000))
    compressed = bz2.compress(("text,label\n" + data).encode())
    path = tmp_path / "cut.csv.bz2"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DataFileError, match="damaged"):
        do_import(path)
    nothing_written(project)


# -- Parquet ---------------------------------------------------------------------------------


def test_parquet_reads_only_the_needed_columns(tmp_path, do_import, project):
    path = tmp_path / "data.parquet"
    table = pa.table(
        {
            "text": ["first text", "second text", None],
            "label": [1.0, 2.0, 1.0],
            # A column that cell conversion refuses: reading it would fail the import.
            "embedding": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
        }
    )
    pq.write_table(table, path, row_group_size=2)
    result = do_import(path, label_column="label")
    assert (result.format, result.encoding) == ("parquet", None)
    assert (result.rows_read, result.rows_imported, result.empty_dropped) == (3, 2, 1)
    assert sorted(stored(project, "label")) == ["1", "2"]
    assert result.labels_added == ("1", "2")


def test_parquet_without_rows_says_so(tmp_path, do_import, project, nothing_written):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), path)
    with pytest.raises(DataFileError, match="has columns but no data rows"):
        do_import(path)
    nothing_written(project)


def test_a_damaged_or_truncated_parquet_file_is_refused(tmp_path, do_import):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1" + b"garbage" * 20 + b"PAR1")
    with pytest.raises(DataFileError, match="not a readable Parquet file"):
        do_import(path)
    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.table({"text": [f"row {i}" for i in range(500)]}), whole)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(DataFileError, match="damaged or truncated"):
        do_import(cut)


# -- Excel -----------------------------------------------------------------------------------


def write_workbook(path, sheets):
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def test_excel_first_sheet_header_and_numeric_labels(tmp_path, do_import, project):
    path = write_workbook(
        tmp_path / "data.xlsx",
        {
            "Data": [["text", "label"], ["first", 1], [None, None], ["second", 2.0], ["third", 1]],
            "Other": [["text"], ["ignored"]],
        },
    )
    result = do_import(path, label_column="label")
    assert (result.format, result.rows_read, result.rows_imported) == ("excel", 3, 3)
    assert stored(project, "label") == ["1", "2", "1"]
    rows = project.store.conn.execute("SELECT source_row FROM records ORDER BY id").fetchall()
    assert [row[0] for row in rows] == [1, 3, 4]


def test_excel_named_sheet_and_missing_sheet(tmp_path, do_import):
    path = write_workbook(
        tmp_path / "data.xlsx",
        {"First": [["other"], ["x"]], "Second": [["text"], ["from the second sheet"]]},
    )
    with pytest.raises(DataFileError, match="no sheet named 'Third'") as caught:
        do_import(path, sheet="Third")
    assert "First, Second" in caught.value.hint
    assert do_import(path, sheet="Second").rows_imported == 1


def test_an_empty_sheet_is_reported(tmp_path, do_import):
    path = write_workbook(tmp_path / "data.xlsx", {"Empty": []})
    with pytest.raises(DataFileError, match="sheet 'Empty' is empty"):
        do_import(path)


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path, do_import):
    import zipfile

    path = tmp_path / "data.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    with pytest.raises(DataFileError, match=r"not a readable Excel \.xlsx workbook"):
        do_import(path)


def test_an_xlsx_saved_with_an_xls_name_is_read_by_content(tmp_path, do_import):
    path = write_workbook(tmp_path / "renamed.xls", {"S": [["text"], ["a row"], ["another"]]})
    assert do_import(path).format == "excel"
