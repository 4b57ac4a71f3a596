"""The frozen app's entry point: one executable for the window, the CLI and the worker.

    stillroom                      the window (``gui``)
    stillroom gui [DIR]            the window, opening the project in DIR
    stillroom --self-test          the installation check (imports, offline guards, window)
    stillroom worker DIR RUN_ID    a background stage run (``core.jobs.worker``)
    stillroom COMMAND ...          any other ``stillroom`` CLI command

``multiprocessing.freeze_support()`` runs before anything else: the anonymize stage starts
``spawn`` worker processes, and in a frozen app those are this executable again, which must
turn into the worker instead of opening a window. Unfrozen, ``python packaging/entry.py``
behaves the same way.
"""

import multiprocessing

multiprocessing.freeze_support()

import os  # noqa: E402  (freeze_support must run before any other import)
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch on the first argument and return the exit code."""
    os.umask(0o077)  # everything the app writes is owner-only, whichever mode starts
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] == "gui":
        from desktop.app import main as gui_main

        return int(gui_main(args[1:]) or 0)
    if args[0] == "--self-test":
        from desktop.self_test import main as self_test_main

        return self_test_main(args[1:])
    # `worker DIR RUN_ID` is a CLI command (core.jobs.worker.worker_command starts it so).
    from core.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
