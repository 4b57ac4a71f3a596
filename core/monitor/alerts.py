"""Alerts from a window's figures: what crossed which threshold, and what to do next.

Messages carry figures and thresholds only, never text from a request (a test checks it).
"""

from __future__ import annotations

from typing import Literal

from core.monitor.config import Alert, WindowFigures
from core.monitor.plan import (
    MAX_ERROR_RATE,
    SHADOW_LOSS_MIN,
    SHADOW_LOSS_SHARE,
    SHADOW_MIN_ANSWERS,
    TEST_ALPHA,
    Floors,
)

Severity = Literal["alert", "warning"]
REDISTILL = (
    "re-distil on this traffic: `stillroom redistill PROJECT --budget 500` (or Re-distill now)"
)
LOOK = "look at the worst-drifting requests on the Monitor page"
_DRIFT = (
    ("input drift", "input_p", "input_auc", "AUC", "the requests differ from the training data"),
    ("prediction drift", "label_p", "label_psi", "PSI", "the mix of predicted labels changed"),
    ("confidence drift", "confidence_p", "confidence_ks", "KS", "the student's confidence changed"),
)


def _drift_alerts(w: WindowFigures) -> list[Alert]:
    found = []
    for kind, p_name, stat_name, stat_label, what in _DRIFT:
        p, stat = getattr(w, p_name), getattr(w, stat_name)
        if p is not None and p < TEST_ALPHA:
            found.append(Alert(
                w.index, w.start, kind, "alert",
                f"{what} ({stat_label} {stat:.3f}, p = {p:.2g} < {TEST_ALPHA:.4f})",
                f"{LOOK}; if it is real traffic the student was not trained on, {REDISTILL}",
            ))  # fmt: skip
    return found


def _quality_alerts(w: WindowFigures, floors: Floors) -> list[Alert]:
    found = []
    floor = floors.metric_floor
    if floor is not None and w.macro_f1 is not None and w.macro_f1_high is not None:
        severity: Severity | None = (
            "alert" if w.macro_f1_high < floor else "warning" if w.macro_f1 < floor else None
        )
        if severity is not None:
            found.append(Alert(
                w.index, w.start, "estimated quality", severity,
                f"estimated macro-F1 {w.macro_f1:.3f} (95% {w.macro_f1_low:.3f} to "
                f"{w.macro_f1_high:.3f}) is below the floor {floor:.3f}",
                f"check the shadow agreement and the drift of this window; {REDISTILL}",
            ))  # fmt: skip
    agreement_floor = floors.agreement_floor
    if (agreement_floor is not None and w.shadow_agreement is not None
            and w.shadow_high is not None and w.shadow_answers >= SHADOW_MIN_ANSWERS):  # fmt: skip
        severity2: Severity | None = (
            "alert" if w.shadow_high < agreement_floor
            else "warning" if w.shadow_agreement < agreement_floor else None
        )  # fmt: skip
        if severity2 is not None:
            found.append(Alert(
                w.index, w.start, "shadow agreement", severity2,
                f"the teacher agreed on {w.shadow_agreement:.1%} of {w.shadow_answers} sampled "
                f"requests (95% {w.shadow_low:.1%} to {w.shadow_high:.1%}), below the floor "
                f"{agreement_floor:.1%}",
                REDISTILL,
            ))  # fmt: skip
    return found


def _shadow_loss(w: WindowFigures) -> list[Alert]:
    if w.shadow_lost < SHADOW_LOSS_MIN or w.shadow_lost <= SHADOW_LOSS_SHARE * w.shadow_sampled:
        return []
    return [Alert(
        w.index, w.start, "shadow calls lost", "alert",
        f"{w.shadow_lost} of {w.shadow_sampled} shadow calls failed or were dropped "
        f"(more than {SHADOW_LOSS_SHARE:.0%})",
        "check that the teacher is reachable and fast enough; raise --shadow-queue or "
        "--shadow-timeout-s, or lower --shadow-fraction",
    )]  # fmt: skip


_CLIENT_ERRORS = ("bad_request", "too_large")
_FIX_CALLER = (
    "a caller sends requests the model refuses: the server's 400/413 answers say what is "
    "wrong with each; fix the calling application (one BYTES input named `text`, non-empty "
    "texts), or raise --max-text-bytes / --max-request-texts if its texts are legitimately "
    "long"
)
_FIX_SERVER = (
    "the model failed on requests: read the server's log (stderr) for the error class, "
    "check the machine's memory and disk, verify the bundle (`stillroom bundle verify`) and "
    "restart the server; if it persists, roll back to the previous bundle"
)


def _error_rate(w: WindowFigures, max_rate: float) -> list[Alert]:
    if not w.errors or w.error_rate is None or w.error_low is None or w.error_low <= max_rate:
        return []
    kinds = ", ".join(f"{count} {kind}" for kind, count in w.error_kinds)
    steps = []
    if any(kind in _CLIENT_ERRORS for kind, _ in w.error_kinds):
        steps.append(_FIX_CALLER)
    if any(kind not in _CLIENT_ERRORS for kind, _ in w.error_kinds):
        steps.append(_FIX_SERVER)
    return [Alert(
        w.index, w.start, "error rate", "alert",
        f"{w.errors} of {w.requests + w.errors} requests were refused or failed "
        f"({w.error_rate:.1%}, 95% {w.error_low:.1%} to {w.error_high or 0.0:.1%}; {kinds}), "
        f"above {max_rate:.1%}",
        "; ".join(steps),
    )]  # fmt: skip


def window_alerts(
    w: WindowFigures, floors: Floors, *, max_error_rate: float = MAX_ERROR_RATE
) -> list[Alert]:
    """Every alert and warning of one window."""
    return [*_drift_alerts(w), *_quality_alerts(w, floors), *_shadow_loss(w),
            *_error_rate(w, max_error_rate)]  # fmt: skip
