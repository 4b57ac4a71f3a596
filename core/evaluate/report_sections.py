"""The report's tables and figure blocks, one function per section (see ``report.py``)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from core.evaluate.calibration import TemperatureFit
from core.evaluate.compare import Scores, SetResult
from core.evaluate.config import BASELINE, TEACHER, CostEstimate, HeadlineRow, Recommendation
from core.evaluate.gate import SetVerdict
from core.evaluate.latency import Latency
from core.evaluate.metrics import ClassificationScores, Reliability
from core.evaluate.uncertainty import Interval

DASH = "—"
SET_TITLES = {"test": "Test set", "edge": "Edge-case set"}


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table cell; a dash for None."""
    if value is None:
        return DASH
    return f"{value:,.{digits}f}"


def fmt_ci(value: float | None, interval: Interval | None, digits: int = 3) -> str:
    """``0.831 [0.801 to 0.861]``: a figure with its 95% interval (a dash for None)."""
    if value is None:
        return DASH
    if interval is None:
        return fmt(value, digits)
    return f"{value:.{digits}f} [{interval.text(digits)}]"


def recommendation_section(advice: Recommendation | None) -> str:
    """The recommendation, first thing in the report: what to ship and why."""
    if advice is None:
        return ""
    css = {"student": "pass", "quantized_teacher": "pass"}.get(advice.choice, "fail")
    items = "".join(f"<li>{html.escape(r)}</li>" for r in advice.reasons)
    return (
        f"<div class='verdict {css}'>Recommendation: {html.escape(advice.headline)}</div>"
        f"<ul>{items}</ul><p class='small muted'>In the order of the decision framework: "
        "quantize the teacher first, ship it if it meets the floor, and distil only when "
        "more is needed.</p>"
    )


def baseline_section(verdict: SetVerdict | None, reason: str, titles: dict[str, str]) -> str:
    """Would quantizing the teacher alone have been enough?"""
    text = "<h2>Quantize-only baseline</h2><p>Would quantizing the teacher alone have been enough? "
    if verdict is None:
        return text + f"Not measured here: {html.escape(reason or 'no baseline')}.</p>"
    state = "Yes" if verdict.passed else "No"
    checks = "; ".join(html.escape(c.describe()) for c in verdict.checks)
    return text + (
        f"<b>{state}</b>: the column <b>{html.escape(titles.get(BASELINE, BASELINE))}</b> is "
        "the teacher exported to ONNX and quantized to INT8 through the same path, runtime "
        "and threads as the student's shipped file; judged against the same floor on the "
        f"test set, {checks}. Its agreement with the teacher's own answers is its parity "
        "(headline table).</p>"
    )


def table(
    head: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    header: bool = True,
    text_columns: int = 1,
    groups: Sequence[tuple[str, int]] = (),
) -> str:
    """An HTML table; every cell is escaped.

    Args:
        head: the column headings.
        rows: the cells.
        header: whether to show ``head``.
        text_columns: how many leading columns hold text (left-aligned; numbers go right).
        groups: an optional heading row above ``head``: (title, columns spanned).
    """
    out = ["<table>"]
    if groups:
        out.append("<tr>" + "".join(
            f"<th colspan='{span}' class='group'>{html.escape(title)}</th>"
            for title, span in groups) + "</tr>")  # fmt: skip
    if header:
        out.append("<tr>" + "".join(_cell("th", h, i < text_columns)
                                    for i, h in enumerate(head)) + "</tr>")  # fmt: skip
    for row in rows:
        out.append("<tr>" + "".join(_cell("td", c, i < text_columns)
                                    for i, c in enumerate(row)) + "</tr>")  # fmt: skip
    out.append("</table>")
    return "".join(out)


def _cell(tag: str, value: object, text: bool) -> str:
    css = " class='t'" if text else ""
    return f"<{tag}{css}>{html.escape(str(value))}</{tag}>"


