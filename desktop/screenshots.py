"""Render the main window on every page to PNG, offscreen, in the state of a project.

    python -m desktop.screenshots --project DIR --out DIR [--size 1280x820] [--full]
    python -m desktop.screenshots --build-sample DIR --out DIR

The pictures are the app's own rendering (the shipped stylesheet, the real pages reading
the real store), for the user guide and for looking at the pages before a release. Files:
``00-start.png`` (the new/open view), then ``01-project.png`` … ``08-deploy.png``; with
``--full`` also ``NN-<page>-full.png``, the window made as tall as the page's content. With
every page rendered, also ``09-runs-train.png`` (the Train page's run history, its two
newest runs compared) and ``10-runs-project.png`` (every run of the project).
A locked page is rendered too (its sidebar entry stays greyed), so what a user would meet
there can be checked.

``--build-sample`` first builds a small, fully-run project with the test suite's tiny models
(about a minute on two cores); it needs a source checkout, as the tiny models live in
``tests/``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from desktop.main_window import MainWindow

DEFAULT_SIZE = (1280, 820)
MAX_FULL_HEIGHT = 4000  # a page taller than this is cut: a picture, not a scroll
SETTLE_MS = 250
LOOKUP_WAIT_MS = 60_000  # the train page's model catalogue reads weight headers
_SAMPLE_BUILDER = ("tests", "e2e", "gui_sample.py")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, render the pages and list the files written."""
    args = _parser().parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from core import netguard

    netguard.install()
    try:
        size = _size(args.size)
        project = _project_from(args)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    try:
        pages = _pages(args.pages)
        written = render_pages(project, Path(args.out), size=size, full=args.full,
                               device=args.device, quantize=args.quantize,
                               pages=pages, live_server=args.live_server)  # fmt: skip
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    for path in written:
        sys.stdout.write(f"{path}\n")
    return 0


def render_pages(
    project: Path | None,
    out: Path,
    *,
    size: tuple[int, int] = DEFAULT_SIZE,
    full: bool = False,
    device: str | None = None,
    quantize: bool = False,
    pages: Sequence[str] | None = None,
    live_server: bool = False,
) -> list[Path]:
    """Render the start view and the pages for ``project`` (None: no project open).

    ``pages`` are page keys (``"project"``, ``"data"`` … ``"export"``); None renders all.
    Needs a QApplication. The user's own settings (recent projects) are neither read nor
    written: the window gets a throw-away settings file. ``device`` is the status bar's
    device label; None finds it (imports torch). ``live_server``: the Deploy page is shown
    with its trial server running, after a few requests (needs the ``serve`` extra).

    Raises:
        ValueError: ``project`` cannot be opened (the message says why).
    """
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from desktop.context import AppContext
    from desktop.main_window import STAGES, MainWindow
    from desktop.resources import stylesheet

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    out.mkdir(parents=True, exist_ok=True)
    previous_style = app.styleSheet()
    app.setStyleSheet(stylesheet())
    with tempfile.TemporaryDirectory(prefix="stillroom-shots-") as scratch:
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        context = AppContext(settings)
        context.set_device_label(device if device is not None else context.device_label())
        window = MainWindow(context)
        window.resize(*size)
        window.show()
        try:
            if project is not None and not window.open_project(project):
                banner = getattr(window.page("project"), "banner", None)
                reason = banner.message() if banner is not None else "unknown reason"
                raise ValueError(f"{project} could not be opened: {reason}")
            written = [_shoot_start(window, out, quantize)]
            for index, (key, _title) in enumerate(STAGES, start=1):
                if pages is not None and key not in pages:
                    continue
                show_page(window, key)
                name = f"{index:02d}-{key}"
                live = live_server and key == "deploy"
                if live:
                    start_trial_server(window.page(key))
                written.append(save(window, out / f"{name}.png", quantize))
                if live:
                    stop_trial_server(window.page(key))
                if full:
                    written.append(_shoot_full(window, out / f"{name}-full.png", quantize))
            if project is not None and pages is None:
                written += _shoot_runs(window, out, size, quantize)
        finally:
            window.close()
            window.deleteLater()
            context.deleteLater()
            settle()
            app.setStyleSheet(previous_style)
    return written


