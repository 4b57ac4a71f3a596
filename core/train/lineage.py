"""The trained student as a plain Hugging Face folder, with the lineage a reviewer needs.

``lineage.json`` (DESIGN §7) records the student's base and where it was derived from, the
teacher and prompt version, the datasets' and the training examples' SHA-256, the full
config and seed, and the library versions; never record contents.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from core.errors import TrainDivergedError
from core.project import Project
from core.store import audit, records
from core.store.db import utc_now
from core.train.data import Example

LINEAGE_FILE = "lineage.json"
STUDENT_DIR = "student"
_PACKAGES = ("torch", "transformers", "tokenizers", "accelerate", "peft", "safetensors")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        versions["stillroom"] = metadata.version("stillroom")
    except metadata.PackageNotFoundError:
        versions["stillroom"] = "source"
    return versions


def examples_sha256(examples: Sequence[Example]) -> str:
    """One digest over what was learnt: record ids, input texts and teacher targets."""
    digest = hashlib.sha256()
    for example in sorted(examples, key=lambda e: e.record_id):
        target = example.probabilities if example.teacher_text is None else example.teacher_text
        digest.update(json.dumps([example.record_id, example.text, target, example.hard_label],
                                 ensure_ascii=False).encode("utf-8"))  # fmt: skip
    return digest.hexdigest()


def dataset_hashes(project: Project, record_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The source files (name, SHA-256) the training records came from."""
    return [
        {"id": dataset_id, "name": name, "sha256": sha256}
        for dataset_id, name, sha256 in records.source_datasets(project.store, record_ids)
    ]


def save_student(model: Any, tokenizer: Any, run_dir: Path, lineage: dict[str, Any]) -> Path:
    """Write the (merged) student and its lineage to ``<run_dir>/student`` atomically,
    owner-only whatever the process's umask.

    Raises:
        TrainDivergedError: a weight is NaN or infinite; nothing was written.
    """
    check_finite_weights(model)
    target = run_dir / STUDENT_DIR
    scratch = Path(tempfile.mkdtemp(prefix=".student-", dir=run_dir))
    try:
        model.save_pretrained(scratch, safe_serialization=True)
        tokenizer.save_pretrained(scratch)
        (scratch / LINEAGE_FILE).write_text(json.dumps(lineage, indent=2, default=str),
                                            encoding="utf-8")  # fmt: skip
        restrict_tree(scratch)
        if target.exists():
            shutil.rmtree(target)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def check_finite_weights(model: Any) -> None:
    """Refuse a model with any NaN or infinite parameter or floating-point buffer.

    Raises:
        TrainDivergedError: some are; the message counts them (values, never names of data).
    """
    import torch

    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    bad_tensors, bad_values = 0, 0
    with torch.no_grad():
        for tensor in tensors:
            count = int((~torch.isfinite(tensor)).sum().item())
            bad_tensors, bad_values = bad_tensors + (count > 0), bad_values + count
    if bad_values:
        raise TrainDivergedError(
            f"the trained student has {bad_values:,} NaN or infinite weights (in "
            f"{bad_tensors:,} of {len(tensors):,} tensors); it was not saved",
            "training diverged: lower the learning rate (--lr) and start a new run with "
            "--fresh, or check the teacher's outputs (their probabilities must be finite)",
        )


def restrict_tree(folder: Path) -> None:
    """Make ``folder`` and everything under it owner-only (0700 folders, 0600 files).

    Libraries create files with the process's umask; the CLI and the app set it to 077,
    and this keeps the train outputs private when the stage is called from elsewhere too.
    """
    if not folder.exists():
        return
    os.chmod(folder, 0o700)
    for root, dirs, files in os.walk(folder):
        for name, mode in [*((d, 0o700) for d in dirs), *((f, 0o600) for f in files)]:
            path = os.path.join(root, name)
            if not os.path.islink(path):  # a link's target is not ours to change
                os.chmod(path, mode)


def build_lineage(project: Project, run_id: str, **parts: Any) -> dict[str, Any]:
    """The lineage record: the given parts plus time, user, versions and the audit head."""
    return {
        "run_id": run_id,
        "created": utc_now(),
        "os_user": audit.os_user(),
        "task": project.settings.task,
        "labels": list(project.settings.labels),
        **parts,
        "versions": library_versions(),
        "audit_head_before_save": audit.head(project.store),
    }
