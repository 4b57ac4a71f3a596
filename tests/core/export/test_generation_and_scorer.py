"""A causal LM student exported with its KV cache; the ONNX INT8 column for evaluate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from evaluate_helpers import cached, fake_train_run, fill_records
from export_helpers import fake_evaluate_run, read_manifest

from core.export.config import ExportConfig
from core.jobs.execute import run_stage
from core.jobs.registry import EXPORT
from core.project import Project, QualityFloor
from core.reporter import NullReporter


@pytest.fixture(scope="session")
def tiny_causal() -> Path:
    from tiny_models import build_causal

    return cached("tiny-causal-student", build_causal)


def test_a_causal_student_exports_with_kv_cache_parity_verify_and_predict(tmp_path, tiny_causal):
    from core.export.predict import predict
    from core.export.verify import verify_bundle

    with Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.5)) as project:
        fill_records(project, 30, labelled=False)
        fake_train_run(project, tiny_causal, labels=())
        fake_evaluate_run(project)
        out = tmp_path / "bundle"
        result = run_stage(
            project, EXPORT, ExportConfig(out=out, probes=3), reporter=NullReporter()
        )
    manifest = read_manifest(out)
    names = [t["name"] for t in manifest["model"]["inputs"]]
    assert "past_key_values.0.key" in names
    assert manifest["task"] == "generation"
    assert result.parity.metric_name == "greedy_match_32"
    assert result.parity.n == 9
    int8, fp32 = result.parity.variant("onnx_int8"), result.parity.variant("onnx_fp32")
    assert fp32 is not None
    assert fp32.agreement == 1.0
    assert fp32.metric == 1.0
    assert int8 is not None
    assert int8.agreement >= 0.99
    # Decoders get weight-only quantization, never dynamic INT8 (issue 17); parity chose
    # the smallest file that kept PyTorch's answers, and the card says which.
    assert result.parity.variant("onnx_int4") is not None
    quant = manifest["model"]["quantization"]
    assert quant["method"] == "weight-only"
    assert quant["operator"] == "MatMulNBits"
    chosen = result.parity.variant(quant["variant"])
    assert chosen is not None
    assert min(chosen.agreement, chosen.metric) >= 0.99
    assert manifest["model"]["precision"] == quant["precision"]
    card = (out / "MODEL_CARD.md").read_text()
    assert f"weight-only {quant['bits']}-bit" in card
    assert (out / "prompt.json").is_file()
    assert verify_bundle(out).probes_checked == 3
    generated = predict(
        out, ["<PERSON> writes: the invoice for account 3 was charged twice"], max_new_tokens=4
    )
    assert len(generated.generations) == 1
    from optimum.onnxruntime import ORTModelForCausalLM

    opened = ORTModelForCausalLM.from_pretrained(out, file_name="model.onnx")
    assert opened.use_cache
    assert isinstance(generated.generations[0], str)


def test_the_onnx_int8_scorer_matches_the_pytorch_student(tmp_path, trained_student):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.evaluate.config import SHIPPED
    from core.export.scorer import OnnxInt8Scorer

    labels = ("other", "billing", "clinical")  # not the model's order: the scorer reorders
    scorer = OnnxInt8Scorer.build(trained_student, labels, tmp_path / "work")
    texts = [
        "<PERSON> writes: the doctor changed the dose of medication 4",
        "<PERSON> writes: the payment plan 9 shows a late fee",
    ]
    ours = scorer.logits(texts, batch_size=2)
    tokenizer = AutoTokenizer.from_pretrained(trained_student)
    model = AutoModelForSequenceClassification.from_pretrained(trained_student).eval()
    with torch.inference_mode():
        theirs = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.numpy()
    order = [model.config.label2id[label] for label in labels]
    assert np.abs(ours - theirs[:, order]).max() < 0.1
    assert (ours.argmax(axis=1) == theirs[:, order].argmax(axis=1)).all()
    assert scorer.name == SHIPPED
    assert "INT8" in scorer.title
    assert scorer.devices() == ["cpu"]
    assert (
        0
        < scorer.size_bytes()
        < sum(p.stat().st_size for p in trained_student.glob("*.safetensors"))
    )
    scorer.close()


def test_a_lora_adapter_folder_is_merged_before_export(tmp_path, trained_student):
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.export.build import export_and_quantize
    from core.export.sources import StudentSource

    base = AutoModelForSequenceClassification.from_pretrained(trained_student)
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=4, target_modules=["query", "value"])
    adapter = tmp_path / "adapter"
    get_peft_model(base, config).save_pretrained(adapter)
    AutoTokenizer.from_pretrained(trained_student).save_pretrained(adapter)
    labels = ("billing", "clinical", "other")
    source = StudentSource(adapter, None, {})
    work = tmp_path / "work"
    config = ExportConfig(out=tmp_path / "b")
    built = export_and_quantize(config, source, "classification", work, labels, lambda f, m: None)
    assert built.merged_lora
    assert (tmp_path / "work" / "merged" / "config.json").is_file()
    assert built.shipped.is_file()
    assert built.labels == list(labels)
