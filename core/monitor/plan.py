"""The monitoring plan: every threshold the monitor uses, and the plan as people read it.

One source: ``stillroom monitor``, the Monitor page, the model card and the evaluation report
all take their numbers from here.

Why these thresholds: the three drift tests (inputs, predicted labels, confidences) share a
false-alarm budget of :data:`FALSE_ALARM_TARGET` per window (Bonferroni: each tests at
:data:`TEST_ALPHA`); ``bench/monitor_bench.py`` measures the rate on an unshifted stream.
The quality checks alert only when the whole 95% interval is below the floor, so a window
whose estimate merely dips, by chance, shows a warning rather than an alert.
"""

from __future__ import annotations

from dataclasses import dataclass

FALSE_ALARM_TARGET = 0.01
DRIFT_TESTS = ("input drift", "prediction drift", "confidence drift")
TEST_ALPHA = FALSE_ALARM_TARGET / len(DRIFT_TESTS)
MIN_TEST_ROWS = 50  # a window with fewer requests is shown, not tested
AUTO_WINDOW_ROWS = 200  # "auto": the shortest unit whose median window holds this many
WINDOW_UNITS = ("hour", "day", "week")
INTERVAL = 0.95
ESTIMATE_DRAWS = 400  # simulated label draws behind the estimate's interval
PRIOR_EM_ITERATIONS = 200  # the label-mix EM's most steps (it settles in tens on a window)
# The label-mix correction applies where the label-drift test's p-value is below this: a
# correction, not an alarm, so it needs no share of the false-alarm budget. Measured on the
# demo (bench/monitor_bench.py): as good as correcting every window on a shifted stream, at
# no cost on an unshifted one (where correcting every window fits noise in the mix).
PRIOR_SHIFT_P = 0.05
SHADOW_MIN_ANSWERS = 20  # fewer shadow answers: the agreement is shown, not judged
SHADOW_LOSS_SHARE = 0.10  # dropped or failed shadow calls, of those sampled
SHADOW_LOSS_MIN = 20
REFERENCE_ROWS = 2000  # training rows the input test compares with (a seeded sample)
WORST_SHOWN = 20  # the worst-drifting requests listed
# Refused or failed requests a window may have: alert when the whole 95% interval is above
# it (so a window of 100 requests alerts from 3 failures, one of 1,000 from 17).
MAX_ERROR_RATE = 0.01


@dataclass(frozen=True, slots=True)
class Floors:
    """The project's quality floor in the terms production can measure.

    Attributes:
        min_retention: the floor itself (student metric / teacher metric).
        metric_name: the metric the label-free estimate is judged on (``macro_f1``).
        teacher_metric: the teacher's metric on the test split (the evaluation's).
        metric_floor: the estimate's floor: ``min_retention x teacher_metric`` (or the
            project's minimum metric, if higher); None when the teacher's is unknown.
        test_agreement: the shipped student's agreement with the teacher on the test split.
        agreement_floor: the shadow agreement's floor: ``min_retention x test_agreement``
            (the student keeps at least the floor's share of the agreement it was approved
            with); None when the test agreement is unknown.
    """

    min_retention: float
    metric_name: str = "macro_f1"
    teacher_metric: float | None = None
    metric_floor: float | None = None
    test_agreement: float | None = None
    agreement_floor: float | None = None


def floors(
    min_retention: float,
    *,
    teacher_metric: float | None,
    test_agreement: float | None,
    min_metric: float | None = None,
) -> Floors:
    """The floors a monitor judges windows against (see :class:`Floors`)."""
    metric_floor = None if teacher_metric is None else min_retention * teacher_metric
    if min_metric is not None:
        metric_floor = max(metric_floor or 0.0, min_metric)
    agreement_floor = None if test_agreement is None else min_retention * test_agreement
    return Floors(min_retention, "macro_f1", teacher_metric, metric_floor, test_agreement,
                  agreement_floor)  # fmt: skip