def headline_table(rows: Sequence[HeadlineRow], titles: dict[str, str], metric: str) -> str:
    """The one table a product owner reads: every model on every set."""
    columns: list[tuple[str, Callable[[HeadlineRow], str]]] = [
        ("set", lambda r: r.split),
        ("model", lambda r: titles.get(r.model, r.model)),
        ("rows", lambda r: f"{r.rows:,}" if r.rows else DASH),
        (f"{metric} [95% interval]", lambda r: fmt_ci(r.metric, r.metric_ci)),
        ("retention [95% interval]", lambda r: fmt_ci(r.retention, r.retention_ci)),
        ("agreement [95% interval]", lambda r: fmt_ci(r.agreement, r.agreement_ci)),
        ("ECE", lambda r: fmt(r.ece)),
        ("ECE after T [95% interval]", lambda r: _ece_after(r)),
        ("p50 ms (CPU)", lambda r: fmt(r.p50_ms, 1)),
        ("req/s @32 (CPU)", lambda r: fmt(r.throughput_per_s, 1)),
        ("size MB", lambda r: fmt(r.size_mb, 1)),
        ("cost / 1M req", lambda r: fmt(r.cost_per_million, 2)),
    ]
    if all(r.ece is None for r in rows):  # generation: no calibration columns at all
        columns = [c for c in columns if not c[0].startswith("ECE")]
    body = [[cell(r) for _, cell in columns] for r in rows]
    return "<h2>Headline</h2>" + table([h for h, _ in columns], body, text_columns=2)


def _ece_after(row: HeadlineRow) -> str:
    """The ECE the gate checks with its interval; a dash where no temperature applies."""
    if row.ece_calibrated is None:
        return DASH
    return fmt_ci(row.ece_calibrated, row.ece_ci)


def _score_cells(scores: Scores | None) -> list[str]:
    if scores is None:
        return [DASH, DASH, DASH]
    if isinstance(scores, ClassificationScores):
        return [fmt(scores.accuracy), fmt(scores.macro_f1), f"{scores.n:,}"]
    return [
        fmt(scores.rouge_l),
        fmt(scores.exact_match),
        fmt(scores.length_ratio, 2),
        f"{scores.n:,}",
    ]


def _scores_table(result: SetResult, titles: dict[str, str], task: str) -> str:
    if task == "classification":
        names = ["accuracy", "macro-F1", "n"]
    else:
        names = ["ROUGE-L", "exact match", "length ratio", "n"]
    reference = "human labels" if result.reference == "human" else "teacher's answers"
    groups = [(f"vs the reference ({reference})", "scores")]
    models = result.models.values()
    # A second comparison only where it is not the reference one again.
    if any(m.human is not None for m in models) and (
        result.reference != "human"
        or any(m.human is not None and m.human.n != m.scores.n for m in models)
    ):
        groups.append(("vs all human-labelled rows", "human"))
    if result.reference != "teacher" and any(m.vs_teacher is not None for m in models):
        groups.append(("vs the teacher's answers", "vs_teacher"))
    head = ["model"] + [n for _ in groups for n in names]
    rows = []
    for name, model in result.models.items():
        cells = [titles.get(name, name)]
        for _, attr in groups:
            value = getattr(model, attr)
            cells += _score_cells(value) if value is not None else [DASH] * len(names)
        rows.append(cells)
    spans = [("", 1)] + [(title, len(names)) for title, _ in groups]
    return table(head, rows, groups=spans)


def _per_class_table(result: SetResult, labels: Sequence[str], titles: dict[str, str]) -> str:
    models = [
        (n, m.scores)
        for n, m in result.models.items()
        if isinstance(m.scores, ClassificationScores)
    ]
    if not models:
        return ""
    head = ["class", "support"] + ["precision", "recall", "F1"] * len(models)
    spans = [("", 2)] + [(titles.get(n, n), 3) for n, _ in models]
    rows = []
    for i, label in enumerate(labels):
        cells: list[object] = [label, f"{int(models[0][1].support[i]):,}"]
        for _, s in models:
            cells += [fmt(float(s.precision[i])), fmt(float(s.recall[i])), fmt(float(s.f1[i]))]
        rows.append(cells)
    return (
        "<h3>Per class (vs the reference)</h3>"
        + table(head, rows, groups=spans)
        + _class_retention_table(result, labels, titles)
    )


