"""Handing a bundle over: the export gate's state, a pre-flight check of the output, a
per-file checksum table and the copy-to-server instructions.

The desktop's export page reads these with the last export's typed result
(``latest(project, EXPORT)``, whose bundle path is resolved against the project's current
folder); they are fast (no model is loaded except by :func:`check_bundle`, which runs the
verifier) and import neither torch nor ONNX Runtime.
"""

from __future__ import annotations

import os
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BundleError, BundleVerifyError, ExportError, UserError
from core.evaluate.inputs import find_student
from core.export import bundle_format as fmt
from core.export import targets
from core.export.bundle import check_target
from core.export.verify import VerifyReport
from core.project import Project


@dataclass(frozen=True, slots=True)
class GateState:
    """Whether the student may be exported without an override.

    ``verdict`` is ``passed``, ``failed``, ``none`` (not evaluated) or ``no_student``.
    """

    verdict: str
    evaluate_run: str | None
    reasons: tuple[str, ...]

    @property
    def needs_override(self) -> bool:
        return self.verdict in ("failed", "none")


def gate_state(project: Project) -> GateState:
    """The newest evaluation of the student export would ship, as the export gate sees it."""
    from core.export.sources import latest_evaluation

    try:
        student = find_student(project, None, error=ExportError, purpose="export")
    except ExportError as exc:
        return GateState("no_student", None, (exc.message,))
    evaluation = latest_evaluation(project, student.model_dir)
    failures = () if evaluation.result is None else evaluation.result.failures
    return GateState(evaluation.verdict, evaluation.run_id, failures)


def require_gate(project: Project, override_floor: str | None) -> None:
    """Refuse, before any work, what the export stage would refuse at its start.

    Nothing is audited here: an override is audited by the export run that uses it.

    Raises:
        ExportError: there is no trained student.
        ExportRefusedError: the evaluation failed or is missing and there is no override.
    """
    from core.export.sources import check_gate, latest_evaluation

    student = find_student(project, None, error=ExportError, purpose="export")
    if override_floor is None:
        check_gate(project, latest_evaluation(project, student.model_dir), None, None)


def preflight(out: Path, force: bool) -> Path:
    """Refuse an output the export would fail on only after minutes of work.

    Returns:
        The absolute output path.

    Raises:
        OutputExistsError: ``out`` exists and ``force`` is off.
        ExportError: no folder on the way to ``out`` can be written.
    """
    target = Path(out).expanduser().absolute()
    check_target(target, force)
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(
            f"cannot write the bundle into {parent}: the folder is not writable",
            "choose a folder you can write to (for example one in your home folder)",
        )
    return target


@dataclass(frozen=True, slots=True)
class FileCheck:
    """One file of a bundle against its manifest entry."""

    name: str
    size: int | None
    ok: bool
    status: str  # "OK" or what differs


@dataclass(frozen=True, slots=True)
class BundleCheck:
    """Every file's checksum, and the verifier's verdict (``error``: the first mismatch)."""

    bundle: Path
    files: tuple[FileCheck, ...]
    report: VerifyReport | None
    error: BundleVerifyError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def check_bundle(path: Path) -> BundleCheck:
    """Run the bundle verifier and check every listed file's checksum on its own.

    The verifier stops at the first mismatch; the per-file table shows the rest too, so a
    reader sees at once whether one file or many were changed.

    Raises:
        BundleError: nothing readable as a bundle is at ``path``.
    """
    from core.export.reader import open_bundle, read_manifest
    from core.export.verify import verify_bundle

    with open_bundle(path) as root:
        manifest = read_manifest(root)
        files = tuple(file_checks(root, manifest))
    try:
        report = verify_bundle(path)
    except BundleVerifyError as exc:
        return BundleCheck(Path(path), files, None, exc)
    return BundleCheck(Path(path), files, report, None)


