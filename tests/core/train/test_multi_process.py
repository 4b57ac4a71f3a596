"""The same train config under torchrun: two CPU processes (gloo), DistributedDataParallel.

On GPUs the command is the same with --nproc_per_node = the number of GPUs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.jobs import protocol
from core.jobs.registry import TRAIN
from core.jobs.runs import create_run, get_run, run_result
from core.train.config import TrainConfig

pytestmark = pytest.mark.slow


def test_two_processes_train_one_run(train_project, tiny_classifier):
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        torchrun = Path(shutil.which("torchrun") or "torchrun")
    config = TrainConfig(student=str(tiny_classifier), epochs=2, batch_size=4,
                         checkpoint_every=2, early_stopping=0, device="cpu")  # fmt: skip
    run_id = create_run(train_project, TRAIN, config)
    done = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "core.train.launch",
         str(train_project.path), run_id],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == protocol.EXIT_OK, done.stderr[-2000:]
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert events[-1]["kind"] == "finished"
    result = run_result(train_project, TRAIN, get_run(train_project, run_id))
    # 24 examples, 4 per process, 2 processes: 3 steps per epoch.
    assert result.global_step == 6
    final = train_project.run_dir(run_id) / "checkpoints" / "checkpoint-6"
    assert {p.name for p in final.glob("rng_state_*.pth")} == {"rng_state_0.pth",
                                                               "rng_state_1.pth"}  # fmt: skip
    assert (train_project.run_dir(run_id) / "student" / "lineage.json").is_file()
