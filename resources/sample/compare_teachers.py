"""Measure the two teachers the demo could use on the same anonymized test records.

Run after a demo: ``.venv/bin/python resources/sample/compare_teachers.py DEMO_DIR [--n 400]``

1. MiniLM-L6 fine-tuned on the human labels of the train split (the demo's "prepare
   teacher" step): its stored outputs in the demo project.
2. SmolLM2-135M-Instruct prompted with the label set, soft labels read from its next-token
   distribution over the label tokens (the local causal teacher of ``core.teacher``), once
   with the default prompt and once with a prompt that describes the triage labels. It runs
   through ``run_teach`` on a scratch project holding the same anonymized test texts.

Accuracy and macro-F1 are against the human labels, on the same ``--n`` test records.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core import netguard  # noqa: E402
from core.demo import DEMO_FLOOR, DEMO_LABELS  # noqa: E402
from core.project import Project  # noqa: E402
from core.reporter import NullReporter  # noqa: E402
from core.store.db import utc_now  # noqa: E402

DESCRIBED_PROMPT = (
    "A customer sent this message to an airline's support account. Triage it.\n"
    "complaint: the customer is unhappy or reports a problem.\n"
    "neutral: a question, a request or information, neither unhappy nor happy.\n"
    "praise: the customer is happy or thanks the airline.\n\n"
    "Categories: {choices}\n\n"
    "Message: {text}\n\n"
    "Reply with the {answer_kind} of the category only.\n"
    "Answer:"
)


def test_rows(demo: Path, n: int, seed: int) -> list[dict[str, object]]:
    """``n`` seeded test records: id, anonymized text, human label, the demo teacher's label."""
    with Project.open(demo) as project:
        teacher = project.store.scalar(
            "SELECT teacher_id FROM teacher_outputs WHERE teacher_id LIKE 'hf:%' "
            "ORDER BY id DESC LIMIT 1"
        )
        rows = project.store.query(
            "SELECT r.id, a.text, r.label AS human, t.label AS teacher FROM records r "
            "JOIN anonymized a ON a.record_id = r.id JOIN teacher_outputs t ON "
            "t.record_id = r.id AND t.teacher_id = ? WHERE r.split = 'test' ORDER BY r.id",
            (teacher,),
        )
    random.Random(seed).shuffle(rows)
    return rows[:n]


def scores(pairs: list[tuple[str, str | None]]) -> tuple[float, float]:
    """Accuracy and macro-F1 of (human, predicted) pairs; no answer counts as wrong."""
    accuracy = sum(h == p for h, p in pairs) / len(pairs)
    f1s = []
    for label in DEMO_LABELS:
        tp = sum(h == p == label for h, p in pairs)
        predicted = sum(p == label for _, p in pairs)
        actual = sum(h == label for h, _ in pairs)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if tp else 0.0)
    return accuracy, sum(f1s) / len(f1s)


def smollm2(
    rows: list[dict[str, object]], work: Path, prompt: str | None
) -> tuple[float, float, float]:
    """SmolLM2's accuracy, macro-F1 and records/s on ``rows`` (a scratch project)."""
    from core.teacher.config import TeachConfig
    from core.teacher.models import smollm2_folder
    from core.teacher.stage import run_teach

    folder = work / ("described" if prompt else "default")
    with Project.create(
        folder, task="classification", labels=DEMO_LABELS, floor=DEMO_FLOOR
    ) as project:
        _insert(project, rows)
        prompt_file = None
        if prompt:
            prompt_file = work / "prompt.txt"
            prompt_file.write_text(prompt, encoding="utf-8")
        config = TeachConfig(
            teacher=f"hf:{smollm2_folder()}", batch_size=16, prompt_file=prompt_file
        )
        started = time.perf_counter()
        result = run_teach(project, config, reporter=NullReporter())
        seconds = time.perf_counter() - started
        answers = {r["record_id"]: r["label"] for r in project.store.query(
            "SELECT record_id, label FROM teacher_outputs")}  # fmt: skip
        ids = {r["text"]: r["id"] for r in project.store.query("SELECT id, text FROM records")}
    pairs = [(str(row["human"]), answers.get(ids[row["text"]])) for row in rows]
    return (*scores(pairs), result.labelled / seconds)


def _insert(project: Project, rows: list[dict[str, object]]) -> None:
    """The test texts as one dataset, stored as already anonymized (they are)."""
    with project.store.transaction() as conn:
        dataset = conn.execute(
            "INSERT INTO datasets (name, source_path, source_sha256, source_bytes, format, "
            "row_count, rows_read, column_map, split_config, imported_at) VALUES "
            "('demo-test', '-', 'demo-test', 0, 'csv', ?, ?, '{}', '{}', ?)",
            (len(rows), len(rows), utc_now()),
        ).lastrowid
        for i, row in enumerate(rows):
            record = conn.execute(
                "INSERT INTO records (dataset_id, source_row, split, text, text_sha256, label) "
                "VALUES (?, ?, 'test', ?, ?, ?)",
                (dataset, i + 1, row["text"], f"{i}".encode(), row["human"]),
            ).lastrowid
            conn.execute(
                "INSERT INTO anonymized (record_id, text, entity_counts, config_hash, "
                "created_at) VALUES (?, ?, '{}', 'demo', ?)",
                (record, row["text"], utc_now()),
            )


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a demo project folder (after `stillroom demo`)")
    parser.add_argument("--n", type=int, default=400, help="test records compared")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    netguard.install()
    rows = test_rows(args.demo, args.n, args.seed)
    accuracy, macro_f1 = scores([(str(r["human"]), r["teacher"]) for r in rows])  # type: ignore[misc]
    _say(f"{len(rows)} test records (human labels)")
    _say(f"  MiniLM-L6 fine-tuned (demo teacher): accuracy {accuracy:.4f}  macro-F1 {macro_f1:.4f}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, prompt in (("default prompt", None), ("described labels", DESCRIBED_PROMPT)):
            accuracy, macro_f1, speed = smollm2(rows, Path(tmp), prompt)
            _say(f"  SmolLM2-135M-Instruct, {name}: accuracy {accuracy:.4f}  macro-F1 "
                 f"{macro_f1:.4f}  ({speed:.1f} records/s)")  # fmt: skip


if __name__ == "__main__":
    main()
