"""The store-side summary of imported datasets that the desktop data page shows."""

from __future__ import annotations

from core.data import ImportConfig
from core.data.summary import EDGE_RULES, dataset_summaries
from core.jobs.execute import run_stage
from core.jobs.registry import IMPORT
from core.reporter import NullReporter
from core.store.edges import REASONS


def test_summary_matches_what_the_import_reported(project, write_csv, labelled_rows):
    rows = labelled_rows(120, labels=("a", "b", "c"))
    rows += [rows[1], [" ", "a"], ["", "b"]]  # one duplicate, two empty
    config = ImportConfig(source=write_csv(rows), text_column="text", label_column="label", seed=5)
    result = run_stage(project, IMPORT, config, reporter=NullReporter())
    (summary,) = dataset_summaries(project)
    assert summary.dataset_id == result.dataset_id
    assert (summary.format, summary.encoding) == ("csv", "utf-8")
    assert summary.rows_read == result.rows_read == 123
    assert summary.rows_imported == result.rows_imported == 120
    assert summary.duplicates_dropped == 1
    assert summary.empty_dropped == 2
    assert (summary.text_column, summary.label_column) == ("text", "label")
    assert summary.split_fractions == (0.8, 0.1, 0.1)
    assert summary.seed == 5
    assert summary.split_counts == result.split_counts
    assert summary.edge_reasons == result.edge_reasons
    per_label: dict[str, int] = {}
    for counts in summary.labels_by_split.values():
        for label, n in counts.items():
            per_label[str(label)] = per_label.get(str(label), 0) + n
    assert per_label == {"a": 40, "b": 40, "c": 40}
    assert list(summary.labels_by_split)[:3] == ["train", "validation", "test"]


def test_no_datasets_before_an_import(project):
    assert dataset_summaries(project) == []


def test_every_edge_reason_has_a_rule_sentence():
    assert set(EDGE_RULES) == {"user_flag", *REASONS}
    assert all(text.endswith(".") for text in EDGE_RULES.values())


def test_earlier_summaries_are_reused_and_new_datasets_counted(project, write_csv, labelled_rows):
    run_stage(
        project,
        IMPORT,
        ImportConfig(source=write_csv(labelled_rows(30), "one.csv"), text_column="text"),
        reporter=NullReporter(),
    )
    first = dataset_summaries(project)
    run_stage(
        project,
        IMPORT,
        ImportConfig(
            source=write_csv(labelled_rows(12, prefix="other"), "two.csv"), text_column="text"
        ),
        reporter=NullReporter(),
    )
    both = dataset_summaries(project, first)
    assert both[0] is first[0]
    assert [s.rows_imported for s in both] == [30, 12]
