"""The OpenAI-compatible endpoint teacher against a loopback server running a real tiny LM."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from fake_openai_server import FakeOpenAIServer, ModelBackend, Switches
from teach_helpers import fill_records

from core import netguard
from core.errors import EndpointError
from core.jobs.execute import run_stage
from core.jobs.registry import TEACH
from core.project import Project, QualityFloor
from core.reporter import NullReporter, RecordingReporter, StageCancelled
from core.teacher.config import TeachConfig
from core.teacher.softlabels import is_distribution

FAST = {"backoff_s": 0.01, "breaker_cooldown_s": 0.05, "timeout_s": 5.0}
TIMEOUT_FAULTS = {"timeout_s": 1.0}  # the server's "timeout" fault stalls for 1.5 s


def _config(server, **changes):
    values = {"teacher": f"openai:{server.base_url}", "model": "tiny", "price_in": 1000.0,
              "price_out": 2000.0, "concurrency": 4, **FAST, **changes}  # fmt: skip
    return TeachConfig(**values)


def _rows(project):
    return project.store.query("SELECT * FROM teacher_outputs ORDER BY record_id")


def _expected_cost(rows):
    return sum((r["input_tokens"] * 1000.0 + r["output_tokens"] * 2000.0) / 1e6 for r in rows)


@pytest.mark.parametrize("mode", ["chat", "completions"])
def test_logprobs_become_soft_labels(teach_project, server, mode):
    result = run_stage(teach_project, TEACH, _config(server, mode=mode), reporter=NullReporter())
    assert (result.labelled, result.failed) == (30, 0)
    assert result.invalid <= 3  # the tiny model sometimes answers a label name, not a letter
    rows = [r for r in _rows(teach_project) if r["valid"]]
    assert {r["soft_label_source"] for r in rows} == {"logprobs"}
    vectors = [json.loads(r["probabilities"]) for r in rows]
    assert all(is_distribution(v) for v in vectors)
    assert all(max(v) < 0.99 for v in vectors)  # real distributions, not one-hot
    assert result.cost == pytest.approx(_expected_cost(_rows(teach_project)), abs=1e-5)
    assert result.cost > 0
    # No transport retries on a clean server: a second attempt is only ever the strict retry.
    assert all(r["attempts"] == 1 or r["flag"] for r in _rows(teach_project))
    assert all(r["latency_ms"] > 0 for r in rows)
    assert f"mode={mode}" in result.teacher_id
    # The teacher saw anonymized text only: never the raw name in the records table.
    assert server.prompts
    assert all("<PERSON>" in p and "Jane Roe" not in p for p in server.prompts)
    assert not netguard.is_allowed("203.0.113.5")


def test_rerun_asks_nothing_and_bills_nothing(teach_project, server):
    run_stage(teach_project, TEACH, _config(server), reporter=NullReporter())
    asked = len(server.prompts)
    again = run_stage(teach_project, TEACH, _config(server), reporter=NullReporter())
    assert (again.labelled, again.cost, again.already_stored) == (0, 0.0, 30)
    assert len(server.prompts) == asked


def test_mixed_faults_lose_nothing_and_bill_once(tmp_path, model_backend):
    clean_server = FakeOpenAIServer(model_backend, Switches(model_name="tiny")).start()
    faulty = FakeOpenAIServer(model_backend, Switches(model_name="tiny", fault_rate=0.3,
                              timeout_sleep_s=1.5, slow_s=0.2), seed=3).start()  # fmt: skip
    try:
        costs = []
        for name, server in (("clean", clean_server), ("faulty", faulty)):
            with Project.create(tmp_path / name, task="classification",
                                labels=("billing", "clinical", "other"),
                                floor=QualityFloor(0.9)) as project:  # fmt: skip
                fill_records(project, 24)
                config = _config(server, **TIMEOUT_FAULTS)
                result = run_stage(project, TEACH, config, reporter=NullReporter())
                rows = _rows(project)
                assert (result.labelled, result.failed, len(rows)) == (24, 0, 24)
                assert len({r["record_id"] for r in rows}) == 24
                costs.append((result.cost, sum(r["cost"] for r in rows)))
                if name == "faulty":
                    assert result.attempts > 24
                    assert sum(r["attempts"] > 1 for r in rows) >= 3
        assert set(faulty.outcomes) - {"200"}  # faults really happened
        # Each record is billed for exactly one answer, however many tries it took.
        assert costs[0][0] == pytest.approx(costs[1][0])
        assert costs[1][0] == pytest.approx(costs[1][1])
    finally:
        clean_server.stop()
        faulty.stop()


def test_each_fault_kind_is_retried(teach_project, server):
    server.switches.fail_next.extend(["429", "500", "503", "timeout", "truncated", "reset"])
    config = _config(server, concurrency=1, **TIMEOUT_FAULTS)
    result = run_stage(teach_project, TEACH, config, reporter=NullReporter())
    assert (result.labelled, result.failed) == (30, 0)
    assert result.attempts >= 36  # more if a busy machine made a real answer time out
    assert {"429", "500", "503", "timeout", "truncated", "reset"} <= set(server.outcomes)


def test_cancel_then_resume_bills_each_record_once(teach_project, server):
    config = _config(server, batch_size=4, concurrency=2)
    with pytest.raises(StageCancelled):
        run_stage(teach_project, TEACH, config, reporter=RecordingReporter(cancel_after=1))
    first = _rows(teach_project)
    assert 0 < len(first) < 30
    result = run_stage(teach_project, TEACH, config, reporter=NullReporter())
    rows = _rows(teach_project)
    assert len(rows) == 30
    assert result.cost_total == pytest.approx(_expected_cost(rows), abs=1e-5)


def test_endpoint_without_logprobs_parses_answers(teach_project, server):
    server.switches.logprobs = "ignore"
    result = run_stage(teach_project, TEACH, _config(server), reporter=NullReporter())
    assert result.soft_label_sources.get("parsed", 0) >= 25
    parsed = [json.loads(r["probabilities"]) for r in _rows(teach_project) if r["valid"]]
    assert all(sorted(v) == [0.0, 0.0, 1.0] for v in parsed)  # one-hot, as the warning says
    assert any("no logprobs" in w and "--samples" in w for w in result.warnings)


def test_samples_give_an_empirical_distribution(teach_project, server):
    server.switches.logprobs = "ignore"
    result = run_stage(
        teach_project, TEACH, _config(server, samples=4, limit=6), reporter=NullReporter()
    )
    rows = [r for r in _rows(teach_project) if r["valid"]]
    assert result.soft_label_sources.get("samples", 0) == len(rows) >= 5
    for row in rows:
        vector = json.loads(row["probabilities"])
        assert is_distribution(vector)
        # Shares of the (up to 4) sampled answers that named a label.
        assert any(all(abs(v * k - round(v * k)) < 1e-9 for v in vector) for k in (1, 2, 3, 4))


def test_server_refusing_logprobs_falls_back(teach_project, server):
    server.switches.logprobs = "reject"
    result = run_stage(teach_project, TEACH, _config(server, limit=5), reporter=NullReporter())
    assert result.labelled == 5
    assert "logprobs" not in result.soft_label_sources
    assert any("no logprobs" in w for w in result.warnings)


def test_answers_outside_the_label_set_are_retried_strictly_then_flagged(teach_project, server):
    server.switches.off_label = "always"
    result = run_stage(teach_project, TEACH, _config(server, limit=6), reporter=NullReporter())
    assert (result.labelled, result.invalid) == (6, 6)
    rows = _rows(teach_project)
    assert all(r["valid"] == 0 and r["flag"] == "outside_label_set" for r in rows)
    assert all(r["attempts"] == 2 and r["probabilities"] is None for r in rows)
    assert sum("nothing else" in p for p in server.prompts) == 6  # one strict retry each
    assert result.accuracy["all"] == 0.0
    assert any("outside the label set" in w for w in result.warnings)


def test_a_strict_retry_that_works_is_kept(teach_project, server):
    server.switches.off_label = "unless_strict"
    result = run_stage(teach_project, TEACH, _config(server, limit=4), reporter=NullReporter())
    assert (result.labelled, result.invalid) == (4, 0)
    assert {r["flag"] for r in _rows(teach_project)} == {"strict_retry"}


def test_generation_keeps_text_and_top_logprobs(generation_project, server):
    config = _config(server, max_new_tokens=4, top_logprobs=5)
    result = run_stage(generation_project, TEACH, config, reporter=NullReporter())
    assert result.labelled == 6
    row = _rows(generation_project)[0]
    tokens = json.loads(row["token_logprobs"])
    assert row["text"] == "".join(t["token"] for t in tokens)
    assert 1 <= len(tokens[0]["top"]) <= 5


def test_rate_limit_spaces_requests(teach_project, server):
    start = time.monotonic()
    run_stage(teach_project, TEACH, _config(server, rate=20.0, limit=8), reporter=NullReporter())
    assert time.monotonic() - start >= 7 / 20


# -- bad input: one actionable message each ------------------------------------------------


def test_unroutable_endpoint_fails_fast(teach_project):
    config = TeachConfig(teacher="openai:http://203.0.113.5:8000/v1", model="m",
                         connect_timeout_s=0.5, timeout_s=2.0)  # fmt: skip
    start = time.monotonic()
    # Air-gapped, the connection times out ("cannot reach"); behind a transparent proxy
    # (some CI sandboxes) the proxy answers 404. Either way: one message, quickly.
    with pytest.raises(EndpointError, match=r"cannot reach|answered 404") as info:
        run_stage(teach_project, TEACH, config, reporter=NullReporter())
    assert time.monotonic() - start < 10
    assert "check" in info.value.hint
    assert not netguard.is_allowed("203.0.113.5")  # allowed only while the stage ran


def test_a_server_that_never_answers_does_not_hang(teach_project):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel accepts connections; nobody ever reads or answers
    port = silent.getsockname()[1]
    config = TeachConfig(teacher=f"openai:http://127.0.0.1:{port}/v1", model="m",
                         timeout_s=0.5, connect_timeout_s=0.5)  # fmt: skip
    try:
        with pytest.raises(EndpointError, match=r"cannot reach.*timed out"):
            run_stage(teach_project, TEACH, config, reporter=NullReporter())
    finally:
        silent.close()


def test_closed_port_is_unreachable(teach_project, server):
    url = server.base_url
    server.stop()
    with pytest.raises(EndpointError, match="cannot reach"):
        run_stage(teach_project, TEACH, TeachConfig(teacher=f"openai:{url}", model="tiny"),
                  reporter=NullReporter())  # fmt: skip


def test_wrong_model_name_lists_the_served_ones(teach_project, server):
    with pytest.raises(EndpointError, match=r"gpt-9.*serves: tiny") as info:
        run_stage(teach_project, TEACH, _config(server, model="gpt-9"), reporter=NullReporter())
    assert "--model" in info.value.hint


def test_wrong_model_without_a_models_list(teach_project, server):
    server.switches.models_endpoint = False
    with pytest.raises(EndpointError, match="404"):
        run_stage(teach_project, TEACH, _config(server, model="gpt-9"), reporter=NullReporter())


def test_auth_failures_and_the_key_never_stored(teach_project, server, monkeypatch):
    server.switches.api_key = "sk-secret-123"
    with pytest.raises(EndpointError, match="needs an API key") as info:
        run_stage(teach_project, TEACH, _config(server), reporter=NullReporter())
    assert "STILLROOM_TEACHER_API_KEY" in info.value.hint
    monkeypatch.setenv("MY_KEY", "sk-wrong")
    with pytest.raises(EndpointError, match="refused the API key"):
        run_stage(
            teach_project, TEACH, _config(server, api_key_env="MY_KEY"), reporter=NullReporter()
        )
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    result = run_stage(teach_project, TEACH, _config(server, api_key_env="MY_KEY", limit=3),
                       reporter=NullReporter())  # fmt: skip
    assert result.labelled == 3
    teach_project.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in teach_project.path.rglob("*"):
        if path.is_file():
            assert b"sk-secret-123" not in path.read_bytes(), path


def test_an_endpoint_that_keeps_failing_stops_with_one_message(teach_project, server):
    server.switches.fault_rate = 1.0
    server.switches.fault_kinds = ("500",)
    config = _config(server, breaker_threshold=2, breaker_trips=1, max_attempts=20)
    with pytest.raises(EndpointError, match="kept failing") as info:
        run_stage(teach_project, TEACH, config, reporter=NullReporter())
    assert "re-run the same command" in info.value.hint


def test_records_that_exhaust_retries_are_left_for_the_next_run(teach_project, server):
    server.switches.fail_if_prompt_has = "account 0 "  # record 1 always gets a 500
    config = _config(server, max_attempts=3, breaker_threshold=50, limit=3)
    result = run_stage(teach_project, TEACH, config, reporter=NullReporter())
    assert (result.labelled, result.failed) == (2, 1)
    assert any("run the same command again" in w for w in result.warnings)
    assert {r["record_id"] for r in _rows(teach_project)} == {2, 3}
    server.switches.fail_if_prompt_has = None
    again = run_stage(
        teach_project, TEACH, dataclasses.replace(config, limit=1), reporter=NullReporter()
    )
    assert again.labelled == 1
    assert {r["record_id"] for r in _rows(teach_project)} == {1, 2, 3}


def test_the_server_really_ran_a_model(model_backend):
    assert isinstance(model_backend, ModelBackend)


def test_a_killed_worker_resumes_without_double_billing(teach_project, server):
    import os
    import signal

    from core.jobs.execute import execute_run
    from core.jobs.registry import TEACH
    from core.jobs.runs import create_run, reconcile_runs
    from core.jobs.worker import WorkerProcess

    server.switches.latency_s = 0.1
    config = _config(server, concurrency=2, batch_size=4)
    run_id = create_run(teach_project, TEACH, config)
    worker = WorkerProcess(teach_project.path, run_id)
    for event in worker.events():
        if event["kind"] == "progress" and event["fraction"] > 0:
            os.kill(worker.process.pid, signal.SIGKILL)
            break
    worker.wait(timeout=30)
    assert teach_project.store.scalar("PRAGMA integrity_check") == "ok"
    assert reconcile_runs(teach_project) == [run_id]
    stored = len(_rows(teach_project))
    assert 0 < stored < 30
    outcome = execute_run(teach_project, run_id, lambda event: None)
    assert outcome.status == "succeeded"
    assert outcome.result.already_stored == stored
    rows = _rows(teach_project)
    assert len(rows) == len({r["record_id"] for r in rows}) == 30
    assert outcome.result.cost_total == pytest.approx(_expected_cost(rows), abs=1e-5)
