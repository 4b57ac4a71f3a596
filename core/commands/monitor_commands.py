"""``stillroom monitor`` (exit 1 when a window alerts) and ``stillroom redistill``."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from core.commands.config_defaults import add_numbers, default, given
from core.configs import to_json
from core.monitor.config import (
    STARTS,
    WINDOWS,
    MonitorConfig,
    MonitorResult,
    RedistillConfig,
    RedistillResult,
)
from core.monitor.plan import PRIOR_SHIFT_P
from core.project import Project

_redistill_default = partial(default, RedistillConfig)


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    monitor = sub.add_parser(
        "monitor", parents=[common], help="judge a served bundle's traffic; alert on drift",
        description="Import the server's prediction logs (a log folder, or a .jsonl file from "
        "`stillroom serve-log export`; importing the same rows again adds nothing), then judge "
        "the served bundle's traffic per window: input drift against the training data (a "
        "classifier two-sample test on the logged fingerprints, and the input lengths), "
        "prediction and confidence drift against the test set (chi-square with PSI, "
        "Kolmogorov-Smirnov), the quality estimated without labels from the calibrated "
        "confidences (confidence-based performance estimation) and the shadow teacher's "
        "agreement, each with a 95% interval, against the project's floor, and the share of "
        "requests the server refused or failed on. Prints the alerts "
        "with what to do next. Exits 1 when a window alerts, 0 otherwise, 2 on bad input.",
    )  # fmt: skip
    monitor.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    monitor.add_argument("--log", dest="logs", type=Path, nargs="+", metavar="LOG",
                         help="prediction log folders or .jsonl files to import first")  # fmt: skip
    monitor.add_argument("--window", choices=WINDOWS,
                         help="the window (default auto: the shortest unit whose median "
                         "window holds enough requests)")  # fmt: skip
    add_numbers(monitor, MonitorConfig, (
        ("--window-rows", int, "windows of N requests instead of a time unit (replays)"),
        ("--max-error-rate", float, "alert when a window's share of refused or failed "
         "requests is above this, its whole 95%% interval included (default {:g})"),
        ("--seed", int, "seed of the drift tests and the estimate's draws (default {})"),
    ))  # fmt: skip
    monitor.add_argument("--bundle", type=Path, metavar="BUNDLE",
                         help="the served bundle, if the project did not export it")  # fmt: skip
    monitor.set_defaults(handler=monitor_command)
    _add_redistill(sub, common)


def _add_redistill(sub: Any, common: argparse.ArgumentParser) -> None:
    redistill = sub.add_parser(
        "redistill", parents=[common], help="train a new student on production traffic",
        description="Pick the production requests the student is least sure of (least "
        "confident and most drifted first) up to --budget, and a random slice held out to "
        "evaluate on; anonymize them with the project's settings; have the project's teacher "
        "label them (cached, costed); train a new student (from the current one, or the "
        "base); evaluate it on the original test set and on the production slice against "
        "the same floor; export a new bundle whose manifest names its parent. Needs the "
        "inputs: the server must run with --keep-inputs anonymized or encrypted (give the "
        "server's key file with --input-key-file for encrypted). Every step is its own run: "
        "a stopped re-distillation resumes where it stopped. Exits 1 when the new student "
        "fails the floor.",
    )  # fmt: skip
    redistill.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    add_numbers(redistill, RedistillConfig, (
        ("--budget", int, "production requests the teacher labels for training (default {})"),
        ("--epochs", float, "training epochs (default: the last training run's)"),
        ("--seed", int, "seed of the slice and of random sampling (default {})"),
    ))  # fmt: skip
    redistill.add_argument("--slice", dest="slice_size", type=int, metavar="N",
                           help="requests held out to evaluate on (default "
                           f"{_redistill_default('slice_size')})")  # fmt: skip
    redistill.add_argument("--from", dest="start", choices=STARTS,
                           help=f"train from (default {_redistill_default('start')})")  # fmt: skip
    redistill.add_argument("--layers", type=int, metavar="K",
                           help="cut a new student of K layers from the model the first "
                           "student was cut from (implies --from base): a larger student "
                           "for traffic the current one cannot follow (default: the current "
                           "student's size)")  # fmt: skip
    redistill.add_argument("--sampling", choices=("uncertainty", "random"),
                           help="how to pick the requests (default uncertainty)")  # fmt: skip
    redistill.add_argument("--input-key-file", type=Path, metavar="FILE",
                           help="the server's Fernet key, for --keep-inputs encrypted")  # fmt: skip
    redistill.add_argument("--out", type=Path, metavar="BUNDLE",
                           help="the new bundle (default exports/<parent>-r<N>)")  # fmt: skip
    redistill.add_argument("--override-parity", metavar="WHY",
                           help="export although INT8 agreement is below the export's "
                           "threshold (audited); a stopped re-distillation resumes "
                           "with it")  # fmt: skip
    redistill.set_defaults(handler=redistill_command)


def render_monitor(result: MonitorResult) -> list[str]:
    """A monitor result for a terminal: imports, windows, the estimate's note, alerts."""
    lines = [
        f"imported {result.read:,} log rows: {result.new:,} new, {result.updated:,} filled in",
        f"bundle {result.bundle_sha[:12]}: {result.rows:,} requests in {len(result.windows)} "
        f"windows of {result.window}",
        result.estimate_note,
    ]
    for w in result.windows[-12:]:
        estimate = "—" if w.macro_f1 is None else (
            f"{w.macro_f1:.3f} [{w.macro_f1_low:.3f}, {w.macro_f1_high:.3f}]"
            + ("*" if w.prior_adjusted else "")
        )  # fmt: skip
        auc = "—" if w.input_auc is None else f"{w.input_auc:.2f}"
        shadow = "—" if w.shadow_agreement is None else f"{w.shadow_agreement:.1%}"
        failed = "—" if w.error_rate is None else f"{w.error_rate:.1%}"
        lines.append(f"  {w.start[:19]}  {w.rows:>6,} req  est. macro-F1 {estimate}  "
                     f"drift AUC {auc}  shadow {shadow}  errors {failed}")  # fmt: skip
    if any(w.prior_adjusted for w in result.windows[-12:]):
        lines.append(f"  * the mix of predicted labels changed (chi-square p < {PRIOR_SHIFT_P:g}): "
                     "the estimate was adjusted to the window's label mix")  # fmt: skip
    floor = result.floors.metric_floor
    lines.append("floor: " + ("—" if floor is None else f"estimated macro-F1 {floor:.3f}"))
    for a in result.alerts:
        lines.append(f"{a.severity.upper()} window {a.window + 1}: {a.kind}: {a.message}")
        lines.append(f"    next: {a.next_step}")
    if not result.alerts:
        lines.append("no alerts")
    return lines


