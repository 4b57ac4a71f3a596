"""A small stage that exercises the job protocol end to end: steps, checkpoints, resume.

It does no real work; it exists so the worker protocol, cancellation and crash recovery
are tested the same way every real stage uses them. Each step's metric and its checkpoint
are written in one transaction, so a kill between any two instructions leaves the store
consistent and the run resumable at the last completed step.
"""

from __future__ import annotations

import json
import time
from typing import Any

from core.project import Project
from core.reporter import Reporter, StageCancelled
from core.store.db import utc_now


def run_selftest_stage(
    project: Project, run_id: str, config: dict[str, Any], reporter: Reporter
) -> dict[str, Any]:
    """Count ``steps`` steps, ``delay_s`` apart, checkpointing after each one.

    Config keys: ``steps`` (int), ``delay_s`` (float), ``fail_at`` (a step at which to raise
    a RuntimeError, to test crash handling).
    """
    steps, delay = int(config.get("steps", 10)), float(config.get("delay_s", 0.0))
    fail_at = config.get("fail_at")
    start = last_checkpoint(project, run_id)
    for step in range(start, steps):
        if reporter.cancel_requested():
            raise StageCancelled(f"cancelled at step {step} of {steps}")
        if fail_at is not None and step == int(fail_at):
            raise RuntimeError(f"selftest failure injected at step {step}")
        time.sleep(delay)
        with project.store.transaction() as conn:
            conn.execute(
                "INSERT INTO metrics (run_id, split, name, value, step) VALUES (?, '', ?, ?, ?)",
                (run_id, "selftest.step", float(step + 1), step + 1),
            )
            conn.execute(
                "INSERT INTO events (run_id, time, kind, payload) VALUES (?, ?, 'checkpoint', ?)",
                (run_id, utc_now(), json.dumps({"step": step + 1})),
            )
        reporter.metric("selftest.step", float(step + 1), step + 1)
        reporter.progress((step + 1) / steps, f"step {step + 1} of {steps}")
    return {"steps": steps, "resumed_from": start}


def last_checkpoint(project: Project, run_id: str) -> int:
    """The last completed step recorded for the run (0 if none)."""
    raw = project.store.scalar(
        "SELECT payload FROM events WHERE run_id = ? AND kind = 'checkpoint' "
        "ORDER BY id DESC LIMIT 1",
        (run_id,),
    )
    return 0 if raw is None else int(json.loads(raw)["step"])
