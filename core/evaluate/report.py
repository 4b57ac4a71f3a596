"""``report.html``: one self-contained page (inline CSS and SVG, no network assets).

It shows numbers, label names and plots only — never an example text — so it can be handed
to a reviewer who must not see the data. A PDF is written too where a PDF engine
(WeasyPrint) is installed; Stillroom does not ship one.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from core.evaluate.calibration import TemperatureFit
from core.evaluate.compare import SetResult
from core.evaluate.config import CostEstimate, HeadlineRow, ShippedModel
from core.evaluate.latency import Latency
from core.evaluate.report_sections import (
    baseline_section,
    calibration_section,
    cost_section,
    detail_section,
    headline_table,
    recommendation_section,
    speed_section,
    table,
)
from core.evaluate.verdict import Decision
from core.project import QualityFloor

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;
 max-width:1100px;margin:24px auto;padding:0 20px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid
 #d5dae1;padding-bottom:4px}h3{font-size:15px;margin-bottom:6px}
table{border-collapse:collapse;margin:8px 0 12px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d5dae1;padding:4px 9px;text-align:right}
th.t,td.t{text-align:left}th{background:#f1f3f6}th.group{text-align:center}
.verdict{padding:12px 16px;border-radius:6px;font-size:18px;font-weight:600;margin:16px 0}
.pass{background:#e3f4e8;border:1px solid #4c9a64;color:#1f5a32}
.fail{background:#fbe7e5;border:1px solid #c0392b;color:#7a1f16}
.warn{background:#fff4e0;border:1px solid #e08a1e;color:#6b4106}
.muted{color:#5f6b7a}.small{font-size:12px}ul{margin-top:4px}
.figs{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.figs svg{max-width:100%;height:auto}
code{background:#f1f3f6;padding:1px 4px;border-radius:3px}
"""

_TEXT_SOURCES = {
    "anonymized": "the anonymized text (what the teacher saw)",
    "mixed": "the anonymized text, raw text where a record has none (as in training)",
    "raw": "the raw text (the student was trained on it)",
}


@dataclass
class ReportData:
    """Everything the report shows; numbers, names and paths only."""

    project: Path
    run_id: str | None
    created: str
    task: str
    labels: tuple[str, ...]
    floor: QualityFloor
    student_dir: Path
    train_run: str | None
    text_source: str
    teacher_id: str | None
    primary_metric: str
    sets: dict[str, SetResult]
    decision: Decision
    strict_edge: bool
    titles: dict[str, str]
    headline: list[HeadlineRow]
    temperature: TemperatureFit | None = None
    calibration_file: Path | None = None
    latencies: list[Latency] = field(default_factory=list)
    cost: CostEstimate | None = None
    baseline_reason: str = ""
    baseline_fit: TemperatureFit | None = None
    shipped: ShippedModel | None = None
    gate_on_bound: bool = False
    notes: list[str] = field(default_factory=list)
    monitoring: list[str] = field(default_factory=list)
    frontier: tuple[str, Path] | None = None  # (the --auto run, its frontier.svg)

    def relative(self, path: Path | None) -> str:
        """A path as the report shows it: relative to the project folder where inside it
        (the report travels in bundles; a local absolute path means nothing elsewhere)."""
        if path is None:
            return "—"
        if path.is_absolute() and path.is_relative_to(self.project):
            return path.relative_to(self.project).as_posix()
        return path.name if path.is_absolute() else path.as_posix()


