from __future__ import annotations

import openpyxl
import pytest

from core.data import ImportConfig, label_distribution, preview
from core.errors import DataFileError
from core.jobs.execute import run_stage
from core.jobs.registry import IMPORT
from core.project import Project, QualityFloor
from core.reporter import NullReporter


def test_preview_shows_columns_first_rows_format_and_encoding(tmp_path):
    path = tmp_path / "reviews.txt"
    lines = ["id;text;label", *(f"{i};café number {i};{'ab'[i % 2]}" for i in range(50))]
    path.write_bytes("\n".join(lines).encode("cp1252"))
    shown = preview(path, rows=3)
    assert (shown.format, shown.encoding) == ("csv", "cp1252")
    assert shown.columns == ("id", "text", "label")
    assert shown.rows == (
        ("0", "café number 0", "a"),
        ("1", "café number 1", "b"),
        ("2", "café number 2", "a"),
    )


def test_preview_of_a_workbook_converts_cells_to_text(tmp_path):
    workbook = openpyxl.Workbook()
    for row in (["text", "score", None], ["first", 1.0, None], ["second", 2.5, None]):
        workbook.active.append(row)
    workbook.save(tmp_path / "scores.xlsx")
    shown = preview(tmp_path / "scores.xlsx")
    assert (shown.format, shown.encoding) == ("excel", None)
    assert shown.columns == ("text", "score")
    assert shown.rows == (("first", "1"), ("second", "2.5"))


def test_preview_refuses_what_import_refuses(tmp_path):
    with pytest.raises(DataFileError, match="not found"):
        preview(tmp_path / "missing.csv")


def test_label_distribution_per_split_for_one_or_all_datasets(project, write_csv, labelled_rows):
    first = run_stage(
        project,
        IMPORT,
        ImportConfig(
            source=write_csv(labelled_rows(20), "one.csv"), text_column="text", label_column="label"
        ),
        reporter=NullReporter(),
    )
    run_stage(
        project,
        IMPORT,
        ImportConfig(
            source=write_csv(labelled_rows(10, prefix="other"), "two.csv"),
            text_column="text",
            label_column="label",
        ),
        reporter=NullReporter(),
    )
    one = label_distribution(project, first.dataset_id)
    assert list(one) == [s for s in ("train", "validation", "test", "edge") if s in one]
    assert sum(sum(counts.values()) for counts in one.values()) == 20
    assert one["test"] == {"a": 1, "b": 1}
    everything = label_distribution(project)
    assert sum(sum(counts.values()) for counts in everything.values()) == 30


def test_label_distribution_of_a_generation_project_hides_reference_texts(tmp_path, write_csv):
    project = Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.9))
    rows = [["text", "answer"], *([f"question {i}", f"secret answer {i}"] for i in range(10))]
    run_stage(
        project,
        IMPORT,
        ImportConfig(source=write_csv(rows), text_column="text", label_column="answer"),
        reporter=NullReporter(),
    )
    distribution = label_distribution(project)
    assert all(list(counts) == [None] for counts in distribution.values())
    assert sum(counts[None] for counts in distribution.values()) == 10
    project.close()
