"""The ``stillroom`` console script (DESIGN §6): a stable interface for scripts and tests.

Every command has ``--help`` and ``--json``, exits 0 on success and 2 with one actionable
line on bad input; the other exit codes are in :data:`core.jobs.protocol.EXIT_CODES_HELP`.
Heavy modules are imported inside the command that needs them, so ``stillroom --help``
answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import core
from core import netguard
from core.commands import add_commands
from core.errors import InternalError, UserError
from core.jobs import protocol


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, print its result; return the exit code."""
    # Everything Stillroom writes is owner-only (DESIGN §3): files that libraries create
    # (checkpoints, ONNX files, tokenizers) included. `stillroom worker` starts here too.
    os.umask(0o077)
    netguard.install()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        result = args.handler(args)
    except UserError as exc:
        return _report_error(args, exc)
    except KeyboardInterrupt:
        print(
            "stillroom: interrupted; the project is unchanged past its last commit", file=sys.stderr
        )
        return protocol.EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 — the CLI's boundary: one line, never a traceback
        return _report_error(args, _internal_error(argv, exc))
    if args.json and not result.get("quiet"):
        printable = {key: value for key, value in result.items() if key != "lines"}
        print(json.dumps(printable, indent=2, default=str))
    elif not result.get("quiet"):
        for line in result.get("lines", []):
            print(line)
    return int(result.get("exit_code", 0))


def _report_error(args: argparse.Namespace, exc: UserError) -> int:
    print(f"stillroom: error: {exc.one_line()}", file=sys.stderr)
    if getattr(args, "json", False):
        error = {"error": type(exc).__name__, "message": exc.message, "hint": exc.hint}
        print(json.dumps(error, indent=2))
    return exc.exit_code


def _internal_error(argv: Sequence[str] | None, exc: Exception) -> InternalError:
    """Log the stack (no messages: they may quote data) and say where it is, in one line."""
    from core.jobs.crashlog import CLI_LOG, user_log_dir, write_crash_log

    words = list(sys.argv[1:] if argv is None else argv)
    command = next((word for word in words if not word.startswith("-")), "")
    try:
        where = f"the stack (no data) is in {write_crash_log(user_log_dir() / CLI_LOG, exc)}"
    except OSError:
        where = "the log could not be written"
    return InternalError(
        f"internal error in `stillroom {command}` ({type(exc).__name__})",
        f"{where}; the project is unchanged past its last commit; please report it",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to render docs and tests of ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="stillroom",
        description="Distil a large teacher model into a small student model, on-prem "
        "and air-gapped. Stages: init → import → anonymize → teach → train → evaluate → "
        "export → serve → monitor (→ redistill).",
        epilog=protocol.EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"stillroom {core.__version__}")
    parser.set_defaults(json=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_commands(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
