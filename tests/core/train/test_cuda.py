"""Training on a CUDA device: mixed precision, LoRA, GPU selection, a real out-of-memory."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.errors import TrainOutOfMemoryError
from core.jobs.execute import run_stage
from core.jobs.registry import TRAIN
from core.reporter import NullReporter
from core.train.config import TrainConfig

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _config(student, **values):
    base = dict(student=str(student), epochs=2, batch_size=4, checkpoint_every=4,
                early_stopping=0, device="cuda")  # fmt: skip
    base.update(values)
    return TrainConfig(**base)


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_trains_on_the_gpu_in_mixed_precision(train_project, tiny_classifier, lora):
    from transformers import AutoModelForSequenceClassification

    result = run_stage(train_project, TRAIN, _config(tiny_classifier, lora=lora),
                       reporter=NullReporter())  # fmt: skip
    assert result.device.startswith("cuda:0")
    assert result.peak_memory_mb > 0
    lineage = json.loads(result.lineage_path.read_text())
    assert lineage["training"]["precision"] in ("bf16", "fp32")
    model = AutoModelForSequenceClassification.from_pretrained(result.model_dir)  # on the CPU
    assert next(model.parameters()).dtype == torch.float32


def test_a_real_gpu_out_of_memory_is_explained(train_project, tiny_classifier):
    from transformers import TrainerCallback

    class Allocate(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 3:
                torch.empty(2**46, dtype=torch.uint8, device="cuda")  # 64 TiB

    with pytest.raises(TrainOutOfMemoryError, match="ran out of GPU memory") as raised:
        run_stage(train_project, TRAIN, _config(tiny_classifier), reporter=NullReporter(),
                  callbacks=[Allocate()])  # fmt: skip
    assert "--batch-size 2 --grad-accum 2" in raised.value.hint
    torch.cuda.empty_cache()


def test_gpu_selection_in_a_worker(capsys, train_project, tiny_classifier):
    code = main(["train", str(train_project.path), "--student", str(tiny_classifier),
                 "--epochs", "1", "--batch-size", "4", "--device", "cuda:0", "--worker",
                 "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["device"].startswith("cuda:0")
