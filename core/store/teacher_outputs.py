"""The ``teacher_outputs`` table: what is left to label, storing answers, and the join of
records, their anonymized text and one teacher's answers that training reads.

Outputs are keyed by (record, teacher id, prompt version): whatever is stored is never asked
again, and :func:`insert_outputs` says which rows were new, so a retry, a resumed run or a
second process racing on the same project cannot count (or bill) a record twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.store.db import Store

OUTPUT_COLUMNS = (
    "record_id", "teacher_id", "prompt_version", "run_id", "valid", "flag", "label",
    "probabilities", "soft_label_source", "label_mass", "text", "token_logprobs",
    "latency_ms", "input_tokens", "output_tokens", "cost", "attempts", "created_at",
)  # fmt: skip
"""The order of the values of a row given to :func:`insert_outputs`."""
_PAGE = 256


@dataclass(frozen=True, slots=True)
class TrainingRow:
    """A train or validation record with its anonymized text and one teacher's output.

    ``raw`` is the original text only when raw text was allowed; every output field is
    None where the teacher has no output for the record. JSON columns stay as stored.
    """

    id: int
    split: str
    human: str | None
    raw: str | None
    anon: str | None
    output_id: int | None
    valid: int | None  # 1: a valid answer, 0: flagged
    teacher_label: str | None
    probabilities: str | None
    teacher_text: str | None
    token_logprobs: str | None


def _eligible(need_text: bool, labels: Sequence[str]) -> tuple[str, list[object]]:
    """The eligible records: anonymized ones, or (for existing labels) human-labelled ones:
    a label in ``labels``, or (generation, no label set) any reference text."""
    if need_text:
        return (
            "SELECT r.id, r.split, r.label, a.text FROM records r "
            "JOIN anonymized a ON a.record_id = r.id",
            [],
        )
    base = "SELECT r.id, r.split, r.label, NULL AS text FROM records r WHERE "
    if not labels:  # generation: every record with a reference text
        return base + "r.label IS NOT NULL AND r.label != ''", []
    marks = ", ".join("?" for _ in labels)
    return base + f"r.label IN ({marks})", list(labels)


def count_eligible(store: Store, *, need_text: bool, labels: Sequence[str]) -> int:
    """How many records a teacher may see at all: the anonymized ones when it reads text,
    else those with a human label in ``labels``."""
    sql, params = _eligible(need_text, labels)
    return int(store.scalar(f"SELECT COUNT(*) FROM ({sql})", params) or 0)


def count_stored(store: Store, teacher_id: str, prompt_version: str) -> int:
    """How many outputs of this teacher and prompt are stored."""
    sql = "SELECT COUNT(*) FROM teacher_outputs WHERE teacher_id = ? AND prompt_version = ?"
    return int(store.scalar(sql, (teacher_id, prompt_version)) or 0)


def pending_records(
    store: Store,
    teacher_id: str,
    prompt_version: str,
    *,
    need_text: bool,
    labels: Sequence[str],
    limit: int | None = None,
) -> Iterator[tuple[int, str, str | None, str | None]]:
    """``(id, split, human label, anonymized text)`` of the eligible records with no stored
    output yet, in id order, read a page at a time.

    Keyset paging (``id > last``) rather than one open cursor, because batches are committed
    on the same connection while this is being read.
    """
    sql, params = _eligible(need_text, labels)
    where = " AND " if "WHERE" in sql else " WHERE "
    query = (
        f"{sql}{where}r.id > ? AND NOT EXISTS (SELECT 1 FROM teacher_outputs t WHERE "
        "t.record_id = r.id AND t.teacher_id = ? AND t.prompt_version = ?) "
        "ORDER BY r.id LIMIT ?"
    )
    last, left = -1, limit
    while left is None or left > 0:
        page = _PAGE if left is None else min(_PAGE, left)
        rows = store.conn.execute(query, [*params, last, teacher_id, prompt_version, page])
        found = [(int(r[0]), str(r[1]), r[2], r[3]) for r in rows]
        if not found:
            return
        yield from found
        last = found[-1][0]
        left = None if left is None else left - len(found)


def insert_outputs(store: Store, rows: Sequence[tuple[object, ...]]) -> list[bool]:
    """Insert output rows (values in :data:`OUTPUT_COLUMNS` order) in one transaction.

    Returns:
        For each row, whether it was inserted (False: an output for its record, teacher
        and prompt was stored already).
    """
    sql = (
        f"INSERT OR IGNORE INTO teacher_outputs ({', '.join(OUTPUT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(OUTPUT_COLUMNS))})"
    )
    with store.transaction() as conn:
        return [conn.execute(sql, row).rowcount == 1 for row in rows]


def cost_total(store: Store, teacher_id: str, prompt_version: str) -> float:
    """Everything this teacher and prompt have cost in this project, across runs."""
    sql = "SELECT SUM(cost) FROM teacher_outputs WHERE teacher_id = ? AND prompt_version = ?"
    return float(store.scalar(sql, (teacher_id, prompt_version)) or 0.0)


def agreement_counts(
    store: Store, teacher_id: str, prompt_version: str
) -> list[tuple[str, int, int]]:
    """``(split, right, answered)`` per split, over records with a human label; an invalid
    output counts as wrong."""
    rows = store.conn.execute(
        "SELECT r.split, SUM(CASE WHEN t.valid = 1 AND t.label = r.label THEN 1 ELSE 0 END), "
        "COUNT(*) FROM teacher_outputs t JOIN records r ON r.id = t.record_id "
        "WHERE t.teacher_id = ? AND t.prompt_version = ? AND r.label IS NOT NULL "
        "GROUP BY r.split ORDER BY r.split",
        (teacher_id, prompt_version),
    )
    return rows.fetchall()


def reference_pairs(
    store: Store, teacher_id: str, prompt_version: str
) -> list[tuple[str, str | None, str]]:
    """``(split, teacher text, reference text)`` for every output of a record with a
    reference text (generation); an invalid output's text is None."""
    rows = store.conn.execute(
        "SELECT r.split, CASE WHEN t.valid = 1 THEN t.text END, r.label "
        "FROM teacher_outputs t JOIN records r ON r.id = t.record_id "
        "WHERE t.teacher_id = ? AND t.prompt_version = ? AND r.label IS NOT NULL "
        "AND r.label != '' ORDER BY r.id",
        (teacher_id, prompt_version),
    )
    return [(str(split), text, str(label)) for split, text, label in rows]


