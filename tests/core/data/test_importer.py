from __future__ import annotations

import json

import pytest

from core.data import ImportConfig
from core.data.records import BATCH_ROWS
from core.errors import (
    ColumnError,
    DataFileError,
    DuplicateImportError,
    ImportCancelled,
    UserError,
)
from core.jobs.execute import run_stage
from core.jobs.registry import IMPORT
from core.project import Project, QualityFloor
from core.reporter import NullReporter, RecordingReporter


def records(project, columns="source_row, split, text, label, user_flag, edge_reason"):
    return project.store.query(f"SELECT {columns} FROM records ORDER BY id")


# -- the happy path and what is recorded ------------------------------------------------------


def test_import_records_the_dataset_records_and_audit(write_csv, labelled_rows, do_import, project):
    path = write_csv(labelled_rows(40, labels=("spam", "ham")))
    result = do_import(path, label_column="label", split=(0.5, 0.25, 0.25), seed=3)

    assert (result.rows_read, result.rows_imported, result.format) == (40, 40, "csv")
    assert result.name == "data"
    assert sum(result.split_counts.values()) == 40
    assert result.label_distribution == {"ham": 20, "spam": 20}
    dataset = project.store.query("SELECT * FROM datasets")[0]
    assert dataset["id"] == result.dataset_id
    assert dataset["source_path"] == str(path.resolve())
    assert dataset["source_sha256"] == result.sha256
    assert dataset["source_bytes"] == path.stat().st_size
    assert (dataset["format"], dataset["encoding"]) == ("csv", "utf-8")
    assert (dataset["row_count"], dataset["rows_read"]) == (40, 40)
    assert json.loads(dataset["column_map"]) == {"text": "text", "label": "label", "flag": None}
    assert json.loads(dataset["split_config"]) == {"fractions": [0.5, 0.25, 0.25], "seed": 3}
    assert dataset["imported_at"].endswith("+00:00")
    assert [r["source_row"] for r in records(project)] == list(range(1, 41))

    entry = project.store.query("SELECT details FROM audit WHERE action = 'data.import'")
    details = json.loads(entry[0]["details"])
    assert details["sha256"] == result.sha256
    assert details["path"] == str(path.resolve())
    assert details["columns"] == {"text": "text", "label": "label", "flag": None}
    assert details["split"]["seed"] == 3
    assert details["rows_imported"] == 40


def test_surrounding_whitespace_is_stripped_inner_whitespace_kept(write_csv, do_import, project):
    path = write_csv([["text"], ["  two  spaces\tand a tab \n"], ["   "], [""]])
    result = do_import(path)
    assert [r["text"] for r in records(project)] == ["two  spaces\tand a tab"]
    assert (result.rows_read, result.empty_dropped, result.rows_imported) == (3, 2, 1)


def test_text_hash_is_the_sha256_of_the_stored_text(write_csv, do_import, project):
    import hashlib

    do_import(write_csv([["text"], ["  hashed text "]]))
    digest = project.store.scalar("SELECT text_sha256 FROM records")
    assert digest == hashlib.sha256(b"hashed text").digest()


def test_exact_duplicates_are_dropped_and_label_conflicts_counted(write_csv, do_import, project):
    rows = [
        ["text", "label"],
        ["same", "a"],
        ["other", "b"],
        ["same", "a"],
        [" same ", "b"],
        ["third", "a"],
        ["same", ""],
    ]
    result = do_import(write_csv(rows), label_column="label")
    assert (result.rows_read, result.rows_imported) == (6, 3)
    assert (result.duplicates_dropped, result.conflicting_labels) == (3, 1)
    kept = {r["text"]: r["label"] for r in records(project)}
    assert kept == {"same": "a", "other": "b", "third": "a"}


