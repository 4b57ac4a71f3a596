"""A Stillroom project: a folder (mode 0700) holding one SQLite store and the run folders.

The project's task, label set and quality floor are fixed at creation, before anything is
trained, so that the floor cannot be tuned to whatever the student happens to reach.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from core.errors import ProjectError, UserError
from core.store import audit
from core.store.db import DEFAULT_BUSY_TIMEOUT_S, Store, create_store, open_store, user_errors
from core.store.settings import read_setting, write_settings

DB_NAME = "stillroom.db"
TASKS = ("classification", "generation")
Task = Literal["classification", "generation"]


@dataclass(frozen=True, slots=True)
class QualityFloor:
    """What the student must reach to pass (DESIGN §4, evaluate).

    Attributes:
        min_retention: student metric / teacher metric, in (0, 1].
        min_metric: an absolute floor on the student's metric, if any.
        max_ece: the highest expected calibration error allowed, if any.
    """

    min_retention: float
    min_metric: float | None = None
    max_ece: float | None = None

    def validate(self) -> None:
        """Raises UserError if a bound is outside its range."""
        if not 0.0 < self.min_retention <= 1.0:
            raise UserError(
                f"the quality floor must be a retention in (0, 1], got {self.min_retention}",
                "for example --floor 0.95 keeps at least 95% of the teacher's metric",
            )
        for name, value in (("min metric", self.min_metric), ("max ECE", self.max_ece)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise UserError(f"the {name} must be between 0 and 1, got {value}")


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    task: Task
    labels: tuple[str, ...]
    floor: QualityFloor


class Project:
    """An open project. Use :meth:`create` or :meth:`open`; close it (or use ``with``)."""

    def __init__(self, path: Path, store: Store) -> None:
        self.path = path
        self.store = store

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def create(
        cls, path: Path, *, task: str, labels: tuple[str, ...] = (), floor: QualityFloor
    ) -> Project:
        """Create a project in a new or empty folder.

        Raises:
            ProjectError: the folder already holds files or a project.
            UserError: the task, labels or floor are invalid.
        """
        path = Path(path).expanduser().resolve()
        labels = tuple(label.strip() for label in labels)
        _validate_settings(task, labels, floor)
        if (path / DB_NAME).exists():
            raise ProjectError(f"{path} is already a Stillroom project", "open it instead")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ProjectError(
                f"{path} exists and is not an empty folder",
                "choose a new folder name; Stillroom does not mix its files with others",
            )
        with user_errors():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)
            for sub in ("runs", "exports"):
                (path / sub).mkdir(mode=0o700, exist_ok=True)
        store = create_store(path / DB_NAME)
        project = cls(path, store)
        settings = {"task": task, "labels": list(labels), "floor": asdict(floor)}
        with store.transaction():
            write_settings(store, settings)
            audit.append(store, "project.create", settings)
        return project

    @classmethod
    def open(cls, path: Path, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Project:
        """Open an existing project, migrating its store if needed.

        Raises:
            NotAProjectError: the folder holds no Stillroom store.
            SchemaTooNewError: a newer Stillroom wrote it.
            StoreError: the store is locked, read-only or the disk is full.
        """
        path = Path(path).expanduser().resolve()
        if not path.is_dir():
            raise ProjectError(
                f"{path} is not a folder", "pass the folder that `stillroom init` created"
            )
        return cls(path, open_store(path / DB_NAME, busy_timeout_s=busy_timeout_s))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- settings --------------------------------------------------------------------------

    def setting(self, key: str, default: Any = None) -> Any:
        """One project setting, decoded from JSON."""
        return read_setting(self.store, key, default)

    def set_setting(self, key: str, value: Any) -> None:
        """Store one setting and audit the change (joins the caller's transaction)."""
        with self.store.transaction():
            write_settings(self.store, {key: value})
            audit.append(self.store, "settings.change", {"key": key, "value": value})

    @property
    def settings(self) -> ProjectSettings:
        floor = self.setting("floor") or {}
        return ProjectSettings(
            task=self.setting("task", "classification"),
            labels=tuple(self.setting("labels", [])),
            floor=QualityFloor(**floor),
        )

    # -- folders and audit -----------------------------------------------------------------

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    def run_dir(self, run_id: str) -> Path:
        """The folder of one run, created owner-only on first use."""
        folder = self.runs_dir / run_id
        with user_errors():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder

    def audit(self, action: str, details: dict[str, Any] | None = None) -> audit.AuditEntry:
        """Append to the audit log. ``details`` never holds row contents."""
        return audit.append(self.store, action, details)


def is_project(path: Path) -> bool:
    """True if the folder looks like a Stillroom project (cheap; does not open it)."""
    return (Path(path) / DB_NAME).is_file()


def _validate_settings(task: str, labels: tuple[str, ...], floor: QualityFloor) -> None:
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}", f"choose one of: {', '.join(TASKS)}")
    if task == "generation" and labels:
        raise UserError("a generation project has no label set", "drop --labels")
    if task == "classification" and labels:
        if any(not label for label in labels):
            raise UserError("a label is empty", "write labels as --labels a,b,c")
        if len(set(labels)) != len(labels):
            raise UserError("the label set repeats a label", "list each label once")
        if len(labels) < 2:
            raise UserError("a classification task needs at least two labels")
    floor.validate()


def egress_audit_listener(path: Path) -> Callable[[str, int | None], None]:
    """A netguard listener that writes one audit row per blocked connection.

    It opens its own short-lived connection: the attempt may come from any thread, and
    while the main connection holds a transaction.
    """
    db_path = Path(path) / DB_NAME

    def listener(host: str, port: int | None) -> None:
        store = Store(db_path, busy_timeout_s=2.0)
        try:
            audit.append(store, "egress.blocked", {"host": host, "port": port})
        finally:
            store.close()

    return listener
