"""The shadow teacher: the sampled share is honoured, only anonymized text reaches the teacher,
and a teacher that is down changes nothing for callers (its calls fail or drop, counted)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from serve_helpers import infer_body, running_server

from core.serve.predlog import rows
from core.serve.server import free_port

sys.path.insert(0, str(Path(__file__).parents[1] / "teacher"))

from fake_openai_server import FakeOpenAIServer, ScriptedBackend, Switches

REQUESTS = 160
FRACTION = 0.25
EMAIL = "ottilie.vandersloot@example.com"


def _texts() -> list[str]:
    return [f"Please write to {EMAIL} about invoice {i}" for i in range(REQUESTS)]


def _answers(server) -> list[dict]:
    with httpx.Client(timeout=30) as client:
        return [client.post(server.infer_url(), json=infer_body(t)).json() for t in _texts()]


@pytest.fixture
def teacher():
    fake = FakeOpenAIServer(ScriptedBackend(), Switches(model_name="teacher")).start()
    yield fake
    fake.stop()


def test_the_shadow_share_is_honoured_and_the_teacher_sees_anonymized_text(
    bundle, tmp_path, teacher
):
    args = ("--shadow-teacher", f"openai:{teacher.base_url}", "--shadow-model", "teacher",
            "--shadow-fraction", str(FRACTION), "--seed", "3")  # fmt: skip
    with running_server(bundle, tmp_path, *args) as server:
        answers = _answers(server)
        assert all("outputs" in answer for answer in answers)
    logged = list(rows(server.log_dir))
    assert len(logged) == REQUESTS
    sampled = [row for row in logged if row["shadow"] is not None]
    sigma = (REQUESTS * FRACTION * (1 - FRACTION)) ** 0.5
    assert abs(len(sampled) - REQUESTS * FRACTION) <= 4 * sigma
    statuses = {row["shadow"]["status"] for row in sampled}
    assert statuses <= {"answered", "failed", "dropped"}
    answered = [row["shadow"] for row in sampled if row["shadow"]["status"] == "answered"]
    assert answered, statuses
    assert all(s["label"] in ("billing", "clinical", "other") for s in answered)
    assert teacher.prompts, "the teacher was never asked"
    assert not any(EMAIL in prompt for prompt in teacher.prompts)
    assert any("<EMAIL_ADDRESS" in prompt for prompt in teacher.prompts)


def test_a_teacher_that_is_down_changes_nothing_for_callers(bundle, tmp_path):
    with running_server(bundle, tmp_path / "plain") as server:
        expected = _answers(server)
    down = f"openai:http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    args = ("--shadow-teacher", down, "--shadow-model", "teacher", "--shadow-fraction", "0.5")
    with running_server(bundle, tmp_path / "down", *args) as server:
        answers = _answers(server)
    for got, want in zip(answers, expected, strict=True):
        assert got["outputs"][0]["data"] == want["outputs"][0]["data"]
    shadows = [row["shadow"] for row in rows(server.log_dir) if row["shadow"] is not None]
    assert shadows
    assert {s["status"] for s in shadows} <= {"failed", "dropped"}
