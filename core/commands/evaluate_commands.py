"""``stillroom evaluate``: is the student good enough to ship? Exit 1 when it is not."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.commands.config_defaults import default, given
from core.configs import to_json
from core.evaluate.config import EvaluateConfig
from core.project import Project

_default = partial(default, EvaluateConfig)

if TYPE_CHECKING:
    from core.evaluate.config import EvaluateResult, HeadlineRow


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    evaluate = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score the student against the teacher and the quality floor; write report.html",
        description="Score the teacher, the student, the file the export ships (the student "
        "in ONNX INT8, kept in the run folder with its SHA-256) and, for a local classifier "
        "teacher, the teacher through the same ONNX INT8 path (the quantize-only baseline) "
        "on the test split and the edge-case set: task metrics, retention, agreement and "
        "calibration, each with a 95%% bootstrap interval; a temperature fitted on the "
        "validation split, kept only when it lowers held-out NLL (saved as calibration.json "
        "with the model); latency, throughput and cost; and a recommendation: ship the "
        "quantized teacher, the student, or neither. Warns when a split is too small "
        "(test < 500, edge < 100, validation < 100 rows). Exits 0 when the shipped file "
        "passes the project's quality floor on the test set, 1 when it fails, 2 on bad "
        "input. The report shows numbers and plots only.",
    )
    evaluate.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    _options(evaluate)
    evaluate.set_defaults(handler=evaluate_command)


def _options(evaluate: argparse.ArgumentParser) -> None:
    evaluate.add_argument(
        "--student", type=Path, metavar="DIR",
        help="the student model folder (default: the latest succeeded train run's model)",
    )  # fmt: skip
    evaluate.add_argument(
        "--teacher-id", metavar="ID",
        help="the teacher to compare with (default: the one the student was trained on)",
    )  # fmt: skip
    evaluate.add_argument(
        "--hardware-cost-per-hour", type=float, metavar="X",
        help="what an hour of the serving hardware costs, in the currency set on the Project "
        "page (default: the figure entered there; without one no hardware cost is shown), "
        "for the cost per million requests and the break-even",
    )  # fmt: skip
    evaluate.add_argument(
        "--latency-runs", type=int, metavar="N",
        help=f"timed batch-1 requests per model and device (default {_default('latency_runs')})",
    )  # fmt: skip
    evaluate.add_argument(
        "--max-new-tokens", type=int, metavar="N",
        help="generation: the longest student answer in tokens (default "
        f"{_default('max_new_tokens')}); give the teacher's, or a longer answer is cut short",
    )  # fmt: skip
    _switch(evaluate, "--no-latency", "measure_latency", "skip the timings")
    evaluate.add_argument(
        "--threads", type=int, metavar="N",
        help="PyTorch CPU threads while scoring and timing (default: PyTorch's choice); "
        "recorded with every timing",
    )  # fmt: skip
    _switch(
        evaluate, "--no-baseline", "quantize_baseline", "skip the quantize-only teacher baseline"
    )
    _switch(
        evaluate, "--no-onnx", "score_shipped",
        "do not build and score the file that ships (ONNX INT8): the gate then judges the "
        "PyTorch student and the export scores the file it writes",
    )  # fmt: skip
    _switch(
        evaluate, "--strict-edge", "strict_edge",
        "fail the gate when the edge-case set fails too (it is always shown)",
    )  # fmt: skip
    _switch(
        evaluate, "--gate-on-lower-bound", "gate_on_lower_bound",
        "judge the floor on each figure's 95%% interval bound (lower for retention and "
        "metric, upper for ECE) instead of the figure itself",
    )  # fmt: skip


def _switch(parser: argparse.ArgumentParser, flag: str, field: str, text: str) -> None:
    """A flag that sets ``field`` to the opposite of its default (None when not given)."""
    parser.add_argument(
        flag, dest=field, action="store_const", const=not _default(field), help=text
    )


def evaluate_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.commands.progress import run_stage
    from core.jobs.registry import EVALUATE

    values = given(args, EvaluateConfig)
    if "student" in values:
        values["student"] = values["student"].expanduser().resolve()
    config = EvaluateConfig(**values)
    config.validate()
    with Project.open(args.dir) as project:
        result = run_stage(project, EVALUATE, config)
    lines = render_evaluate(result)
    return {**to_json(result), "lines": lines, "exit_code": 0 if result.passed else 1}


def _cell(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def render_evaluate(result: EvaluateResult) -> list[str]:
    """An evaluate result for a terminal: the recommendation, the verdict, the headline
    table, the intervals, notes, paths."""
    lines = []
    if result.recommendation is not None:
        lines.append(f"recommendation: {result.recommendation.headline}")
        lines += [f"  {reason}" for reason in result.recommendation.reasons]
        lines.append("")
    lines += [f"warning: {warning}" for warning in result.warnings]
    verdict = "PASSES" if result.passed else "FAILS"
    judged = result.row("test", result.judged)
    title = judged.title if judged else result.judged
    generation = result.task == "generation"
    humans = "reference texts" if generation else "human labels"
    names = {"human": humans, "teacher": "the teacher's answers"}
    reference = names.get(result.reference, result.reference)
    lines.append(f"the student {verdict} the quality floor (judged: {title}; "
                 f"reference: {reference})")  # fmt: skip
    lines += [f"  failed: {failure}" for failure in result.failures]
    if result.edge_passed is False and result.test_passed:
        lines.append("  note: the edge-case set FAILS although the test set passes")
    if result.shipped is not None:
        lines.append(f"  the file that ships: {result.shipped.file} (SHA-256 "
                     f"{result.shipped.sha256[:16]}…)")  # fmt: skip
    lines += ["", *_table(result, generation)]
    lines += ["", "95% intervals (test set):"]
    lines += [_intervals(row, result.primary_metric) for row in result.headline
              if row.split == "test" and row.model != "teacher"]  # fmt: skip
    if result.temperature is not None and not generation:
        lines += ["", f"temperature {result.temperature:.3f} ({result.temperature_note}); "
                  f"saved to {result.calibration_file}"]  # fmt: skip
    lines += [f"note: {note}" for note in result.notes]
    lines.append(f"report: {result.report_html}")
    if result.report_pdf:
        lines.append(f"pdf: {result.report_pdf}")
    return lines


def _table(result: EvaluateResult, generation: bool) -> list[str]:
    """The headline table; generation has no probabilities, so no calibration columns."""
    metric = "ROUGE-L" if generation else result.primary_metric
    ece = "" if generation else f"{'ECE':>6} {'ECE(T)':>6} "
    lines = [f"  {'set':<5} {'model':<34} {metric:>8} {'retain':>7} {'agree':>6} {ece}"
             f"{'p50 ms':>7} {'req/s':>7} {'MB':>6} {'cost/1M':>8}"]  # fmt: skip
    for row in result.headline:
        cells = "" if generation else f"{_cell(row.ece):>6} {_cell(row.ece_calibrated):>6} "
        lines.append(
            f"  {row.split:<5} {row.title[:34]:<34} {_cell(row.metric):>8} "
            f"{_cell(row.retention):>7} {_cell(row.agreement):>6} {cells}"
            f"{_cell(row.p50_ms, 1):>7} {_cell(row.throughput_per_s, 1):>7} "
            f"{_cell(row.size_mb, 1):>6} {_cell(row.cost_per_million, 2):>8}"
        )
    return lines


def _intervals(row: HeadlineRow, metric: str) -> str:
    figures = (
        (metric, row.metric, row.metric_ci),
        ("retention", row.retention, row.retention_ci),
        ("agreement", row.agreement, row.agreement_ci),
        ("ECE", row.gate_ece, row.ece_ci),
    )
    shown = [
        f"{name} {value:.3f}" + (f" [{ci.text()}]" if ci else "")
        for name, value, ci in figures
        if value is not None
    ]
    return f"  {row.title[:34]:<34} " + "  ".join(shown)
