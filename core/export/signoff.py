"""``SIGN-OFF.md``: the model-risk reviewer's decision, written into the bundle after export.

The export leaves a blank form beside the model card. It is the one file of a bundle that
is deliberately *outside* the manifest's checksums and signature, because the reviewer fills
it in after the bundle was signed; it names the SHA-256 of the manifest it belongs to, so a
sign-off copied from another bundle is recognised. ``stillroom bundle verify`` ignores it
for the integrity checks and reports what it says (:func:`read_sign_off`).

Light on purpose (no numpy): ``bundle verify`` reads it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from core.export import bundle_format as fmt

FIELDS = ("Reviewer", "Date", "Decision", "Valid until", "Conditions")
DECISIONS = ("approved", "approved with conditions", "rejected")
_MANIFEST_FIELD = "Manifest SHA-256"
_LINE = re.compile(r"^\s*(?:[-*]\s*)?\**([A-Za-z0-9 -]+?)\**\s*:\s*(.*?)\s*$")


@dataclass(frozen=True, slots=True)
class SignOff:
    """What the reviewer wrote (empty strings: not filled in).

    ``for_this_bundle`` is False when the form names another manifest than the bundle's.
    """

    reviewer: str
    date: str
    decision: str
    valid_until: str
    conditions: str
    for_this_bundle: bool

    @property
    def signed(self) -> bool:
        return bool(self.reviewer and self.date and self.decision)

    def describe(self) -> str:
        """One line for ``bundle verify``."""
        if not self.for_this_bundle:
            return "SIGN-OFF.md names another bundle's manifest: it does not apply to this one"
        if not self.signed:
            return "not signed off yet (SIGN-OFF.md: reviewer, date and decision are blank)"
        text = f"{self.decision} by {self.reviewer} on {self.date}"
        if self.valid_until:
            text += f", valid until {self.valid_until}"
        return text + (f"; conditions: {self.conditions}" if self.conditions else "")


def blank_form(name: str, manifest_bytes: bytes) -> str:
    """The form the export writes, tied to the manifest's exact bytes."""
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    decisions = " / ".join(DECISIONS)
    return "\n".join(
        [
            f"# Sign-off: {name}",
            "",
            "To be filled in by the model-risk reviewer after reading MODEL_CARD.md and",
            "report.html. This file is deliberately outside the bundle's checksums and",
            "signature, so that it can be filled in after export; `stillroom bundle verify`",
            "reports what it says. Keep the manifest line: it ties the sign-off to this bundle.",
            "",
            f"- {_MANIFEST_FIELD}: {digest}",
            "- Reviewer: ",
            "- Date: ",
            f"- Decision: ({decisions})",
            "- Valid until: ",
            "- Conditions: ",
            "",
        ]
    )


def read_sign_off(root: Path) -> SignOff | None:
    """The bundle's sign-off form as filled in, or None when the bundle has none."""
    path = root / fmt.SIGN_OFF
    if not path.is_file():
        return None
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _LINE.match(line)
        if match:
            values[match.group(1).strip().lower()] = match.group(2).strip()
    decision = values.get("decision", "")
    if decision.startswith("(") and decision.endswith(")"):
        decision = ""  # the list of choices, left as it was
    digest = hashlib.sha256((root / fmt.MANIFEST).read_bytes()).hexdigest()
    named = values.get(_MANIFEST_FIELD.lower(), digest)
    return SignOff(
        reviewer=values.get("reviewer", ""),
        date=values.get("date", ""),
        decision=decision,
        valid_until=values.get("valid until", ""),
        conditions=values.get("conditions", ""),
        for_this_bundle=named == digest,
    )
