"""Projects for the export tests: the evaluate tests' tiny trained student, records with
planted PII in their raw text, and a real or faked evaluation.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.evaluate.config import EvaluateConfig, EvaluateResult
from core.jobs.registry import EVALUATE, TRAIN
from core.jobs.runs import create_run, latest_result
from core.project import Project

sys.path.insert(0, str(Path(__file__).parents[1] / "evaluate"))

from evaluate_helpers import (
    add_teacher_outputs,
    fake_train_run,
    fill_records,
    finish_run,
    make_project,
)

PLANTED = ("Jane Roe", "jane.roe{i}@example.com", "078-05-{i:04d}")


def planted_strings(count: int) -> list[str]:
    """Every PII-looking string planted in the raw text of ``count`` records."""
    return ["Jane Roe"] + [p.format(i=i) for p in PLANTED[1:] for i in range(count)]


def build_project(tmp_path: Path, student: Path, name: str = "exp", rows: int = 90) -> Project:
    """A classification project (floor: retention 0.5) with a succeeded train run.

    Each raw text names a person and carries an e-mail address and an SSN; the anonymized
    text has placeholders instead, as the anonymize stage leaves it.
    """
    project = make_project(tmp_path, name, min_retention=0.5)
    ids = fill_records(project, rows)
    with project.store.transaction() as conn:
        for i, record in enumerate(ids):
            pii = f" contact {PLANTED[1].format(i=i)} ssn {PLANTED[2].format(i=i)}"
            conn.execute("UPDATE records SET text = text || ? WHERE id = ?", (pii, record))
            conn.execute(
                "UPDATE anonymized SET text = text || ' contact <EMAIL_ADDRESS> ssn <US_SSN>' "
                "WHERE record_id = ?",
                (record,),
            )
    add_teacher_outputs(project)
    fake_train_run(project, student)
    return project


def student_dir(project: Project) -> Path:
    found = latest_result(project, TRAIN)
    assert found is not None
    return found.model_dir


def fake_evaluate_run(project: Project, *, passed: bool = True, temperature: float = 1.5) -> str:
    """A finished evaluate run of the project's student, as the evaluate stage records it."""
    student = student_dir(project)
    run_id = create_run(project, EVALUATE, EvaluateConfig())
    report = project.run_dir(run_id) / "report.html"
    report.write_text("<html><body>figures only</body></html>", encoding="utf-8")
    (student / "calibration.json").write_text(json.dumps({"temperature": temperature}))
    failures = () if passed else ("test: retention 0.4000 is below the floor 0.5",)
    result = EvaluateResult(
        run_id=run_id, task="classification", primary_metric="macro_f1", reference="human",
        student_dir=student, teacher_id=None, passed=passed, test_passed=passed,
        edge_passed=passed, failures=failures, temperature=temperature, calibration_file=None,
        report_html=report, report_pdf=None, headline=(), notes=(),
    )  # fmt: skip
    with project.store.transaction() as conn:
        conn.execute(
            "INSERT INTO metrics (run_id, split, name, value) VALUES (?, 'test', "
            "'student.accuracy', 0.8), (?, 'test', 'student.retention', 0.9)",
            (run_id, run_id),
        )
    finish_run(project, run_id, result)
    return run_id


def raw_texts(project: Project) -> list[str]:
    return [str(r["text"]) for r in project.store.query("SELECT text FROM records")]


def bundle_blobs(bundle: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every file of a bundle folder or zip, zip entries decompressed."""
    if bundle.is_file():
        with zipfile.ZipFile(bundle) as archive:
            yield bundle.name, bundle.read_bytes()
            for info in archive.infolist():
                yield info.filename, archive.read(info)
        return
    for path in sorted(bundle.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(bundle)), path.read_bytes()


def forms(text: str) -> list[bytes]:
    """The ways a string can appear in a file: UTF-8, JSON-escaped, UTF-16."""
    escaped = json.dumps(text)[1:-1]
    return [text.encode(), escaped.encode(), text.encode("utf-16-le")]


def copy_bundle(bundle: Path, target: Path) -> Path:
    shutil.copytree(bundle, target)
    return target


def read_manifest(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))


def project_key(project: Path) -> Path:
    """The project's own bundle signing key file."""
    return project / "keys" / "bundle_signing.key"


def new_key_file(path: Path) -> Path:
    """A fresh Ed25519 private key, PEM PKCS#8, mode 0600 (someone else's key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    os.chmod(path, 0o600)
    return path


def resign(bundle: Path, key_file: Path, *, name_key: bool = True) -> None:
    """Sign the bundle's manifest with the key in ``key_file``, as an attacker who has
    only their own key would: first naming that key in the manifest (``name_key``)."""
    from core.export.bundle import json_bytes
    from core.export.keys import load_signer
    from core.export.signature import write_signature

    signer = load_signer(key_file, "project")
    if name_key:
        manifest = read_manifest(bundle)
        manifest["signing"]["key_id"] = signer.key_id
        (bundle / "manifest.json").write_bytes(json_bytes(manifest))
    write_signature(bundle, signer)