def _shoot_runs(window: MainWindow, out: Path, size: tuple[int, int], quantize: bool) -> list[Path]:
    """The runs views: the Train page's (two newest runs compared) and the project's."""
    from PySide6.QtCore import QItemSelectionModel

    written = []
    for key, name in (("train", "09-runs-train"), ("project", "10-runs-project")):
        show_page(window, key)
        dialog = window.page(key).open_runs()  # type: ignore[attr-defined]
        if dialog is None:
            continue
        dialog.resize(*size)
        table = dialog.view.table
        if key == "train" and table.rowCount() >= 2:
            flags = (
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
            )
            for row in (0, 1):
                table.selectionModel().select(table.model().index(row, 0), flags)
            dialog.view.compare_button.click()
        settle()
        written.append(save(dialog, out / f"{name}.png", quantize))
        dialog.close()
        dialog.deleteLater()
    return written


def start_trial_server(page: QWidget, requests: int = 25) -> None:
    """Start the Deploy page's trial server, send it ``requests`` texts, let the counters show.

    Raises:
        ValueError: the server did not start or did not count the requests in time.
    """
    import httpx
    from PySide6.QtCore import QDeadlineTimer

    page.start_server()  # type: ignore[attr-defined]
    deadline = QDeadlineTimer(90_000)
    while not page.status_label.text().startswith("Running"):  # type: ignore[attr-defined]
        if deadline.hasExpired() or not page.busy():  # type: ignore[attr-defined]
            raise ValueError("the trial server did not start: " + page.banner.message())  # type: ignore[attr-defined]
        settle(100)
    url = f"{page.url}/v2/models/{page.target.model}/infer"  # type: ignore[attr-defined]
    texts = ["my flight was cancelled twice", "thanks, the crew was great", "what time is boarding"]
    for i in range(requests):
        body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                            "data": [texts[i % len(texts)]]}]}  # fmt: skip
        httpx.post(url, json=body, timeout=30)
    counted = page.counters["serve.requests"]  # type: ignore[attr-defined]
    while counted.text() != f"{requests:,}":
        if deadline.hasExpired():
            raise ValueError("the trial server's counters did not arrive")
        settle(100)
    settle()


def stop_trial_server(page: QWidget) -> None:
    """Stop the trial server and wait for its worker to end."""
    from PySide6.QtCore import QDeadlineTimer

    page.cancel_job()  # type: ignore[attr-defined]
    deadline = QDeadlineTimer(60_000)
    while page.busy() and not deadline.hasExpired():  # type: ignore[attr-defined]
        settle(100)


def show_page(window: MainWindow, key: str) -> None:
    """Show ``key``'s page, even a locked one, and let it finish loading."""
    if not window.show_stage(key):
        window.stack.setCurrentWidget(window.page(key))
    page = window.page(key)
    settle()
    for wait in ("lookups_finished", "call_finished", "models_found"):
        finished = getattr(page, wait, None)
        if callable(finished):
            finished(LOOKUP_WAIT_MS)
    settle()


def save(widget: QWidget, path: Path, quantize: bool = False) -> Path:
    """Grab ``widget`` (as drawn on screen, without the window frame) into ``path``."""
    if not widget.grab().save(str(path), "PNG"):
        raise ValueError(f"could not write {path}")
    if quantize:
        shrink_png(path)
    return path


def shrink_png(path: Path) -> None:
    """Re-save a screenshot with a 256-colour palette (a flat UI loses nothing visible)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def settle(msecs: int = SETTLE_MS) -> None:
    """Let pending layouts, paints and queued signals run."""
    from PySide6.QtCore import QDeadlineTimer, QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = QDeadlineTimer(msecs)
    while not deadline.hasExpired():
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def _shoot_start(window: MainWindow, out: Path, quantize: bool) -> Path:
    """The project page's new/open view (with a project open: as "New or other project…")."""
    window.show_stage("project")
    page = window.page("project")
    start = getattr(page, "start_new_project", None)
    if callable(start):
        start()
    settle()
    path = save(window, out / "00-start.png", quantize)
    refresh = getattr(page, "refresh", None)
    if callable(refresh):
        refresh()
    return path


