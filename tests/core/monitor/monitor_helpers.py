"""Replayed production traffic for the monitor tests: the training phrases, and a kind of
text the tiny models never saw (the planted shift)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from evaluate_helpers import TINY, build_trained_student, cached, fill_records, make_project
from tiny_models import LABELS, raw_text

# Production text of another kind than the training phrases (the planted shift).
SHIFTED = "the parking garage gate {i} is broken again and nobody answers the quokkaphone at {j}"


def times(n: int, start: int = 0) -> list[str]:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    return [(t0 + timedelta(minutes=start + i)).isoformat() for i in range(n)]


def unshifted(n: int, offset: int = 900) -> list[str]:
    """Training-like requests (the offset keeps each label's phrase, as in the training data)."""
    return [raw_text(LABELS[i % len(LABELS)], offset + i) for i in range(n)]


def shifted(n: int) -> list[str]:
    return [SHIFTED.format(i=i, j=i * 7 % 13) for i in range(n)]


def build_monitor_project(root: Path) -> Path:
    """A tiny project through the real stages, exported to ``exports/tiny``."""
    from core.anonymize.config import AnonymizeConfig
    from core.evaluate.config import EvaluateConfig
    from core.export.config import ExportConfig
    from core.jobs.execute import run_stage
    from core.jobs.registry import ANONYMIZE, EVALUATE, EXPORT, TEACH, TRAIN
    from core.teacher.config import TeachConfig
    from core.teacher.sources import MODEL_SPEC
    from core.train.config import TrainConfig

    model = cached("tiny-student", build_trained_student)
    project = make_project(root, "mon", min_retention=0.5)
    try:
        fill_records(project, 90)
        run_stage(project, ANONYMIZE, AnonymizeConfig(pattern_only=True, processes=1))
        run_stage(project, TEACH, TeachConfig(teacher=MODEL_SPEC.spec(str(model)), batch_size=16))
        run_stage(project, TRAIN, TrainConfig(student=str(model), epochs=1, batch_size=16,
                                              device="cpu", checkpoint_every=1000))  # fmt: skip
        run_stage(project, EVALUATE, EvaluateConfig(measure_latency=False, quantize_baseline=False,
                                                    sample_sizes=TINY))  # fmt: skip
        run_stage(project, EXPORT, ExportConfig(out=root / "mon" / "exports" / "tiny", name="tiny"))
    finally:
        project.close()
    return root / "mon"
