"""A generation project end to end through the CLI on a tiny model: every output speaks of
texts and ROUGE-L, never of labels, accuracy or calibration (issue 17)."""

from __future__ import annotations

import csv
import json
import re

import pytest
from evaluate_helpers import cached

from core.cli import main

# Words that belong to classification only; none may appear in a generation project's
# teach, evaluate, export or status output, nor in its model card.
CLASSIFICATION = re.compile(
    r"accuracy|macro[-_ ]?f1|\bECE\b|soft label|label set|labels outside|human labels|"
    r"calibrat|temperature|>>> None|labels: \(none|stratified by label|confusion|per-class|"
    r"\[\]\s*$",
    re.IGNORECASE | re.MULTILINE,
)
COMPLAINTS = ("chest pain", "a cough", "a headache", "ankle swelling", "palpitations")
PLANS = ("an ECG", "a chest X-ray", "rest and fluids", "a Doppler scan", "a Holter monitor")


@pytest.fixture(scope="module")
def tiny_causal():
    from tiny_models import build_causal

    return cached("tiny-causal-student", build_causal)


def _notes(path):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["note", "summary"])
        for i in range(40):
            complaint, plan = COMPLAINTS[i % 5], PLANS[(i // 5) % 5]
            note = (f"Patient seen on ward round {i}, MRN 4821{i:04d}, tel 617-555-01{i:02d}, "
                    f"with {complaint}. Plan: {plan}.")  # fmt: skip
            writer.writerow([note, f"{complaint}; plan {plan}"])


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.slow
def test_generation_outputs_have_no_classification_wording(capsys, tmp_path, tiny_causal):
    project, data, bundle = tmp_path / "gen", tmp_path / "notes.csv", tmp_path / "bundle"
    _notes(data)
    steps = [
        ("init", project, "--task", "generation", "--floor", "0.5"),
        ("import", project, data, "--text", "note", "--label", "summary"),
        ("anonymize", project, "--pattern-only"),
        ("teach", project, "--teacher", "labels"),
        ("train", project, "--student", tiny_causal, "--epochs", "1", "--max-length", "96"),
        ("evaluate", project, "--max-new-tokens", "6", "--latency-runs", "2", "--no-baseline"),
        ("export", project, "--out", bundle, "--override-floor", "a test of the wording"),
        ("status", project),
    ]
    outputs = {}
    for i, argv in enumerate(steps):
        code, out = _run(capsys, *argv)
        assert code in (0, 1), (argv[0], out)
        outputs[f"{i} {argv[0]}"] = out
    card = (bundle / "MODEL_CARD.md").read_text(encoding="utf-8")
    outputs["card"] = card
    (tmp_path / "outputs.json").write_text(json.dumps(outputs, indent=1))
    found = {name: sorted({m.group(0) for m in CLASSIFICATION.finditer(text)})
             for name, text in outputs.items()}  # fmt: skip
    assert not any(found.values()), found
    assert "ROUGE-L" in outputs["3 teach"]
    # The prompt is cut from the left, so the note does not say "the end of an input".
    assert "the start of a prompt" in outputs["4 train"]
    assert "end of an input" not in outputs["4 train"]
    # The shipped file is scored at export and its figures are in the card.
    assert "student as shipped (ONNX INT" in card
    assert "ROUGE-L" in card
    assert "    test: ROUGE-L" in outputs["6 export"]
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["quantization"]["method"] == "weight-only"
