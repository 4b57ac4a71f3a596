"""Soft-label maths shared by every teacher source (DESIGN §4).

All vectors are in the project's label order. Everything here is plain Python on short
lists, so it is exact, fast enough, and testable without torch.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Markers tokenizers put in front of a word-initial piece; endpoints sometimes return them raw.
_WORD_MARKERS = ("Ġ", "▁", "Ċ")


def softmax(logits: Sequence[float], temperature: float = 1.0) -> list[float]:
    """``softmax(logits / temperature)``, computed stably.

    Raises:
        ValueError: the temperature is not positive or there are no logits.
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    if not logits:
        raise ValueError("no logits")
    scaled = [value / temperature for value in logits]
    top = max(scaled)
    exps = [math.exp(value - top) for value in scaled]
    total = sum(exps)
    return [value / total for value in exps]


def logsumexp(values: Iterable[float]) -> float:
    """``log(sum(exp(v)))`` without overflow; ``-inf`` for no values."""
    finite = [v for v in values if v != -math.inf]
    if not finite:
        return -math.inf
    top = max(finite)
    return top + math.log(sum(math.exp(v - top) for v in finite))


def renormalise(label_logprobs: Sequence[float]) -> tuple[list[float], float]:
    """Restrict a distribution to the label tokens and renormalise it.

    Args:
        label_logprobs: one log-probability per label (``-inf`` where the label's token was
            not seen, e.g. outside an endpoint's top-k).

    Returns:
        The probability vector over the labels and the mass the labels had before
        renormalising (how much the model "wanted" to answer inside the label set).

    Raises:
        ValueError: no label has any probability.
    """
    total = logsumexp(label_logprobs)
    if total == -math.inf:
        raise ValueError("no label token has any probability")
    probs = [0.0 if lp == -math.inf else math.exp(lp - total) for lp in label_logprobs]
    # In log space: a (broken) logprob of 800 gives a mass of 1, not an OverflowError; the
    # output is then refused by :func:`soft_label_problem` through its token logprobs.
    return probs, math.nan if math.isnan(total) else math.exp(min(total, 0.0))


def normalise_token(token: str) -> str:
    """A token as a comparable answer: word markers and whitespace dropped, case folded."""
    for marker in _WORD_MARKERS:
        token = token.replace(marker, " ")
    return token.strip().casefold()


def label_logprobs_from_top(
    top_logprobs: Mapping[str, float], answer_tokens: Sequence[str]
) -> list[float]:
    """Per label, the log-probability of its answer token among an endpoint's top-k.

    Variants of the same answer (``"A"``, ``" A"``, ``"a"``) are summed, since a server
    returns each as its own token.
    """
    wanted = [normalise_token(token) for token in answer_tokens]
    found: list[list[float]] = [[] for _ in wanted]
    for token, logprob in top_logprobs.items():
        key = normalise_token(token)
        for index, answer in enumerate(wanted):
            if key == answer:
                found[index].append(float(logprob))
    return [logsumexp(values) for values in found]


def one_hot(label: str, labels: Sequence[str]) -> list[float]:
    """The hard label as a probability vector.

    Raises:
        ValueError: the label is not in the label set.
    """
    index = list(labels).index(label)
    return [1.0 if i == index else 0.0 for i in range(len(labels))]


def empirical(answers: Iterable[str], labels: Sequence[str]) -> list[float] | None:
    """The share of each label among parsed sampled answers; None if none was a label."""
    counts = Counter(answer for answer in answers if answer in labels)
    total = sum(counts.values())
    if total == 0:
        return None
    return [counts[label] / total for label in labels]


def argmax_label(probabilities: Sequence[float], labels: Sequence[str]) -> str:
    """The most probable label (the first one on ties, so it is deterministic)."""
    best = max(range(len(labels)), key=lambda i: (probabilities[i], -i))
    return labels[best]


def is_distribution(probabilities: Sequence[float], tolerance: float = 1e-6) -> bool:
    """True if the values are in [0, 1] and sum to 1."""
    return all(0.0 <= p <= 1.0 for p in probabilities) and (
        abs(sum(probabilities) - 1.0) <= tolerance
    )


PROBABILITY_TOLERANCE = 1e-4
"""How far a soft label may sum from 1 (float32 softmax rounding is ~1e-7 per entry)."""
LOGPROB_TOLERANCE = 1e-4
"""How far above 0 a logprob may be (rounding of log_softmax) before it is refused."""


def soft_label_problem(probabilities: Sequence[float], labels: int) -> str | None:
    """Why a probability vector is not a usable soft label, or None if it is one.

    Returns:
        ``wrong_length``, ``non_finite`` (NaN or infinite), ``negative_probability`` or
        ``not_a_distribution`` (an entry above 1, or a sum off 1 by more than
        :data:`PROBABILITY_TOLERANCE`); None for a valid distribution.
    """
    if labels and len(probabilities) != labels:
        return "wrong_length"
    if not all(isinstance(p, int | float) and math.isfinite(p) for p in probabilities):
        return "non_finite"
    if any(p < 0 for p in probabilities):
        return "negative_probability"
    if any(p > 1 + PROBABILITY_TOLERANCE for p in probabilities):
        return "not_a_distribution"
    if abs(math.fsum(probabilities) - 1.0) > PROBABILITY_TOLERANCE:
        return "not_a_distribution"
    return None


def logprob_problem(token_logprobs: Sequence[Mapping[str, Any]]) -> str | None:
    """Why a list of token logprobs (``{"token", "logprob", "top"}`` each) is unusable.

    ``-inf`` is a probability of 0 and is kept; NaN, ``+inf`` and values above 0 are not
    log-probabilities at all, and a position with no finite value has no distribution.

    Returns:
        ``non_finite_logprob``, ``logprob_above_zero`` or None.
    """
    for entry in token_logprobs:
        values = [entry.get("logprob"), *dict(entry.get("top") or {}).values()]
        if not all(isinstance(v, int | float) for v in values):
            return "non_finite_logprob"
        if any(math.isnan(v) or v == math.inf for v in values):
            return "non_finite_logprob"
        if not any(math.isfinite(v) for v in values):
            return "non_finite_logprob"
        if any(v > LOGPROB_TOLERANCE for v in values):
            return "logprob_above_zero"
    return None
