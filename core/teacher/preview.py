"""The dry run: the teacher on the first few anonymized records, nothing stored.

It shows the user the anonymized text, the exact prompt and the answer, so a template can be
fixed before a full run is paid for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core import netguard
from core.project import Project
from core.teacher import outputs
from core.teacher.base import Teacher, TeacherOutput, TeachItem
from core.teacher.config import TeachConfig, endpoint_host
from core.teacher.prompts import load_template
from core.teacher.sources import resolve
from core.teacher.stage import check_inputs, task_and_labels
from core.teacher.transport import audit_transport

PREVIEW_RECORDS = 5


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One dry-run answer: shown to the user, never stored."""

    record_id: int
    split: str
    text: str
    prompt: str | None
    label: str | None
    probabilities: tuple[float, ...] | None
    answer: str | None
    valid: bool
    flag: str | None = None  # why an answer is invalid (outside_label_set, non_finite…)
    task: str = "classification"
    reference: str | None = None  # generation: the record's reference text, if any


def preview_teach(
    project: Project, config: TeachConfig, *, records: int = PREVIEW_RECORDS
) -> list[PreviewRow]:
    """Run the teacher on the first few anonymized records and store nothing (a dry run).

    Raises:
        TeacherError: as :func:`run_teach`.
        UserError: as :func:`run_teach`.
    """
    config = dataclasses.replace(config, limit=records)
    config.validate()
    task, labels = task_and_labels(project)
    source, location = resolve(config.teacher)
    check_inputs(project, config, source, labels)
    prompt_file = config.prompt_file
    template = (
        load_template(project, task, prompt_file, keep=False) if source.needs_prompt else None
    )
    items = list(outputs.pending_items(project, "", "\0preview", need_text=source.needs_text,
                                     labels=labels, limit=records))  # fmt: skip
    with netguard.allowed(endpoint_host(config)):
        audit_transport(project, config, None)
        teacher = source.build(config, location, task, labels, template)
        try:
            # Checked as a run stores them: the dry run shows what training would get.
            answers = {
                o.record_id: outputs.checked(o, len(labels))
                for b in teacher.outputs(items)
                for o in b.outputs
            }
        finally:
            teacher.close()
    return [_preview_row(item, answers.get(item.record_id), teacher, task) for item in items]


def _preview_row(
    item: TeachItem, answer: TeacherOutput | None, teacher: Teacher, task: str
) -> PreviewRow:
    prompt_of = getattr(teacher, "prompt", None)
    return PreviewRow(
        task=task,
        reference=item.human_label if task == "generation" else None,
        record_id=item.record_id,
        split=item.split,
        text=item.text,
        prompt=prompt_of(item.text) if callable(prompt_of) else None,
        label=None if answer is None else answer.label,
        probabilities=None if answer is None else answer.probabilities,
        answer=None if answer is None else answer.text,
        valid=answer is not None and answer.valid,
        flag=None if answer is None else answer.flag,
    )
