"""The serving targets every bundle carries (DESIGN §8): one line each.

A target is a :class:`~core.export.serving.Target` in its own module; adding one (a KServe
``InferenceService`` manifest) is that module and a line in :data:`TARGETS`. The export
writes and describes every target, ``bundle verify`` checks each one the manifest names (a
bundle made before a target existed still verifies), and the export page and handoff show
each one's deploy steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.export.serving import Manifest, Serving, Target
from core.export.triton import TRITON

TARGETS: tuple[Target, ...] = (TRITON,)


def sections(serving: Serving) -> dict[str, dict[str, Any]]:
    """Every target's manifest section, under its key."""
    return {target.key: target.section(serving) for target in TARGETS}


def write_targets(root: Path, serving: Serving, manifest: Manifest) -> None:
    """Write every target's files under the bundle ``root`` (before the checksums)."""
    for target in TARGETS:
        target.write(root, serving, manifest[target.key])


def check_targets(root: Path, manifest: Manifest) -> tuple[str, ...]:
    """Check each target the manifest names; what each proved.

    Raises:
        BundleVerifyError: a target's files do not fit the manifest or the model.
    """
    checked = []
    for target in TARGETS:
        if target.key in manifest:
            target.check(root, manifest)
            checked.append(target.checked)
    return tuple(checked)


def instructions(bundle: Path, manifest: Manifest) -> list[str]:
    """Each target's deploy steps that the manifest names, a blank line after each."""
    lines: list[str] = []
    for target in TARGETS:
        if target.key in manifest:
            lines += [*target.instructions(bundle, manifest), ""]
    return lines
