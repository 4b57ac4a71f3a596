"""A hostile or broken endpoint (issue 13, items 1, 3, 4): numbers that are no distribution,
answers dripped a byte at a time, huge answers, impossible token counts, crashing tasks."""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import time

import pytest

from core.errors import EndpointError
from core.jobs.execute import run_stage
from core.jobs.registry import TEACH
from core.reporter import NullReporter
from core.teacher.base import TeachBatch, TeacherOutput
from core.teacher.config import TeachConfig
from core.teacher.endpoint import _collect
from core.teacher.outputs import checked, write_batch
from core.teacher.softlabels import renormalise

FAST = {"backoff_s": 0.01, "breaker_cooldown_s": 0.05, "timeout_s": 5.0, "concurrency": 4}


def _config(server, **changes):
    return TeachConfig(teacher=f"openai:{server.base_url}", model="tiny", price_in=1000.0,
                       price_out=2000.0, **{**FAST, **changes})  # fmt: skip


def _rows(project):
    return project.store.query("SELECT * FROM teacher_outputs ORDER BY record_id")


def _set_logprobs(value):
    """A server edit: every logprob of every chat answer (chosen token and top-k) = value."""

    def mangle(reply):
        for choice in reply["choices"]:
            for entry in (choice.get("logprobs") or {}).get("content") or []:
                entry["logprob"] = value
                for top in entry["top_logprobs"]:
                    top["logprob"] = value

    return mangle


# -- item 1: NaN / Infinity never become valid soft labels ----------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [(math.nan, "non_finite"), (math.inf, "non_finite"), (800.0, "logprob_above_zero"),
     (0.5, "logprob_above_zero")],
)  # fmt: skip
def test_impossible_logprobs_are_stored_invalid_with_the_reason(
    teach_project, server, value, reason
):
    server.switches.mangle = _set_logprobs(value)
    result = run_stage(teach_project, TEACH, _config(server, limit=6), reporter=NullReporter())
    # Before the fix: NaN and inf were stored valid = 1 with [NaN, NaN, NaN]; 800 crashed
    # the stage with OverflowError (and left "Task exception was never retrieved").
    assert (result.labelled, result.failed) == (6, 0)
    assert result.invalid == 6
    rows = _rows(teach_project)
    assert all(r["valid"] == 0 and r["probabilities"] is None for r in rows)
    assert all(r["token_logprobs"] is None for r in rows)
    flags = {r["flag"] for r in rows}
    assert flags <= {reason, "non_finite_logprob", "outside_label_set"}
    assert sum(result.invalid_reasons.values()) == 6
    assert set(result.invalid_reasons) == flags
    assert any("not a distribution" in w for w in result.warnings)
    # Nothing non-finite was written as JSON anywhere.
    for row in rows:
        for column in ("probabilities", "token_logprobs"):
            assert row[column] is None or "NaN" not in row[column]


def test_a_nan_classifier_is_all_invalid(teach_project, tiny_classifier, tmp_path):
    """A local model with NaN weights (a bad checkpoint) gives NaN soft labels: refused."""
    import shutil

    import torch
    from transformers import AutoModelForSequenceClassification

    broken = tmp_path / "nan-classifier"
    shutil.copytree(tiny_classifier, broken)
    model = AutoModelForSequenceClassification.from_pretrained(broken)
    with torch.no_grad():
        model.classifier.bias.fill_(math.nan)
    model.save_pretrained(broken)
    config = TeachConfig(teacher=f"hf:{broken}")
    result = run_stage(teach_project, TEACH, config, reporter=NullReporter())
    assert (result.labelled, result.invalid) == (30, 30)
    assert result.invalid_reasons == {"non_finite": 30}
    assert teach_project.store.scalar("SELECT COUNT(*) FROM teacher_outputs WHERE valid = 1") == 0


@pytest.mark.parametrize(
    ("probabilities", "reason"),
    [((-0.2, 0.6, 0.6), "negative_probability"), ((0.5, 0.2, 0.2), "not_a_distribution"),
     ((1.5, -0.25, -0.25), "negative_probability"), ((math.nan, 0.5, 0.5), "non_finite"),
     ((0.5, 0.5), "wrong_length"), ((1.0, 0.0, 0.0), None), ((0.2, 0.3, 0.5 + 5e-6), None)],
)  # fmt: skip
def test_every_source_passes_one_check_before_it_is_stored(teach_project, probabilities, reason):
    """The store refuses a bad vector whatever made it (hf, openai and labels all write here)."""
    out = TeacherOutput(record_id=1, label="billing", probabilities=probabilities,
                        soft_label_source="logits", label_mass=1.0)  # fmt: skip
    assert checked(out, 3).flag == reason
    added = write_batch(teach_project, TeachBatch([out]), teacher_id="t", prompt_version="",
                        run_id=None, prices=(0.0, 0.0), labels=3)  # fmt: skip
    row = _rows(teach_project)[0]
    assert row["valid"] == (reason is None)
    assert added.invalid == (reason is not None)
    if reason is not None:
        assert row["flag"] == reason
        assert row["probabilities"] is None
        assert added.reasons == {reason: 1}


