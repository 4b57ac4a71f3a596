"""`stillroom import` from the command line, on messy files, as a user runs it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from openpyxl import Workbook

from core.cli import main

SECRET = "Zebulon-Quartermain-4471"


def _rows(n: int, labels=("billing", "clinical", "other")):
    return [
        (f"Patient note {i}: café visit #{i}, needs follow-up", labels[i % len(labels)])
        for i in range(n)
    ]


@pytest.fixture
def proj(tmp_path, capsys):
    target = tmp_path / "proj"
    assert main(["init", str(target), "--floor", "0.95"]) == 0
    capsys.readouterr()
    return target


def _write_csv(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def _import(capsys, *argv):
    code = main(["import", *map(str, argv), "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_cp1252_semicolon_csv_with_quotes_and_newlines(proj, tmp_path, capsys):
    lines = ["Body;Queue"]
    lines += [f'"{text}\nsecond line; with a semicolon";{label}' for text, label in _rows(60)]
    path = tmp_path / "export from excel.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    code, result, _ = _import(capsys, proj, path, "--text", "Body", "--label", "Queue")
    assert code == 0
    assert result["encoding"] == "cp1252"
    assert result["rows_imported"] == 60
    assert sum(result["split_counts"].values()) == 60
    assert result["labels_added"] == ["billing", "clinical", "other"]


def test_utf16_tsv(proj, tmp_path, capsys):
    path = tmp_path / "notes.tsv"
    body = "text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in _rows(40))
    path.write_bytes(body.encode("utf-16"))
    code, result, _ = _import(capsys, proj, path, "--text", "text", "--label", "label")
    assert code == 0
    assert result["encoding"].startswith("utf-16")
    assert result["rows_imported"] == 40


def test_excel_workbook(proj, tmp_path, capsys):
    book = Workbook()
    sheet = book.active
    sheet.append(["Message", "Category"])
    for text, label in _rows(30):
        sheet.append([text, label])
    path = tmp_path / "tickets.xlsx"
    book.save(path)
    code, result, _ = _import(capsys, proj, path, "--text", "Message", "--label", "Category")
    assert code == 0
    assert (result["format"], result["rows_imported"]) == ("excel", 30)


def test_misspelt_column_suggests_the_closest_and_writes_nothing(proj, tmp_path, capsys):
    path = _write_csv(tmp_path / "d.csv", ("body", "queue"), _rows(10))
    code, result, err = _import(capsys, proj, path, "--text", "bdoy")
    assert code == 2
    assert "body" in err
    assert err.count("\n") == 1
    assert result["error"] == "ColumnError"
    main(["status", str(proj), "--json"])
    status = json.loads(capsys.readouterr().out)
    assert status["records"] == 0
    assert status["datasets"] == []
    assert status["runs"][-1]["status"] == "failed"


def test_same_file_twice_is_refused(proj, tmp_path, capsys):
    path = _write_csv(tmp_path / "d.csv", ("text", "label"), _rows(10))
    assert _import(capsys, proj, path, "--text", "text", "--label", "label")[0] == 0
    copy = tmp_path / "copy.csv"
    copy.write_bytes(path.read_bytes())
    code, _, err = _import(capsys, proj, copy, "--text", "text", "--label", "label")
    assert code == 2
    assert "already imported" in err


def test_errors_never_quote_the_data(proj, tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("text,label\n" + f"{SECRET},only\n" * 3 + f"{SECRET} again,only\n")
    code, _, err = _import(capsys, proj, path, "--text", "text", "--label", "label")
    assert code == 2
    assert SECRET not in err
    main(["audit", "show", str(proj), "--json", "--limit", "100"])
    assert SECRET not in capsys.readouterr().out


def test_large_import_from_a_fresh_shell(proj, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(
        "text,label\n" + "".join(f"row {i} text,{('a', 'b')[i % 2]}\n" for i in range(12_000))
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "core.cli",
            "import",
            str(proj),
            str(path),
            "--text",
            "text",
            "--label",
            "label",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "imported 12,000 records" in done.stdout
    assert "split: train " in done.stdout
