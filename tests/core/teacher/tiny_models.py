"""Tiny models built from a config (2 layers) with a tokenizer trained here (DESIGN §8b).

The causal LM is trained for a few seconds to answer the default classification prompt with a
letter or a label name (not to be right: that would take minutes), so that endpoint and
local tests see a teacher that answers inside the label set with real, non-one-hot
next-token distributions.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROMPTS = Path(__file__).parents[3] / "core" / "teacher" / "prompts.py"

LABELS = ("billing", "clinical", "other")
PHRASES = {
    "billing": ["the invoice for account {n} was charged twice",
                "my card was billed for the refund of order {n}",
                "the payment plan {n} shows a late fee"],
    "clinical": ["the doctor changed the dose of medication {n}",
                 "the nurse said the lab result {n} needs a follow up",
                 "the prescription {n} gives me a rash"],
    "other": ["please update the mailing address to street {n}",
              "how do I reset the password for portal {n}",
              "the parking garage {n} is closed today"],
}  # fmt: skip
CHAT_TEMPLATE = (
    "{% for m in messages %}<|user|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIALS = ["<unk>", "<pad>", "<s>", "</s>", "<|user|>", "<|assistant|>"]


def anonymized_text(label: str, index: int) -> str:
    """The anonymized form of a synthetic record (a name replaced by <PERSON>)."""
    phrase = PHRASES[label][index % len(PHRASES[label])].format(n=index)
    return f"<PERSON> writes: {phrase}"


def raw_text(label: str, index: int) -> str:
    """The same record before anonymization: it names a person the teacher must never see."""
    return anonymized_text(label, index).replace("<PERSON>", f"Jane Roe{index}")


def build_tokenizer(folder: Path, *, chat: bool = True) -> Any:
    """A byte-level BPE trained on the synthetic phrases and prompts, saved to ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from core.teacher.prompts import DEFAULT_TEMPLATES

    corpus = [anonymized_text(label, i) for label in LABELS for i in range(40)]
    corpus += [DEFAULT_TEMPLATES["classification"]] * 5 + [" ".join(LABELS)] * 50
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )  # fmt: skip
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
        eos_token="</s>", model_input_names=["input_ids", "attention_mask"],
    )  # fmt: skip
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    return fast


def build_classifier(folder: Path, labels: tuple[str, ...] = LABELS) -> Path:
    """A 2-layer BERT sequence classifier (random weights) with named labels."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = build_tokenizer(folder, chat=False)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=256, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)},
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def build_causal(folder: Path, *, steps: int = 80) -> Path:
    """A 2-layer Llama, briefly trained to answer inside the label set; saved."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    _train(model, tokenizer, steps)
    model.eval().save_pretrained(folder)
    return folder


def _examples(tokenizer: Any) -> list[tuple[str, int]]:
    """(model input, answer token id) for every prompt shape the tests use."""
    from core.teacher.local_causal import single_token_ids
    from core.teacher.prompts import AnswerMapping, default_template, render

    template = default_template("classification")
    eos = tokenizer.eos_token_id
    shapes = []
    for kind in ("letters", "names"):
        mapping = AnswerMapping(LABELS, kind)
        for label_index, label in enumerate(LABELS):
            answer = mapping.answers[label_index]
            target = single_token_ids(tokenizer, answer)
            for i in range(12):
                for strict in (False, True):
                    prompt = render(template, anonymized_text(label, i), mapping, strict=strict)
                    chat = tokenizer.apply_chat_template(
                        [{"role": "user", "content": prompt}], tokenize=False,
                        add_generation_prompt=True,
                    )  # fmt: skip
                    answer_text = tokenizer.decode([target[0]])
                    for text in (chat, prompt):
                        # The answer, then end of sequence: as an instruction-tuned model does.
                        shapes += [(text, target[0]), (text + answer_text, eos)]
    return shapes


def _train(model: Any, tokenizer: Any, steps: int) -> None:
    import torch

    rng = random.Random(0)
    examples = [(tokenizer.encode(text, add_special_tokens=False), target)
                for text, target in _examples(tokenizer)]  # fmt: skip
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        batch = rng.sample(examples, 16)
        width = max(len(ids) for ids, _ in batch)
        # Right padding and no mask (as the teacher does): causal attention never looks right.
        ids = torch.tensor([ids + [0] * (width - len(ids)) for ids, _ in batch])
        last = torch.tensor([len(ids) - 1 for ids, _ in batch])
        logits = model(input_ids=ids).logits[torch.arange(len(batch)), last]
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([t for _, t in batch]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def cached_model(name: str, build: Callable[[Path], Path], *recipe: Path) -> Path:
    """Build a tiny model once per version of its recipe, kept in the Stillroom cache.

    Training the tiny causal LM takes ~10 s on two cores; the cache makes reruns instant.
    The key covers this file, the other ``recipe`` files (the prompts a model is trained
    on, a caller's own builders) and the library versions.
    """
    import tokenizers
    import torch
    import transformers

    from core.teacher.models import cache_dir

    source = Path(__file__).read_bytes() + b"".join(path.read_bytes() for path in recipe)
    versions = f"{torch.__version__}|{transformers.__version__}|{tokenizers.__version__}"
    key = hashlib.sha256(source + versions.encode()).hexdigest()[:12]
    target = cache_dir() / "test-models" / f"{name}-{key}"
    if not (target / "config.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
        build(scratch)
        try:
            os.replace(scratch, target)
        except OSError:  # another test process built it first
            shutil.rmtree(scratch, ignore_errors=True)
    return target
