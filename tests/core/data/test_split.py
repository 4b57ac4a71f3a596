from __future__ import annotations

import random
from collections import Counter

import pytest

from core.data import ImportConfig
from core.data.split import split_sizes, validate_fractions
from core.errors import UserError
from core.jobs.execute import run_stage
from core.jobs.registry import IMPORT
from core.project import Project, QualityFloor
from core.reporter import NullReporter
from core.store.splits import shuffle_key


@pytest.mark.parametrize(
    ("n", "validation", "test", "expected"),
    [
        (10, 0.1, 0.1, (8, 1, 1)),
        (100, 0.1, 0.2, (70, 10, 20)),
        (3, 0.1, 0.1, (1, 1, 1)),  # at least one each once a class has 3 rows
        (2, 0.1, 0.1, (2, 0, 0)),
        (1, 0.5, 0.5, (1, 0, 0)),  # train always keeps a row
        (5, 0.0, 0.2, (4, 0, 1)),  # a zero fraction stays empty
        (4, 0.45, 0.45, (1, 1, 2)),
        (15, 0.1, 0.1, (11, 2, 2)),  # 1.5 rounds half up
    ],
)
def test_split_sizes(n, validation, test, expected):
    assert split_sizes(n, validation, test) == expected


def test_validate_fractions_accepts_rounding_noise():
    assert validate_fractions((0.7, 0.2, 0.1 + 1e-9)) == (0.7, 0.2, 0.1 + 1e-9)
    with pytest.raises(UserError):
        validate_fractions((0.7, 0.2, 0.1 + 1e-5))


def test_shuffle_key_depends_on_the_seed():
    digest = bytes(range(32))
    assert shuffle_key(1, digest) == shuffle_key(1, digest)
    assert shuffle_key(1, digest) != shuffle_key(2, digest)


def import_rows(folder, rows, name="data.csv", **options):
    """Import ``rows`` (header first) into a new project; text -> split, and the project."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(",".join(row) for row in rows) + "\n")
    project = Project.create(folder / "proj", task="classification", floor=QualityFloor(0.9))
    options.setdefault("label_column", "label" if "label" in rows[0] else None)
    run_stage(
        project,
        IMPORT,
        ImportConfig(source=path, text_column="text", **options),
        reporter=NullReporter(),
    )
    splits = dict(project.store.conn.execute("SELECT text, split FROM records").fetchall())
    project.close()
    return splits


def rows_for(counts):
    body = [[f"text {label} {i}", label] for label, n in counts.items() for i in range(n)]
    return [["text", "label"], *body]


def test_split_is_stratified_per_label(tmp_path):
    counts = {"big": 40, "mid": 20, "small": 3}
    splits = import_rows(tmp_path, rows_for(counts), split=(0.6, 0.2, 0.2))
    for label in counts:
        per_split = Counter(s for text, s in splits.items() if text.split()[1] == label)
        kept = sum(n for name, n in per_split.items() if name != "edge")
        train, validation, test = split_sizes(kept, 0.2, 0.2)
        assert per_split["train"] == train
        assert per_split["validation"] == validation
        assert per_split["test"] == test
    small = Counter(s for text, s in splits.items() if "small" in text)
    assert small["train"] >= 1


def test_same_rows_and_seed_give_the_same_split_in_any_order(tmp_path):
    rows = rows_for({"a": 30, "b": 25})
    first = import_rows(tmp_path / "one", rows, seed=5)
    again = import_rows(tmp_path / "two", rows, seed=5)
    shuffled = [rows[0], *random.Random(1).sample(rows[1:], len(rows) - 1)]
    reordered = import_rows(tmp_path / "three", shuffled, seed=5)
    other_seed = import_rows(tmp_path / "four", rows, seed=6)
    assert first == again == reordered
    assert first != other_seed


def test_without_a_label_column_it_is_a_plain_seeded_shuffle(tmp_path):
    rows = [["text"], *([f"unlabelled {i}"] for i in range(40))]
    splits = import_rows(tmp_path, rows)
    counts = Counter(splits.values())
    assert (counts["train"], counts["validation"], counts["test"]) == split_sizes(
        40 - counts["edge"], 0.1, 0.1
    )


def test_a_zero_test_fraction_leaves_test_empty(tmp_path):
    splits = import_rows(tmp_path, rows_for({"a": 20, "b": 20}), split=(0.8, 0.2, 0.0))
    assert "test" not in set(splits.values())
    assert Counter(splits.values())["validation"] == 8
