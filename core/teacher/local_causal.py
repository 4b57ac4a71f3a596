"""A local causal LM as the teacher.

Classification: the model is prompted with the label set, each label answered by a single
token (its name when that is one token for this tokenizer, else a letter); the next-token
distribution, restricted to those tokens and renormalised, is the soft label. Generation:
the model's text plus, per generated token, its top-k log-probabilities (for token-level
distillation when the student shares the tokenizer).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.errors import TeacherError, TeacherModelError
from core.teacher.base import TeachBatch, TeacherOutput, TeachItem, chunked_by_length
from core.teacher.models import folder_digest, load_pretrained, pick_device
from core.teacher.prompts import AnswerMapping, PromptTemplate, letters_mapping, render
from core.teacher.softlabels import argmax_label, logsumexp, renormalise

_CLASSIFY_TOP_K = 5  # alternatives kept for the record at the answer position


class LocalCausalTeacher:
    """A causal LM from a local folder, batched (left-padded), on CUDA when present."""

    def __init__(
        self,
        folder: Path,
        *,
        task: str,
        labels: tuple[str, ...],
        template: PromptTemplate,
        label_tokens: str = "auto",
        temperature: float | None = None,
        batch_size: int = 8,
        max_new_tokens: int = 256,
        top_logprobs: int = 20,
        max_length: int = 2048,
    ) -> None:
        """Load the model and map the labels to single answer tokens.

        Raises:
            TeacherModelError: the folder cannot be loaded.
            TeacherError: labels cannot be answered with single tokens as asked.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.warnings: list[str] = []
        self._task, self._labels, self._template = task, labels, template
        self._batch_size, self._max_new = batch_size, max_new_tokens
        self._top_k, self._max_length = top_logprobs, max_length
        self._device = pick_device()
        tokenizer = load_pretrained(AutoTokenizer, folder, "tokenizer")
        tokenizer.truncation_side = "left"  # keep the end of the prompt, where it asks
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        self._tokenizer = tokenizer
        self._model = load_pretrained(AutoModelForCausalLM, folder, "model")
        self._model.to(self._device).eval()
        self._keep_last = "logits_to_keep" in inspect.signature(self._model.forward).parameters
        self._mapping: AnswerMapping | None = None
        self._answer_ids: list[list[int]] = []
        digest = f"hf:{folder.name}@{folder_digest(folder)}"
        if task == "classification":
            self._mapping, self._answer_ids = answer_tokens(tokenizer, labels, label_tokens)
            self._temperature = 1.0 if temperature is None else max(temperature, 1e-6)
            self.teacher_id = f"{digest}?answers={self._mapping.kind}&t={self._temperature:g}"
        else:
            self._temperature = 0.0 if temperature is None else temperature
            self.teacher_id = f"{digest}?t={self._temperature:g}&max={max_new_tokens}"

    @property
    def mapping(self) -> AnswerMapping | None:
        return self._mapping

    def prompt(self, text: str) -> str:
        """The full model input for one record (the chat template applied if it has one)."""
        prompt = render(self._template, text, self._mapping)
        if getattr(self._tokenizer, "chat_template", None):
            messages = [{"role": "user", "content": prompt}]
            return str(
                self._tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            )
        return prompt

    def outputs(self, items: Iterable[TeachItem]) -> Iterator[TeachBatch]:
        for batch in chunked_by_length(items, self._batch_size):
            if self._task == "classification":
                yield TeachBatch(self._classify(batch))
            else:
                yield TeachBatch(self._generate(batch))

    def _encode(self, batch: list[TeachItem], side: str) -> Any:
        templated = bool(getattr(self._tokenizer, "chat_template", None))
        self._tokenizer.padding_side = side
        return self._tokenizer(
            [self.prompt(item.text) for item in batch],
            padding=True,
            truncation=True,
            max_length=self._max_length,
            add_special_tokens=not templated,  # a chat template already has its own
            return_tensors="pt",
        ).to(self._device)

    def _classify(self, batch: list[TeachItem]) -> list[TeacherOutput]:
        import torch

        start = time.perf_counter()
        # Right padding and no attention mask: with causal attention a prompt's tokens never
        # see the pads after them, positions stay 0..n-1, and transformers skips building a
        # padding mask (which on CPU costs more than the forward pass itself).
        enc = self._encode(batch, "right")
        lengths = enc["attention_mask"].sum(dim=1)
        last = lengths - 1
        with torch.inference_mode():
            if self._keep_last:
                wanted, row_index = torch.unique(last, return_inverse=True)
                logits = self._model(input_ids=enc["input_ids"], logits_to_keep=wanted).logits
                logits = logits[torch.arange(len(batch), device=logits.device), row_index]
            else:
                logits = self._model(input_ids=enc["input_ids"]).logits
                logits = logits[torch.arange(len(batch), device=logits.device), last]
        logprobs = torch.log_softmax(logits.float() / self._temperature, dim=-1).cpu()
        ms = (time.perf_counter() - start) * 1000 / len(batch)
        return [
            self._classified(item, row, ms, int(n))
            for item, row, n in zip(batch, logprobs, lengths.tolist(), strict=True)
        ]

    def _classified(self, item: TeachItem, row: Any, ms: float, tokens: int) -> TeacherOutput:
        per_label = [logsumexp(row[ids].tolist()) for ids in self._answer_ids]
        probs, mass = renormalise(per_label)
        top = row.topk(_CLASSIFY_TOP_K)
        alternatives = {
            self._tokenizer.decode([int(i)]): round(float(v), 6)
            for v, i in zip(top.values, top.indices, strict=True)
        }
        chosen = self._tokenizer.decode([int(top.indices[0])])
        return TeacherOutput(
            record_id=item.record_id,
            label=argmax_label(probs, self._labels),
            probabilities=tuple(probs),
            soft_label_source="logits",
            label_mass=mass,
            text=chosen,
            token_logprobs=[
                {"token": chosen, "logprob": float(top.values[0]), "top": alternatives}
            ],
            latency_ms=ms,
            input_tokens=tokens,
            output_tokens=1,
        )

    def _generate(self, batch: list[TeachItem]) -> list[TeacherOutput]:
        import torch

        start = time.perf_counter()
        enc = self._encode(batch, "left")  # generate() appends after the last column
        config = self._model.generation_config
        config.update(
            max_new_tokens=self._max_new,
            do_sample=self._temperature > 0,
            temperature=self._temperature if self._temperature > 0 else 1.0,
            top_p=1.0,
            top_k=0 if self._temperature > 0 else 50,
            pad_token_id=self._tokenizer.pad_token_id,
            output_logits=True,  # raw logits: the teacher's distribution, before any warper
            return_dict_in_generate=True,
        )
        with torch.inference_mode():
            out = self._model.generate(**enc, generation_config=config)
        new_ids = out.sequences[:, enc["input_ids"].shape[1] :].cpu()
        steps = torch.log_softmax(torch.stack(out.logits, dim=1).float(), dim=-1).cpu()
        ms = (time.perf_counter() - start) * 1000 / len(batch)
        lengths = enc["attention_mask"].sum(dim=1).tolist()
        return [
            self._generated(item, new_ids[i], steps[i], ms, int(lengths[i]))
            for i, item in enumerate(batch)
        ]

    def _generated(
        self, item: TeachItem, ids: Any, logprobs: Any, ms: float, tokens: int
    ) -> TeacherOutput:
        stops = {self._tokenizer.eos_token_id, self._tokenizer.pad_token_id}
        kept: list[int] = []
        for token in ids.tolist():
            if token in stops:
                break
            kept.append(int(token))
        decode = self._tokenizer.decode
        per_token = []
        for step, token in enumerate(kept):
            top = logprobs[step].topk(self._top_k)
            per_token.append({
                "id": token,
                "token": decode([token]),
                "logprob": round(float(logprobs[step][token]), 6),
                "top": {decode([int(i)]): round(float(v), 6)
                        for v, i in zip(top.values, top.indices, strict=True)},
            })  # fmt: skip
        return TeacherOutput(
            record_id=item.record_id,
            text=decode(kept, skip_special_tokens=True),
            token_logprobs=per_token,
            latency_ms=ms,
            input_tokens=tokens,
            output_tokens=len(kept),
        )

    def close(self) -> None:
        self._model = None