def _value(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def plan_lines(
    found: Floors,
    *,
    owner: str | None,
    temperature: float | None,
    task: str = "classification",
    max_error_rate: float = MAX_ERROR_RATE,
) -> list[str]:
    """The monitoring plan as sentences: signals, thresholds, window, who is alerted.

    A generation model has no class confidences: its plan keeps the window, the input test
    and a periodic re-evaluation against the teacher, in its own words (issue 17).
    """
    if task == "generation":
        return _generation_plan(owner)
    calibrated = (
        f"the bundle's temperature T = {temperature:.3f} calibrates them"
        if temperature is not None and temperature != 1.0
        else "no temperature was kept, so the estimate is only as good as the raw "
        "confidences' calibration (see the calibration section)"
    )
    who = owner or "the model owner"
    return [
        f"Window: an hour, a day or a week, the shortest in which the median window holds "
        f"at least {AUTO_WINDOW_ROWS} requests; a window under {MIN_TEST_ROWS} requests is "
        "shown but not tested. Run `stillroom monitor PROJECT --log LOG` on the server's "
        "prediction log (the Monitor page does the same).",
        "Input drift: a classifier two-sample test (logistic regression on the logged n-gram "
        "fingerprints and input length, against the training split; AUC, Mann-Whitney "
        f"p-value); alert at p < {TEST_ALPHA:.4f}.",
        "Prediction drift: the mix of predicted labels against the test set (chi-square, with "
        "the PSI shown) and the confidences (Kolmogorov-Smirnov); alert at p < "
        f"{TEST_ALPHA:.4f} each. The three drift tests share a {FALSE_ALARM_TARGET:.0%} "
        "false-alarm budget per window (Bonferroni).",
        f"Estimated quality without labels (confidence-based performance estimation, as "
        f"NannyML's CBPE): valid while the confidences are calibrated; {calibrated}. Alert "
        f"when the whole 95% interval of the estimated {found.metric_name} is below "
        f"{_value(found.metric_floor)} ({found.min_retention:.0%} of the teacher's test "
        f"{found.metric_name} {_value(found.teacher_metric)}); a warning when only the "
        "estimate is. Where the mix of predicted labels changed (chi-square p < "
        f"{PRIOR_SHIFT_P:g}), the confidences are first adjusted to the window's label mix "
        "(the EM of Saerens, Latinne & Decaestecker, 2002), since a label-mix change breaks "
        "calibration.",
        f"Shadow agreement with the teacher (`stillroom serve --shadow-teacher`): alert when "
        f"the whole 95% interval is below {_value(found.agreement_floor)} "
        f"({found.min_retention:.0%} of the test-set agreement "
        f"{_value(found.test_agreement)}), judged from {SHADOW_MIN_ANSWERS} answers a window.",
        f"Shadow calls dropped or failed: alert above {SHADOW_LOSS_SHARE:.0%} of the sampled "
        "calls (a slow or unreachable teacher).",
        f"Error rate: the requests the server refused (malformed, too large) or failed on, "
        f"of all it received; alert when the whole 95% interval is above {max_error_rate:.1%} "
        "(`stillroom monitor --max-error-rate`).",
        f"Who is alerted: {who}. The Monitor page lists each alert with what to do next; "
        "`stillroom monitor` exits 1 when a window alerts, so a scheduled run can page them.",
        "Re-distil when an alert persists, or quarterly: `stillroom redistill PROJECT "
        "--budget 500` (the server must keep inputs: `--keep-inputs anonymized` or "
        "`encrypted`).",
    ]


def _generation_plan(owner: str | None) -> list[str]:
    who = owner or "the model owner"
    return [
        f"Window: an hour, a day or a week, the shortest in which the median window holds "
        f"at least {AUTO_WINDOW_ROWS} requests; a window under {MIN_TEST_ROWS} requests is "
        "shown but not tested.",
        "Input drift: a classifier two-sample test (logistic regression on the logged n-gram "
        "fingerprints and input length, against the training split; AUC, Mann-Whitney "
        f"p-value); alert at p < {TEST_ALPHA:.4f}.",
        "Answer quality: a generated text carries no confidence to estimate quality from, "
        "so re-evaluate monthly on a sample of anonymized production inputs answered by the "
        "teacher (ROUGE-L against the same floor), and at once when the input test alerts.",
        f"Who is alerted: {who}.",
    ]
