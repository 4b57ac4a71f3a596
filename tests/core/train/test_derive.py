"""Derived students: fewer layers, the source's own weights, loadable by plain transformers."""

from __future__ import annotations

import json

import pytest

from core.errors import StudentModelError
from core.train.derive import DERIVATION_FILE, derive_student, evenly_spaced

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("total", "keep", "expected"),
    [(6, 3, [0, 3, 5]), (6, 2, [0, 5]), (12, 6, [0, 2, 4, 7, 9, 11]), (4, 1, [3]),
     (30, 10, [0, 3, 6, 10, 13, 16, 19, 23, 26, 29])],
)  # fmt: skip
def test_evenly_spaced_keeps_the_first_and_last_layer(total, keep, expected):
    assert evenly_spaced(total, keep) == expected


def test_a_derived_bert_keeps_the_source_layers_and_head(tmp_path, tiny_bert4):
    derived = derive_student(tiny_bert4, 2, tmp_path / "bert2")
    assert derived.kept_layers == (0, 3)
    source = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert4)
    student = transformers.AutoModelForSequenceClassification.from_pretrained(derived.folder)
    assert student.config.num_hidden_layers == 2
    assert torch.equal(student.bert.encoder.layer[1].output.dense.weight,
                       source.bert.encoder.layer[3].output.dense.weight)  # fmt: skip
    assert torch.equal(student.classifier.weight, source.classifier.weight)
    assert torch.equal(student.bert.embeddings.word_embeddings.weight,
                       source.bert.embeddings.word_embeddings.weight)  # fmt: skip
    tokenizer = transformers.AutoTokenizer.from_pretrained(derived.folder)
    logits = student(**tokenizer(["the invoice was charged twice"], return_tensors="pt")).logits
    assert logits.shape == (1, 3)
    recorded = json.loads((derived.folder / DERIVATION_FILE).read_text())
    assert recorded["kept_layers"] == [0, 3]


def test_a_derived_llama_generates_with_renumbered_cache_layers(tmp_path, tiny_causal):
    derived = derive_student(tiny_causal, 1, tmp_path / "llama1")
    model = transformers.AutoModelForCausalLM.from_pretrained(derived.folder)
    source = transformers.AutoModelForCausalLM.from_pretrained(tiny_causal)
    assert model.config.num_hidden_layers == 1
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == [0]
    assert torch.equal(model.model.layers[0].mlp.up_proj.weight,
                       source.model.layers[1].mlp.up_proj.weight)  # fmt: skip
    tokenizer = transformers.AutoTokenizer.from_pretrained(derived.folder)
    out = model.generate(**tokenizer(["the invoice"], return_tensors="pt"), max_new_tokens=3,
                         do_sample=False, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    assert out.shape[1] > 2


def test_deriving_again_reuses_the_folder(tmp_path, tiny_bert4):
    first = derive_student(tiny_bert4, 2, tmp_path / "bert2")
    stamp = (first.folder / "model.safetensors").stat().st_mtime_ns
    derive_student(tiny_bert4, 2, tmp_path / "bert2")
    assert (first.folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_bad_derivations_say_what_works(tmp_path, tiny_bert4):
    with pytest.raises(StudentModelError, match="has 4 layers"):
        derive_student(tiny_bert4, 4, tmp_path / "same")
    folder = tmp_path / "gpt2"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "gpt2", "n_layer": 4}')
    with pytest.raises(StudentModelError, match="gpt2 models are not supported"):
        derive_student(folder, 2, tmp_path / "out")


def test_derived_students_that_cannot_recover_are_warned_about(tmp_path):
    # Issue 17: 6 of 30 decoder layers trained with LoRA learned nothing.
    from core.train.derive import DerivedStudent, derive_warnings

    six = DerivedStudent(tmp_path, tmp_path, "llama", 30, (0, 6, 12, 18, 24, 29))
    notes = derive_warnings(six, lora=True, task="generation")
    assert any("full fine-tune" in n for n in notes)
    assert any("keep at least 10 layers" in n for n in notes)
    twenty = DerivedStudent(tmp_path, tmp_path, "llama", 30, tuple(range(20)))
    assert derive_warnings(twenty, lora=False, task="generation") == []
    assert derive_warnings(six, lora=False, task="classification") == []
