"""Run a stored train run on several GPUs (or CPU processes) under ``torchrun`` /
``accelerate launch`` — the same config, the Trainer's own DistributedDataParallel.

    stillroom train DIR --student PATH ... --create-only          # prints RUN_ID
    torchrun --nproc_per_node 4 -m core.train.launch DIR RUN_ID
    accelerate launch --num_processes 4 -m core.train.launch DIR RUN_ID

Rank 0 is a normal worker (JSON-line events on stdout, the ``runs`` row, the store, the
curves, the saved student); the other ranks train and write nothing but their RNG state
into the shared checkpoints. A cancel (``runs/RUN_ID/cancel.request``, or SIGTERM to rank
0) is agreed on by all ranks at the next step, so they stop at the same checkpoint.
Resume: launch the same command again.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from core.errors import UserError
from core.jobs import protocol
from core.project import Project
from core.reporter import StageCancelled


class FollowerReporter:
    """A non-zero rank's reporter: silent, but it sees the cancel request file."""

    def __init__(self, run_dir: Path) -> None:
        self._cancel = protocol.cancel_path(run_dir)

    def progress(self, fraction: float, message: str = "") -> None:
        return None

    def metric(self, name: str, value: float, step: int | None = None) -> None:
        return None

    def cancel_requested(self) -> bool:
        return self._cancel.exists()


def follower_main(project_dir: Path, run_id: str) -> int:
    """A non-zero rank: train the run's stored config, writing nothing to the store."""
    from core.jobs.execute import load_config
    from core.jobs.registry import TRAIN, RunContext
    from core.jobs.runs import get_run
    from core.train.stage import run_train

    try:
        with Project.open(project_dir) as project:
            config = load_config(project, TRAIN, get_run(project, run_id).config)
            reporter = FollowerReporter(project.run_dir(run_id))
            run = RunContext(run_id, project.run_dir(run_id))
            run_train(project, config, run=run, reporter=reporter)
    except StageCancelled:
        return protocol.EXIT_OK
    except UserError as exc:
        sys.stderr.write(f"rank {os.environ.get('RANK')}: {exc.one_line()}\n")
        return exc.exit_code
    return protocol.EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m core.train.launch DIR RUN_ID`` on every rank."""
    from core import netguard
    from core.jobs.worker import worker_main

    parser = argparse.ArgumentParser(prog="python -m core.train.launch", description=__doc__)
    parser.add_argument("dir", type=Path, help="the project folder")
    parser.add_argument("run_id", help="a train run created with `stillroom train --create-only`")
    args = parser.parse_args(argv)
    os.umask(0o077)  # checkpoints and the student are owner-only, as from `stillroom`
    netguard.install()
    if int(os.environ.get("RANK", "0")) == 0:
        return worker_main(args.dir, args.run_id)
    return follower_main(args.dir, args.run_id)


if __name__ == "__main__":
    sys.exit(main())