def _class_retention_table(result: SetResult, labels: Sequence[str], titles: dict[str, str]) -> str:
    """Each model's F1 on each label over the teacher's: where the student loses most."""
    teacher = result.models.get(TEACHER)
    if teacher is None or not isinstance(teacher.scores, ClassificationScores):
        return ""
    base = teacher.scores.f1
    models = [(n, m.scores) for n, m in result.models.items()
              if n != TEACHER and isinstance(m.scores, ClassificationScores)]  # fmt: skip
    rows = []
    for i, label in enumerate(labels):
        kept = [fmt(float(s.f1[i] / base[i])) if base[i] > 0 else DASH for _, s in models]
        rows.append([label, *kept])
    head = ["class", *(titles.get(n, n) for n, _ in models)]
    return "<h3>Per-class retention (F1 ÷ the teacher's F1)</h3>" + table(head, rows)


def detail_section(
    sets: dict[str, SetResult], titles: dict[str, str], labels: Sequence[str], task: str
) -> list[str]:
    """Per set: scores against each reference, per-class figures, confusion matrices."""
    from core.evaluate.plots import confusion_svg

    out = []
    for split, result in sets.items():
        reference = "human labels" if result.reference == "human" else "the teacher's answers"
        out.append(
            f"<h2>{SET_TITLES.get(split, split)} — {result.rows:,} rows; reference: "
            f"{reference} ({result.compared:,} rows compared)</h2>"
        )
        out.append(_scores_table(result, titles, task))
        if task != "classification":
            continue
        out.append(_per_class_table(result, labels, titles))
        figures = [
            confusion_svg(m.scores.confusion, labels, f"{titles.get(n, n)} — {split}")
            for n, m in result.models.items()
            if isinstance(m.scores, ClassificationScores)
            and (n != TEACHER or result.reference == "human")
        ]
        out.append(
            "<h3>Confusion matrices <span class='muted small'>(rows: reference; colour: share "
            "of the row)</span></h3><div class='figs'>" + "".join(figures) + "</div>"
        )
    return out


def calibration_section(
    sets: dict[str, SetResult],
    fit: TemperatureFit | None,
    baseline_fit: TemperatureFit | None,
    titles: dict[str, str],
    saved: str,
) -> str:
    """Temperature (kept only when it helps held-out rows), ECE before and after, diagrams."""
    from core.evaluate.plots import reliability_svg

    if not any(m.reliability for r in sets.values() for m in r.models.values()):
        return ""
    out = ["<h2>Calibration</h2>"]
    if fit is not None:
        out.append(
            f"<p>Student, on the validation split ({fit.n:,} rows): <b>T = "
            f"{fit.temperature:.3f}</b> — {html.escape(fit.reason)}; saved to "
            f"<code>{html.escape(saved)}</code> and applied to the file that ships.</p>"
        )
    else:
        out.append("<p class='muted'>No temperature fitted (no usable validation rows).</p>")
    if baseline_fit is not None:
        name = html.escape(titles.get(BASELINE, BASELINE))
        out.append(
            f"<p>{name}: <b>T = {baseline_fit.temperature:.3f}</b> — "
            f"{html.escape(baseline_fit.reason)}.</p>"
        )
    rows = [
        [split, titles.get(n, n), fmt(_ece(m.reliability)), fmt(_ece(m.reliability_calibrated))]
        for split, r in sets.items()
        for n, m in r.models.items()
        if m.reliability
    ]
    out.append(table(["set", "model", "ECE before", "ECE after T"], rows, text_columns=2))
    panels = _reliability_panels(sets.get("test"), titles)
    out.append(
        "<p class='small muted'>Test set. Bars: accuracy per confidence bin (the number "
        "above a bar is its row count); red tick: the bin's mean confidence; dashed: perfect "
        "calibration.</p>"
    )
    for start in range(0, len(panels), 3):
        out.append("<div class='figs'>" + reliability_svg(panels[start : start + 3]) + "</div>")
    return "\n".join(out)


