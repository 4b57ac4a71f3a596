"""The teacher helpers a GUI needs: saved prompt files, the endpoint check, live figures."""

from __future__ import annotations

import socket
import time

import pytest
from fake_openai_server import FakeOpenAIServer, Switches

from core.errors import EndpointError, TeacherError
from core.jobs.execute import run_stage
from core.jobs.registry import TEACH
from core.reporter import RecordingReporter
from core.teacher.config import TeachConfig
from core.teacher.endpoint_check import check_endpoint
from core.teacher.prompt_files import builtin_template, write_prompt_file
from core.teacher.prompts import PromptTemplate, load_template


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def models_only_server():
    """A fake endpoint for ``/models`` only: no model behind it (the check never asks one)."""
    fake = FakeOpenAIServer(backend=None, switches=Switches(model_name="tiny", api_key="k-1"))
    fake.start()
    yield fake
    fake.stop()


def test_the_builtin_template_needs_no_file(teach_project):
    assert write_prompt_file(teach_project, builtin_template("classification") + "\n") is None


def test_an_edited_template_is_saved_under_its_version(teach_project):
    text = "Pick one of {choices}.\nText: {text}\nAnswer:"
    path = write_prompt_file(teach_project, text)
    assert path is not None
    assert path.name == f"{PromptTemplate('classification', text).version}.txt"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_template(teach_project, "classification", path, keep=False).text == text
    assert write_prompt_file(teach_project, text + "\n") == path  # same prompt, same file


def test_a_template_without_the_text_field_is_refused(teach_project):
    with pytest.raises(TeacherError, match=r"no \{text\} field"):
        write_prompt_file(teach_project, "Pick one of {choices}.")


def test_the_endpoint_check_sends_the_key_and_finds_the_model(models_only_server, monkeypatch):
    monkeypatch.setenv("STILLROOM_TEACHER_API_KEY", "k-1")
    base = models_only_server.base_url.removesuffix("/v1")
    checked = check_endpoint(TeachConfig(teacher=f"openai:{base}", model="tiny"))
    assert checked.base_url == f"{base}/v1"
    assert checked.had_key
    assert models_only_server.headers_seen[-1]["Authorization"] == "Bearer k-1"


def test_the_endpoint_check_names_a_missing_model(models_only_server, monkeypatch):
    monkeypatch.setenv("STILLROOM_TEACHER_API_KEY", "k-1")
    config = TeachConfig(teacher=f"openai:{models_only_server.base_url}", model="big")
    with pytest.raises(EndpointError, match="does not serve a model named 'big'"):
        check_endpoint(config)


def test_the_endpoint_check_says_when_the_key_is_refused(models_only_server, monkeypatch):
    monkeypatch.setenv("STILLROOM_TEACHER_API_KEY", "wrong")
    config = TeachConfig(teacher=f"openai:{models_only_server.base_url}", model="tiny")
    with pytest.raises(EndpointError, match="refused the API key") as caught:
        check_endpoint(config)
    assert "wrong" not in caught.value.one_line()


def test_a_dead_endpoint_fails_fast_with_a_hint():
    config = TeachConfig(teacher=f"openai:http://127.0.0.1:{_unused_port()}/v1", model="m")
    started = time.perf_counter()
    with pytest.raises(EndpointError, match="cannot reach the teacher endpoint") as caught:
        check_endpoint(config, timeout_s=2.0)
    assert time.perf_counter() - started < 5
    assert "server is running" in caught.value.hint


def test_only_an_endpoint_teacher_can_be_checked():
    with pytest.raises(TeacherError, match="only an endpoint teacher"):
        check_endpoint(TeachConfig(teacher="labels"))


def test_each_batch_reports_rate_cost_and_failures(teach_project):
    reporter = RecordingReporter()
    run_stage(teach_project, TEACH, TeachConfig(teacher="labels", batch_size=8), reporter=reporter)
    live = [(name, value) for name, value, _ in reporter.metrics if name.startswith("teach/")]
    records = [value for name, value in live if name == "teach/records"]
    assert records == sorted(records)
    assert records[-1] == 30
    assert {name for name, _ in live} == {
        "teach/records",
        "teach/records_per_s",
        "teach/cost",
        "teach/failed",
    }
    assert all(value >= 0 for _, value in live)
