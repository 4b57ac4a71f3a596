"""The local teachers on a CUDA device give the same soft labels as on the CPU."""

from __future__ import annotations

import pytest

from core.teacher import local_causal, local_hf
from core.teacher.local_causal import LocalCausalTeacher
from core.teacher.local_hf import LocalClassifierTeacher
from core.teacher.prompts import default_template

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
LABELS = ("billing", "clinical", "other")


def _items(n):
    from tiny_models import anonymized_text

    from core.teacher.base import TeachItem

    return [TeachItem(i, "train", None, anonymized_text(LABELS[i % 3], i)) for i in range(n)]


def _outputs(teacher, n=12):
    return {o.record_id: o for b in teacher.outputs(_items(n)) for o in b.outputs}


@pytest.mark.parametrize("kind", ["classifier", "causal", "generation"])
def test_cuda_matches_cpu(monkeypatch, tiny_classifier, tiny_causal, kind):
    def build():
        if kind == "classifier":
            return LocalClassifierTeacher(tiny_classifier, LABELS, batch_size=5)
        task = "generation" if kind == "generation" else "classification"
        return LocalCausalTeacher(tiny_causal, task=task, labels=LABELS if task != "generation"
                                  else (), template=default_template(task), batch_size=5,
                                  max_new_tokens=4)  # fmt: skip

    on_cuda = build()
    assert on_cuda._device.type == "cuda"
    gpu = _outputs(on_cuda)
    for module in (local_hf, local_causal):
        monkeypatch.setattr(module, "pick_device", lambda: torch.device("cpu"))
    cpu = _outputs(build())
    assert gpu.keys() == cpu.keys()
    for key, out in gpu.items():
        if kind == "generation":  # greedy: the first token and its log-probability agree
            first, expected = out.token_logprobs[0], cpu[key].token_logprobs[0]
            assert first["id"] == expected["id"]
            assert first["logprob"] == pytest.approx(expected["logprob"], abs=1e-3)
        else:
            assert out.probabilities == pytest.approx(cpu[key].probabilities, abs=1e-3)
