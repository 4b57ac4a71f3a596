"""The guided Teacher page (issue 20): a list of local models with what each is good for,
the prompt editor only for a model that reads one, and "fine-tune a teacher from your
labels first" as a step."""

from __future__ import annotations

import types

from desktop_fixtures import run_stage_in_process
from test_teacher_page import page, teach_dir, tiny_causal  # noqa: F401 — fixtures
from tiny_models import PROMPTS, build_classifier, cached_model

from core.jobs.registry import TEACH
from desktop.widgets import teacher_source_form as form


def test_local_models_are_listed_with_what_they_are_good_for(page, tiny_causal):  # noqa: F811
    assert page.models_found(60_000)
    models = page.source.models
    entries = [models.itemText(i) for i in range(models.count())]
    assert form.LOOKING not in entries
    page.source.set_source(form.LOCAL)
    minilm = next(i for i, text in enumerate(entries) if "MiniLM" in text)
    assert "needs fine-tuning first" in entries[minilm]
    models.setCurrentIndex(minilm)
    assert "Fine-tune it on your labels first" in page.source.good_for.text()
    assert page.source.folder.text() == models.itemData(minilm)
    assert page.prompt_box.isHidden()  # an encoder reads no prompt


def test_the_prompt_editor_is_shown_only_for_a_model_that_reads_one(page, tiny_causal):  # noqa: F811
    classifier = cached_model("tiny-classifier", build_classifier, PROMPTS)
    page.source.set_source(form.LOCAL)
    page.source.folder.setText(str(classifier))
    assert page.prompt_box.isHidden()
    page.source.folder.setText(str(tiny_causal))
    assert not page.prompt_box.isHidden()


def test_finetuning_a_teacher_from_the_labels_is_a_step(page, teach_dir, monkeypatch):  # noqa: F811
    started = []
    monkeypatch.setattr(
        page, "start_stage", lambda stage, config: started.append((stage.key, config))
    )
    page.source.set_source(form.ENDPOINT)
    page.finetune_teacher()
    assert started[0][0] == "teach"  # the human labels are stored first
    assert started[0][1].teacher == "labels"
    run_stage_in_process(teach_dir, TEACH, started[0][1])
    page.on_stage_succeeded("teach", None)
    assert started[1][0] == "train"
    assert started[1][1].alpha == 0.0  # cross-entropy on the labels: a fine-tune
    classifier = cached_model("tiny-classifier", build_classifier, PROMPTS)
    page.on_stage_succeeded("train", types.SimpleNamespace(model_dir=classifier))
    assert page.source.source() == form.LOCAL
    assert page.source.folder.text() == str(classifier)
    assert page.prompt_box.isHidden()
    assert "fine-tuned on your labels" in page.banner.message()


def test_a_stale_error_goes_when_the_source_changes(page):  # noqa: F811
    page.source.set_source(form.LOCAL)
    page.source.folder.setText("")
    page.start_teaching()
    assert "No teacher model is chosen" in page.banner.message()
    page.source.set_source(form.LABELS)
    assert page.banner.level() is None