def _shoot_full(window: MainWindow, path: Path, quantize: bool) -> Path:
    """The window made as tall as the current page's scrolled content, then put back."""
    from PySide6.QtWidgets import QScrollArea

    page = window.stack.currentWidget()
    scroll = page.findChild(QScrollArea)
    if scroll is None or scroll.widget() is None:
        return save(window, path, quantize)
    original = window.size()
    hidden = scroll.widget().sizeHint().height() - scroll.viewport().height()
    if hidden > 0:
        window.resize(original.width(), min(original.height() + hidden, MAX_FULL_HEIGHT))
        settle()
    try:
        return save(window, path, quantize)
    finally:
        window.resize(original)
        settle()


def _project_from(args: argparse.Namespace) -> Path | None:
    if args.build_sample is not None:
        target = Path(args.build_sample).expanduser().resolve()
        if target.exists() and any(target.iterdir()):
            raise ValueError(f"{target} is not empty: give --build-sample a new folder")
        build_sample(target)
        return target
    return None if args.project is None else Path(args.project).expanduser().resolve()


def build_sample(target: Path) -> None:
    """Build the tiny fully-run sample project with the checkout's test helpers."""
    root = Path(__file__).resolve().parents[1]
    builder_file = root.joinpath(*_SAMPLE_BUILDER)
    if not builder_file.is_file():
        raise ValueError(
            f"--build-sample needs a source checkout ({'/'.join(_SAMPLE_BUILDER)} is missing); "
            "pass --project with a project instead, e.g. one made by 'stillroom demo'"
        )
    spec = importlib.util.spec_from_file_location("stillroom_gui_sample", builder_file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_sample_project(target)


def _pages(text: str | None) -> list[str] | None:
    from desktop.main_window import STAGES

    if text is None:
        return None
    known = [key for key, _ in STAGES]
    chosen = [key.strip() for key in text.split(",") if key.strip()]
    unknown = [key for key in chosen if key not in known]
    if unknown:
        raise ValueError(f"unknown page {unknown[0]!r} in --pages; known: {', '.join(known)}")
    return chosen


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    try:
        size = (int(width), int(height))
    except ValueError:
        raise ValueError(f"--size {text!r} is not WIDTHxHEIGHT, e.g. 1280x820") from None
    if size[0] < 900 or size[1] < 600:
        raise ValueError("--size must be at least 900x600, the window's minimum")
    return size


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m desktop.screenshots",
        description="Render the Stillroom window on every page to PNG (offscreen).",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--project", help="the project to show (default: none open)")
    source.add_argument("--build-sample", metavar="DIR",
                        help="first build a small fully-run sample project in DIR (a new "
                             "folder; needs a source checkout)")  # fmt: skip
    parser.add_argument("--out", required=True, help="the folder to write the PNGs to")
    parser.add_argument("--size", default="x".join(map(str, DEFAULT_SIZE)),
                        help="window size WIDTHxHEIGHT (default %(default)s)")  # fmt: skip
    parser.add_argument("--full", action="store_true",
                        help="also render each page at the full height of its content")  # fmt: skip
    parser.add_argument("--pages", help="only these pages, e.g. project,evaluate (default: all)")
    parser.add_argument("--device", help="the status bar's device label (default: detect)")
    parser.add_argument("--live-server", action="store_true",
                        help="show the Deploy page with its trial server running")  # fmt: skip
    parser.add_argument("--quantize", action="store_true",
                        help="save 256-colour PNGs (much smaller; needs Pillow)")  # fmt: skip
    return parser


if __name__ == "__main__":
    sys.exit(main())
