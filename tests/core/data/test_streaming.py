"""The import streams: Python memory stays at about a batch, not the file size.

tracemalloc counts Python allocations only (not SQLite's page cache), which is what would
grow if a reader built a list or DataFrame of the file, so the bound is reliable.
"""

from __future__ import annotations

import tracemalloc

from core.data import ImportConfig
from core.jobs.execute import run_stage
from core.jobs.registry import IMPORT
from core.reporter import NullReporter

ROWS = 60_000


def test_a_large_csv_imports_in_memory_far_below_its_size(tmp_path, project):
    path = tmp_path / "large.csv"
    filler = "lorem ipsum dolor sit amet " * 10
    with path.open("w") as handle:
        handle.write("text,label\n")
        for i in range(ROWS):
            handle.write(f'"row {i}, {filler}",{"abc"[i % 3]}\n')
    size = path.stat().st_size
    assert size > 16_000_000

    tracemalloc.start()
    try:
        result = run_stage(
            project,
            IMPORT,
            ImportConfig(source=path, text_column="text", label_column="label"),
            reporter=NullReporter(),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.rows_imported == ROWS
    assert peak < size / 3, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
