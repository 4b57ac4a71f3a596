"""The MONITOR stage: import prediction logs, then judge the served bundle's traffic per
window (drift, the label-free estimate, shadow agreement) and raise alerts (DESIGN §11)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.monitor import plan
from core.monitor.alerts import window_alerts
from core.monitor.config import Alert, MonitorConfig, MonitorError, MonitorResult, WindowFigures
from core.monitor.logs import import_logs
from core.monitor.reference import (
    BundleInfo,
    Reference,
    build_reference,
    find_bundle,
    project_floors,
)
from core.monitor.windows import (
    Traffic,
    errors_per_window,
    split_windows,
    traffic,
    window_figures,
)
from core.project import Project
from core.reporter import Reporter
from core.store import production
from core.store.production import LoggedError

if TYPE_CHECKING:
    from core.jobs.registry import RunContext


@dataclass(frozen=True, slots=True)
class Judged:
    unit: str
    groups: list[np.ndarray]
    figures: list[WindowFigures]
    alerts: list[Alert]


class MonitorCancelled(MonitorError):
    """The monitor run was cancelled (it can simply run again)."""


def estimate_note(bundle: BundleInfo) -> str:
    """Why the label-free estimate may be trusted, or why it may not."""
    if bundle.calibrated:
        return (
            f"The estimated quality is valid because the student is temperature-calibrated "
            f"(T = {bundle.temperature:.3f} in the bundle): its confidences are its accuracy "
            "on inputs like those it was calibrated on. Where the mix of predicted labels "
            "changed, the confidences are first adjusted to the window's "
            "mix. It assumes the meaning of the labels has not changed; read it beside the "
            "drift tests and the shadow agreement."
        )
    return (
        "Warning: the bundle kept no fitted temperature, so its confidences may not be "
        "calibrated and the estimated quality may be off. Re-evaluate (which fits the "
        "temperature) and re-export before trusting it; rely on the shadow agreement."
    )


def judge(
    traffic_: Traffic,
    reference: Reference,
    config: MonitorConfig,
    floors: plan.Floors,
    reporter: Reporter | None = None,
    errors: Sequence[LoggedError] = (),
) -> Judged:
    """Every window's figures and alerts (the bench calls this on simulated traffic);
    ``errors``: the bundle's refused or failed requests, for the error rate."""
    unit, groups = split_windows(traffic_.times, config.window, config.window_rows)
    failed = errors_per_window([traffic_.times[g[0]] for g in groups], errors)
    figures: list[WindowFigures] = []
    alerts: list[Alert] = []
    for index, rows in enumerate(groups):
        if reporter is not None:
            if reporter.cancel_requested():
                raise MonitorCancelled("the monitor run was cancelled", "run it again")
            reporter.progress(0.3 + 0.6 * index / max(len(groups), 1), f"window {index + 1}")
        found = window_figures(index, traffic_.take(rows), reference, seed=config.seed,
                               errors=failed[index])  # fmt: skip
        figures.append(found)
        alerts += window_alerts(found, floors, max_error_rate=config.max_error_rate)
    return Judged(unit, groups, figures, alerts)


def worst_drifting(
    traffic_: Traffic, reference: Reference, rows: np.ndarray, seed: int
) -> tuple[int, ...]:
    """Production ids of the window's requests the drift classifier finds least like the
    training data, worst first."""
    from core.monitor.drift import drift_scores, features

    scores = drift_scores(reference.inputs, features(traffic_.fingerprints[rows],
                                                     traffic_.chars[rows]), seed=seed)  # fmt: skip
    order = np.argsort(-scores, kind="stable")[: plan.WORST_SHOWN]
    return tuple(int(traffic_.ids[rows][i]) for i in order)


def _chosen_bundle(project: Project, config: MonitorConfig) -> str:
    found = production.bundles(project.store)
    if config.bundle_sha is not None:
        if not any(b[0] == config.bundle_sha for b in found):
            raise MonitorError("no traffic of that bundle is stored", "import its log with --log")
        return config.bundle_sha
    if not found:
        raise MonitorError("there is no production traffic to judge",
                           "pass the server's prediction log with --log")  # fmt: skip
    return found[-1][0]


def run_monitor(project: Project, config: MonitorConfig, *, run: RunContext,
                reporter: Reporter) -> MonitorResult:  # fmt: skip
    """Import ``config.logs``, then judge the served bundle's windows.

    Raises:
        MonitorError: no log or traffic, or a bundle the project did not export.
        MonitorCancelled: cancelled (nothing half-done: imports are one transaction each).
    """
    config.validate()
    reporter.progress(0.0, "importing the prediction logs")
    imported = import_logs(project, config.logs, run.id)
    sha = _chosen_bundle(project, config)
    bundle = find_bundle(project, sha, config.bundle)
    reporter.progress(0.1, "scoring the test split with the served bundle (the reference)")
    reference = build_reference(project, bundle, seed=config.seed)
    rows = production.production_rows(project.store, sha)
    found = traffic(rows, bundle.labels)
    floors = project_floors(project)
    errors = production.error_rows(project.store, sha)
    judged = judge(found, reference, config, floors, reporter, errors)
    figures, alerts = judged.figures, judged.alerts
    tested = [w for w in figures if w.tested]
    last = judged.groups[tested[-1].index] if tested else None
    worst = () if last is None else worst_drifting(found, reference, last, config.seed)
    result = MonitorResult(
        bundle_sha=sha, read=imported.read, new=imported.new, updated=imported.updated,
        rows=len(found), window=judged.unit, temperature=bundle.temperature,
        calibrated=bundle.calibrated, estimate_note=estimate_note(bundle), floors=floors,
        windows=tuple(figures), alerts=tuple(alerts), worst=worst,
        plan=tuple(plan.plan_lines(floors, owner=None, temperature=bundle.temperature
                                   if bundle.calibrated else None,
                                   max_error_rate=config.max_error_rate)),
        labels=bundle.labels,
    )  # fmt: skip
    raised = sum(a.severity == "alert" for a in alerts)
    project.audit("monitor.judged", {"run": run.id, "bundle": sha, "windows": len(figures),
                                     "alerts": raised})  # fmt: skip
    reporter.progress(1.0, f"{len(figures)} windows, {len(alerts)} alerts and warnings")
    return result
