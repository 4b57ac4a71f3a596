"""Generation students: the prompt wrapper and the greedy next-token parity check.

The prompt is built as the train and evaluate stages build it (the teacher's template, then
the chat template as the user turn); here it is rendered once around a placeholder and
split into a prefix and suffix for the bundle. Parity feeds the same token ids to PyTorch
and to each ONNX variant: next-token argmax agreement, the largest logit difference, and
the share of prompts whose first ``GREEDY_TOKENS`` greedy tokens match PyTorch's exactly
(which exercises the exported KV cache).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.evaluate.inputs import StudentSource
from core.export.config import ExportConfig, ParityReport, VariantParity
from core.export.onnx_export import load_local
from core.export.runtime import TokenizerSettings
from core.export.runtime_causal import OnnxCausalLM, PromptWrapper
from core.export.sources import Evaluation
from core.project import Project

if TYPE_CHECKING:
    from core.export.build import Built, Step

# A summary's length, not a phrase's: on the issue-17 bench the 4-bit file matched PyTorch
# on all 8-token greedy runs yet lost 0.16 ROUGE-L on 48-token summaries (max |Δlogit|
# 17.8); errors that compound over a long answer only show over a long run.
GREEDY_TOKENS = 32
# A weight-only file whose greedy answers part from PyTorch's (a near-tie token taken the
# other way, then a different but equally good sentence) ships when its own test metric is
# within this of the PyTorch student's, both scored on the same test rows: the issue-17
# target for the shipped file (on its bench the 8-bit file matched 75% of 32-token greedy
# runs and scored 0.745 ROUGE-L against PyTorch's 0.753).
METRIC_TOLERANCE = 0.01
PROBE_TOKENS = 4
MAX_PROMPTS = 64
_PLACEHOLDER = "\u2063STILLROOM_TEXT\u2063"


def prompt_wrapper(model_dir: Path, template: str | None) -> tuple[PromptWrapper, str | None]:
    """The prefix and suffix around a text, and a note when the template could not be split."""

    from core.teacher.prompts import PromptTemplate, render

    tokenizer = load_local("AutoTokenizer", model_dir)
    text = _PLACEHOLDER
    with contextlib.suppress(KeyError, IndexError, ValueError):
        text = render(PromptTemplate("generation", template or "{text}"), _PLACEHOLDER, None)
    chat = bool(getattr(tokenizer, "chat_template", None))
    if chat:
        text = str(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
        )
    eos = tokenizer.eos_token_id
    eos_ids = tuple(eos if isinstance(eos, list) else [] if eos is None else [eos])
    if text.count(_PLACEHOLDER) != 1:
        note = "the prompt template could not be stored: predict feeds the bare text"
        return PromptWrapper(add_special_tokens=not chat, eos_ids=eos_ids), note
    prefix, suffix = text.split(_PLACEHOLDER)
    return PromptWrapper(prefix, suffix, not chat, eos_ids), None


def generation_parity(
    model_dir: Path,
    variants: dict[str, Path],
    tokenizer: Path,
    settings: TokenizerSettings,
    prompt: PromptWrapper,
    texts: Sequence[str],
    progress: Callable[[str], None],
) -> ParityReport:
    """PyTorch against each ONNX variant on up to ``MAX_PROMPTS`` test prompts."""
    model = load_local("AutoModelForCausalLM", model_dir).eval()
    runners = {name: OnnxCausalLM.open(path, tokenizer, prompt, settings)
               for name, path in variants.items()}  # fmt: skip
    prompts = [next(iter(runners.values())).encode(t) for t in texts[:MAX_PROMPTS]]
    reference = [_torch_reference(model, ids, prompt.eos_ids) for ids in prompts]
    progress(f"compared {len(prompts):,} prompts with PyTorch")
    results = [_variant(name, runner, prompts, reference) for name, runner in runners.items()]
    return ParityReport(
        n=len(prompts), reference="pytorch", metric_name=f"greedy_match_{GREEDY_TOKENS}",
        pytorch_metric=1.0, variants=tuple(results), int8_vs_fp32_agreement=None,
    )  # fmt: skip


def _torch_reference(model: Any, ids: list[int], eos: Sequence[int]) -> tuple[Any, list[int]]:
    """PyTorch's next-token logits after ``ids`` and its greedy continuation."""
    import torch

    with torch.inference_mode():
        tensor = torch.tensor([ids])
        logits = model(input_ids=tensor).logits[0, -1].float().numpy()
        out = model.generate(tensor, attention_mask=torch.ones_like(tensor), do_sample=False,
                             max_new_tokens=GREEDY_TOKENS, pad_token_id=_pad(model))  # fmt: skip
    return logits, _until_eos(out[0, len(ids) :].tolist(), eos)


def _pad(model: Any) -> int | None:
    value = model.generation_config.pad_token_id
    value = value if value is not None else model.generation_config.eos_token_id
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else int(value)


def _until_eos(tokens: list[int], eos: Sequence[int]) -> list[int]:
    for i, token in enumerate(tokens):
        if token in eos:
            return tokens[: i + 1]
    return tokens


