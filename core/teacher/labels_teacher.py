"""The "teacher" for teams that already have labels: human labels as one-hot soft labels."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from core.teacher.base import TeachBatch, TeacherOutput, TeachItem, chunked
from core.teacher.softlabels import one_hot

TEACHER_ID = "labels:human"


class ExistingLabelsTeacher:
    """Copies each record's human label; needs no text and costs nothing."""

    teacher_id = TEACHER_ID

    def __init__(self, labels: tuple[str, ...], batch_size: int = 512) -> None:
        self._labels = labels
        self._batch_size = batch_size
        self.warnings: list[str] = []

    def outputs(self, items: Iterable[TeachItem]) -> Iterator[TeachBatch]:
        for batch in chunked(items, self._batch_size):
            yield TeachBatch([self._output(item) for item in batch])

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

    def close(self) -> None:
        return None
