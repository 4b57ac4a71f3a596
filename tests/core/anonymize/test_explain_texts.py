"""Every entity type, operator and review flag the anonymize page shows has a sentence."""

from __future__ import annotations

from core.anonymize.config import ALL_ENTITIES, OPERATORS
from core.anonymize.explain import (
    ENTITY_DESCRIPTIONS,
    OPERATOR_DESCRIPTIONS,
    entity_group,
    needs_language_model,
    review_reason_text,
)


def test_every_entity_and_operator_is_described():
    assert set(ENTITY_DESCRIPTIONS) == set(ALL_ENTITIES)
    assert set(OPERATOR_DESCRIPTIONS) == set(OPERATORS)


def test_groups_and_language_model_entities():
    assert entity_group("PERSON") == "identifier"
    assert entity_group("IBAN_CODE") == "bank"
    assert entity_group("ORGANIZATION") == "optional"
    assert needs_language_model("PERSON")
    assert not needs_language_model("EMAIL_ADDRESS")


def test_review_reasons_read_as_sentences():
    assert review_reason_text("low_confidence").startswith("A detector was unsure")
    assert review_reason_text("something_new") == "something new"
