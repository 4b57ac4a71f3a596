"""Helpers for the train tests: tiny models from a config, projects with teacher outputs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from core.project import Project
from core.store.db import utc_now

TEACHER_TESTS = Path(__file__).parents[1] / "teacher"
sys.path.insert(0, str(TEACHER_TESTS))

from tiny_models import (  # noqa: E402
    LABELS,
    PROMPTS,
    anonymized_text,
    build_tokenizer,
    raw_text,
)
from tiny_models import cached_model as _cached_model  # noqa: E402

TEACHER_ID = "hf:tiny@test?t=1"


def cached_model(name: str, build: Callable[[Path], Path]) -> Path:
    """Build a tiny model once per version of its recipe (kept in the Stillroom cache)."""
    return _cached_model(name, build, PROMPTS, Path(__file__))


def build_tiny_bert4(folder: Path) -> Path:
    """A 4-layer BERT classifier (random weights), to derive 2-layer students from."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = build_tokenizer(folder, chat=False)
    torch.manual_seed(1)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)), label2id={x: i for i, x in enumerate(LABELS)},
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def build_other_tokenizer_causal(folder: Path) -> Path:
    """A tiny Llama whose tokenizer differs from the teacher's (a smaller BPE vocabulary)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = [anonymized_text(label, i) for label in LABELS for i in range(40)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                   bos_token="<s>", eos_token="</s>",
                                   model_input_names=["input_ids", "attention_mask"])  # fmt: skip
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=256, pad_token_id=fast.pad_token_id,
                         eos_token_id=fast.eos_token_id)  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def soft_vector(label: str, index: int) -> list[float]:
    """A teacher's probability vector: most mass on the label, varying by record."""
    main = 0.6 + 0.3 * ((index * 7) % 10) / 10
    rest = (1 - main) / (len(LABELS) - 1)
    return [main if x == label else rest for x in LABELS]


def fill_project(
    project: Project,
    count: int,
    *,
    splits: tuple[str, ...] = ("train", "train", "train", "validation", "test"),
    anonymized: bool = True,
    with_outputs: int | None = None,
    generation: bool = False,
) -> list[int]:
    """Records (raw text names a person), their anonymized form, and teacher outputs."""
    with_outputs = count if with_outputs is None else with_outputs
    ids = []
    with project.store.transaction() as conn:
        dataset = conn.execute(
            "INSERT INTO datasets (name, source_path, source_sha256, source_bytes, format, "
            "row_count, rows_read, column_map, split_config, imported_at) VALUES "
            "('t', '/dev/null', ?, 0, 'csv', ?, ?, '{}', '{}', ?)",
            (f"sha-{count}-{utc_now()}", count, count, utc_now()),
        ).lastrowid
        for i in range(count):
            label = LABELS[i % len(LABELS)]
            record = conn.execute(
                "INSERT INTO records (dataset_id, source_row, split, text, text_sha256, label) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (dataset, i + 1, splits[i % len(splits)], raw_text(label, i),
                 f"{dataset}-{i}".encode(), None if generation else label),
            ).lastrowid  # fmt: skip
            ids.append(int(record))
            if anonymized:
                conn.execute(
                    "INSERT INTO anonymized (record_id, text, entity_counts, config_hash, "
                    "created_at) VALUES (?, ?, '{\"PERSON\": 1}', 'test', ?)",
                    (record, anonymized_text(label, i), utc_now()),
                )
            if i < with_outputs and not generation:
                conn.execute(
                    "INSERT INTO teacher_outputs (record_id, teacher_id, valid, label, "
                    "probabilities, soft_label_source, created_at) VALUES (?, ?, 1, ?, ?, "
                    "'logits', ?)",
                    (record, TEACHER_ID, label, json.dumps(soft_vector(label, i)), utc_now()),
                )
    return ids
