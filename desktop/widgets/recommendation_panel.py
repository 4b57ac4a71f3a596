"""The top of the evaluate page's results: what to ship, why, and how far to trust it.

It renders the stored evaluation's :class:`~core.evaluate.config.Recommendation` (ship the
quantized teacher, the student, or neither, with the differences that decide it), the
sample-size warnings and the file the export will ship with its SHA-256; it computes
nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from core.evaluate.config import EvaluateResult

_STYLE = {
    "student": "background:#e3f4e8;border:1px solid #4c9a64;color:#1f5a32;",
    "quantized_teacher": "background:#e3f4e8;border:1px solid #4c9a64;color:#1f5a32;",
    "neither": "background:#fbe7e5;border:1px solid #c0392b;color:#7a1f16;",
}
_WARNING = "background:#fff4e0;border:1px solid #e08a1e;color:#6b4106;"


class RecommendationPanel(QFrame):
    """The recommendation with its reasons, the data-size warnings and the shipped file."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recommendationFrame")
        self.headline = _label(self, "recommendationHeadline")
        self.headline.setStyleSheet("font-size:17px;font-weight:700;padding:8px 12px;")
        self.reasons = _label(self, "recommendationReasons")
        self.warnings = _label(self, "sampleSizeWarnings")
        self.warnings.setStyleSheet(_WARNING + "padding:6px 10px;border-radius:4px;")
        self.shipped = _label(self, "shippedFile")
        self.shipped.setProperty("role", "explanation")
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        for widget in (self.headline, self.reasons, self.warnings, self.shipped):
            column.addWidget(widget)

    def show_result(self, result: EvaluateResult) -> None:
        """Render one stored evaluation's recommendation, warnings and shipped file."""
        advice = result.recommendation
        self.headline.setVisible(advice is not None)
        self.reasons.setVisible(advice is not None)
        if advice is not None:
            self.headline.setText(f"Recommendation: {advice.headline}")
            self.headline.setStyleSheet(
                _STYLE.get(advice.choice, _WARNING)
                + "font-size:17px;font-weight:700;padding:8px 12px;border-radius:4px;"
            )
            self.headline.setAccessibleName(f"Recommendation: {advice.headline}")
            self.reasons.setText("\n".join(f"• {reason}" for reason in advice.reasons))
        self.warnings.setVisible(bool(result.warnings))
        header = (
            "Too little data for a trustworthy verdict:"
            if result.thin_verdict
            else "Fewer rows than the sample-size rules ask for (the set that decides the "
            "verdict has enough):"
        )
        self.warnings.setText(
            header + "\n" + "\n".join(f"• {warning}" for warning in result.warnings)
        )
        shipped = result.shipped
        if shipped is None:
            self.shipped.setText(
                "The file that ships was not scored in this evaluation: the verdict is the "
                "PyTorch student's, and the export scores the file it writes."
            )
        else:
            self.shipped.setText(
                f"The verdict is the file that ships ({shipped.precision.upper()} "
                f"{shipped.isa}, {shipped.size_bytes / 1e6:,.1f} MB, SHA-256 "
                f"{shipped.sha256[:16]}…): the export ships this very file."
            )
            self.shipped.setToolTip(f"{shipped.file}\nSHA-256 {shipped.sha256}")


def _label(parent: QWidget, name: str) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label
