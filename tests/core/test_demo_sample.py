"""The demo's bundled sample: present, found by ``sample_path``, labelled, carrying synthetic
identifiers in a share of its rows, and exactly what its seeded generator writes."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from core import demo
from core.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "resources" / "sample" / "generate_sample.py"
# What the templates inject, recognisable without the anonymizer.
IDENTIFIER = re.compile(
    r"@example\.(?:com|net|org)|\bacct \d{4}-|account number \d{4}-|\bMRN \d{8}\b|"
    r"reach me at \S|, DOB [A-Z]"
)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stillroom_sample_generator", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def _rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_sample_path_finds_the_shipped_file():
    path = demo.sample_path()
    assert path == ROOT / "resources" / "sample" / demo.SAMPLE_FILE
    assert path.stat().st_size < 400_000


def test_sample_path_prefers_the_frozen_build_folder(tmp_path, monkeypatch):
    frozen = tmp_path / "resources" / "sample" / demo.SAMPLE_FILE
    frozen.parent.mkdir(parents=True)
    frozen.write_bytes(b"")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert demo.sample_path() == frozen


def test_sample_path_names_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "_SAMPLE_PARTS", ("resources", "sample", "missing.csv.gz"))
    with pytest.raises(UserError, match="missing"):
        demo.sample_path()


def test_sample_is_labelled_balanced_and_unique():
    rows = _rows(demo.sample_path())
    assert len(rows) >= 2_000
    assert list(rows[0]) == ["id", "text", "label"]
    counts = Counter(row["label"] for row in rows)
    assert set(counts) == set(demo.DEMO_LABELS)
    assert min(counts.values()) / max(counts.values()) > 0.5
    assert len({row["text"] for row in rows}) == len(rows)
    assert all(len(row["text"]) >= 20 for row in rows)


def test_a_third_of_the_rows_carry_synthetic_identifiers():
    rows = _rows(demo.sample_path())
    share = sum(bool(IDENTIFIER.search(row["text"])) for row in rows) / len(rows)
    assert 0.25 <= share <= 0.45
    by_label = Counter(row["label"] for row in rows if IDENTIFIER.search(row["text"]))
    assert set(by_label) == set(demo.DEMO_LABELS)  # injected regardless of the label


def test_generator_is_deterministic_and_wrote_the_shipped_file(tmp_path):
    generator = _generator()
    corpus = generator.corpus_path()
    rows = generator.build_rows(corpus)
    assert rows == generator.build_rows(corpus)
    first, second = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    generator.write_csv_gz(rows, first)
    generator.write_csv_gz(generator.build_rows(corpus), second)
    assert first.read_bytes() == second.read_bytes()
    injected = [row for row in rows if row.injected]
    assert 0.3 <= len(injected) / len(rows) <= 0.4
    kinds = {kind for row in injected for kind in row.injected}
    assert {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "ACCOUNT_NUMBER", "DATE"} <= kinds
    assert "MEDICAL_RECORD_NUMBER" in kinds
    import faker

    if faker.VERSION != generator.FAKER_VERSION:
        pytest.skip(f"faker {faker.VERSION} draws other fake values than the shipped file's")
    assert first.read_bytes() == demo.sample_path().read_bytes()


def test_another_seed_draws_another_sample():
    generator = _generator()
    corpus = generator.corpus_path()
    assert generator.build_rows(corpus, seed=1) != generator.build_rows(corpus, seed=2)


def test_cleaning_restores_the_corpus_words_and_hides_private_handles():
    generator = _generator()
    cleaned = generator.clean(
        "@united @jane_doe flight Cancelled Flightled, bag Late Flight &amp; lost"
    )
    assert cleaned == "@united @user flight cancelled, bag late & lost"
