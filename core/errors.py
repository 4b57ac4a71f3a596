"""Errors a user can act on.

Every error the core raises for something the user can fix is a :class:`UserError`: a plain
message plus a hint saying what to do. Neither ever contains row contents or found PII
values, so they are safe to log, show and put in the events table.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: bad input, a wrong path, a locked or full disk."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint as the single line the CLI prints."""
        return f"{self.message} — {self.hint}" if self.hint else self.message


class InternalError(UserError):
    """A bug, reported as one line that names the log holding its stack (never data).

    Not the user's to fix, but carried like the others so that every caller prints one line
    and records it; exits with the internal-error code (4), not 2.
    """

    exit_code = 4


class ProjectError(UserError):
    """The folder is not a usable project."""


class NotAProjectError(ProjectError):
    """The folder has no Stillroom store."""


class SchemaTooNewError(ProjectError):
    """The store was written by a newer Stillroom."""


class StoreError(UserError):
    """The database cannot be read or written right now."""


class DatabaseLockedError(StoreError):
    """Another process holds the write lock for longer than the busy timeout."""


class DiskFullError(StoreError):
    """The disk (or the database's size limit) is full."""


class ReadOnlyError(StoreError):
    """The project folder or database cannot be written."""


class AuditExportError(StoreError):
    """An audit export cannot be written, or a file is not an intact exported chain."""


class StoredDataError(UserError):
    """A config or result stored in the project cannot be read back into its type."""

    def __init__(self, message: str, hint: str = "start a new run of the stage") -> None:
        super().__init__(message, hint)


class DataFileError(UserError):
    """An input file cannot be read as a dataset."""


class ColumnError(DataFileError):
    """A column is missing, misspelt, empty or unusable."""


class DuplicateImportError(DataFileError):
    """The same file (by SHA-256) was already imported into this project."""


class StageCancelled(Exception):
    """Raised by a stage that stopped because the reporter asked it to.

    The stage has saved whatever lets it resume; nothing half-written is left behind.
    """


class ImportCancelled(StageCancelled):
    """The user cancelled an import; it was rolled back and nothing was written."""


class RunError(UserError):
    """A run cannot be started, resumed or cancelled."""


class EgressBlocked(OSError):
    """An outgoing connection to a host that is not on the allow-list.

    Subclasses ``OSError`` because that is what socket code expects from ``connect``; the
    message names the host and port only, never a payload.
    """

    def __init__(self, host: str, port: int | None) -> None:
        where = host if port is None else f"{host}:{port}"
        super().__init__(
            f"outgoing connection to {where} blocked: Stillroom is air-gapped and only talks "
            "to loopback and the teacher endpoint you configured"
        )
        self.host = host
        self.port = port


class TeacherError(UserError):
    """The teacher cannot be loaded, reached or used as configured."""


class TeacherModelError(TeacherError):
    """A local teacher folder is not a usable model."""


class EndpointError(TeacherError):
    """An OpenAI-compatible endpoint is unreachable, refuses us, or keeps failing."""


class AnonymizeError(UserError):
    """The anonymize stage cannot run as configured (a model, a rule, the vault key)."""


class ModelNotInstalledError(AnonymizeError):
    """The spaCy model named for the anonymize stage is not installed; nothing downloads it."""


class VaultKeyError(AnonymizeError):
    """The pseudonym vault's key is missing, unreadable or does not match the vault."""


class TrainError(UserError):
    """The train stage cannot run as configured: the student, the data or an option."""


class StudentModelError(TrainError):
    """A student folder cannot be loaded, derived from, or used for the project's task."""


class TrainOutOfMemoryError(TrainError):
    """Training ran out of GPU or host memory; the hint names what to change.

    Exits with the worker protocol's out-of-memory code (3) rather than 2, so a caller can
    offer the retry at half the batch size that ``suggested_batch_size`` holds.
    """

    exit_code = 3

    def __init__(self, message: str, hint: str, *, suggested_batch_size: int) -> None:
        super().__init__(message, hint)
        self.suggested_batch_size = suggested_batch_size


class TrainDivergedError(TrainError):
    """Training produced a non-finite loss or non-finite weights; nothing was saved.

    A student with NaN weights predicts nothing useful, so the run fails (exit 2, the stage
    needs attention) instead of saving it.
    """


class EvaluateError(UserError):
    """The evaluate stage cannot run: no student yet, unusable test data, a mismatched model."""


class ExportError(UserError):
    """The export stage cannot run as configured: no student, an unusable model or option."""


class ExportRefusedError(ExportError):
    """The student failed a gate (quality floor or INT8 parity) and no override was given."""


class OutputExistsError(ExportError):
    """The bundle's output path already exists and ``--force`` was not given."""


class SigningKeyError(ExportError):
    """The key that signs bundles cannot be used: unreadable, not owner-only, not Ed25519."""


class BundleError(UserError):
    """A path is not a readable Stillroom bundle (missing, not a folder or zip, no manifest)."""


class BundleVerifyError(BundleError):
    """A bundle does not match its manifest; ``file`` names the first file that differs.

    Exits 1 (a failed check), not 2 (bad input): ``stillroom bundle verify`` is a check.
    """

    exit_code = 1

    def __init__(self, file: str, problem: str, hint: str = "") -> None:
        super().__init__(f"bundle verification failed: {file}: {problem}", hint)
        self.file = file
        self.problem = problem