def monitor_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.commands.progress import run_stage
    from core.jobs.registry import MONITOR

    values = given(args, MonitorConfig)
    values["logs"] = tuple(Path(p).expanduser().resolve() for p in values.get("logs", ()))
    config = MonitorConfig(**values)
    config.validate()
    with Project.open(args.dir) as project:
        result = run_stage(project, MONITOR, config)
    return {**to_json(result), "lines": render_monitor(result),
            "exit_code": 1 if result.alerting else 0}  # fmt: skip


def render_redistill(result: RedistillResult) -> list[str]:
    """A re-distillation for a terminal: what was labelled, before and after, the bundle."""
    lines = [f"labelled {result.chosen:,} production requests for training and "
             f"{result.slice_rows:,} for the slice (teacher cost "
             f"{result.teacher_cost:.2f})"]  # fmt: skip
    for figures in (result.before, result.after):
        if figures is not None:
            lines.append(f"  {figures.model}: agreement with the teacher on the production "
                         f"slice {figures.accuracy:.1%} [{figures.low:.1%}, {figures.high:.1%}]"
                         f", macro-F1 {figures.macro_f1:.3f}")  # fmt: skip
    lines += result.verdicts()
    lines += [f"note: {n}" for n in result.notes]
    if result.bundle is not None:
        lines.append(f"new bundle: {result.bundle} (its manifest names the parent "
                     f"{result.parent_sha[:12]})")  # fmt: skip
    return lines


def redistill_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.commands.progress import run_stage
    from core.jobs.registry import REDISTILL

    config = RedistillConfig(**given(args, RedistillConfig))
    config.validate()
    with Project.open(args.dir) as project:
        result = run_stage(project, REDISTILL, config)
    return {**to_json(result), "lines": render_redistill(result),
            "exit_code": 0 if result.passed else 1}  # fmt: skip
