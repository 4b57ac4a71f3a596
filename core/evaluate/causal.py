"""A local causal LM student for the generation task: greedy generations, left-padded.

The input is built as the train stage built it: the teacher's prompt template (from the
student's lineage) rendered with the record's text, then put through the model's chat
template as the user turn when the tokenizer has one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.evaluate.scorers import folder_weight_bytes, load_model_part


class HFGeneratorScorer:
    """Greedy decoding with at most ``max_new_tokens`` new tokens per text."""

    def __init__(
        self,
        folder: Path,
        *,
        name: str,
        max_new_tokens: int,
        prompt_template: str | None = None,
        max_length: int = 1024,
    ) -> None:
        """Load the model and tokenizer.

        Raises:
            EvaluateError: the folder cannot be loaded.
        """
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name, self.warnings = name, list[str]()
        self.title = f"{name} (PyTorch FP32)"
        self._folder, self._max_new, self._max_length = folder, max_new_tokens, max_length
        self._template = prompt_template or "{text}"
        tokenizer = load_model_part(AutoTokenizer, folder, "tokenizer")
        tokenizer.padding_side = "left"  # generate() appends after the last column
        tokenizer.truncation_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        self._tokenizer = tokenizer
        self._model: Any = load_model_part(AutoModelForCausalLM, folder, "model").eval()
        self._device = torch.device("cpu")

    def devices(self) -> list[str]:
        import torch

        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]

    def use_device(self, device: str) -> None:
        import torch

        self._device = torch.device(device)
        self._model.to(self._device)

    def prompt(self, text: str) -> str:
        """The model input for one record."""
        from core.teacher.prompts import PromptTemplate, render

        # A template with fields other than {text} cannot be rendered here: the bare text.
        with contextlib.suppress(KeyError, IndexError, ValueError):
            text = render(PromptTemplate("generation", self._template), text, None)
        if getattr(self._tokenizer, "chat_template", None):
            messages = [{"role": "user", "content": text}]
            return str(
                self._tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            )
        return text

    def run(self, texts: Sequence[str]) -> list[str]:
        import torch

        templated = bool(getattr(self._tokenizer, "chat_template", None))
        encoded = self._tokenizer(
            [self.prompt(t) for t in texts],
            padding=True,
            truncation=True,
            max_length=self._max_length,
            add_special_tokens=not templated,
            return_tensors="pt",
        ).to(self._device)
        with torch.inference_mode():
            out = self._model.generate(
                **encoded,
                max_new_tokens=self._max_new,
                do_sample=False,
                pad_token_id=self._tokenizer.pad_token_id,
            )
        new = out[:, encoded["input_ids"].shape[1] :].cpu()
        return [str(s) for s in self._tokenizer.batch_decode(new, skip_special_tokens=True)]

    def generate(self, texts: Sequence[str], batch_size: int) -> list[str]:
        """One generation per text, in the input order."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = [""] * len(texts)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            for i, text in zip(chunk, self.run([texts[i] for i in chunk]), strict=True):
                out[i] = text.strip()
        return out

    def size_bytes(self) -> int:
        return folder_weight_bytes(self._folder)

    def close(self) -> None:
        self._model = None