def _reliability_panels(
    test: SetResult | None, titles: dict[str, str]
) -> list[tuple[str, Reliability]]:
    """Each model's diagram on the test set, before and (if fitted) after temperature."""
    panels: list[tuple[str, Reliability]] = []
    for name, model in test.models.items() if test else []:
        if model.reliability is not None:
            panels.append((f"{titles.get(name, name)} — before", model.reliability))
        if model.reliability_calibrated is not None:
            panels.append((f"{titles.get(name, name)} — after T", model.reliability_calibrated))
    return panels


def _ece(rel: Reliability | None) -> float | None:
    return None if rel is None else rel.ece


def speed_section(latencies: Sequence[Latency], titles: dict[str, str]) -> str:
    """Latency and throughput per model and device, with the thread count."""
    from core.evaluate.plots import latency_svg

    if not latencies:
        return "<h2>Speed</h2><p class='muted'>Not measured (--no-latency).</p>"
    rows = [
        [
            x.title or titles.get(x.model, x.model),
            x.device,
            x.device_name,
            x.threads,
            fmt(x.p50_ms, 1),
            fmt(x.p95_ms, 1),
            fmt(x.throughput_per_s, 1),
            x.runs,
        ]
        for x in latencies
    ]
    head = ["model", "device", "device name", "threads", "p50 ms", "p95 ms", "req/s @32", "runs"]
    return (
        "<h2>Speed</h2>"
        + table(head, rows, text_columns=3)
        + "<div class='figs'>"
        + latency_svg(latencies, titles)
        + "</div>"
    )


def cost_section(cost: CostEstimate | None) -> str:
    """Cost per million requests and the break-even volume."""
    if cost is None:
        return ""
    unit = f" ({cost.currency})" if cost.currency else ""
    rate = cost.hardware_cost_per_hour
    rows = [
        [f"hardware cost per hour{unit}", "not entered" if rate is None else fmt(rate, 2)],
        [f"teacher per 1M requests{unit} — {cost.teacher_basis}",
         fmt(cost.teacher_per_million, 2)],
        [f"student per 1M requests{unit} — {cost.student_basis}",
         fmt(cost.student_per_million, 2)],
    ]  # fmt: skip
    rows += [[f"one-off: {k}{unit}", fmt(v, 2)] for k, v in cost.one_off_parts.items()]
    rows.append(
        [
            f"break-even: requests/day to repay the one-off cost in {cost.payback_days} days",
            fmt(cost.breakeven_per_day, 0),
        ]
    )
    text = _breakeven_sentence(cost)
    return "<h2>Cost</h2>" + table(["", ""], rows, header=False) + f"<p>{html.escape(text)}</p>"


def _breakeven_sentence(cost: CostEstimate) -> str:
    if cost.breakeven_per_day is not None:
        return (
            f"Above about {cost.breakeven_per_day:,.0f} requests a day, distillation pays "
            f"for itself within {cost.payback_days} days; below that, keep calling the "
            "teacher (or quantize it) unless privacy or latency decide."
        )
    if cost.teacher_per_million is not None and cost.student_per_million is not None:
        return (
            "The student costs at least as much per request as the teacher: distillation "
            "does not pay back on cost alone."
        )
    if cost.teacher_per_million is None:
        return "No savings shown: enter the teacher's price to see savings (Project page)."
    return "No break-even estimate: a per-request cost is unknown (see the rows above)."
