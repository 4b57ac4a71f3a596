"""The file that ships is the file that was scored: its figures in the manifest equal a
re-score of the bundle by ``stillroom predict``; the model card reads as a model-risk
document; the reviewer's sign-off sits outside the checksums and is reported."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import numpy as np
import pytest
from export_helpers import build_project, read_manifest
from sklearn.metrics import accuracy_score, f1_score

from core.cli import main
from core.errors import BundleVerifyError
from core.evaluate.config import EvaluateConfig
from core.evaluate.metrics import expected_calibration_error
from core.export.config import ExportConfig
from core.export.verify import verify_bundle
from core.jobs.execute import run_stage
from core.jobs.registry import EVALUATE, EXPORT
from core.jobs.runs import latest_result
from core.project import Project


def predict_rescore(bundle, project_dir, tmp_path, capsys) -> dict[str, float]:
    """``stillroom predict`` on the test split, scored against its human labels."""
    with Project.open(project_dir) as project:
        rows = project.store.query(
            "SELECT r.label, a.text FROM records r JOIN anonymized a ON a.record_id = r.id "
            "WHERE r.split = 'test' ORDER BY r.id"
        )
    texts = tmp_path / "test.txt"
    texts.write_text("\n".join(row["text"] for row in rows) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["predict", str(bundle), "--file", str(texts), "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)["predictions"]
    truth = [row["label"] for row in rows]
    labels = list(predictions[0]["probabilities"])
    predicted = [p["label"] for p in predictions]
    probs = np.array([[p["probabilities"][label] for label in labels] for p in predictions])
    index = np.array([labels.index(label) for label in truth])
    return {
        "macro_f1": f1_score(truth, predicted, average="macro", zero_division=0),
        "accuracy": accuracy_score(truth, predicted),
        "ece": expected_calibration_error(probs, index),
        "rows": len(rows),
    }


def shipped_test_row(manifest):
    return next(r for r in manifest["shipped"]["rows"] if r["split"] == "test")


def test_the_shipped_file_is_the_evaluated_one_and_predict_reproduces_its_figures(
    exported, tmp_path, capsys
):
    manifest = read_manifest(exported.bundle)
    shipped = manifest["shipped"]
    model = (exported.bundle / "model.onnx").read_bytes()
    with Project.open(exported.project) as project:
        evaluated = latest_result(project, EVALUATE)
    assert evaluated.shipped is not None
    # The very file the evaluation scored: one SHA-256 from the run folder to the bundle.
    assert shipped["source"] == "evaluated"
    assert shipped["sha256"] == hashlib.sha256(model).hexdigest() == evaluated.shipped.sha256
    assert shipped["evaluate_run"] == evaluated.run_id
    assert exported.result["shipped_sha256"] == shipped["sha256"]
    row = shipped_test_row(manifest)
    again = predict_rescore(exported.bundle, exported.project, tmp_path, capsys)
    assert row["rows"] == again["rows"]
    assert row["metric"] == pytest.approx(again["macro_f1"], abs=1e-12)
    assert row["metric_ci"]["low"] <= row["metric"] <= row["metric_ci"]["high"]
    gated_ece = row["ece"] if row["ece_calibrated"] is None else row["ece_calibrated"]
    assert gated_ece == pytest.approx(again["ece"], abs=1e-4)  # predict rounds to 6 places
    # The gate judged this file: its verdict is the evaluation's test-set verdict.
    assert shipped["verdict"]["passed"] is evaluated.passed


def test_an_export_that_writes_another_file_scores_and_judges_it(tmp_path, capsys, trained_student):
    with build_project(tmp_path, trained_student, name="rescored") as project:
        # The evaluation judged the PyTorch student only: the export scores what it writes.
        config = EvaluateConfig(measure_latency=False, quantize_baseline=False, score_shipped=False)
        assert run_stage(project, EVALUATE, config).shipped is None
        result = run_stage(project, EXPORT, ExportConfig(out=tmp_path / "bundle"))
        path = project.path
    manifest = read_manifest(tmp_path / "bundle")
    assert result.shipped_source == "re-scored"
    assert "did not score an ONNX INT8 file" in result.shipped_why
    assert (
        manifest["shipped"]["sha256"]
        == hashlib.sha256((tmp_path / "bundle" / "model.onnx").read_bytes()).hexdigest()
    )
    row = shipped_test_row(manifest)
    again = predict_rescore(tmp_path / "bundle", path, tmp_path, capsys)
    assert row["metric"] == pytest.approx(again["macro_f1"], abs=1e-12)
    assert manifest["shipped"]["verdict"]["split"] == "test"
    card = (tmp_path / "bundle" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "scored at export on the test set" in card


def test_a_file_the_export_writes_that_fails_the_floor_is_refused(
    tmp_path, trained_student, monkeypatch
):
    from core.errors import ExportRefusedError
    from core.export import shipped

    with build_project(tmp_path, trained_student, name="refused") as project:
        config = EvaluateConfig(measure_latency=False, quantize_baseline=False, score_shipped=False)
        assert run_stage(project, EVALUATE, config).passed
        real = shipped.judge

        def strict(split, result, floor, model, on_bound):
            return real(split, result, type(floor)(min_retention=1.5), model, on_bound)

        monkeypatch.setattr(shipped, "judge", strict)
        with pytest.raises(ExportRefusedError, match="the file this export writes fails"):
            run_stage(project, EXPORT, ExportConfig(out=tmp_path / "bundle"))
        assert not (tmp_path / "bundle").exists()


# -- the model card -----------------------------------------------------------------------------

REQUIRED = (
    "Recommendation", "Decision summary", "Governance", "Intended use", "Labels", "Data",
    "How the teacher came to be", "The student", "Anonymization",
    "Evaluation of the file that ships", "Per-class retention (test set)",
    "Quantize-only baseline", "Calibration", "Human-review threshold",
    "Speed, size and cost", "Limitations and key assumptions", "Monitoring plan",
    "Export and parity", "Reproducibility and integrity", "Sign-off",
)  # fmt: skip
ABSOLUTE = re.compile(r"(?:^|[\s(`'\"=])(?:/[\w.-]+/|~/|[A-Za-z]:\\)")


def test_the_model_card_is_a_model_risk_document(exported):
    card = (exported.bundle / "MODEL_CARD.md").read_text(encoding="utf-8")
    manifest = read_manifest(exported.bundle)
    headings = re.findall(r"^## (.+)$", card, flags=re.M)
    assert headings == list(REQUIRED)
    assert not ABSOLUTE.search(card), ABSOLUTE.search(card)
    assert str(exported.project) not in card
    assert "{'" not in card
    assert '{"' not in card
    assert "': " not in card
    assert "LoRA —" not in card
    assert "prompt version ``" not in card
    assert manifest["shipped"]["sha256"] in card  # the shipped file, named by its checksum
    row = shipped_test_row(manifest)
    assert f"{row['metric']:.3f} [{row['metric_ci']['low']:.3f} to" in card  # with its interval
    assert "worst class is" in card
    for label in manifest["labels"]:
        assert f"| {label} |" in card


def test_the_card_takes_the_owners_words(tmp_path, trained_student):
    with build_project(tmp_path, trained_student, name="owned") as project:
        config = EvaluateConfig(measure_latency=False, quantize_baseline=False)
        run_stage(project, EVALUATE, config)
        export = ExportConfig(
            out=tmp_path / "bundle", owner="Claims analytics team",
            intended_use="Route incoming messages to the right desk.",
            label_definitions={"billing": "about money owed or paid"},
        )  # fmt: skip
        run_stage(project, EXPORT, export)
    card = (tmp_path / "bundle" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "| Owner | Claims analytics team |" in card
    assert "Route incoming messages to the right desk." in card
    assert "| billing | about money owed or paid |" in card


# -- the sign-off -------------------------------------------------------------------------------


def test_the_sign_off_is_outside_the_checksums_and_reported(exported, tmp_path, capsys):
    bundle = shutil.copytree(exported.bundle, tmp_path / "bundle")
    form = bundle / "SIGN-OFF.md"
    assert "SIGN-OFF.md" not in read_manifest(bundle)["files"]
    assert not verify_bundle(bundle).sign_off.signed
    filled = form.read_text(encoding="utf-8")
    for field, value in (("Reviewer", "Jane Reviewer"), ("Date", "2026-12-07"),
                         ("Valid until", "2027-12-07")):  # fmt: skip
        filled = filled.replace(f"- {field}: ", f"- {field}: {value}")
    filled = re.sub(r"- Decision: .*", "- Decision: approved with conditions", filled)
    form.write_text(filled, encoding="utf-8")
    report = verify_bundle(bundle)  # filling it in breaks no checksum
    assert report.sign_off.describe() == (
        "approved with conditions by Jane Reviewer on 2026-12-07, valid until 2027-12-07"
    )
    assert main(["bundle", "verify", str(bundle)]) == 0
    assert "sign-off (outside the checksums): approved with conditions by Jane" in (
        capsys.readouterr().out
    )
    # A sign-off copied from another bundle names another manifest: it does not apply.
    form.write_text(re.sub(r"SHA-256: \w+", "SHA-256: " + "0" * 64, filled), encoding="utf-8")
    assert not verify_bundle(bundle).sign_off.for_this_bundle
    # The exception is for that one file: any other unlisted file is still refused.
    (bundle / "NOTES.md").write_text("added later", encoding="utf-8")
    with pytest.raises(BundleVerifyError) as info:
        verify_bundle(bundle)
    assert info.value.file == "NOTES.md"
