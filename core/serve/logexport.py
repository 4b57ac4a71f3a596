"""``stillroom serve-log export``: a server's prediction log as one file for the analyst.

JSON lines (one prediction per line, then one line per refused or failed request, which
has an ``error`` field holding its kind) or Parquet (the same rows; ``error`` is null on a
prediction), chosen by the file's suffix; written to a temporary file and renamed into
place, owner-only. The log's meta (bundle, labels,
fingerprint version) goes into every row's ``meta`` field in JSON lines and into the
Parquet file's metadata, so the file describes itself.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.serve.predlog import error_rows, log_files, meta, rows


class LogExportError(UserError):
    """The log cannot be read or the file cannot be written."""


@dataclass(frozen=True, slots=True)
class LogExport:
    out: Path
    rows: int
    files: int
    errors: int = 0


def export_log(folder: Path, out: Path, *, force: bool = False) -> LogExport:
    """Write every prediction of the log ``folder`` to ``out`` (.jsonl or .parquet).

    Raises:
        LogExportError: no log there, an unknown suffix, or ``out`` exists without ``force``.
    """
    folder, out = Path(folder).expanduser(), Path(out).expanduser()
    files = log_files(folder)
    if not files:
        raise LogExportError(
            f"no prediction log in {folder}",
            "pass the folder `stillroom serve` printed as its prediction log",
        )
    if out.suffix not in (".jsonl", ".parquet"):
        raise LogExportError(f"cannot write {out.name}", "name the file .jsonl or .parquet")
    if out.exists() and not force:
        raise LogExportError(f"{out} already exists", "choose another --out, or pass --force")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    scratch = Path(name)
    try:
        info = meta(folder)
        count, errors = (_parquet if out.suffix == ".parquet" else _jsonl)(folder, scratch, info)
        os.replace(scratch, out)
    finally:
        scratch.unlink(missing_ok=True)
    return LogExport(out, count, len(files), errors)


def _jsonl(folder: Path, path: Path, info: dict[str, str]) -> tuple[int, int]:
    count = errors = 0
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows(folder):
            handle.write(json.dumps({**row, "meta": info}, ensure_ascii=False) + "\n")
            count += 1
        for row in error_rows(folder):
            handle.write(json.dumps({**row, "meta": info}, ensure_ascii=False) + "\n")
            errors += 1
    return count, errors


def _parquet(folder: Path, path: Path, info: dict[str, str]) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    records: list[dict[str, Any]] = []
    for row in rows(folder):
        for key in ("shadow", "input"):
            row[key] = None if row[key] is None else json.dumps(row[key], ensure_ascii=False)
        records.append(row)
    count = len(records)
    records += error_rows(folder)
    # pyarrow takes the columns from the first row: every row gets every column.
    columns = list(dict.fromkeys(key for record in records for key in record))
    table = pa.Table.from_pylist([{key: r.get(key) for key in columns} for r in records])
    table = table.replace_schema_metadata({f"stillroom.{k}": v for k, v in info.items()})
    pq.write_table(table, path)
    return count, len(records) - count
