"""Greedy generation from an exported causal LM with its KV cache: ONNX Runtime only.

The graph optimum exports for ``text-generation-with-past`` takes ``past_key_values.N.key``
/ ``.value`` inputs and returns ``present.N.*``; the first step passes empty caches
(length 0) and every later step feeds one token and the previous step's ``present``.
The prompt wrapper (the teacher's template and the chat template, rendered at export
time around a placeholder) is stored in ``prompt.json``, so no template engine is needed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BundleVerifyError
from core.export.runtime import load_tokenizer, open_session

PROMPT_FILE = "prompt.json"
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


@dataclass(frozen=True, slots=True)
class PromptWrapper:
    """What goes around a user's text before tokenizing (rendered at export time)."""

    prefix: str = ""
    suffix: str = ""
    add_special_tokens: bool = True
    eos_ids: tuple[int, ...] = field(default_factory=tuple)

    def wrap(self, text: str) -> str:
        return f"{self.prefix}{text}{self.suffix}"

    @classmethod
    def read(cls, path: Path) -> PromptWrapper:
        """The wrapper stored in a bundle (none: the bare text)."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PromptWrapper:
        return cls(
            prefix=str(values.get("prefix", "")),
            suffix=str(values.get("suffix", "")),
            add_special_tokens=bool(values.get("add_special_tokens", True)),
            eos_ids=tuple(int(i) for i in values.get("eos_ids", ())),
        )


class OnnxCausalLM:
    """Next-token logits and greedy decoding with the exported KV cache."""

    def __init__(self, session: Any, tokenizer: Any, prompt: PromptWrapper) -> None:
        self.session, self.tokenizer, self.prompt = session, tokenizer, prompt
        self._inputs = {i.name: i for i in session.get_inputs()}
        self._past = [n for n in self._inputs if n.startswith("past_key_values.")]
        self._outputs = [o.name for o in session.get_outputs()]

    @classmethod
    def open(
        cls, model: Path, tokenizer: Path, prompt: PromptWrapper, settings: Any
    ) -> OnnxCausalLM:
        session = open_session(model, cpu_only=True)
        return cls(session, load_tokenizer(tokenizer, settings), prompt)

    @classmethod
    def from_bundle(cls, root: Path, manifest: dict[str, Any]) -> OnnxCausalLM:
        from core.export.reader import tokenizer_settings

        prompt = PromptWrapper.read(root / PROMPT_FILE)
        tokenizer = load_tokenizer(
            root / manifest["tokenizer"]["file"], tokenizer_settings(manifest)
        )
        return cls(open_session(root / manifest["model"]["file"]), tokenizer, prompt)

    @property
    def provider(self) -> str:
        return str(self.session.get_providers()[0])

    def encode(self, text: str) -> list[int]:
        """The wrapped prompt's token ids."""
        wrapped = self.prompt.wrap(text)
        return list(
            self.tokenizer.encode(wrapped, add_special_tokens=self.prompt.add_special_tokens).ids
        )

    def _step(
        self, ids: Sequence[int], total: int, past: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        start = total - len(ids)
        feeds = {
            "input_ids": np.asarray([ids], dtype=np.int64),
            "attention_mask": np.ones((1, total), dtype=np.int64),
        }
        if "position_ids" in self._inputs:
            feeds["position_ids"] = np.arange(start, total, dtype=np.int64)[None, :]
        feeds.update(past or {name: self._empty(name) for name in self._past})
        values = dict(zip(self._outputs, self.session.run(self._outputs, feeds), strict=True))
        present = {
            name: values[name.replace("past_key_values.", "present.")] for name in self._past
        }
        return values["logits"][0, -1], present

    def _empty(self, name: str) -> Any:
        spec = self._inputs[name]
        dims = [d if isinstance(d, int) else 0 for d in spec.shape]
        dims[0] = 1
        return np.zeros(dims, dtype=_DTYPES.get(spec.type, np.float32))

    def next_logits(self, ids: Sequence[int]) -> Any:
        """The logits for the token after ``ids`` (no cache reused)."""
        return self._step(ids, len(ids), {})[0]

    def generate_ids(self, ids: Sequence[int], max_new_tokens: int) -> list[int]:
        """Greedy continuation of ``ids``, stopping at an end-of-sequence token."""
        logits, past = self._step(ids, len(ids), {})
        out: list[int] = []
        total = len(ids)
        for _ in range(max_new_tokens):
            token = int(np.argmax(logits))
            out.append(token)
            if token in self.prompt.eos_ids:
                break
            total += 1
            logits, past = self._step([token], total, past)
        return out

    def generate(self, text: str, max_new_tokens: int) -> str:
        ids = self.generate_ids(self.encode(text), max_new_tokens)
        kept = [i for i in ids if i not in self.prompt.eos_ids]
        return str(self.tokenizer.decode(kept, skip_special_tokens=True)).strip()


def verify_generation_probes(root: Path, manifest: dict[str, Any]) -> tuple[str, int]:
    """Re-run the stored probe prompts; each must give the same greedy tokens as at export.

    Raises:
        BundleVerifyError: the model does not load or a probe's tokens differ.
    """
    from core.export.verify import check_io

    file = manifest["model"]["file"]
    try:
        model = OnnxCausalLM.from_bundle(root, manifest)
    except Exception as exc:
        raise BundleVerifyError(file, f"cannot be loaded ({type(exc).__name__})") from exc
    check_io(model.session, manifest, file)
    payload = json.loads((root / manifest["probes"]["file"]).read_text(encoding="utf-8"))
    probes = list(payload.get("inputs", []))
    for index, probe in enumerate(probes):
        got = model.generate_ids(model.encode(probe["text"]), len(probe["tokens"]))
        if got != probe["tokens"]:
            raise BundleVerifyError(
                file, f"self-test failed on probe {index}: greedy tokens differ"
            )
    return model.provider, len(probes)
