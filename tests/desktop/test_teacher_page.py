"""The Teacher page against the real teach stage: existing labels, a tiny local model, the
endpoint check (dead and alive), the 5-record dry run, and a bad prompt shown inline."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

TEACHER_TESTS = Path(__file__).parents[1] / "core" / "teacher"
sys.path.insert(0, str(TEACHER_TESTS))

from fake_openai_server import FakeOpenAIServer, Switches  # noqa: E402
from teach_helpers import fill_records  # noqa: E402
from tiny_models import LABELS, PROMPTS, build_causal, cached_model  # noqa: E402

from core.jobs.registry import TEACH  # noqa: E402
from core.jobs.runs import list_runs, run_config  # noqa: E402
from core.project import Project, QualityFloor  # noqa: E402
from core.teacher.config import TeachConfig  # noqa: E402
from desktop.pages.teacher_page import TeacherPage  # noqa: E402
from desktop.widgets import teacher_source_form as form  # noqa: E402

RUN_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def tiny_causal() -> Path:
    return cached_model("tiny-causal", build_causal, PROMPTS)


@pytest.fixture
def teach_dir(tmp_path: Path) -> Path:
    """30 records, all anonymized and human-labelled (raw text names a person)."""
    path = tmp_path / "teach"
    project = Project.create(path, task="classification", labels=LABELS, floor=QualityFloor(0.5))
    fill_records(project, 30)
    project.close()
    return path


@pytest.fixture
def page(qtbot, app_context, teach_dir) -> TeacherPage:
    app_context.open_project(teach_dir)
    page = TeacherPage(app_context)
    qtbot.addWidget(page)
    page.show()
    return page


def _accuracy_rows(page: TeacherPage) -> dict[str, str]:
    table = page.accuracy_table
    return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_existing_labels_run_and_show_the_teachers_accuracy(page):
    page.source.set_source(form.LABELS)
    assert page.prompt_box.isHidden()  # no prompt for the human labels
    worker = page.start_teaching()
    assert worker is not None
    assert worker.wait_finished(RUN_TIMEOUT_MS)
    assert worker.outcome == "succeeded", worker.error
    # Issue 20: the human labels agree with themselves; no 100% "score" is shown.
    assert _accuracy_rows(page) == {}
    assert "says nothing" in page.held_out_note.text()
    assert "30 records answered" in page.live.text()
    assert "records/s" in page.live.text()
    assert "cost so far 0.0000" in page.live.text()
    assert "0 failed" in page.live.text()
    assert page.start_button.isEnabled()


def test_a_tiny_local_model_labels_every_record_with_an_edited_prompt(
    page, app_context, qtbot, tiny_causal, teach_dir
):
    edited = "Categories:\n{choices}\n\nText: {text}\n\nReply with the {answer_kind} only.\nAnswer:"
    page.source.set_source(form.LOCAL)
    page.source.folder.setText(str(tiny_causal))
    page.prompt.set_text(edited)
    worker = page.start_teaching()
    assert worker is not None
    assert worker.wait_finished(RUN_TIMEOUT_MS)
    assert worker.outcome == "succeeded", worker.error
    assert worker.result.labelled == 30
    assert worker.result.prompt_version
    # Issue 20: held-out rows only (the train split is not scored).
    assert {"validation", "test", "validation and test"} <= _accuracy_rows(page).keys()
    assert "train" not in _accuracy_rows(page)
    assert worker.result.teacher_id in page.summary.text()
    with Project.open(teach_dir) as project:
        (run,) = list_runs(project, "teach")
        config = run_config(project, TEACH, run)
    assert config.teacher == f"hf:{tiny_causal}"
    prompt_file = config.prompt_file
    assert prompt_file.parent == teach_dir.resolve() / "prompts"
    assert prompt_file.stem == worker.result.prompt_version

    reopened = TeacherPage(app_context)  # a reopened project shows what was used
    qtbot.addWidget(reopened)
    reopened.show()
    assert reopened.source.source() == form.LOCAL
    assert reopened.source.folder.text() == str(tiny_causal)
    assert reopened.prompt.text() == edited
    assert _accuracy_rows(reopened) == _accuracy_rows(page)


def test_the_dry_run_shows_five_anonymized_rows_with_probabilities(page, tiny_causal, teach_dir):
    page.source.set_source(form.LOCAL)
    page.source.folder.setText(str(tiny_causal))
    page.start_dry_run()
    assert not page.dry_run_button.isEnabled()
    assert page.call_finished(RUN_TIMEOUT_MS)
    table = page.dry_run_table
    assert table.rowCount() == 5
    texts = [table.item(r, 2).text() for r in range(5)]
    assert all("<PERSON>" in text and "Jane Roe" not in text for text in texts)
    assert "Classify the text" in table.item(0, 2).toolTip()  # the exact prompt
    assert all(label in table.item(0, 4).text() for label in LABELS)
    assert page.dry_run_button.isEnabled()
    with Project.open(teach_dir) as project:  # a dry run stores nothing
        assert project.store.scalar("SELECT COUNT(*) FROM teacher_outputs") == 0
        assert list_runs(project) == []


def test_a_dead_endpoint_is_reported_inline(page, qtbot):
    page.source.set_source(form.ENDPOINT)
    page.source.base_url.setText(f"http://127.0.0.1:{_unused_port()}/v1")
    page.source.model_name.setText("teacher")
    page.test_endpoint()
    assert page.call_finished(15_000)
    assert page.banner.level() == "error"
    assert page.banner.message().startswith("Cannot reach the teacher endpoint")
    assert "server is running" in page.banner.hint()
    assert page.source.test_status.text() == ""


def test_a_live_endpoint_passes_the_check_with_the_typed_key(page, monkeypatch):
    monkeypatch.delenv("STILLROOM_TEACHER_API_KEY", raising=False)
    server = FakeOpenAIServer(backend=None, switches=Switches(model_name="big", api_key="s3"))
    server.start()
    try:
        page.source.set_source(form.ENDPOINT)
        page.source.base_url.setText(server.base_url)
        page.source.model_name.setText("big")
        page.source.api_key.setText("s3")
        page.test_endpoint()
        assert page.call_finished(15_000)
    finally:
        server.stop()
    assert page.banner.level() is None
    assert page.source.test_status.text().startswith("Connected with the API key")


def test_an_edited_prompt_without_the_text_field_is_refused_inline(page, tiny_causal, teach_dir):
    page.source.set_source(form.LOCAL)
    page.source.folder.setText(str(tiny_causal))
    page.prompt.set_text("Pick one of {choices}.")
    assert page.start_teaching() is None
    assert page.banner.level() == "error"
    assert "{text}" in page.banner.message()
    with Project.open(teach_dir) as project:
        assert list_runs(project) == []


def test_the_endpoint_transport_options_reach_the_config(page, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked here")
    page.source.set_source(form.ENDPOINT)
    page.source.base_url.setText("http://gpu-box:8000/v1")
    page.source.ca_bundle.setText(str(bundle))
    page.source.allow_insecure_http.setChecked(True)
    values = page.source.values()
    assert values["ca_bundle"] == bundle
    assert values["allow_insecure_http"] is True
    page.source.set_values(
        TeachConfig(teacher="openai:https://gpu-box/v1", ca_bundle=Path("/x/ca.pem"))
    )
    assert page.source.ca_bundle.text() == "/x/ca.pem"
    assert not page.source.allow_insecure_http.isChecked()


def test_a_generation_teacher_shows_rouge_l_not_agreement(qtbot, app_context, tmp_path):
    from core.jobs.execute import run_stage
    from core.reporter import NullReporter

    path = tmp_path / "gen"
    with Project.create(path, task="generation", floor=QualityFloor(0.5)) as project:
        fill_records(project, 6)  # the labels stand for reference texts
        run_stage(project, TEACH, TeachConfig(teacher="labels"), reporter=NullReporter())
    app_context.open_project(path)
    page = TeacherPage(app_context)
    qtbot.addWidget(page)
    page.show()
    assert page.accuracy_table.horizontalHeaderItem(1).text() == "ROUGE-L vs reference texts"
    # Issue 20: the references compared with themselves score nothing; no 1.000 is shown.
    assert _accuracy_rows(page) == {}
    assert "says nothing" in page.held_out_note.text()