def test_duplicates_across_batches_and_datasets_are_dropped(write_csv, do_import, project):
    body = [[f"text {i}", "ab"[i % 2]] for i in range(BATCH_ROWS + 10)]
    body.append(["text 3", "a"])  # a duplicate of row 4, in the second batch, other label
    first = do_import(write_csv([["text", "label"], *body], "first.csv"), label_column="label")
    assert (first.duplicates_dropped, first.conflicting_labels) == (1, 1)
    second = do_import(
        write_csv(
            [["text", "label"], ["text 1", "b"], ["brand new", "a"], ["newer", "b"]], "second.csv"
        ),
        label_column="label",
    )
    assert (second.rows_imported, second.duplicates_dropped) == (2, 1)
    assert project.store.scalar("SELECT COUNT(*) FROM records") == BATCH_ROWS + 12


def test_user_flagged_rows_go_to_the_edge_set(write_csv, labelled_rows, do_import, project):
    rows = labelled_rows(30)
    rows[0].append("flag")
    for i, row in enumerate(rows[1:]):
        row.append(["yes", "", "0", "X", "no", "TRUE", "1", "y", "n", "false"][i % 10])
    result = do_import(write_csv(rows), label_column="label", flag_column="flag")
    flagged = [r for r in records(project) if r["user_flag"]]
    assert len(flagged) == 15  # yes, X, TRUE, 1, y in each ten
    assert all(r["split"] == "edge" and r["edge_reason"] == "user_flag" for r in flagged)
    assert result.edge_reasons["user_flag"] == 15


def test_unlabelled_rows_are_kept_and_counted(write_csv, labelled_rows, do_import, project):
    rows = labelled_rows(10)
    rows[3][1] = ""
    result = do_import(write_csv(rows), label_column="label")
    assert result.unlabeled_rows == 1
    assert sum(result.label_distribution.values()) == 9
    assert project.store.scalar("SELECT COUNT(*) FROM records WHERE label IS NULL") == 1


def test_dataset_name_can_be_given(write_csv, do_import):
    assert do_import(write_csv([["text"], ["x y"]]), name="tickets Q3").name == "tickets Q3"


# -- labels ----------------------------------------------------------------------------------


def test_labels_are_adopted_into_an_empty_label_set(write_csv, labelled_rows, do_import, project):
    result = do_import(
        write_csv(labelled_rows(9, labels=("zeta", " alpha ", "mid"))), label_column="label"
    )
    assert result.labels_added == ("alpha", "mid", "zeta")
    assert project.settings.labels == ("alpha", "mid", "zeta")
    rows = project.store.query("SELECT action FROM audit WHERE action NOT LIKE 'run.%'")
    actions = [r["action"] for r in rows]  # the import's own rows, not its run's
    assert actions[-2:] == ["settings.change", "data.import"]


def test_labels_outside_the_project_label_set_are_refused(
    write_csv, labelled_project, nothing_written
):
    rows = [
        ["text", "label"],
        ["one", "billing"],
        ["two", "Billing"],
        ["three", "other"],
        ["four", "spam"],
    ]
    config = ImportConfig(source=write_csv(rows), text_column="text", label_column="label")
    with pytest.raises(ColumnError, match="2 rows have a label outside") as caught:
        run_stage(labelled_project, IMPORT, config, reporter=NullReporter())
    assert "the first at row 2" in caught.value.message
    assert "Billing" not in caught.value.message
    assert "spam" not in caught.value.message + caught.value.hint
    assert "billing, clinical, other" in caught.value.hint
    nothing_written(labelled_project)
    assert labelled_project.settings.labels == ("billing", "clinical", "other")


def test_a_labelled_project_accepts_its_labels_without_adding(write_csv, labelled_project):
    rows = [["text", "label"], ["one", "billing"], ["two", "other"]]
    config = ImportConfig(source=write_csv(rows), text_column="text", label_column="label")
    result = run_stage(labelled_project, IMPORT, config, reporter=NullReporter())
    assert result.labels_added == ()
    assert result.label_distribution == {"billing": 1, "other": 1}


def test_a_label_column_with_one_class_is_refused(
    write_csv, labelled_rows, do_import, project, nothing_written
):
    with pytest.raises(ColumnError, match="holds only one class") as caught:
        do_import(write_csv(labelled_rows(5, labels=("only",))), label_column="label")
    assert "two classes" in caught.value.hint
    nothing_written(project)
    assert project.settings.labels == ()


