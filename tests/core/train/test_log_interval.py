"""Training loss is logged often enough for a curve (issue 20)."""

from __future__ import annotations

import pytest

from core.train.config import TrainConfig
from core.train.trainer import training_arguments


@pytest.mark.parametrize(("train_size", "expected"), [(40, 1), (1886, 2), (200_000, 25)])
def test_about_a_hundred_loss_points_per_run(tmp_path, train_size, expected):
    config = TrainConfig(student="s", epochs=3.0, checkpoint_every=50)
    args = training_arguments(tmp_path, config=config, task="classification", batch_size=32,
                              grad_accum=1, train_size=train_size, epochs=3.0, device="cpu",
                              precision="fp32")  # fmt: skip
    assert args.logging_steps == expected