def _variant(
    name: str,
    runner: OnnxCausalLM,
    prompts: list[list[int]],
    reference: list[tuple[Any, list[int]]],
) -> VariantParity:
    agree, diff, match = 0, 0.0, 0
    for ids, (ref_next, ref_greedy) in zip(prompts, reference, strict=True):
        logits = np.asarray(runner.next_logits(ids), dtype=np.float64)
        agree += int(np.argmax(logits) == np.argmax(ref_next))
        diff = max(diff, float(np.max(np.abs(logits - ref_next))))
        match += int(runner.generate_ids(ids, GREEDY_TOKENS) == ref_greedy)
    n = max(len(prompts), 1)
    return VariantParity(name, agree / n, diff, match / n, match / n - 1.0)


def parity_step(
    project: Project, config: ExportConfig, student: StudentSource, built: Built, step: Step,
    evaluation: Evaluation,
) -> None:  # fmt: skip
    """Fill ``built.prompt`` and ``built.parity`` for a causal LM student, and choose the
    file that ships (:func:`choose_file`)."""
    from core.export.build import settings_of
    from core.export.sources import test_inputs

    template = (student.lineage.get("teacher") or {}).get("prompt_template")
    prompt, note = prompt_wrapper(built.source, template if isinstance(template, str) else None)
    if note:
        built.notes.append(note)
    built.prompt = dataclasses.asdict(prompt)
    texts = test_inputs(project, student, config.parity_limit, None).texts
    step(0.45, f"parity check on {min(len(texts), MAX_PROMPTS):,} test prompts")
    variants = {"onnx_fp32": built.fp32}
    variants |= {name: q.model for name, q in built.candidates.items()}
    built.parity = generation_parity(
        built.source,
        variants,
        built.folder / "tokenizer.json",
        settings_of(built),
        prompt,
        texts,
        lambda message: step(0.5, message),
    )
    reference = _student_test_metric(evaluation)

    def score(model: Path) -> tuple[float, float] | None:
        from core.export.shipped import test_metric_of

        if reference is None:
            return None
        step(0.6, f"scoring {model.parent.name} on the test set")
        metric = test_metric_of(project, student, built, evaluation, model)
        return None if metric is None else (metric, reference)

    choose_file(config.min_agreement, built, score)


def _student_test_metric(evaluation: Evaluation) -> float | None:
    """The PyTorch student's test metric in its evaluation (None: not evaluated)."""
    result = evaluation.result
    if result is None:
        return None
    row = next((r for r in result.headline if r.split == "test" and r.model == "student"), None)
    return None if row is None else row.metric


def choose_file(
    min_agreement: float, built: Built, score: Callable[[Path], tuple[float, float] | None]
) -> None:
    """Ship the smallest weight-only file that keeps the student's quality; none does: fp32.

    A file qualifies when its next-token agreement with PyTorch reaches ``min_agreement``
    and either its greedy runs match PyTorch's as often, or ``score(file)`` (its test
    metric, the PyTorch student's) puts it within :data:`METRIC_TOLERANCE` of the student.
    """
    assert built.parity is not None
    for name, candidate in sorted(
        built.candidates.items(), key=lambda c: c[1].model.stat().st_size
    ):
        measured = built.parity.variant(name)
        if measured is None or built.parity.n == 0 or measured.agreement < min_agreement:
            continue
        greedy = measured.metric if measured.metric is not None else 0.0
        if greedy < min_agreement:
            scored = score(candidate.model)
            if scored is None:
                continue
            metric, reference = scored
            if metric < reference - METRIC_TOLERANCE:
                built.notes.append(
                    f"{name} was not shipped: its test score {metric:.3f} is more than "
                    f"{METRIC_TOLERANCE} below the PyTorch student's {reference:.3f}"
                )
                continue
            built.notes.append(
                f"{name} ships: its greedy answers matched PyTorch's on {greedy:.0%} of the "
                f"parity prompts over {GREEDY_TOKENS} tokens, and its test score {metric:.3f} "
                f"is within {METRIC_TOLERANCE} of the PyTorch student's {reference:.3f}"
            )
        built.shipped, built.isa, built.quantization = (
            candidate.model, candidate.isa, candidate.settings)  # fmt: skip
        return
    if built.candidates:
        built.notes.append(
            "no weight-only quantized file kept the PyTorch student's next token on "
            f"{min_agreement:.0%} of the test prompts and either its greedy output or its "
            f"test score (within {METRIC_TOLERANCE}): the fp32 file ships"
        )


def probes_step(project: Project, config: ExportConfig, built: Built) -> None:
    """Fill ``built.probes``: anonymized (or synthetic) prompts and the shipped model's
    greedy tokens on each."""
    from core.export.build import settings_of, synthetic_probe
    from core.export.sources import probe_texts

    texts = [(t, "anonymized test text") for t in probe_texts(project, config.probes, ())]
    texts += [(synthetic_probe(i, []), "synthetic") for i in range(config.probes - len(texts))]
    prompt = PromptWrapper.from_dict(built.prompt or {})
    runner = OnnxCausalLM.open(
        built.shipped, built.folder / "tokenizer.json", prompt, settings_of(built)
    )
    inputs = [
        {
            "text": text,
            "source": source,
            "tokens": runner.generate_ids(runner.encode(text), PROBE_TOKENS),
        }
        for text, source in texts
    ]
    built.probes = {"task": "generation", "atol": 0.0, "inputs": inputs}
