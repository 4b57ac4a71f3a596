from __future__ import annotations

import io

from core.commands.progress import TerminalProgress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _progress(fraction, message="working"):
    return {"kind": "progress", "fraction": fraction, "message": message}


def test_quick_work_draws_nothing():
    stream = io.StringIO()
    sink = TerminalProgress(stream, delay_s=60)
    for fraction in (0.1, 0.5, 1.0):
        sink(_progress(fraction))
    assert stream.getvalue() == ""


def test_long_work_draws_a_bar_on_a_terminal():
    stream = _Tty()
    sink = TerminalProgress(stream, delay_s=0)
    sink(_progress(0.5, "read 5,000 rows"))
    sink(_progress(1.0, "done"))
    text = stream.getvalue()
    assert "[###############---------------]  50.0% read 5,000 rows" in text
    assert text.endswith("\n")


def test_long_work_prints_one_line_per_tenth_in_a_log():
    stream = io.StringIO()
    sink = TerminalProgress(stream, delay_s=0)
    for step in range(101):
        sink(_progress(step / 100))
    assert len(stream.getvalue().splitlines()) == 11


def test_other_events_are_ignored():
    stream = _Tty()
    TerminalProgress(stream, delay_s=0)({"kind": "metric", "name": "x", "value": 1})
    assert stream.getvalue() == ""
