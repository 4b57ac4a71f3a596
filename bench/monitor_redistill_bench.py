"""The re-distillation half of ``bench/monitor_bench.py``: uncertainty vs random sampling of
the same teacher budget, on the demo's student, against a held-out shifted slice.

At bench scale: the demo's teacher and student as PyTorch models, a plain fine-tuning loop
(KL to the teacher's probabilities) on the chosen snippets plus the original training texts,
rather than the train stage (whose run on the demo the user guide reports).
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.monitor.choose import choose
from core.monitor.drift import drift_scores, features
from core.monitor.reference import reference_from
from core.serve.fingerprint import counts

_BATCH = 32
_MAX_LENGTH = 128


def _probs(model: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), _BATCH):
            enc = tokenizer(texts[start : start + _BATCH], padding=True, truncation=True,
                            max_length=_MAX_LENGTH, return_tensors="pt")  # fmt: skip
            out.append(torch.softmax(model(**enc).logits, dim=-1).numpy())
    return np.concatenate(out)


def _fine_tune(model: Any, tokenizer: Any, texts: list[str], targets: np.ndarray,
               epochs: float, seed: int) -> Any:  # fmt: skip
    import torch

    torch.manual_seed(seed)
    tuned = copy.deepcopy(model)
    tuned.train()
    optimiser = torch.optim.AdamW(tuned.parameters(), lr=5e-5)
    rng = np.random.default_rng(seed)
    steps = int(np.ceil(len(texts) / 16 * epochs))
    order = np.concatenate([rng.permutation(len(texts)) for _ in range(int(np.ceil(epochs)) + 1)])
    for step in range(steps):
        rows = order[step * 16 : (step + 1) * 16]
        enc = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                        max_length=_MAX_LENGTH, return_tensors="pt")  # fmt: skip
        log_probs = torch.log_softmax(tuned(**enc).logits, dim=-1)
        target = torch.tensor(targets[rows], dtype=torch.float32)
        loss = torch.nn.functional.kl_div(log_probs, target, reduction="batchmean")
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return tuned


def _figures(probs: np.ndarray, reference: np.ndarray) -> float:
    return float((probs.argmax(axis=1) == reference).mean())


def redistill_phase(args: argparse.Namespace, data: dict[str, Any], bundle: Path) -> dict[str, Any]:
    """Before/after agreement on a shifted slice, uncertainty vs random (see the module)."""
    import torch
    from monitor_bench import _rt_texts
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(2)
    started = time.perf_counter()
    rt = _rt_texts(args.rt, args.seed + 1)
    slice_texts, pool = rt[: args.slice], rt[args.slice :]
    teacher = AutoModelForSequenceClassification.from_pretrained(data["teacher"])
    teacher_tok = AutoTokenizer.from_pretrained(data["teacher"])
    student = AutoModelForSequenceClassification.from_pretrained(data["student"])
    tok = AutoTokenizer.from_pretrained(data["student"])
    train_texts = data["train"]
    test_texts = [t for t, _ in data["test"]]
    labels = [student.config.id2label[i] for i in range(student.config.num_labels)]
    test_truth = np.array([labels.index(y) for _, y in data["test"]])
    t_slice = _probs(teacher, teacher_tok, slice_texts).argmax(axis=1)
    t_pool = _probs(teacher, teacher_tok, pool)
    t_train = _probs(teacher, teacher_tok, train_texts)
    labelled_s = time.perf_counter() - started
    confidence = _probs(student, tok, pool).max(axis=1)
    reference = reference_from(train_texts, np.eye(len(labels))[test_truth], seed=args.seed)
    prints = np.array([counts(t) for t in pool], dtype=np.int64)
    chars = np.array([len(t) for t in pool])
    drifted = drift_scores(reference.inputs, features(prints, chars), seed=args.seed)
    out: dict[str, Any] = {
        "budget": args.budget, "slice": len(slice_texts), "pool": len(pool),
        "epochs": args.epochs, "teacher_labelling_s": round(labelled_s, 1),
        "before_slice_agreement": _figures(_probs(student, tok, slice_texts), t_slice),
        "before_test_accuracy": _figures(_probs(student, tok, test_texts), test_truth),
    }  # fmt: skip
    for sampling in ("uncertainty", "random"):
        tic = time.perf_counter()
        picked = choose(confidence, drifted, budget=args.budget, held_out=0,
                        sampling=sampling, seed=args.seed).train  # fmt: skip
        texts = train_texts + [pool[i] for i in picked]
        targets = np.vstack([t_train, t_pool[picked]])
        tuned = _fine_tune(student, tok, texts, targets, args.epochs, args.seed)
        out[sampling] = {
            "slice_agreement": _figures(_probs(tuned, tok, slice_texts), t_slice),
            "test_accuracy": _figures(_probs(tuned, tok, test_texts), test_truth),
            "chosen_mean_confidence": float(confidence[picked].mean()),
            "seconds": round(time.perf_counter() - tic, 1),
        }
    return out
