"""The project's anonymization goes with the bundle (settings in the manifest, the custom
recognizers as ``anonymize_rules.json``; never the vault) and the shadow worker applies it."""

from __future__ import annotations

import json

from evaluate_helpers import build_trained_student, cached
from export_helpers import build_project, fake_evaluate_run

from core.anonymize.rules import RULES_FILE
from core.export.config import ExportConfig
from core.jobs.execute import run_stage
from core.jobs.registry import EXPORT
from core.serve.shadow import WorkerSettings
from core.serve.shadow_worker import _Anonymizer

RULES = {"patterns": [{"name": "ward", "entity_type": "WARD_ID", "regex": "W-\\d{4}",
                       "score": 0.9}]}  # fmt: skip


def test_custom_recognizers_ride_in_the_bundle_and_anonymize_shadow_text(tmp_path):
    student = cached("tiny-student", build_trained_student)
    with build_project(tmp_path, student, name="rules", rows=60) as project:
        (project.path / RULES_FILE).write_text(json.dumps(RULES))
        fake_evaluate_run(project)
        run_stage(project, EXPORT, ExportConfig(out=tmp_path / "bundle"))
    carried = (tmp_path / "bundle" / RULES_FILE).read_bytes()
    assert json.loads(carried) == RULES
    assert not list((tmp_path / "bundle").rglob("*vault*"))
    settings = WorkerSettings(
        task="classification", labels=("a", "b"), rules=carried, keep_anonymized=True,
        anonymize={"pattern_only": True, "operator": "pseudonym"}, teacher=None, teach=None,
        prompt=None,
    )  # fmt: skip
    anonymize = _Anonymizer(settings)
    (text,) = anonymize(["moved to W-1234, mail jo@example.com"])
    assert "W-1234" not in text
    assert "jo@example.com" not in text
    assert "<WARD_ID" in text  # pseudonym needs the vault, which stays home: replaced
