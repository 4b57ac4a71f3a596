"""Soft-label maths, answer parsing and prompt versioning: exact, no model needed."""

from __future__ import annotations

import math
import random

import pytest

from core.configs import from_json, to_json
from core.errors import TeacherError
from core.teacher import softlabels as sl
from core.teacher.config import TeachConfig, parse_spec
from core.teacher.prompts import (
    AnswerMapping,
    PromptTemplate,
    default_template,
    letters_mapping,
    parse_answer,
    render,
    validate,
)
from core.teacher.resilience import BreakerGaveUp, CircuitBreaker, backoff_delay

LABELS = ("billing", "clinical", "other")


def test_softmax_with_temperature_flattens():
    sharp = sl.softmax([2.0, 1.0, 0.0])
    flat = sl.softmax([2.0, 1.0, 0.0], temperature=4.0)
    assert sl.is_distribution(sharp)
    assert sl.is_distribution(flat)
    assert max(flat) < max(sharp)
    assert sharp[0] == pytest.approx(math.exp(2) / (math.exp(2) + math.e + 1))


def test_renormalise_keeps_the_ratio_and_reports_the_mass():
    probs, mass = sl.renormalise([math.log(0.3), math.log(0.1), -math.inf])
    assert probs == pytest.approx([0.75, 0.25, 0.0])
    assert mass == pytest.approx(0.4)
    with pytest.raises(ValueError, match="no label token"):
        sl.renormalise([-math.inf, -math.inf])


def test_top_logprobs_variants_of_one_answer_are_summed():
    top = {"A": math.log(0.4), " A": math.log(0.1), "b": math.log(0.2), "Hello": math.log(0.3)}
    per_label = sl.label_logprobs_from_top(top, ("A", "B", "C"))
    probs, mass = sl.renormalise(per_label)
    assert probs == pytest.approx([0.5 / 0.7, 0.2 / 0.7, 0.0])
    assert mass == pytest.approx(0.7)
    assert sl.normalise_token("ĠA") == sl.normalise_token("▁a") == "a"


def test_one_hot_and_empirical():
    assert sl.one_hot("clinical", LABELS) == [0.0, 1.0, 0.0]
    assert sl.empirical(["billing", "other", "billing", "banana"], LABELS) == pytest.approx(
        [2 / 3, 0.0, 1 / 3]
    )
    assert sl.empirical(["banana"], LABELS) is None
    assert sl.argmax_label([0.4, 0.4, 0.2], LABELS) == "billing"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("B", "clinical"),
        (" b.", "clinical"),
        ("B) clinical", "clinical"),
        ("Answer: C", "other"),
        ('"billing"', "billing"),
        ("The answer is A", "billing"),
        ("A positive answer would be nice", None),
        ("banana", None),
        ("", None),
    ],
)
def test_parse_answer(answer, expected):
    assert parse_answer(answer, letters_mapping(LABELS)) == expected


def test_letters_mapping_and_names_mapping_render_choices():
    letters = letters_mapping(LABELS)
    assert letters.answers == ("A", "B", "C")
    assert "B) clinical" in letters.choices()
    names = AnswerMapping(LABELS, "names")
    assert names.label_for("CLINICAL") == "clinical"
    with pytest.raises(TeacherError, match="too many"):
        letters_mapping(tuple(f"l{i}" for i in range(27)))


def test_template_version_follows_the_text_and_strict_adds_an_instruction():
    base = default_template("classification")
    edited = PromptTemplate("classification", base.text + "\nBe brief.")
    assert base.version != edited.version
    assert base.version == default_template("classification").version
    prompt = render(base, "some <PERSON> text", letters_mapping(LABELS))
    strict = render(base, "some <PERSON> text", letters_mapping(LABELS), strict=True)
    assert "some <PERSON> text" in prompt
    assert "A) billing" in prompt
    assert strict.startswith(prompt)
    assert "A, B, C" in strict


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Classify {text}", "choices"),
        ("{choices} only", "no {text}"),
        ("{choices} {text} {secret}", "unknown fields: secret"),
        ("{choices} {text", "not a valid format"),
    ],
)
def test_bad_templates_are_refused(text, match):
    with pytest.raises(TeacherError, match=match):
        validate(PromptTemplate("classification", text))


def test_teacher_specs():
    assert parse_spec("labels") == ("labels", "")
    assert parse_spec("hf:/models/x") == ("hf", "/models/x")
    assert parse_spec("openai:http://gpu:8000/v1/") == ("openai", "http://gpu:8000/v1")
    for bad in ("meta-llama/Llama-3-8B", "openai:gpu:8000", "vllm:http://x"):
        with pytest.raises(TeacherError):
            parse_spec(bad)
    with pytest.raises(TeacherError, match="model name") as info:
        TeachConfig(teacher="openai:http://gpu:8000/v1").validate()
    assert "--model" in info.value.hint
    with pytest.raises(TeacherError, match="top logprobs"):
        TeachConfig(teacher="labels", top_logprobs=50).validate()


def test_config_round_trips_through_json():
    config = TeachConfig(teacher="openai:http://gpu:8000/v1", model="m", samples=3)
    assert from_json(TeachConfig, to_json(config)) == config


def test_backoff_grows_with_full_jitter_and_honours_retry_after():
    rng = random.Random(1)
    delays = [backoff_delay(a, 0.5, rng=rng) for a in range(1, 8) for _ in range(50)]
    assert all(0 <= d <= 30 for d in delays)
    assert max(delays[:50]) <= 0.5
    assert max(delays[-50:]) > 5
    assert backoff_delay(1, 0.01, retry_after_s=2.0) == 2.0


def test_circuit_breaker_opens_probes_and_gives_up(monkeypatch):
    import asyncio

    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown_s=1.0, max_trips=2, clock=lambda: now[0])

    async def fake_sleep(seconds):
        now[0] += seconds

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)

    async def scenario():
        for _ in range(3):
            await breaker.acquire()
            breaker.record_failure()
        assert breaker.state == "open"
        await breaker.acquire()  # waits the cooldown, then is the half-open probe
        assert now[0] == pytest.approx(1.0)
        assert breaker.state == "half-open"
        breaker.record_success()
        assert breaker.state == "closed"
        for _ in range(3):
            breaker.record_failure()
        for _ in range(2):
            await breaker.acquire()
            breaker.record_failure()  # the probe fails: reopen, cooldown doubles
        with pytest.raises(BreakerGaveUp):
            await breaker.acquire()

    asyncio.run(scenario())
    assert breaker.opened == 4
