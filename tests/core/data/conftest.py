"""Fixtures for the data-stage tests: tiny files written into tmp_path, and import helpers."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from core.data import ImportConfig, ImportResult
from core.jobs.execute import run_stage
from core.jobs.registry import IMPORT
from core.project import Project
from core.reporter import NullReporter, Reporter

WriteCsv = Callable[..., Path]


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    """Write rows as CSV (or any delimiter / encoding) into tmp_path; returns the path."""

    def write(
        rows: Sequence[Sequence[object]],
        name: str = "data.csv",
        *,
        delimiter: str = ",",
        encoding: str = "utf-8",
    ) -> Path:
        path = tmp_path / name
        with path.open("w", encoding=encoding, newline="") as handle:
            csv.writer(handle, delimiter=delimiter).writerows(rows)
        return path

    return write


@pytest.fixture
def labelled_rows() -> Callable[..., list[list[object]]]:
    """A header and ``n`` rows of unique texts, labels cycling through ``labels``."""

    def rows(n: int, labels: Sequence[str] = ("a", "b"), prefix: str = "row") -> list[list[object]]:
        body: list[list[object]] = [
            [f"{prefix} number {i} says something", labels[i % len(labels)]] for i in range(n)
        ]
        return [["text", "label"], *body]

    return rows


@pytest.fixture
def do_import(project: Project) -> Callable[..., ImportResult]:
    """Import into the ``project`` fixture; ``text_column`` defaults to "text"."""

    def run(source: Path, reporter: Reporter | None = None, **options: Any) -> ImportResult:
        options.setdefault("text_column", "text")
        config = ImportConfig(source=source, **options)
        return run_stage(project, IMPORT, config, reporter=reporter or NullReporter())

    return run


def assert_nothing_written(project: Project) -> None:
    """No dataset, no record and no import audit entry: the failed import left nothing."""
    assert project.store.scalar("SELECT COUNT(*) FROM datasets") == 0
    assert project.store.scalar("SELECT COUNT(*) FROM records") == 0
    assert project.store.scalar("SELECT COUNT(*) FROM audit WHERE action = 'data.import'") == 0


@pytest.fixture
def nothing_written() -> Callable[[Project], None]:
    return assert_nothing_written
