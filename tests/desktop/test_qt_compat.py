"""PySide6 6.12.0 drops references to True and None from Python calls; without the guard in
``desktop.qt_compat`` (installed by ``import desktop``) the interpreter aborts after a few
thousand. Each loop runs in its own interpreter, since an abort would take pytest down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EMITS = """
from PySide6.QtCore import QObject, Signal
class Source(QObject):
    changed = Signal(float, str)
source = Source()
for i in range(50_000):
    source.changed.emit(0.5, 'step')
"""

# A screenshot run makes tens of thousands of calls to methods that return nothing.
VOID_CALLS = """
from PySide6.QtCore import QObject
probe = QObject()
for _ in range(100_000):
    probe.setObjectName('probe')
"""


@pytest.mark.parametrize("loop", [EMITS, VOID_CALLS], ids=["emit-true", "void-call-none"])
def test_many_calls_do_not_abort_the_interpreter(loop):
    done = subprocess.run(
        [sys.executable, "-c", f"import desktop\n{loop}\nprint('done')\n"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.strip() == "done"