def test_renormalise_works_in_log_space():
    probs, mass = renormalise([800.0, -1.0, -math.inf])
    assert probs == [1.0, pytest.approx(0.0), 0.0]
    assert mass == 1.0  # no OverflowError; the output is then refused for logprob > 0
    _, mass = renormalise([-2000.0, -2001.0])
    assert mass == 0.0
    probs, mass = renormalise([math.nan, -1.0])  # no exception: the check refuses it later
    assert math.isnan(mass) or any(math.isnan(p) for p in probs)


def test_every_task_exception_is_retrieved(caplog):
    """A bug in one record's task must not leave "Task exception was never retrieved"."""

    async def boom(n):
        raise OverflowError(n)

    async def scenario():
        tasks = {asyncio.create_task(boom(n), name=str(n)) for n in range(5)}
        await asyncio.wait(tasks)
        with pytest.raises(OverflowError):
            _collect(tasks, [], {})
        tasks.clear()

    caplog.set_level(logging.ERROR, logger="asyncio")
    asyncio.run(scenario())
    gc.collect()
    assert "never retrieved" not in caplog.text


# -- item 4: usage numbers a server cannot honestly report --------------------------------


@pytest.mark.parametrize("bad", [-600_000, 10**12, 12.5, math.inf, "12", True])
def test_impossible_usage_is_not_billed(teach_project, server, bad):
    def mangle(reply):
        reply["usage"]["prompt_tokens"] = bad

    server.switches.mangle = mangle
    result = run_stage(teach_project, TEACH, _config(server, limit=4), reporter=NullReporter())
    assert result.labelled == 4
    assert result.cost >= 0
    assert result.cost_total >= 0
    assert result.usage_ignored == 4
    assert all(r["cost"] == 0 and r["input_tokens"] == 0 for r in _rows(teach_project))
    assert any("impossible token counts" in w for w in result.warnings)


def test_plausible_usage_is_billed(teach_project, server):
    def mangle(reply):
        reply["usage"]["prompt_tokens"] = 40.0  # a whole number sent as a float: fine

    server.switches.mangle = mangle
    result = run_stage(teach_project, TEACH, _config(server, limit=2), reporter=NullReporter())
    assert (result.usage_ignored, result.input_tokens) == (0, 80)


# -- item 4: huge answers -------------------------------------------------------------------


@pytest.mark.parametrize("no_length", [False, True])
def test_a_huge_answer_is_not_read_or_stored(teach_project, server, no_length):
    server.switches.pad_bytes = 20 << 20  # 20 MB of padding to a 4-token request
    server.switches.no_length = no_length
    start = time.monotonic()
    result = run_stage(teach_project, TEACH, _config(server, limit=3, max_attempts=3),
                       reporter=NullReporter())  # fmt: skip
    assert time.monotonic() - start < 15
    assert (result.labelled, result.failed) == (0, 3)
    assert result.failed_reasons == {"reply too large": 3}
    assert any("reply too large" in w for w in result.warnings)
    assert _rows(teach_project) == []
    assert (teach_project.path / "stillroom.db").stat().st_size < 2 << 20
    # Not retried: the same request would get the same answer.
    assert server.outcomes["200"] == 3


def test_the_reply_cap_is_configurable(teach_project, server):
    result = run_stage(teach_project, TEACH, _config(server, limit=2, max_reply_bytes=1024),
                       reporter=NullReporter())  # fmt: skip
    assert result.failed_reasons == {"reply too large": 2}
    server.switches.pad_bytes = 200_000
    again = run_stage(teach_project, TEACH, _config(server, limit=2), reporter=NullReporter())
    assert again.labelled == 2  # the default (1 MiB) takes a 200 kB answer


# -- item 3: an overall deadline per request ------------------------------------------------


def test_a_dripping_server_cannot_hold_the_pre_flight(teach_project, server):
    """A byte every 0.2 s is within the gap timeout forever; the deadline still ends it."""
    server.switches.drip_models_s = 0.2  # the /models list: ~100 bytes, 20 s
    start = time.monotonic()
    with pytest.raises(EndpointError, match=r"cannot reach.*timed out"):
        run_stage(teach_project, TEACH, _config(server, timeout_s=1.0), reporter=NullReporter())
    assert time.monotonic() - start < 4


def test_dripped_answers_fail_within_the_deadline(teach_project, server):
    server.switches.drip_s = 0.2  # a ~600-byte answer: two minutes per request before
    config = _config(server, limit=2, timeout_s=1.0, max_attempts=2)
    start = time.monotonic()
    result = run_stage(teach_project, TEACH, config, reporter=NullReporter())
    assert time.monotonic() - start < 6  # 2 attempts x 1 s, concurrently, plus backoff
    assert (result.labelled, result.failed) == (0, 2)
    assert result.failed_reasons == {"timed out": 2}
    assert result.attempts == 0
    assert server.outcomes["200"] == 4


def test_a_slow_but_honest_answer_within_the_deadline_is_kept(teach_project, server):
    server.switches.latency_s = 0.3
    result = run_stage(teach_project, TEACH, _config(server, limit=2, timeout_s=2.0),
                       reporter=NullReporter())  # fmt: skip
    assert (result.labelled, result.failed) == (2, 0)


def test_the_cli_prints_the_reasons(capsys, teach_project, server):
    from core.cli import main

    server.switches.mangle = _set_logprobs(math.nan)
    code = main(["teach", str(teach_project.path), "--teacher", f"openai:{server.base_url}",
                 "--model", "tiny", "--limit", "3"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "3 invalid" in out
    assert "invalid: non_finite 3" in out
