"""Extra model columns that other stages plug in: the student as the export stage ships it.

Each entry names a factory ``"module:attribute"`` that builds a classifier scorer from
``(student_dir, labels, work_dir)``. It is imported only when an evaluation runs, so this
package never imports the export stage (or ONNX Runtime) at start-up; a column that cannot
be built is reported as missing, with its one-line reason, and the evaluation goes on.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.evaluate.scorers import ClassifierScorer

ColumnFactory = Callable[[Path, tuple[str, ...], Path], ClassifierScorer]

EXTRA_COLUMNS: dict[str, str] = {
    "student_onnx_int8": "core.export.scorer:OnnxInt8Scorer.build",
}


def resolve(target: str) -> ColumnFactory:
    """The factory a ``"module:attribute.attribute"`` string names.

    Raises:
        ImportError: the module is not installed.
        AttributeError: it has no such attribute.
    """
    module_name, _, path = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in path.split("."):
        value = getattr(value, part)
    factory: ColumnFactory = value
    return factory


def build_columns(
    student: Path, labels: tuple[str, ...], work_root: Path
) -> tuple[list[tuple[ClassifierScorer, tempfile.TemporaryDirectory[str]]], list[str]]:
    """Every extra column that can be built, each with its scratch folder, and notes.

    The caller closes each scorer and cleans up its folder (an exported model can be large).
    """
    built, notes = [], []
    for name, target in EXTRA_COLUMNS.items():
        scratch = tempfile.TemporaryDirectory(prefix=f".{name}-", dir=work_root)
        try:
            scorer = resolve(target)(student, labels, Path(scratch.name))
        except UserError as exc:
            notes.append(f"no {name} column: {exc.one_line()}")
        except (ImportError, AttributeError) as exc:
            notes.append(f"no {name} column: {target} is not available ({type(exc).__name__})")
        else:
            built.append((scorer, scratch))
            continue
        scratch.cleanup()
    return built, notes
