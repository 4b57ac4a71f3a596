"""The teacher guide (issue 20): held-out scores only, and which folders read a prompt."""

from __future__ import annotations

import json

from core.teacher.guide import held_out, reads_prompt


def test_only_held_out_splits_are_scored():
    accuracy = {"train": 0.99, "validation": 0.8, "test": 0.9, "all": 0.97}
    counts = {"train": 800, "validation": 100, "test": 100, "all": 1000}
    scored = held_out(accuracy, counts)
    assert set(scored) == {"validation", "test", "validation and test"}
    assert scored["validation and test"] == (0.85, 200)


def test_only_language_models_read_a_prompt(tmp_path, tiny_causal, tiny_classifier):
    encoder = tmp_path / "encoder"
    encoder.mkdir()
    (encoder / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    assert reads_prompt(tiny_causal)
    assert not reads_prompt(tiny_classifier)
    assert not reads_prompt(encoder)
    assert reads_prompt(tmp_path / "model.gguf")