def render_html(data: ReportData) -> str:
    """The whole report as one HTML string."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Stillroom evaluation — {_e(data.project.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Evaluation of the student — {_e(data.project.name)}</h1>",
        recommendation_section(data.decision.recommendation),
        _warnings(data),
        _verdicts(data),
        _summary(data),
        headline_table(data.headline, data.titles, data.primary_metric),
        _notes(data),
        *detail_section(data.sets, data.titles, data.labels, data.task),
        calibration_section(
            data.sets,
            data.temperature,
            data.baseline_fit,
            data.titles,
            data.relative(data.calibration_file),
        ),
        speed_section(data.latencies, data.titles),
        _frontier(data),
        cost_section(data.cost),
        baseline_section(data.decision.baseline, data.baseline_reason, data.titles),
        _monitoring(data),
        _definitions(data),
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part)


def _monitoring(data: ReportData) -> str:
    if not data.monitoring:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in data.monitoring)
    return f"<h2>Monitoring plan</h2><ul>{items}</ul>"


def _summary(data: ReportData) -> str:
    floor = data.floor
    bounds = [f"retention ≥ {floor.min_retention:g}"]
    if floor.min_metric is not None:
        bounds.append(f"{data.primary_metric} ≥ {floor.min_metric:g}")
    if floor.max_ece is not None:
        bounds.append(f"ECE ≤ {floor.max_ece:g} (after temperature scaling)")
    if data.decision.judged != "student":
        bounds.append("judged on the file that ships")
    if data.gate_on_bound:
        bounds.append("each figure's 95% interval bound must hold")
    shipped = data.shipped
    rows = [
        ("run", data.run_id or "(not recorded)"),
        ("created", data.created),
        ("task", f"{data.task}; labels: {', '.join(data.labels)}" if data.labels else data.task),
        (
            "student",
            data.relative(data.student_dir)
            + (f" (train run {data.train_run})" if data.train_run else ""),
        ),
        (
            "file that ships",
            "not scored in this run (the export scores what it writes)"
            if shipped is None
            else f"{data.relative(shipped.file)}, {shipped.precision.upper()} "
            f"({shipped.isa}), SHA-256 {shipped.sha256}",
        ),
        (
            "student input",
            _TEXT_SOURCES.get(data.text_source, data.text_source),
        ),
        ("teacher", data.teacher_id or "none (human labels only)"),
        ("quality floor", "; ".join(bounds) + " — fixed when the project was created"),
        ("primary metric", data.primary_metric),
    ]
    return table(["", ""], [[k, v] for k, v in rows], header=False, text_columns=2)


def _warnings(data: ReportData) -> str:
    if not data.decision.warnings:
        return ""
    items = "".join(f"<li>{_e(w)}</li>" for w in data.decision.warnings.values())
    deciding = {"test", "edge"} if data.strict_edge else {"test"}
    header = (
        "Too little data for a trustworthy verdict:"
        if deciding & set(data.decision.warnings)
        else "Fewer rows than the sample-size rules ask for (the set that decides the "
        "verdict has enough):"
    )
    return f"<div class='verdict warn' style='font-size:14px'>{header}<ul>{items}</ul></div>"


def _verdicts(data: ReportData) -> str:
    passed = data.decision.passed
    css = "pass" if passed else "fail"
    word = "PASSES" if passed else "FAILS"
    who = data.titles.get(data.decision.judged, data.decision.judged)
    out = [
        f"<div class='verdict {css}'>The {_e(who)} {word} the quality floor"
        + (" (test and edge-case sets)" if data.strict_edge else " on the test set")
        + "</div>"
    ]
    for split, verdict in data.decision.verdicts.items():
        checks = "; ".join(_e(c.describe()) for c in verdict.checks)
        state = "passes" if verdict.passed else "FAILS"
        box = "pass" if verdict.passed else ("fail" if split == "test" else "warn")
        prefix = ""
        if split == "edge" and not verdict.passed and passed:
            prefix = "Edge-case failure (shown although the test set passes): "
        out.append(
            f"<p class='verdict {box}' style='font-size:14px'>{prefix}{split} set "
            f"{state}: {checks}</p>"
        )
    if "edge" not in data.decision.verdicts:
        out.append(
            "<p class='muted'>No edge-case set: nothing was held out as an edge case, "
            "or it has nothing to compare against.</p>"
        )
    return "\n".join(out)


def _notes(data: ReportData) -> str:
    notes = list(data.notes)
    for result in data.sets.values():
        notes += [f"{result.split}: {note}" for note in result.notes]
    if not notes:
        return ""
    items = "".join(f"<li>{_e(n)}</li>" for n in dict.fromkeys(notes))
    return f"<h2>Notes</h2><ul>{items}</ul>"


def _frontier(data: ReportData) -> str:
    """The quality-vs-latency plot of the ``--auto`` search the student came from."""
    from core.evaluate.plots import inline_svg

    if data.frontier is None:
        return ""
    run, path = data.frontier
    try:
        svg = inline_svg(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # gone or not an SVG since the search: say so, not fail
        shown = _e(data.relative(path))
        return f"<h2>Search frontier</h2><p class='muted'>{shown} is unreadable.</p>"
    return (
        "<h2>Search frontier</h2>"
        f"<p>This student was chosen by <code>train --auto</code> (run {_e(run)}). Every "
        "student the search tried: its validation macro-F1 retention (with its interval) "
        "against its batch-1 latency, the floor dashed.</p>"
        f"<div class='figs'>{svg}</div>"
    )


def _definitions(data: ReportData) -> str:
    primary = (
        "macro-F1: the unweighted mean of per-class F1 over the classes present in the "
        "reference or the predictions"
        if data.task == "classification"
        else "ROUGE-L: the F-measure of the longest common word subsequence"
    )
    items = [
        f"Primary metric — {primary}.",
        "Retention — student metric ÷ teacher metric on the same rows and reference; with "
        "no human labels the teacher is the reference and scores 1.",
        "Agreement — share of rows on which the student gives the teacher's answer "
        + ("(label)." if data.task == "classification" else "(exact text, normalised)."),
        "ECE — expected calibration error over 15 equal-width confidence bins; 'after' uses "
        "the temperature fitted on the validation split (minimum NLL), kept only when it "
        "lowers the NLL of validation rows it was not fitted on (5-fold cross-validation); "
        "it is saved with the model and is what the gate checks.",
        "Intervals — 95% percentile bootstrap intervals over the set's rows (1,000 seeded "
        "resamples); retention and the difference between two models resample both on the "
        "same rows.",
        "Shipped file — the student exported to ONNX and quantized to INT8 exactly as the "
        "export stage ships it, scored one input at a time as `stillroom predict` runs it.",
        "Latency — wall-clock per request at batch 1 (p50, p95) after warm-up; throughput — "
        "requests per second at batch 32. CPU figures on a shared machine vary by ±20%.",
    ]
    return (
        "<h2>Definitions</h2><ul class='small'>"
        + "".join(f"<li>{_e(i)}</li>" for i in items)
        + "</ul><p class='small muted'>Stillroom evaluation report; a dash means not "
        + "measured or not applicable.</p>"
    )


def _e(value: object) -> str:
    return html.escape(str(value))


def write_report(html_text: str, folder: Path) -> tuple[Path, Path | None, str]:
    """Write ``report.html`` (owner-only) and, where WeasyPrint exists, ``report.pdf``.

    Returns:
        The HTML path, the PDF path or None, and a note when no PDF was written.

    Raises:
        OSError: the run folder cannot be written.
    """
    target = folder / "report.html"
    fd = os.open(target, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(html_text)
    try:
        import weasyprint  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return target, None, "no PDF: no PDF engine (WeasyPrint) is installed; print the HTML"
    pdf = folder / "report.pdf"
    weasyprint.HTML(string=html_text).write_pdf(pdf)
    return target, pdf, ""
