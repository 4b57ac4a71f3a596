from __future__ import annotations

import csv
from collections import Counter

import pytest

from core.data import ImportConfig
from core.jobs.execute import run_stage
from core.jobs.registry import IMPORT
from core.project import Project, QualityFloor
from core.reporter import NullReporter
from core.store.edges import non_ascii_share

GREEK = "καλημέρα σας, τι κάνετε σήμερα"  # almost all non-ASCII


def import_rows(folder, body, *, header=("text", "label"), **options):
    """Import ``body`` rows into a new project; the records as dicts, and the result."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *body])
    project = Project.create(folder / "proj", task="classification", floor=QualityFloor(0.9))
    if "label" in header:
        options.setdefault("label_column", "label")
    config = ImportConfig(source=path, text_column="text", **options)
    result = run_stage(project, IMPORT, config, reporter=NullReporter())
    rows = project.store.query("SELECT text, label, split, edge_reason FROM records ORDER BY id")
    project.close()
    return rows, result


def edges(rows):
    return {row["text"]: row["edge_reason"] for row in rows if row["split"] == "edge"}


def test_non_ascii_share():
    assert non_ascii_share("plain") == 0.0
    assert non_ascii_share("") == 0.0
    assert non_ascii_share("aé") == 0.5
    assert non_ascii_share(GREEK) > 0.7


def test_non_ascii_heavy_rows_are_edge_cases_light_accents_are_not(tmp_path):
    body = [[f"ascii text number {i}", "ab"[i % 2]] for i in range(40)]
    body += [[f"{GREEK} {i}", "a"] for i in range(2)]
    body += [["café crème brûlée is fine", "b"]]
    rows, result = import_rows(tmp_path, body)
    assert edges(rows) == {f"{GREEK} 0": "non_ascii", f"{GREEK} 1": "non_ascii"}
    assert result.edge_reasons == {"non_ascii": 2}


def test_longest_and_shortest_only_from_fifty_rows(tmp_path):
    body = [[f"row {i} " + "x" * (i % 37), "ab"[i % 2]] for i in range(49)]
    body.append(["the very longest row of them all " + "y" * 80, "a"])
    body.append(["s", "b"])
    rows, result = import_rows(tmp_path / "fifty-one", body)
    assert edges(rows) == {
        "the very longest row of them all " + "y" * 80: "longest",
        "s": "shortest",
    }
    rows, result = import_rows(tmp_path / "forty-nine", body[2:])
    assert "longest" not in result.edge_reasons
    assert "shortest" not in result.edge_reasons


def test_length_extremes_take_one_percent_up_to_fifty_each(tmp_path):
    body = [[f"row {i:05d} " + "x" * (i % 300), "abc"[i % 3]] for i in range(6000)]
    rows, result = import_rows(tmp_path, body)
    assert result.edge_reasons == {"longest": 50, "shortest": 50}
    shortest = sorted(rows, key=lambda row: len(row["text"]))
    assert all(row["split"] == "edge" for row in shortest[:20])


def test_rare_labels_give_up_a_third_and_keep_train_rows(tmp_path):
    body = [[f"common text {i}", "ab"[i % 2]] for i in range(194)]
    body += [[f"rare text {i}", "rare"] for i in range(6)]
    rows, result = import_rows(tmp_path, body)
    rare = [row for row in rows if row["label"] == "rare"]
    rare_edges = [row for row in rare if row["split"] == "edge"]
    assert len(rare_edges) == 2
    assert all("rare_label" in row["edge_reason"] for row in rare_edges)
    assert any(row["split"] == "train" for row in rare)
    assert result.edge_reasons["rare_label"] == 2


def test_a_class_never_loses_more_than_a_third_and_reasons_are_joined(tmp_path):
    body = [[f"common text {i}", "ab"[i % 2]] for i in range(100)]
    body += [[f"{GREEK} {i}", "greek"] for i in range(3)]
    rows, _ = import_rows(tmp_path, body)
    greek = [row for row in rows if row["label"] == "greek"]
    chosen = [row for row in greek if row["split"] == "edge"]
    assert len(chosen) == 1
    assert chosen[0]["edge_reason"] == "rare_label,non_ascii"
    assert Counter(row["split"] for row in greek)["train"] >= 1


def test_automatic_edge_cases_are_capped_at_five_percent(tmp_path):
    body = [[f"{GREEK} {i}", "ab"[i % 2]] for i in range(100)]
    rows, result = import_rows(tmp_path, body)
    assert len(edges(rows)) == 5
    assert result.split_counts["edge"] == 5


def test_the_cap_is_at_least_one(tmp_path):
    body = [[GREEK], ["plain text"], ["more plain"]]
    rows, _ = import_rows(tmp_path, body, header=("text",))
    assert edges(rows) == {GREEK: "non_ascii"}


def test_a_class_of_one_or_two_rows_gives_none_to_the_edge_set(tmp_path):
    rows, _ = import_rows(tmp_path, [[GREEK, "a"], ["plain text", "b"], ["more plain", "b"]])
    assert edges(rows) == {}


def test_user_flagged_rows_do_not_count_against_the_cap(tmp_path):
    body = [[f"{GREEK} {i}", "ab"[i % 2], "1" if i < 10 else ""] for i in range(100)]
    rows, result = import_rows(tmp_path, body, header=("text", "label", "flag"), flag_column="flag")
    assert result.edge_reasons["user_flag"] == 10
    assert result.split_counts["edge"] == 10 + 5
    assert Counter(edges(rows).values())["user_flag"] == 10


@pytest.mark.parametrize("seed", [1, 2])
def test_edge_selection_is_deterministic_for_a_seed(tmp_path, seed):
    body = [[f"{GREEK} {i}", "ab"[i % 2]] for i in range(100)]
    first, _ = import_rows(tmp_path / "one", body, seed=seed)
    second, _ = import_rows(tmp_path / "two", body, seed=seed)
    other, _ = import_rows(tmp_path / "three", body, seed=seed + 10)
    assert edges(first) == edges(second)
    assert edges(first) != edges(other)


def test_without_labels_there_are_no_rare_labels(tmp_path):
    body = [[f"text {i}"] for i in range(30)]
    _, result = import_rows(tmp_path, body, header=("text",))
    assert result.edge_reasons == {}
    assert result.label_distribution == {}
