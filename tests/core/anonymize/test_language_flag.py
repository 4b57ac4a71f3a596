"""The non_english review flag needs evidence of another language (issue 20)."""

from __future__ import annotations

import pytest

from core.anonymize.language import looks_non_english


@pytest.mark.parametrize(
    "text",
    [
        "@SouthwestAir Just watched crew on flight 380 help elderly lady off plane...#firstclass",
        "@USAirways flight 850. RUDE RUDE RUDE service! Awful. Never again, seriously",
        "@united In ORD, waited 20 min after crew members left before gate items came.",
        "@JetBlue thanks. Line moved quick. Already done. Great crew today!!",
    ],
)
def test_english_tweets_are_not_flagged(text):
    assert not looks_non_english(text)


@pytest.mark.parametrize(
    "text",
    [
        "Der Patient wurde gestern mit starken Schmerzen in die Klinik gebracht und ist stabil.",
        "Le patient est arrivé aux urgences avec une douleur thoracique et il va mieux.",
        "El paciente llegó con dolor de cabeza y fue dado de alta por la tarde.",
        "Пациент поступил в отделение с болью в груди и был выписан вечером.",  # noqa: RUF001
        "患者因胸痛入院，经过治疗后病情稳定，已于今天下午出院回家休息。",  # noqa: RUF001
    ],
)
def test_other_languages_are_flagged(text):
    assert looks_non_english(text)


def test_identifiers_and_handles_are_set_aside():
    text = "Forwarded by agent: passenger Michelle Shields Diana Walters. Message: @united ok"
    start = text.index("Michelle")
    assert not looks_non_english(text, [(start, start + len("Michelle Shields Diana Walters"))])
