"""The ONNX INT8 columns: the file the export ships, and the quantize-only baseline.

Both go through the export stage's own path (``core.export.scorer``, imported only when an
evaluation runs, so importing this package never loads ONNX Runtime): the student is
exported and quantized into the run folder and *kept* there, so the export can ship the
very file that was scored; a local classifier teacher goes through the same export, INT8
and runtime, with the same threads, so the baseline is a fair one. A column that cannot
be built is reported with its one-line reason, and the evaluation goes on without it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import UserError
from core.evaluate.config import BASELINE, SHIPPED

if TYPE_CHECKING:
    from core.export.scorer import OnnxInt8Scorer

SHIPPED_FOLDER = "shipped"


def build_shipped(
    student: Path, labels: tuple[str, ...], run_dir: Path, threads: int | None
) -> tuple[OnnxInt8Scorer | None, str]:
    """The student as the export ships it, in ``run_dir/shipped``, or why it is missing."""
    work = run_dir / SHIPPED_FOLDER
    shutil.rmtree(work, ignore_errors=True)  # a resumed run builds it afresh
    work.mkdir(parents=True)
    scorer, reason = _build(student, labels, work, SHIPPED, "student", threads)
    if scorer is None:
        shutil.rmtree(work, ignore_errors=True)
    return scorer, reason


def build_baseline(
    teacher: Path, labels: tuple[str, ...], run_dir: Path, threads: int | None
) -> tuple[OnnxInt8Scorer | None, str, tempfile.TemporaryDirectory[str]]:
    """The teacher through the student's ONNX INT8 path, in a scratch folder the caller
    cleans up, or why it could not be built."""
    scratch = tempfile.TemporaryDirectory(prefix=f".{BASELINE}-", dir=run_dir)
    scorer, reason = _build(teacher, labels, Path(scratch.name), BASELINE, "teacher", threads)
    return scorer, reason, scratch


def _build(
    folder: Path,
    labels: tuple[str, ...],
    work: Path,
    name: str,
    who: str,
    threads: int | None,
) -> tuple[OnnxInt8Scorer | None, str]:
    try:
        from core.export.scorer import OnnxInt8Scorer

        built = OnnxInt8Scorer.build(folder, labels, work, name=name, who=who, threads=threads)
    except UserError as exc:
        return None, exc.one_line()
    except ImportError as exc:
        return None, f"the export stage is not installed ({type(exc).__name__})"
    return built, ""
