"""Examples → token ids the student trains on, with dynamic padding and a seeded sampler.

Generation: the student sees the prompt the teacher saw (the stored template for the
teacher's prompt version, through the student's chat template if it has one) and learns the
teacher's text. When the student's tokenizer reproduces the teacher's stored token ids, the
targets are those very ids, so the teacher's top-k at each position lines up with the
student's prediction there and the token-level KL applies; otherwise only SFT does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from core.train.data import Example
from core.train.losses import IGNORE_INDEX


@dataclass(frozen=True, slots=True)
class Features:
    items: list[dict[str, Any]]
    truncated: int

    @property
    def lengths(self) -> list[int]:
        return [len(item["input_ids"]) for item in self.items]


def classification_features(
    examples: Sequence[Example], tokenizer: Any, max_length: int, *, for_eval: bool,
    weights: Sequence[float] | None = None,
) -> Features:  # fmt: skip
    """Token ids, the teacher's vector and the hard (or, for validation, eval) label; with
    ``weights``, each row's loss weight."""
    texts = [e.text for e in examples]
    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    full = tokenizer(texts, truncation=False)["input_ids"]
    truncated = sum(len(ids) > max_length for ids in full)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
    items = []
    for i, example in enumerate(examples):
        item = {key: encoded[key][i] for key in keys}
        item["labels"] = example.eval_label if for_eval else example.hard_label
        item["teacher_probs"] = list(example.probabilities or ())
        if weights is not None:
            item["row_weight"] = float(weights[i])
        items.append(item)
    return Features(items, truncated)


def prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    """The student's input ids for a rendered prompt (through its chat template if any)."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(prompt)["input_ids"])


def tokenizer_matches(tokenizer: Any, examples: Sequence[Example]) -> bool | None:
    """Whether the student's tokenizer has the teacher's token ids; None if none are stored.

    Every stored token id must exist in the student's vocabulary and decode to the same
    text there: a different tokenizer fails this at once.
    """
    seen = False
    vocabulary = len(tokenizer)
    for example in examples:
        for entry in example.token_logprobs or ():
            if "id" not in entry:
                return None
            seen = True
            token_id = int(entry["id"])
            if token_id >= vocabulary or tokenizer.decode([token_id]) != entry["token"]:
                return False
    return True if seen else None


def generation_features(
    examples: Sequence[Example], tokenizer: Any, prompts: Sequence[str], max_length: int,
    *, use_teacher_ids: bool,
) -> Features:  # fmt: skip
    """Prompt + target ids, labels masking the prompt, and the teacher's top-k per target."""
    single = _SingleTokenIds(tokenizer)
    items, truncated = [], 0
    eos = tokenizer.eos_token_id
    for example, prompt in zip(examples, prompts, strict=True):
        head = prompt_ids(tokenizer, prompt)
        entries = (example.token_logprobs or []) if use_teacher_ids else []
        if entries:
            target = [int(entry["id"]) for entry in entries]
        else:
            target = list(tokenizer(example.teacher_text or "", add_special_tokens=False)
                          ["input_ids"])  # fmt: skip
        target += [] if eos is None else [int(eos)]
        head_keep = min(len(head), max(max_length - len(target), max_length // 2))
        target_keep = min(len(target), max_length - head_keep)
        truncated += head_keep < len(head) or target_keep < len(target)
        head, target = head[len(head) - head_keep :], target[:target_keep]
        ids = head + target
        item: dict[str, Any] = {
            "input_ids": ids,
            "attention_mask": [1] * len(ids),
            "labels": [IGNORE_INDEX] * len(head) + target,
        }
        if use_teacher_ids:  # an output without logprobs gets SFT only (no top-k rows)
            item["topk"] = [single.top(entry) for entry in entries[: len(target)]]
            item["target_start"] = len(head)
        items.append(item)
    return Features(items, truncated)


class _SingleTokenIds:
    """Maps the teacher's top-k token strings back to ids (cached; multi-token ones dropped)."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._cache: dict[str, int | None] = {}

    def top(self, entry: dict[str, Any]) -> list[tuple[int, float]]:
        pairs = [(int(entry["id"]), float(entry["logprob"]))]
        for token, logprob in (entry.get("top") or {}).items():
            token_id = self._id(token)
            if token_id is not None and token_id != pairs[0][0]:
                pairs.append((token_id, float(logprob)))
        return pairs

    def _id(self, token: str) -> int | None:
        if token not in self._cache:
            ids = self._tokenizer(token, add_special_tokens=False)["input_ids"]
            self._cache[token] = int(ids[0]) if len(ids) == 1 else None
        return self._cache[token]


class Collator:
    """Pads a batch to its longest input (dynamic padding) and stacks the targets."""

    def __init__(self, pad_id: int, task: str) -> None:
        self._pad, self._task = pad_id, task

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(item["input_ids"]) for item in items)
        batch: dict[str, Any] = {}
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in items[0]]
        for key in keys:
            fill = self._pad if key == "input_ids" else 0
            batch[key] = torch.tensor([i[key] + [fill] * (width - len(i[key])) for i in items])
        if self._task == "classification":
            batch["labels"] = torch.tensor([item["labels"] for item in items])
            batch["teacher_probs"] = torch.tensor([item["teacher_probs"] for item in items])
            if "row_weight" in items[0]:
                batch["row_weights"] = torch.tensor([item["row_weight"] for item in items])
            return batch
        batch["labels"] = torch.tensor(
            [i["labels"] + [IGNORE_INDEX] * (width - len(i["labels"])) for i in items]
        )
        if all("topk" in item for item in items):
            batch["topk_ids"], batch["topk_logprobs"] = _topk_tensors(items, width)
        return batch


def _topk_tensors(items: list[dict[str, Any]], width: int) -> tuple[Any, Any]:
    import torch

    k = max((len(pairs) for item in items for pairs in item["topk"]), default=1)
    ids = torch.zeros((len(items), width, k), dtype=torch.long)
    logprobs = torch.full((len(items), width, k), float("-inf"))
    for row, item in enumerate(items):
        for offset, pairs in enumerate(item["topk"]):
            position = item["target_start"] + offset
            for slot, (token_id, logprob) in enumerate(pairs):
                ids[row, position, slot] = token_id
                logprobs[row, position, slot] = logprob
    return ids, logprobs


class SeededLengthSampler:
    """A per-epoch order drawn from ``seed + epoch``, optionally grouped by length.

    The order depends only on the seed and the epoch, never on the global RNG, so a run
    resumed from a checkpoint replays exactly the batches the uninterrupted run would have
    seen (the Trainer calls :meth:`set_epoch`). With ``plan`` (class-aware sampling) an
    epoch draws ``plan[c]`` rows of class ``c`` (``classes`` gives each row's): a class
    with fewer rows than that repeats all of them as often as it fits and draws the rest
    without replacement; a larger class gives a fresh random subset every epoch. Without a
    plan an epoch is a permutation of every row. With ``group`` the order is cut into
    mega-batches (up to 50 batches, as transformers' ``LengthGroupedSampler`` sizes them),
    each sorted by length and cut into batches, so a batch pads little; unlike transformers,
    the batches of a mega-batch are then shuffled, so training does not see them in length
    order. The batch holding the longest input goes first: an out-of-memory shows at once.
    """

    def __init__(
        self, lengths: list[int], batch: int, seed: int, *, group: bool,
        classes: Sequence[int] | None = None, plan: Sequence[int] | None = None,
    ) -> None:  # fmt: skip
        self._lengths, self._batch, self._seed, self._group = lengths, batch, seed, group
        self._plan = None if plan is None else list(plan)
        self._members: list[list[int]] = [[] for _ in self._plan or ()]
        for index, label in enumerate(classes or ()):
            if 0 <= label < len(self._members):
                self._members[label].append(index)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self._lengths) if self._plan is None else sum(self._plan)

    def epoch_rows(self, generator: Any) -> list[int]:
        """This epoch's rows in a random order (with the class plan, if any)."""
        import torch

        if self._plan is None:
            return list(torch.randperm(len(self._lengths), generator=generator).tolist())
        drawn: list[int] = []
        for members, wanted in zip(self._members, self._plan, strict=True):
            if not members or not wanted:
                continue
            repeats, rest = divmod(wanted, len(members))
            drawn += members * repeats
            picked = torch.randperm(len(members), generator=generator)[:rest].tolist()
            drawn += [members[i] for i in picked]
        order = torch.randperm(len(drawn), generator=generator).tolist()
        return [drawn[i] for i in order]

    def __iter__(self) -> Iterator[int]:
        import torch

        generator = torch.Generator().manual_seed(self._seed + self.epoch)
        order = self.epoch_rows(generator)
        if not self._group:
            return iter(order)
        batch = self._batch
        size = batch * max(min(len(order) // (batch * 4), 50), 1)
        batches: list[list[int]] = []
        for start in range(0, len(order), size):
            mega = sorted(order[start : start + size], key=lambda j: -self._lengths[j])
            chunks = [mega[i : i + batch] for i in range(0, len(mega), batch)]
            shuffle = torch.randperm(len(chunks), generator=generator).tolist()
            batches += [chunks[i] for i in shuffle]
        # A short last batch stays last: only the final batch of an epoch may be partial.
        full = [b for b in batches if len(b) == batch]
        short = [b for b in batches if len(b) < batch]
        longest = max(range(len(full)), key=lambda i: self._lengths[full[i][0]], default=None)
        if longest is not None:
            full.insert(0, full.pop(longest))
        return iter([index for chunk in full + short for index in chunk])