def test_an_empty_label_column_is_refused(write_csv, do_import, nothing_written, project):
    with pytest.raises(ColumnError, match="label column 'label' is empty"):
        do_import(write_csv([["text", "label"], ["one", ""], ["two", " "]]), label_column="label")
    nothing_written(project)


def test_a_label_column_with_too_many_values_is_refused(write_csv, do_import, monkeypatch):
    monkeypatch.setattr("core.data.checks.MAX_LABELS", 3)
    rows = [["text", "label"], *([f"t{i}", f"id-{i}"] for i in range(5))]
    with pytest.raises(ColumnError, match="5 different values") as caught:
        do_import(write_csv(rows), label_column="label")
    assert "generation project" in caught.value.hint


def test_a_generation_project_takes_reference_outputs_without_label_checks(tmp_path, write_csv):
    project = Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.9))
    rows = [["prompt", "answer"], *([f"question {i}", f"answer {i}"] for i in range(20))]
    config = ImportConfig(source=write_csv(rows), text_column="prompt", label_column="answer")
    result = run_stage(project, IMPORT, config, reporter=NullReporter())
    assert result.label_distribution == {}
    assert result.labels_added == ()
    assert project.settings.labels == ()
    assert project.store.scalar("SELECT COUNT(DISTINCT label) FROM records") == 20
    project.close()


# -- refusals that leave nothing behind -------------------------------------------------------


def test_importing_the_same_file_twice_is_refused(write_csv, labelled_rows, do_import, project):
    path = write_csv(labelled_rows(6))
    first = do_import(path, label_column="label")
    copy = path.with_name("copy.csv")
    copy.write_bytes(path.read_bytes())
    with pytest.raises(DuplicateImportError, match=f"dataset #{first.dataset_id} 'data'"):
        do_import(copy, label_column="label")
    assert project.store.scalar("SELECT COUNT(*) FROM datasets") == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "was not found"),
        ("folder", "dir", "is a folder"),
        ("empty.csv", b"", "is empty"),
        ("binary.csv", bytes(range(256)) * 8, "looks like a binary file"),
        ("table.csv", b"PK\x03\x04" + b"\x00" * 100, "looks like an Excel workbook"),
    ],
)
def test_unusable_files_are_refused_before_anything_is_written(
    tmp_path, do_import, project, nothing_written, name, content, message
):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DataFileError, match=message) as caught:
        do_import(path)
    assert caught.value.hint
    nothing_written(project)


def test_a_header_only_file_is_refused(write_csv, do_import, project, nothing_written):
    with pytest.raises(DataFileError, match="has a header but no data rows"):
        do_import(write_csv([["text", "label"]]))
    nothing_written(project)


def test_a_misspelt_column_gets_the_closest_name_and_the_list(
    write_csv, do_import, project, nothing_written
):
    path = write_csv([["Review Text", "label"], ["a", "b"]])
    with pytest.raises(ColumnError, match="did you mean 'Review Text'") as caught:
        do_import(path, text_column="review_text")
    assert "'Review Text', 'label'" in caught.value.hint
    with pytest.raises(ColumnError, match="no column 'labl' \\(for the label\\)") as caught:
        do_import(path, text_column="Review Text", label_column="labl")
    assert "did you mean 'label'" in caught.value.message
    with pytest.raises(ColumnError, match="no column 'zzz'") as caught:
        do_import(path, text_column="Review Text", flag_column="zzz")
    assert "did you mean" not in caught.value.message
    nothing_written(project)


def test_a_long_header_cell_is_described_not_shown(write_csv, do_import):
    data_row = "this looks like a data row because it is far too long to be a column name" * 2
    with pytest.raises(ColumnError) as caught:
        do_import(write_csv([[data_row, "x"], ["b", "c"]]))
    assert data_row not in caught.value.hint
    assert "is there a header row?" in caught.value.hint


def test_the_same_column_for_two_roles_is_refused(write_csv, do_import):
    with pytest.raises(UserError, match="must be different columns"):
        do_import(write_csv([["text"], ["a"]]), label_column="text")