def single_token_ids(tokenizer: Any, answer: str) -> list[int]:
    """The ids of ``answer`` (and `` answer``) where it encodes to exactly one token."""
    found: list[int] = []
    for variant in (answer, f" {answer}"):
        ids = tokenizer.encode(variant, add_special_tokens=False)
        if len(ids) == 1 and ids[0] not in found:
            found.append(int(ids[0]))
    return found


def answer_tokens(
    tokenizer: Any, labels: tuple[str, ...], label_tokens: str
) -> tuple[AnswerMapping, list[list[int]]]:
    """Map each label to its single-token answers: names if possible (or asked), else letters.

    ``auto`` answers by name only when every label is one token both bare and after a space,
    since a model may answer either way and a missed variant would lose its probability.

    Raises:
        TeacherError: ``names`` was asked but some labels are several tokens.
        TeacherModelError: not even letters are single tokens for this tokenizer.
    """
    if label_tokens in ("auto", "names"):
        ids = [single_token_ids(tokenizer, label) for label in labels]
        flat = [i for group in ids for i in group]
        distinct = len(flat) == len(set(flat))
        if distinct and all(len(group) == 2 for group in ids):
            return AnswerMapping(labels, "names"), ids
        if label_tokens == "names":
            if distinct and all(ids):
                return AnswerMapping(labels, "names"), ids
            several = [label for label, group in zip(labels, ids, strict=True) if not group]
            raise TeacherError(
                f"{len(several) or 'some'} labels are not single tokens for this model "
                f"({', '.join(several[:5]) or 'they share a token'})",
                "use --label-tokens letters (or auto): the prompt then lists the labels as "
                "A), B), C)… and reads the letter's probability",
            )
    mapping = letters_mapping(labels)
    ids = [single_token_ids(tokenizer, letter) for letter in mapping.answers]
    if not all(ids):
        raise TeacherModelError(
            "this model's tokenizer has no single-token letters to answer with",
            "use a classifier teacher or another causal LM",
        )
    return mapping, ids
