"""Distillation losses (DESIGN §4): soft labels for classification, SFT plus token-level KL
for generation.

The teacher's classification outputs are stored as probabilities, not logits; tempering a
probability vector is ``softmax(log p / T)``, which is what tempering the logits gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

IGNORE_INDEX = -100
_MIN_PROB = 1e-8  # a one-hot teacher (human labels) has exact zeros; log(0) is -inf
_ABSENT = -1e4


def tempered_log_probs(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """``log softmax(log p / T)``: the teacher's distribution at temperature ``T``."""
    import torch

    logits = torch.log(probabilities.float().clamp_min(_MIN_PROB)) / temperature
    return torch.log_softmax(logits, dim=-1)


def classification_kd_loss(
    student_logits: torch.Tensor,
    teacher_probs: torch.Tensor,
    labels: torch.Tensor,
    *,
    alpha: float,
    temperature: float,
    row_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """``alpha*T^2*KL(p_teacher^T || p_student^T) + (1-alpha)*CE(hard label)``, batch means.

    The KL is averaged over the batch; the CE over the rows that have a hard label
    (``labels != -100``), and is 0 when none has. ``row_weights`` (class-aware training)
    weigh each row's terms in both means. The T^2 keeps the soft term's gradients on
    the same scale whatever the temperature (Hinton et al., 2015).

    Args:
        student_logits: ``[batch, labels]``.
        teacher_probs: ``[batch, labels]`` probability vectors in the project's label order.
        labels: ``[batch]`` hard label indices, -100 where there is none.
        alpha: weight of the soft term, in [0, 1].
        temperature: T > 0.
        row_weights: ``[batch]`` loss weight of each row (None: 1 each).
    """
    import torch

    logits = student_logits.float()
    loss = logits.new_zeros(())
    weights = torch.ones_like(logits[:, 0]) if row_weights is None else row_weights.float()
    if alpha > 0:
        teacher_log = tempered_log_probs(teacher_probs, temperature)
        student_log = torch.log_softmax(logits / temperature, dim=-1)
        kl = (teacher_log.exp() * (teacher_log - student_log)).sum(dim=-1)
        loss = loss + alpha * temperature**2 * (kl * weights).mean()
    labelled = labels != IGNORE_INDEX
    if alpha < 1 and bool(labelled.any()):
        ce = torch.nn.functional.cross_entropy(logits[labelled], labels[labelled], reduction="none")
        loss = loss + (1 - alpha) * (ce * weights[labelled]).mean()
    return loss


def generation_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    alpha: float,
    topk_ids: torch.Tensor | None = None,
    topk_logprobs: torch.Tensor | None = None,
) -> torch.Tensor:
    """SFT on the teacher's text (prompt masked) plus token-level KL on its top-k.

    ``(1 - alpha)*CE + alpha*KL`` where KL, averaged over the target positions that have the
    teacher's top-k, is ``KL(q || p_student)`` with ``q`` the teacher's top-k probabilities
    renormalised over those k tokens (the rest of its distribution was not stored). Without
    top-k the loss is the SFT cross-entropy alone.

    Args:
        logits: ``[batch, length, vocab]`` for the whole sequence (prompt and target).
        labels: ``[batch, length]`` the input ids where they are targets, -100 elsewhere.
        alpha: weight of the KL term, in [0, 1].
        topk_ids: ``[batch, length, k]`` the teacher's top-k token ids at each target.
        topk_logprobs: ``[batch, length, k]`` their log-probabilities, -inf where absent.
    """
    import torch

    # Position i predicts token i + 1.
    shifted = logits[:, :-1].float()
    targets = labels[:, 1:]
    sft = torch.nn.functional.cross_entropy(
        shifted.reshape(-1, shifted.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX
    )
    if topk_ids is None or topk_logprobs is None or alpha == 0:
        return sft
    teacher = topk_logprobs[:, 1:].float()
    present = torch.isfinite(teacher)
    rows = present.any(dim=-1)
    if not bool(rows.any()):
        return sft
    ids = topk_ids[:, 1:].clamp_min(0)
    student = shifted.gather(-1, ids) - torch.logsumexp(shifted, dim=-1, keepdim=True)
    # A finite stand-in for the absent entries: -inf would make NaN gradients even where
    # the term is masked out.
    q_log = torch.log_softmax(teacher.masked_fill(~present, _ABSENT), dim=-1)
    terms = q_log.exp() * (q_log - student) * present
    kl = terms.sum(dim=-1)[rows].mean()
    return (1 - alpha) * sft + alpha * kl
