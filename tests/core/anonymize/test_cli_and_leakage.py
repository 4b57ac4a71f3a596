"""`stillroom anonymize` end to end, and the leakage check a user runs on marked records."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from core.anonymize.leakage import LabelledSample, LeakageReport, score_sample
from core.cli import main

ROWS = [
    ("Dr. Okafor reviewed the scan; call 617-555-0143 with questions.", "clinical"),
    ("Invoice for Ingrid Lindqvist, account no. 0012-4456-7781, is overdue.", "billing"),
    ("Nothing identifying in this note about the canteen menu.", "other"),
]


@pytest.fixture
def imported(tmp_path, capsys):
    data = tmp_path / "notes.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(ROWS)
    project = tmp_path / "proj"
    assert main(["init", str(project), "--floor", "0.9"]) == 0
    assert (
        main(
            [
                "import",
                str(project),
                str(data),
                "--text",
                "text",
                "--label",
                "label",
                "--split",
                "1,0,0",
            ]
        )
        == 0
    )
    capsys.readouterr()
    return project


def test_anonymize_offline_on_an_imported_project(imported, capsys):
    assert main(["anonymize", str(imported), "--json", "--processes", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["anonymized"] == 3
    assert result["entity_counts"]["PHONE_NUMBER"] == 1
    assert result["entity_counts"]["ACCOUNT_NUMBER"] == 1

    assert main(["anonymize", str(imported), "--review", "3"]) == 0
    out = capsys.readouterr().out
    assert "0 of 3 records (3 already done" in out
    assert "⟦PERSON: <PERSON_1>⟧" in out
    assert "Lindqvist" not in out


def test_pattern_only_is_labelled_in_the_cli(imported, capsys):
    assert main(["anonymize", str(imported), "--pattern-only", "--processes", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "WARNING: pattern-only mode: names and places NOT detected"


@pytest.mark.parametrize(
    "argv",
    [
        ["--entities", "PERSONS"],
        ["--operator-for", "PERSON"],
        ["--spacy-model", "en_core_web_lg"],
        ["--rules", "missing.json"],
    ],
)
def test_bad_options_exit_2_with_one_line(imported, capsys, argv):
    code = main(["anonymize", str(imported), "--processes", "1", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("stillroom: error: ")
    assert err.count("\n") == 1


def test_an_unknown_operator_is_refused_by_the_parser(imported):
    with pytest.raises(SystemExit) as info:
        main(["anonymize", str(imported), "--operator", "scramble"])
    assert info.value.code == 2


def test_leakage_check_on_marked_records(imported, tmp_path, capsys):
    text = "Please ask Ingrid Lindqvist to call 617-555-0143. Regards, Mr. Duke"
    samples = tmp_path / "marked.jsonl"
    spans = [
        {"start": text.index(v), "end": text.index(v) + len(v), "entity_type": e}
        for v, e in (
            ("Ingrid Lindqvist", "PERSON"),
            ("617-555-0143", "PHONE_NUMBER"),
            ("Mr.", "TITLE"),
        )
    ]
    samples.write_text(json.dumps({"text": text, "spans": spans}) + "\n", encoding="utf-8")
    assert (
        main(
            [
                "anonymize",
                str(imported),
                "--check-leakage",
                "--leakage-file",
                str(samples),
                "--json",
                "--processes",
                "1",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["per_entity"]["PERSON"]["value_leak"] == 0.0
    assert report["per_entity"]["TITLE"]["targeted"] is False
    assert report["overall"]["values"] == 2
    assert "Lindqvist" not in json.dumps(report)
    # Issue 20: over-redaction beside leakage ("Duke" is a name, but not a marked one).
    assert report["replaced"] >= 2
    assert 0.0 < report["precision"] <= 1.0


def test_no_phone_extension_leaks(imported, tmp_path, capsys):
    lines = []
    for value in (
        "610-362-7498(99)",
        "(610) 362-7498 x 4321",
        "+1 610 362 7498 ext. 12",
        "610.362.7498;ext=99",
        "+44 20 7946 0958 #7",
        "6103627498,99",
        "610-362-7498 extension 99",
        "(617) 555-0143 (ext. 5)",
    ):
        text = f"Same failed number again: {value} and nobody answers."
        start = text.index(value)
        span = {"start": start, "end": start + len(value), "entity_type": "PHONE_NUMBER"}
        lines.append(json.dumps({"text": text, "spans": [span]}))
    samples = tmp_path / "extensions.jsonl"
    samples.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["anonymize", str(imported), "--check-leakage", "--leakage-file", str(samples)]
    assert main([*argv, "--json", "--processes", "1"]) == 0
    phone = json.loads(capsys.readouterr().out)["per_entity"]["PHONE_NUMBER"]
    assert phone["values"] == 8
    assert (phone["leaked_values"], phone["leaked_chars"]) == (0, 0)


def test_leakage_counts_values_characters_and_allowed_ones():
    sample = LabelledSample(
        "Anna Berg, 45, born 1979", ((0, 9, "PERSON"), (11, 13, "AGE"), (20, 24, "DATE_TIME"))
    )
    spans = [{"source_start": 0, "source_end": 4, "operator": "replace"}]
    report = LeakageReport()
    score_sample(
        report,
        sample,
        "<PERSON_1> Berg, 45, born 1979",
        spans,
        {"PERSON", "AGE", "DATE_TIME"},
        safe_harbor=True,
    )
    person = report.per_entity["PERSON"]
    assert (person.values, person.leaked_values, person.chars, person.leaked_chars) == (1, 0, 8, 4)
    assert report.per_entity["AGE"].allowed_values == 1
    assert report.per_entity["DATE_TIME"].value_leak == 0.0


def test_help_imports_no_heavy_package():
    probe = (
        "import sys; from core.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('presidio_analyzer', 'presidio_anonymizer', 'spacy', "
        "'faker', 'cryptography', 'regex') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_generated_sentences_are_labelled():
    pytest.importorskip("pandas", reason="presidio-evaluator's generator needs pandas")
    from core.anonymize.leakage import generated_samples

    samples = generated_samples(20, seed=3)
    assert len(samples) == 20
    assert sum(len(s.spans) for s in samples) > 10
    assert all(0 <= a < b <= len(s.text) for s in samples for a, b, _ in s.spans)
