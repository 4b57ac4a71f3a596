"""``stillroom bundle verify``: is this bundle exactly what was exported, and does it run?

Checks, in order, stopping at the first mismatch and naming its file: the manifest's
schema; its Ed25519 signature (by the pinned key, with ``--key``); every file's size and
SHA-256 (and that no file was added); the model loads in ONNX Runtime with the inputs and
outputs the manifest records; ``labels.json``; a self-test on the stored anonymized probe
inputs, whose expected outputs were computed with the shipped model at export time; and each
serving target's files (the Triton config against the graph; ``core.export.targets``).
The reviewer's ``SIGN-OFF.md`` is the one file outside the checksums: it is read and
reported, never checked (``core.export.signoff``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BundleVerifyError
from core.export import bundle_format as fmt
from core.export import targets
from core.export.integrity import check_files, load_verified_bundle
from core.export.reader import load_classifier
from core.export.runtime import softmax
from core.export.serving import graph_io
from core.export.signature import SignatureCheck
from core.export.signoff import SignOff, read_sign_off

__all__ = ["VerifyReport", "check_files", "check_io", "verify_bundle"]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What ``verify_bundle`` checked; any mismatch raises instead."""

    bundle: Path
    task: str
    files_checked: int
    probes_checked: int
    targets_checked: tuple[str, ...]  # what each serving target's check proved
    provider: str
    notes: tuple[str, ...] = ()
    signature: SignatureCheck | None = None
    sign_off: SignOff | None = None


def verify_bundle(path: Path, *, key: str | Path | None = None) -> VerifyReport:
    """Verify a bundle folder or zip.

    Args:
        path: the bundle.
        key: the signer's public key to require (PEM file or ``sha256:…`` key id); default
            ``$STILLROOM_BUNDLE_KEY``; without either the signature is checked against the
            key inside the bundle (integrity only: the report says it was not pinned).

    Raises:
        BundleError: nothing readable as a bundle is at ``path``, or ``key`` is unusable.
        BundleVerifyError: a check failed; ``.file`` names the file (exit code 1).
    """
    with load_verified_bundle(path, key=key) as bundle:
        root, manifest = bundle.root, bundle.manifest
        _check_labels(root, manifest)
        if manifest["task"] == "generation":
            from core.export.runtime_causal import verify_generation_probes

            provider, probes = verify_generation_probes(root, manifest)
        else:
            provider, probes = _check_classifier(root, manifest)
        checked = _check_targets(root, manifest)
        sign_off = read_sign_off(root)
    notes = () if probes else ("the bundle stores no probe inputs: no self-test was run",)
    return VerifyReport(Path(path), manifest["task"], bundle.files_checked, probes, checked,
                        provider, notes, bundle.signature, sign_off)  # fmt: skip


def _check_labels(root: Path, manifest: dict[str, Any]) -> None:
    if manifest["task"] != "classification":
        return
    try:
        labels = json.loads((root / fmt.LABELS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleVerifyError(fmt.LABELS, "missing or not valid JSON") from exc
    if labels != manifest["labels"]:
        raise BundleVerifyError(fmt.LABELS, "differs from the manifest's label list")


def check_io(session: Any, manifest: dict[str, Any], file: str) -> None:
    inputs, outputs = graph_io(session)
    for kind, graph in (("inputs", inputs), ("outputs", outputs)):
        recorded = [(t["name"], t["dtype"]) for t in manifest["model"][kind]]
        if [(t.name, t.type) for t in graph] != recorded:
            raise BundleVerifyError(file, f"its {kind} differ from the manifest's")


def _check_classifier(root: Path, manifest: dict[str, Any]) -> tuple[str, int]:
    model = load_classifier(root, manifest)
    check_io(model.session, manifest, manifest["model"]["file"])
    probes = _read_probes(root, manifest)
    temperature = float(manifest["calibration"]["temperature"])
    atol = float(manifest["probes"]["atol"])
    for index, probe in enumerate(probes):
        probs = softmax(model.run([probe["text"]]), temperature)[0]
        label = manifest["labels"][int(np.argmax(probs))]
        expected = np.asarray(probe["probabilities"], dtype=np.float64)
        if expected.shape != probs.shape:
            raise BundleVerifyError(fmt.PROBES, f"probe {index} has the wrong number of classes")
        diff = float(np.max(np.abs(probs - expected)))
        if label != probe["label"] or diff > atol:
            raise BundleVerifyError(
                manifest["model"]["file"],
                f"self-test failed on probe {index}: predicted {label} (expected "
                f"{probe['label']}), probabilities differ by {diff:.2e} (tolerance {atol:.0e})",
                "the model does not reproduce its export-time outputs here; check the "
                "onnxruntime version and CPU against the manifest",
            )
    return model.provider, len(probes)


def _read_probes(root: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        payload = json.loads((root / manifest["probes"]["file"]).read_text(encoding="utf-8"))
        probes = list(payload["inputs"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundleVerifyError(fmt.PROBES, "missing or not readable") from exc
    if len(probes) != manifest["probes"]["count"]:
        raise BundleVerifyError(fmt.PROBES, "holds another number of probes than the manifest")
    return probes


def _check_targets(root: Path, manifest: dict[str, Any]) -> tuple[str, ...]:
    named = [target for target in targets.TARGETS if target.key in manifest]
    for target in named:
        target.check(root, manifest)
    return tuple(target.checked for target in named)
