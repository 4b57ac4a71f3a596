"""The Deploy page's trial server as a stage (DESIGN §4): ``run_serve`` serves the project's
latest bundle on this machine until the run is cancelled.

Why a stage: the trial server then runs in the worker process like every long job (a crash
never takes the window down; the window's Cancel stops it), its live counters reach the page
as the worker protocol's ``metric`` events, and the runs table records that a trial ran.
Stopping is the normal end, not a failure: the run returns what the server did (requests,
p50/p99, shadow agreement), so the stage reads "done" afterwards.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from core.errors import UserError
from core.project import Project
from core.reporter import Reporter
from core.serve.config import ServeConfig, ServeResult

if TYPE_CHECKING:
    from core.jobs.registry import RunContext
    from core.serve.server import Started
    from core.serve.stats import ServeStats


def run_serve(
    project: Project, config: ServeConfig, *, run: RunContext, reporter: Reporter
) -> ServeResult:
    """Serve ``config.bundle`` (default: the latest export's) until the run is cancelled.

    Raises:
        UserError: there is no exported bundle yet.
        ServeError: as :func:`core.serve.server.serve` (a busy port, a refused bundle…).
    """
    from core.jobs.registry import EXPORT
    from core.jobs.runs import latest_result
    from core.serve.server import serve

    bundle = config.bundle
    if bundle is None:
        exported = latest_result(project, EXPORT)
        if exported is None:
            raise UserError("there is no exported bundle to serve", "export one first")
        bundle = exported.bundle
    config = dataclasses.replace(config, bundle=bundle, log_dir=config.log_dir or run.dir / "log")
    project.audit("serve.start", {"run": run.id, "port": config.port, "host": config.host,
                                  "shadow": config.shadow_teacher is not None})  # fmt: skip

    def ready(info: Started) -> None:
        reporter.progress(0.0, f"serving {info.model} on {info.url}")

    def tick(stats: ServeStats) -> None:
        for name, value in stats.snapshot().items():
            reporter.metric(name, value)

    result = serve(config, on_ready=ready, should_stop=reporter.cancel_requested, on_tick=tick)
    project.audit("serve.stop", {"run": run.id, "requests": result.requests,
                                 "errors": result.errors})  # fmt: skip
    return result