def file_checks(root: Path, manifest: dict[str, Any]) -> list[FileCheck]:
    """Each listed file (and any unlisted one) with its size and checksum status."""
    listed = manifest.get("files")
    listed = listed if isinstance(listed, dict) else {}
    out = []
    for name, entry in sorted(listed.items()):
        path = root / name
        if ".." in Path(name).parts or path.is_symlink() or not path.is_file():
            out.append(FileCheck(name, None, False, "missing"))
            continue
        size = path.stat().st_size
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        if isinstance(entry, dict) and size != entry.get("size"):
            out.append(FileCheck(name, size, False, "size differs from the manifest"))
        elif fmt.sha256_file(path) != expected:
            out.append(FileCheck(name, size, False, "checksum differs from the manifest"))
        else:
            out.append(FileCheck(name, size, True, "OK"))
    for name in fmt.bundle_files(root):
        if name not in listed:
            size = (root / name).stat().st_size
            out.append(FileCheck(name, size, False, "not in the manifest (added after export)"))
    return out


def serving_instructions(bundle: Path) -> str:
    """How to serve the bundle with each serving target (Triton) and with plain ONNX Runtime,
    as copyable text.

    Reads the manifest only (a zip is not extracted), so it is cheap to call on every view.

    Raises:
        BundleError: ``bundle`` is not a readable bundle.
        UserError: its manifest lacks what the instructions name.
    """
    bundle = Path(bundle)
    manifest = _manifest_only(bundle)
    zipped = bundle.is_file()
    folder = bundle.with_suffix("") if zipped else bundle
    try:
        text = _instructions(folder, manifest)
    except (KeyError, TypeError) as exc:
        raise UserError(
            f"{bundle} has an incomplete manifest", "verify the bundle, or export it again"
        ) from exc
    if not zipped:
        return text
    unzip = f"unzip {shlex.quote(str(bundle))} -d {shlex.quote(str(folder))}"
    return f"The bundle is a zip: unzip it first\n     {unzip}\n\n{text}"


def _manifest_only(bundle: Path) -> dict[str, Any]:
    from core.export.reader import open_bundle, parse_manifest, read_manifest

    if not (bundle.is_file() and zipfile.is_zipfile(bundle)):
        with open_bundle(bundle) as root:
            return read_manifest(root)
    try:
        with zipfile.ZipFile(bundle) as archive:
            data = archive.read(fmt.MANIFEST)
    except (KeyError, OSError, zipfile.BadZipFile) as exc:
        raise BundleError(
            f"{bundle} holds no readable {fmt.MANIFEST}",
            "pass the folder or .zip that `stillroom export` wrote",
        ) from exc
    return parse_manifest(data)


def _instructions(bundle: Path, manifest: dict[str, Any]) -> str:
    quoted = shlex.quote(str(bundle))
    lines = []
    for target in targets.TARGETS:
        if target.key in manifest:
            lines += [*target.instructions(bundle, manifest), ""]
    lines += [
        "Run with ONNX Runtime alone (no Triton, no PyTorch)",
        "1. Copy the whole bundle folder to the server:",
        f"     scp -r {quoted} SERVER:/opt/models/",
        "2. Label a text with Stillroom's command line (it checks the bundle's signature and",
        "   checksums first; PUB is the public key IT pinned, from `stillroom keys",
        "   export-public`):",
        f'     stillroom predict {quoted} --key PUB --text "a sample request"',
    ]
    if manifest["task"] == "classification":
        lines += [
            "3. Or in Python (pip install onnxruntime tokenizers numpy; set b to where the",
            "   bundle is on the server):",
            _snippet(bundle),
        ]
    return "\n".join(lines) + "\n"


def _snippet(bundle: Path) -> str:
    """Six lines of Python that label one text exactly as ``stillroom predict`` does."""
    return (
        "import json, numpy as np, onnxruntime as ort; from tokenizers import Tokenizer\n"
        f"b = {str(bundle)!r}; m = json.load(open(b + '/manifest.json')); "
        "s = ort.InferenceSession(b + '/' + m['model']['file'])\n"
        "t = Tokenizer.from_file(b + '/' + m['tokenizer']['file']); "
        "t.enable_truncation(m['max_length']); e = t.encode('a sample request')\n"
        "f = {'input_ids': e.ids, 'attention_mask': e.attention_mask, "
        "'token_type_ids': e.type_ids}\n"
        "z = s.run(['logits'], {i.name: np.array([f[i.name]], dtype=np.int64) for i in "
        "s.get_inputs()})[0][0] / m['calibration']['temperature']\n"
        "p = np.exp(z - z.max()); p /= p.sum(); "
        "print(m['labels'][int(p.argmax())], dict(zip(m['labels'], p.round(4).tolist())))\n"
    )
