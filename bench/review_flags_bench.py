"""False and true ``non_english`` review flags, before and after issue 20's language check.

False flags: a project whose records are all English (the demo's airline tweets); every
``non_english`` flag there is false. The rate is given for the flags the project's last
anonymize run stored, for the first rule (kept below, verbatim, to compare) and for the
current rule, both on the record's text with the stored identifier spans. True flags:
sentences from Faker's word lists of other languages (seeded), which should be flagged.

    PYTHONPATH=$PWD .venv/bin/python bench/review_flags_bench.py demo-project
"""

from __future__ import annotations

import argparse
import json
import random
import re
import unicodedata
from pathlib import Path

from core.anonymize.language import looks_non_english
from core.project import Project

_WORD = re.compile(r"[^\W\d_]+")
_MARKERS = frozenset({
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "with", "is", "are",
    "was", "were", "be", "been", "it", "this", "that", "i", "you", "he", "she", "we", "they",
    "my", "your", "his", "her", "our", "their", "not", "no", "have", "has", "had", "do", "does",
    "did", "will", "would", "can", "could", "please", "from", "by", "as", "but", "if", "so",
    "what", "when", "where", "who", "how",
})  # fmt: skip
LOCALES = ("de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "ru_RU", "zh_CN")


def first_rule(text: str) -> bool:
    """The check before issue 20, as it was."""
    words = [w.casefold() for w in _WORD.findall(text)]
    if len(words) < 6:
        return False
    letters = "".join(words)
    latin = sum(ch.isascii() or "LATIN" in unicodedata.name(ch, "") for ch in letters)
    if latin < 0.7 * len(letters):
        return True
    return sum(w in _MARKERS for w in words) < 0.1 * len(words)


def project_rates(folder: Path) -> None:
    with Project.open(folder) as project:
        rows = project.store.query(
            "SELECT r.text, a.spans, a.review_reasons FROM records r "
            "JOIN anonymized a ON a.record_id = r.id"
        )
    stored = sum("non_english" in json.loads(r["review_reasons"]) for r in rows)
    before = sum(first_rule(r["text"]) for r in rows)
    after = sum(
        looks_non_english(
            r["text"], [(s["source_start"], s["source_end"]) for s in json.loads(r["spans"])]
        )
        for r in rows
    )
    n = len(rows)
    print(f"{folder}: {n:,} anonymized records, all English: every flag is false")
    print(f"  stored by its last anonymize run: {stored:5} ({stored / n:.2%})")
    print(f"  first rule:                       {before:5} ({before / n:.2%})")
    print(f"  current rule:                     {after:5} ({after / n:.2%})")


def foreign_rates(count: int, seed: int) -> None:
    from faker import Faker

    print(f"\n{count} sentences per language (Faker word lists, seed {seed}): share flagged")
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        texts = [fake.sentence(nb_words=random.Random(i).randint(6, 16)) for i in range(count)]
        before = sum(map(first_rule, texts)) / count
        after = sum(looks_non_english(t) for t in texts) / count
        print(f"  {locale}: first rule {before:6.1%}   current rule {after:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path, help="a project of English records (the demo)")
    parser.add_argument("--foreign", type=int, default=200, help="sentences per language")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    project_rates(args.project)
    foreign_rates(args.foreign, args.seed)


if __name__ == "__main__":
    main()
