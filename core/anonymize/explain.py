"""Plain-language descriptions of entity types, operators and review reasons.

The desktop's anonymize page shows these as labels and tooltips, and they belong next to the
catalogue they describe so that a new entity type or review flag gets its sentence here.
Nothing here imports Presidio.
"""

from __future__ import annotations

from core.anonymize.config import (
    ALL_ENTITIES,
    BANK_ENTITIES,
    IDENTIFIER_ENTITIES,
    NLP_ENTITIES,
    OPERATORS,
)

ENTITY_DESCRIPTIONS: dict[str, str] = {
    "PERSON": "People's names (found by the language model and name rules).",
    "LOCATION": "Cities, regions, countries, facilities (found by the language model).",
    "STREET_ADDRESS": "Street addresses, with house number, town and postal code.",
    "ZIP_CODE": "Postal codes; with Safe Harbor, US ZIP codes keep their first 3 digits.",
    "DATE_TIME": "Dates and times; with Safe Harbor, dates keep their year only.",
    "AGE": "Ages; with Safe Harbor, ages up to 89 stay and older ones become 90+.",
    "PHONE_NUMBER": "Telephone and fax numbers.",
    "EMAIL_ADDRESS": "E-mail addresses.",
    "URL": "Web addresses.",
    "IP_ADDRESS": "IPv4 and IPv6 addresses.",
    "MAC_ADDRESS": "Network hardware (MAC) addresses.",
    "US_SSN": "US Social Security numbers.",
    "US_ITIN": "US individual taxpayer identification numbers.",
    "MEDICAL_RECORD_NUMBER": "Medical record numbers (MRN), by their label.",
    "HEALTH_PLAN_ID": "Health-plan beneficiary and member numbers.",
    "ACCOUNT_NUMBER": "Account numbers, by their label.",
    "LICENSE_NUMBER": "Licence, certificate, permit and badge numbers, by their label.",
    "US_DRIVER_LICENSE": "US driver's licence numbers.",
    "US_PASSPORT": "US passport numbers.",
    "MEDICAL_LICENSE": "Medical licence numbers (such as DEA numbers).",
    "VEHICLE_ID": "Vehicle identifiers and serial numbers, licence plates.",
    "DEVICE_ID": "Device identifiers and serial numbers.",
    "OTHER_ID": "Other unique identifying numbers or codes, by their label.",
    "UK_NHS": "UK NHS numbers.",
    "CREDIT_CARD": "Payment card numbers (checked with the Luhn digit).",
    "IBAN_CODE": "International bank account numbers (IBAN).",
    "SWIFT_CODE": "Bank identifier codes (SWIFT/BIC).",
    "ABA_ROUTING_NUMBER": "US bank routing numbers.",
    "US_BANK_NUMBER": "US bank account numbers.",
    "CRYPTO": "Cryptocurrency wallet addresses.",
    "ORGANIZATION": "Companies and institutions: not a Safe Harbor identifier; opt in.",
    "NRP": "Nationalities, religious and political groups: not a Safe Harbor identifier.",
}

OPERATOR_DESCRIPTIONS: dict[str, str] = {
    "replace": "Replace with a numbered placeholder such as <PERSON_1>.",
    "mask": "Replace every character with *.",
    "hash": "Replace with a salted hash, the same for the same value across the project.",
    "pseudonym": (
        "Replace with a realistic, consistent substitute; the original is kept encrypted in "
        "the project's vault and is never exported."
    ),
}

REVIEW_REASONS: dict[str, str] = {
    "low_confidence": "A detector was unsure about a span: check that it was an identifier.",
    "non_english": "The text does not look like English, which the detectors are built for.",
    "mostly_identifiers": "Most of the text was identifiers: little of it is left to learn from.",
    "chunked": "The text was long and was checked in overlapping pieces.",
    "control_characters": "The text held control or invisible characters.",
    "reviewed": "A person reviewed this record (and fixed its replacements where needed).",
}


def entity_group(entity: str) -> str:
    """``identifier`` (Safe Harbor), ``bank`` or ``optional``, for grouping in a list."""
    if entity in BANK_ENTITIES:
        return "bank"
    return "identifier" if entity in IDENTIFIER_ENTITIES else "optional"


def needs_language_model(entity: str) -> bool:
    """True for entity types that pattern-only mode does NOT detect."""
    return entity in NLP_ENTITIES


def review_reason_text(reason: str) -> str:
    """The plain sentence for a review flag (the flag name itself when it has none)."""
    return REVIEW_REASONS.get(reason, reason.replace("_", " "))


__all__ = [
    "ALL_ENTITIES", "BANK_ENTITIES", "ENTITY_DESCRIPTIONS", "OPERATORS", "OPERATOR_DESCRIPTIONS",
    "REVIEW_REASONS", "entity_group", "needs_language_model", "review_reason_text",
]  # fmt: skip
