"""The CLI's commands. Each handler takes the parsed arguments and returns a result dict:
``lines`` for people, everything else for ``--json``; ``exit_code`` if not 0.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.commands import (
    anonymize_commands,
    data_commands,
    evaluate_commands,
    export_commands,
    gui_commands,
    job_commands,
    monitor_commands,
    project_commands,
    serve_commands,
    teach_commands,
    train_commands,
)


def common_options() -> argparse.ArgumentParser:
    """Options every command takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", help="print a machine-readable result on stdout"
    )
    return common


def add_commands(sub: Any) -> None:
    """Add every command to the ``stillroom`` sub-parser set."""
    common = common_options()
    project_commands.add(sub, common)
    data_commands.add(sub, common)
    anonymize_commands.add(sub, common)
    teach_commands.add(sub, common)
    train_commands.add(sub, common)
    evaluate_commands.add(sub, common)
    export_commands.add(sub, common)
    serve_commands.add(sub, common)
    monitor_commands.add(sub, common)
    job_commands.add(sub, common)
    gui_commands.add(sub, common)