def newest_teacher(
    store: Store, teacher_id: str | None = None, prompt_version: str | None = None
) -> tuple[str, str] | None:
    """The (teacher id, prompt version) with the most recent output, among those matching
    ``teacher_id`` and ``prompt_version`` where given."""
    where, params = "", []
    if teacher_id is not None:
        where, params = "WHERE teacher_id = ?", [teacher_id]
        if prompt_version is not None:
            where, params = where + " AND prompt_version = ?", [teacher_id, prompt_version]
    row = store.conn.execute(
        f"SELECT teacher_id, prompt_version FROM teacher_outputs {where} "
        "GROUP BY teacher_id, prompt_version ORDER BY MAX(created_at) DESC, MAX(id) DESC LIMIT 1",
        params,
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def teacher_ids(store: Store, limit: int) -> list[str]:
    """The first ``limit`` teacher ids with stored outputs, sorted."""
    rows = store.conn.execute(
        "SELECT DISTINCT teacher_id FROM teacher_outputs ORDER BY teacher_id LIMIT ?", (limit,)
    )
    return [str(row[0]) for row in rows]


def training_rows(store: Store, teacher: tuple[str, str], *, allow_raw: bool) -> list[TrainingRow]:
    """Every train and validation record with one teacher's output, in id order."""
    rows = store.conn.execute(
        # Raw text is not even read unless it may be used.
        "SELECT r.id, r.split, r.label, CASE WHEN ? THEN r.text END, a.text, t.id, t.valid, "
        "t.label, t.probabilities, t.text, t.token_logprobs FROM records r "
        "LEFT JOIN anonymized a ON a.record_id = r.id "
        "LEFT JOIN teacher_outputs t ON t.record_id = r.id AND t.teacher_id = ? "
        "AND t.prompt_version = ? WHERE r.split IN ('train', 'validation') ORDER BY r.id",
        (int(allow_raw), *teacher),
    )
    return [TrainingRow(*row) for row in rows]
