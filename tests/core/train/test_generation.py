"""Generation: SFT on the teacher's text with the prompt masked, token-level KL when the
student shares the teacher's tokenizer, and a clear note when it does not."""

from __future__ import annotations

import json

import pytest

from core.jobs.execute import run_stage
from core.jobs.registry import TRAIN
from core.reporter import NullReporter
from core.teacher.prompts import default_template
from core.train.config import TrainConfig
from core.train.data import load_data, pick_teacher
from core.train.features import Collator, generation_features, prompt_ids
from core.train.losses import IGNORE_INDEX

transformers = pytest.importorskip("transformers")


def _config(**values):
    return TrainConfig(epochs=1, batch_size=4, checkpoint_every=2, device="cpu", **values)


def test_targets_are_the_teachers_token_ids_with_the_prompt_masked(taught, tiny_causal):
    data = load_data(taught, "generation", pick_teacher(taught, None, None),
                     allow_raw_text=False, hard_labels="human", alpha=0.5, seed=1)  # fmt: skip
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_causal)
    example = data.train[0]
    features = generation_features([example], tokenizer, [example.text], 128,
                                   use_teacher_ids=True)  # fmt: skip
    item = features.items[0]
    head = prompt_ids(tokenizer, example.text)
    teacher_ids = [entry["id"] for entry in example.token_logprobs]
    assert item["input_ids"] == head + teacher_ids + [tokenizer.eos_token_id]
    assert item["labels"][: len(head)] == [IGNORE_INDEX] * len(head)
    assert item["labels"][len(head) :] == [*teacher_ids, tokenizer.eos_token_id]
    # Each target's top-k starts with the token the teacher chose.
    assert [pairs[0][0] for pairs in item["topk"]] == teacher_ids
    assert all(len(pairs) > 1 for pairs in item["topk"])
    batch = Collator(tokenizer.pad_token_id, "generation")(features.items)
    width = len(item["input_ids"])
    assert batch["topk_ids"].shape[:2] == batch["topk_logprobs"].shape[:2] == (1, width)
    assert batch["topk_ids"][0, len(head)].tolist()[0] == teacher_ids[0]


def test_a_student_with_the_teachers_tokenizer_gets_token_level_kl(taught, tiny_causal):
    result = run_stage(taught, TRAIN, _config(derive=str(tiny_causal), layers=1),
                       reporter=NullReporter())  # fmt: skip
    assert result.token_kl is True
    assert result.val_metric_name == "loss"
    model = transformers.AutoModelForCausalLM.from_pretrained(result.model_dir)
    assert model.config.num_hidden_layers == 1
    lineage = json.loads(result.lineage_path.read_text())
    # The built-in generation prompt (issue 17: an instruction around the text).
    assert lineage["teacher"]["prompt_template"] == default_template("generation").text


def test_alpha_zero_is_plain_sft_on_every_example(taught, tiny_causal):
    result = run_stage(taught, TRAIN, _config(student=str(tiny_causal), alpha=0.0),
                       reporter=NullReporter())  # fmt: skip
    assert result.token_kl is False
    assert result.train_examples == 12
    assert result.skipped == {}


def test_a_student_with_another_tokenizer_gets_sft_only_and_a_note(taught, other_tokenizer_causal):
    result = run_stage(taught, TRAIN, _config(student=str(other_tokenizer_causal)),
                       reporter=NullReporter())  # fmt: skip
    assert result.token_kl is False
    assert any("tokenizer differs from the teacher's" in note for note in result.notes)


def test_lora_on_a_decoder(taught, tiny_causal):
    result = run_stage(taught, TRAIN, _config(student=str(tiny_causal), lora=True),
                       reporter=NullReporter())  # fmt: skip
    lineage = json.loads(result.lineage_path.read_text())
    assert lineage["training"]["lora"]["targets"] == ["k_proj", "o_proj", "q_proj", "v_proj"]
    transformers.AutoModelForCausalLM.from_pretrained(result.model_dir)