def test_a_duplicated_column_name_is_refused(write_csv, do_import):
    with pytest.raises(ColumnError, match="2 columns named 'text'"):
        do_import(write_csv([["text", "text"], ["a", "b"]]))


def test_an_empty_text_column_is_refused(write_csv, do_import, project, nothing_written):
    with pytest.raises(ColumnError, match="text column 'text' is empty in every row") as caught:
        do_import(write_csv([["text", "notes"], ["", "x"], ["  ", "y"]]))
    assert "'notes'" in caught.value.hint
    nothing_written(project)


def test_oversize_rows_are_refused_or_skipped(write_csv, do_import, project, nothing_written):
    path = write_csv([["text"], ["short"], ["x" * 11], ["also short"], ["y" * 12]])
    with pytest.raises(DataFileError, match="text at row 2 is longer than the limit of 10") as c:
        do_import(path, max_chars=10)
    assert "--skip-oversize" in c.value.hint
    nothing_written(project)
    result = do_import(path, max_chars=10, skip_oversize=True)
    assert (result.oversize_dropped, result.rows_imported) == (2, 2)


def test_a_file_with_only_known_texts_is_refused(write_csv, do_import):
    do_import(write_csv([["text"], ["a one"], ["b two"]], "first.csv"))
    with pytest.raises(DataFileError, match="no rows are left to import"):
        do_import(write_csv([["text"], ["a one"], ["b two"], [""]], "second.csv"))


def test_all_rows_flagged_leaves_nothing_to_train_on(
    write_csv, do_import, nothing_written, project
):
    with pytest.raises(UserError, match="nothing is left to train on"):
        do_import(write_csv([["text", "f"], ["a", "1"], ["b", "yes"]]), flag_column="f")
    nothing_written(project)


@pytest.mark.parametrize(
    "split",
    [(0.8, 0.1), (0.8, 0.1, 0.2), (1.1, -0.05, -0.05), (0.0, 0.5, 0.5), (0.8, float("nan"), 0.1)],
)
def test_invalid_split_fractions_are_refused(write_csv, do_import, split):
    with pytest.raises(UserError, match=r"split|fraction") as caught:
        do_import(write_csv([["text"], ["a"]]), split=split)
    assert "--split 0.8,0.1,0.1" in caught.value.hint


def test_invalid_max_chars_is_refused(write_csv, do_import):
    with pytest.raises(UserError, match="at least 1 character"):
        do_import(write_csv([["text"], ["a"]]), max_chars=0)


# -- progress and cancellation ----------------------------------------------------------------


def test_progress_is_reported_every_batch(write_csv, labelled_rows, do_import):
    reporter = RecordingReporter()
    do_import(
        write_csv(labelled_rows(3 * BATCH_ROWS + 10)), reporter=reporter, label_column="label"
    )
    messages = [message for _, message in reporter.progress_calls]
    assert [m for m in messages if m.startswith("read ")] == [
        "read 5,000 rows",
        "read 10,000 rows",
        "read 15,000 rows",
    ]
    fractions = [fraction for fraction, _ in reporter.progress_calls]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


class CancelWhileReading(RecordingReporter):
    def cancel_requested(self) -> bool:
        return any(message.startswith("read ") for _, message in self.progress_calls)


def test_cancel_mid_import_rolls_everything_back(
    write_csv, labelled_rows, do_import, project, nothing_written
):
    reporter = CancelWhileReading()
    with pytest.raises(ImportCancelled, match="nothing was imported"):
        do_import(
            write_csv(labelled_rows(2 * BATCH_ROWS + 1)), reporter=reporter, label_column="label"
        )
    assert reporter.progress_calls[-1][1] == "read 5,000 rows"
    nothing_written(project)
    assert project.settings.labels == ()


def test_cancel_before_reading_also_stops(write_csv, do_import, project, nothing_written):
    with pytest.raises(ImportCancelled):
        do_import(write_csv([["text"], ["a"]]), reporter=RecordingReporter(cancel_after=1))
    nothing_written(project)
