"""The "teacher" for teams that already have labels: human labels as one-hot soft labels, or
(generation) the reference texts as the teacher's text, e.g. to fine-tune a local teacher."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from core.teacher.base import TeachBatch, TeacherOutput, TeachItem, chunked
from core.teacher.softlabels import one_hot

TEACHER_ID = "labels:human"
REFERENCES_NOTE = (
    "the reference texts are used as they were imported (the anonymizer reads the input "
    "column only): make sure they hold no names, numbers or other identifiers"
)


class ExistingLabelsTeacher:
    """Copies each record's human label (or reference text); needs no input and costs
    nothing."""

    teacher_id = TEACHER_ID

    def __init__(self, labels: tuple[str, ...], batch_size: int = 512, *,
                 task: str = "classification") -> None:  # fmt: skip
        self._labels = labels
        self._batch_size = batch_size
        self._task = task
        self.warnings: list[str] = [REFERENCES_NOTE] if task == "generation" else []

    def outputs(self, items: Iterable[TeachItem]) -> Iterator[TeachBatch]:
        make = self._output if self._task == "classification" else self._reference
        for batch in chunked(items, self._batch_size):
            yield TeachBatch([make(item) for item in batch])

    def _output(self, item: TeachItem) -> TeacherOutput:
        # Only records whose label is in the label set are ever selected (outputs.py).
        label = str(item.human_label)
        return TeacherOutput(
            record_id=item.record_id,
            label=label,
            probabilities=tuple(one_hot(label, self._labels)),
            soft_label_source="human",
            label_mass=1.0,
            attempts=0,
        )

    def _reference(self, item: TeachItem) -> TeacherOutput:
        # Only records with a reference text are ever selected (outputs.py).
        return TeacherOutput(record_id=item.record_id, text=str(item.human_label), attempts=0)

    def close(self) -> None:
        return None
