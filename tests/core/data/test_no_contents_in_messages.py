"""Row contents never reach an exception, a hint, the audit log or a progress message."""

from __future__ import annotations

import json

import pytest

from core.data import ImportConfig
from core.data.records import BATCH_ROWS
from core.errors import UserError
from core.jobs.execute import run_stage
from core.jobs.registry import IMPORT
from core.project import Project, QualityFloor
from core.reporter import NullReporter, RecordingReporter

SECRET = "Zebulon-Quartermaine-4417"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.csv"
    body = [f"ordinary row {i},a,\n" for i in range(20)]
    body[7] = f"{SECRET} wrote this row,a,\n"
    body[11] = f"ordinary row 11,{SECRET},\n"
    body[13] = f"row with a flag,b,{SECRET}\n"
    path.write_text("text,label,flag\n" + "".join(body))
    return path


@pytest.mark.parametrize(
    "options",
    [
        {"text_column": "txt"},  # misspelt column
        {"text_column": "text", "label_column": "lable"},
        {"text_column": "text", "max_chars": 5},  # oversize
        {"text_column": "text", "format": "excel"},  # content contradicts the format
        {"text_column": "text", "label_column": "flag"},  # only one class
        {"text_column": "text", "format": "jsonl"},  # not JSON
        {"text_column": "text", "format": "tsv"},  # a single column: no "text"
    ],
)
def test_failing_imports_never_quote_the_rows(secret_file, project, options):
    config = ImportConfig(source=secret_file, **options)
    with pytest.raises(UserError) as caught:
        run_stage(project, IMPORT, config, reporter=NullReporter())
    error = caught.value
    assert SECRET not in str(error)
    assert SECRET not in error.hint
    assert SECRET not in error.one_line()


def test_unknown_labels_are_counted_not_quoted(secret_file, tmp_path):
    project = Project.create(
        tmp_path / "labelled", task="classification", labels=("a", "b"), floor=QualityFloor(0.9)
    )
    config = ImportConfig(source=secret_file, text_column="text", label_column="label")
    with pytest.raises(UserError, match="1 rows have a label outside") as caught:
        run_stage(project, IMPORT, config, reporter=NullReporter())
    assert SECRET not in caught.value.one_line()
    project.close()


def test_a_malformed_jsonl_line_is_not_quoted(tmp_path, project):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "fine"}\n{"text": "' + SECRET + '", oops}\n')
    with pytest.raises(UserError) as caught:
        run_stage(
            project, IMPORT, ImportConfig(source=path, text_column="text"), reporter=NullReporter()
        )
    assert SECRET not in caught.value.one_line()


def test_a_successful_import_keeps_contents_out_of_audit_and_progress(tmp_path, project):
    path = tmp_path / "big.csv"
    rows = [f"row {i} of the file,{'ab'[i % 2]}\n" for i in range(BATCH_ROWS + 5)]
    rows[3] = f"{SECRET} in a row,a\n"
    path.write_text("text,label\n" + "".join(rows))
    reporter = RecordingReporter()
    run_stage(
        project,
        IMPORT,
        ImportConfig(source=path, text_column="text", label_column="label"),
        reporter=reporter,
    )
    assert len(reporter.progress_calls) > 3
    assert all(SECRET not in message for _, message in reporter.progress_calls)
    audit = project.store.query("SELECT action, details FROM audit")
    assert all(SECRET not in row["details"] for row in audit)
    imported = [row for row in audit if row["action"] == "data.import"]
    assert json.loads(imported[-1]["details"])["rows_imported"] == BATCH_ROWS + 5
