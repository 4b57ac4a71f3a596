"""A page closed while its background call runs: the call's answer goes nowhere, safely.

The suite crashed twice (a segfault in the call's thread) when a page was deleted while its
model look-up ran; the thread now touches no Qt object at all."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget
from shiboken6 import Shiboken

from desktop.widgets.background_call import BackgroundCall


def test_a_call_outliving_its_page_delivers_nowhere_and_does_not_crash(qtbot):
    release, answered = threading.Event(), []
    pages = []
    for _ in range(20):  # the crash was a race: many closed pages make it likely
        page = QWidget()
        call = BackgroundCall(release.wait, 5, parent=page)
        call.succeeded.connect(answered.append)
        call.start()
        pages.append(page)
    for page in pages:  # as closing the window deletes a page with its children
        Shiboken.delete(page)
    release.set()
    qtbot.wait(300)  # the threads finish: nothing of theirs touches the deleted objects
    assert answered == []


def test_a_call_delivers_its_answer_on_the_ui_thread(qtbot):
    owner = QObject()
    threads = []
    call = BackgroundCall(lambda: threading.current_thread().name, parent=owner)
    call.succeeded.connect(lambda name: threads.append((name, threading.current_thread().name)))
    call.start()
    assert call.wait(5000)
    assert threads == [("stillroom-call", "MainThread")]
