"""Generation metrics: ROUGE-L, exact match and length ratio, in plain Python.

Tokens are lower-cased whitespace-separated words with surrounding punctuation stripped, so
"Yes." and "yes" match; this is close to the ``rouge-score`` package's default tokenizer
without its stemmer, and needs no extra dependency.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile("\\w+(?:['\u2019]\\w+)*")  # inner straight or typographic apostrophe


@dataclass(frozen=True, slots=True)
class GenerationScores:
    """One model's generations against one set of references.

    Attributes:
        n: pairs scored.
        rouge_l: mean ROUGE-L F-measure.
        exact_match: share of pairs whose normalised texts are equal.
        length_ratio: total candidate tokens / total reference tokens.
    """

    n: int
    rouge_l: float
    exact_match: float
    length_ratio: float


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, inner apostrophes); punctuation is dropped."""
    return _WORD.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """The length of the longest common subsequence of two token lists."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 between two texts (1.0 for two empty texts, 0.0 if only one is empty)."""
    cand, ref = tokens(candidate), tokens(reference)
    if not cand and not ref:
        return 1.0
    if not cand or not ref:
        return 0.0
    common = lcs_length(cand, ref)
    if common == 0:
        return 0.0
    precision, recall = common / len(cand), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(candidate: str, reference: str) -> bool:
    """Equal after lower-casing, dropping punctuation and collapsing whitespace."""
    return tokens(candidate) == tokens(reference)


def generation_scores(candidates: Sequence[str], references: Sequence[str]) -> GenerationScores:
    """ROUGE-L, exact match and length ratio over aligned pairs.

    Raises:
        ValueError: the lists differ in length or are empty.
    """
    if len(candidates) != len(references) or not candidates:
        raise ValueError("candidates and references must be non-empty and of equal length")
    rouge = [rouge_l(c, r) for c, r in zip(candidates, references, strict=True)]
    exact = [exact_match(c, r) for c, r in zip(candidates, references, strict=True)]
    cand_len = sum(len(tokens(c)) for c in candidates)
    ref_len = sum(len(tokens(r)) for r in references)
    return GenerationScores(
        n=len(candidates),
        rouge_l=sum(rouge) / len(rouge),
        exact_match=sum(exact) / len(exact),
        length_ratio=cand_len / ref_len if ref_len else float(cand_len == 0),
    )
