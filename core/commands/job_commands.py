"""``stillroom worker`` (the background process the GUI starts) and ``stillroom demo``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from core.jobs import protocol


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    worker = sub.add_parser(
        "worker",
        help="run one stored run in this process, writing JSON-line events (used by the GUI)",
        description="Run (or resume) the run RUN_ID of the project in DIR and write one JSON "
        "event per line on stdout. Cancel by creating runs/RUN_ID/cancel.request or with "
        "SIGTERM. " + protocol.EXIT_CODES_HELP,
    )
    worker.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    worker.add_argument("run_id", metavar="RUN_ID", help="the run to execute")
    worker.set_defaults(handler=worker_command, json=True)

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="run every stage, with real models, on the bundled sample data",
        description="Create (or continue) a demo project on the bundled sample (2,750 "
        "customer messages to airlines, labelled complaint / neutral / praise, a third with "
        "synthetic identifiers) and run every stage offline: import, anonymize, a MiniLM-L6 "
        "teacher fine-tuned on the human labels, a student with half its layers distilled "
        "from it, evaluate against the quality floor, export an INT8 ONNX bundle, verify it "
        "and predict with it. Re-running skips or resumes what is done.",
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("demo-project"),
        help="the demo project folder (default ./demo-project)",
    )
    demo.set_defaults(handler=demo_command)


def worker_command(args: argparse.Namespace) -> NoReturn:
    from core.jobs.worker import worker_main

    code = worker_main(args.dir, args.run_id)
    # The project is closed and every event is on stdout. Tearing down torch and friends
    # takes seconds, and the GUI reports the outcome only when the process has exited.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def demo_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.demo import run_demo

    return run_demo(args.dir)
