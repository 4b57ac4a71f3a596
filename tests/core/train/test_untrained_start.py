"""Issue 17, item 3: derived students default to a full fine-tune keeping most layers, and a
student no better than its untrained start (validation at step 0) is flagged to the user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.commands.train_commands import render_train
from core.stage_states import stage_states
from core.train.config import TrainResult
from core.train.derive import default_layers

transformers = pytest.importorskip("transformers")


def test_default_layers_keep_two_thirds_of_a_decoder_and_half_of_an_encoder(
    tmp_path, tiny_bert4, tiny_causal
):
    assert default_layers(tiny_bert4) == (2, 4)
    assert default_layers(tiny_causal) == (1, 2)  # never all of them
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "config.json").write_text(json.dumps({"model_type": "llama",
                                                  "num_hidden_layers": 30}))  # fmt: skip
    assert default_layers(deep) == (20, 30)  # SmolLM2-135M: 20 of 30, not 6


def test_an_untrained_student_is_flagged_everywhere(capsys, taught, tiny_causal):
    # A learning rate too small to move a weight: the student ends where it started.
    code = main(["train", str(taught.path), "--derive", str(tiny_causal), "--lr", "1e-12",
                 "--epochs", "1", "--batch-size", "4", "--device", "cpu"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "step 0: eval_loss" in err  # the untrained start is scored and shown
    assert "untrained start (step 0): validation loss" in out
    assert "NEEDS ATTENTION: the student is no better than its untrained start" in out
    # Defaults: the derived decoder keeps two thirds of its layers, fully fine-tuned.
    assert "the derived student keeps 1 of 2 layers (the default" in out
    assert "the kept layers and the output layer copied from it" in out
    assert "classifier" not in out + err  # issue 17, item 6: no classification wording
    run_dir = next(p for p in (taught.path / "runs").iterdir() if p.name.startswith("train-"))
    lineage = json.loads((run_dir / "student" / "lineage.json").read_text())
    assert lineage["training"]["lora"] is None
    assert lineage["student"]["derived_from"]["kept_layers"] == [1]
    first = json.loads((run_dir / "curves.jsonl").read_text().splitlines()[0])
    assert first["step"] == 0
    assert "eval_loss" in first
    state = stage_states(taught)["train"]
    assert state.state == "needs_attention"
    assert "no better than its untrained start" in state.reason


def _result(initial: dict[str, float], best: dict[str, float], metric: str) -> TrainResult:
    return TrainResult(
        run_id="r", model_dir=Path("s"), lineage_path=Path("l"), curves_path=Path("c"),
        task="generation" if metric == "loss" else "classification", teacher_id="t",
        prompt_version="p", resumed=False, resumed_from_step=0, global_step=4, epochs_run=1.0,
        best_val_metric=best[metric], val_metric_name=metric, stopped_early=False,
        train_examples=12, validation_examples=4, samples_per_s=1.0, peak_memory_mb=1.0,
        device="cpu", batch_size=4, grad_accum=1, oom_retries=0, seconds=1.0,
        truncated_share=0.0, validation=best, initial_validation=initial,
    )  # fmt: skip


def test_the_comparison_follows_the_metric_the_best_checkpoint_was_picked_on():
    assert _result({"loss": 5.0}, {"loss": 5.0}, "loss").no_better_than_start
    assert not _result({"loss": 5.0}, {"loss": 4.2}, "loss").no_better_than_start
    assert _result({"macro_f1": 0.4}, {"macro_f1": 0.4}, "macro_f1").no_better_than_start
    improved = _result({"macro_f1": 0.4}, {"macro_f1": 0.6}, "macro_f1")
    assert not improved.no_better_than_start
    assert improved.needs_attention is None
    assert render_train(improved)[-1].startswith("  curves:")
    # A result from before the step-0 figure was recorded is never flagged.
    assert _result({}, {"loss": 9.0}, "loss").needs_attention is None
