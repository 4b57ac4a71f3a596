"""Finding identifiers in a batch of texts: what each worker process runs.

A text is cleaned into an analysis copy with the same offsets (control characters become
spaces, invisible format characters are skipped through an offset map), cut into overlapping
chunks when long, run through spaCy with ``nlp.pipe`` and through every recognizer, and its
findings are merged into non-overlapping spans. Nothing here logs or keeps a text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from core.anonymize.clinical import in_listed_compound, is_clinical
from core.anonymize.engine import EngineSpec, build_analyzer
from core.anonymize.language import looks_non_english
from core.anonymize.precision import OverRedactionFilter

CHUNK_CHARS = 20_000
CHUNK_OVERLAP = 300
_ESCAPED_BREAK = re.compile(r"\\[nrt]")
_WORD = re.compile(r"[^\W\d_]+")
# Abbreviations a model may take for a name or an organisation; never identifiers themselves.
_NOT_NAMES = frozenset({
    "MRN", "SSN", "DOB", "ID", "IBAN", "SWIFT", "BIC", "NHS", "ICU", "ER", "ED", "BP", "HR",
    "RR", "IV", "PO", "MRI", "CT", "ECG", "EKG", "COPD", "CHF", "HIV", "DNR", "PRN", "BID",
    "TID", "QID", "ATM", "PIN", "CVV", "ACH", "VIN", "DEA", "NPI", "ZIP", "PLZ", "FAX", "TEL",
})  # fmt: skip
REVIEW_FLAGS = frozenset({"low_confidence", "non_english", "mostly_identifiers"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One span to anonymize, in the original text's offsets."""

    start: int
    end: int
    entity: str
    score: float


@dataclass(frozen=True, slots=True)
class Detection:
    findings: tuple[Finding, ...]
    flags: tuple[str, ...]


class Detector:
    """An analyzer plus the rules around it; one per process (loading takes seconds)."""

    def __init__(self, spec: EngineSpec, score_threshold: float, review_threshold: float):
        self.analyzer = build_analyzer(spec)
        self.entities = sorted(set(spec.entities) | set(spec.rules.custom_entities))
        self.allow_list = list(spec.rules.allow_list) or None
        self.threshold, self.review_threshold = score_threshold, review_threshold
        self.propagate_names = "PERSON" in self.entities and spec.spacy_model is not None
        nlp = self.analyzer.nlp_engine.get_nlp("en") if spec.spacy_model is not None else None
        self.over_redaction = OverRedactionFilter(nlp)

    def detect_batch(self, texts: list[str]) -> list[Detection]:
        """Findings and flags for each text, in order."""
        prepared = [_prepare(text) for text in texts]
        pieces = [
            (i, offset, chunk)
            for i, (clean, _, _) in enumerate(prepared)
            for offset, chunk in _chunks(clean)
        ]
        found: list[list[Finding]] = [[] for _ in texts]
        artifacts = self.analyzer.nlp_engine.process_batch(
            [chunk for _, _, chunk in pieces], "en", batch_size=32
        )
        for (i, offset, _), (chunk, nlp_artifacts) in zip(pieces, artifacts, strict=True):
            results = self.analyzer.analyze(
                chunk,
                "en",
                entities=self.entities,
                nlp_artifacts=nlp_artifacts,
                score_threshold=self.threshold,
                allow_list=self.allow_list,
            )
            found[i] += [
                Finding(r.start + offset, r.end + offset, r.entity_type, r.score)
                for r in results
                if _keep(chunk, r)
                and self.over_redaction.identifies(r.entity_type, chunk[r.start : r.end])
            ]
        return [self._finish(texts[i], *prepared[i], found[i]) for i in range(len(texts))]

    def _finish(
        self, text: str, clean: str, index: list[int] | None, flags: list[str], found: list[Finding]
    ) -> Detection:
        if self.propagate_names:
            # A found name inside a listed compound is not the name: a patient called Ray
            # must not turn "X-ray" into "X-<PERSON>" (a stand-alone "Ray" still goes).
            found += [f for f in _propagate_names(clean, found)
                      if not in_listed_compound(clean, f.start, f.end)]  # fmt: skip
        found += _address_edges(clean, found)
        merged = merge_findings(found)
        if index is not None:
            merged = [
                Finding(index[f.start], index[f.end - 1] + 1, f.entity, f.score) for f in merged
            ]
        flags = list(flags)
        if len(clean) > CHUNK_CHARS:
            flags.append("chunked")
        if any(f.score < self.review_threshold for f in merged):
            flags.append("low_confidence")
        if looks_non_english(clean, [(f.start, f.end) for f in found]):
            flags.append("non_english")
        if _mostly_identifiers(text, merged):
            flags.append("mostly_identifiers")
        return Detection(tuple(merged), tuple(flags))


_GENERIC = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP", "DATE_TIME"})


def merge_findings(found: list[Finding]) -> list[Finding]:
    """Union overlapping spans and name each merged span after its best finding.

    A pattern-specific type beats a model's generic one ("Hauptstraße 12" is an address even
    if the model calls it a date), then the longest finding wins (a name inside an address
    is part of the address), then the most confident. The span is the union either way, so
    no part of any finding survives. An age expression is not also a date.
    """
    ages = [f for f in found if f.entity == "AGE"]
    found = [
        f
        for f in found
        if f.entity != "DATE_TIME" or not any(a.start < f.end and f.start < a.end for a in ages)
    ]
    merged: list[Finding] = []
    lead: Finding | None = None
    for item in sorted(found, key=lambda f: (f.start, -f.end)):
        if merged and lead is not None and item.start < merged[-1].end:
            last = merged[-1]
            if _rank(item) > _rank(lead):
                lead = item
            merged[-1] = Finding(
                last.start, max(last.end, item.end), lead.entity, max(last.score, item.score)
            )
        else:
            merged.append(item)
            lead = item
    return merged


def _rank(finding: Finding) -> tuple[bool, int, float]:
    return finding.entity not in _GENERIC, finding.end - finding.start, finding.score


def _keep(chunk: str, result: Any) -> bool:
    if result.end <= result.start or not chunk[result.start : result.end].strip():
        return False
    if result.entity_type in _GENERIC and chunk[result.start : result.end] in _NOT_NAMES:
        return False
    # "Holter", "NSAIDs", "Ward 4B", "5 days": resources/anonymize/. "today", "last year",
    # "this month" and other words that identify nobody: OverRedactionFilter.
    return not (result.entity_type in _GENERIC and is_clinical(chunk, result.start, result.end))


def _prepare(text: str) -> tuple[str, list[int] | None, list[str]]:
    """The analysis copy, an offset map if characters were dropped, and input flags."""
    flags: list[str] = []
    if not text.strip():
        return text, None, ["empty"]
    # Escaped line breaks (a CSV export's "\\n") read as real ones; same length, same offsets.
    text = _ESCAPED_BREAK.sub(lambda m: " \n", text)
    if not any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n\r" for ch in text):
        return text, None, flags
    flags.append("control_characters")
    kept: list[str] = []
    index: list[int] = []
    for position, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category == "Cf":
            continue  # zero-width and direction marks: joining around them keeps names whole
        kept.append(" " if category == "Cc" and ch not in "\t\n\r" else ch)
        index.append(position)
    return "".join(kept), index, flags


def _chunks(text: str) -> list[tuple[int, str]]:
    """Overlapping pieces of at most CHUNK_CHARS, cut at whitespace where possible."""
    if len(text) <= CHUNK_CHARS:
        return [(0, text)]
    pieces, start = [], 0
    while start < len(text):
        end = min(len(text), start + CHUNK_CHARS)
        if end < len(text):
            cut = max(
                text.rfind("\n", start + CHUNK_CHARS // 2, end),
                text.rfind(" ", start + CHUNK_CHARS // 2, end),
            )
            end = cut if cut > start else end
        pieces.append((start, text[start : min(len(text), end + CHUNK_OVERLAP)]))
        start = end
    return pieces


def _propagate_names(text: str, found: list[Finding]) -> list[Finding]:
    """Other mentions of a word of a found name are the same person ("Rory McKeon ... Rory")."""
    from core.anonymize.gazetteers import TITLES, gazetteers

    common = gazetteers().common_words
    words = {
        w
        for f in found
        if f.entity == "PERSON" and f.score >= 0.6
        for w in _WORD.findall(text[f.start : f.end])
        if len(w) > 2 and w.casefold() not in common and w.casefold() not in TITLES
    }
    if not words:
        return []
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(words))) + r")(?!\w)", re.IGNORECASE
    )
    return [Finding(m.start(), m.end(), "PERSON", 0.6) for m in pattern.finditer(text)]


_LEADING_NUMBER = re.compile(r"(?<![\w.,-])(\d{1,6}[A-Za-z]?)[ \t]+$")
_TRAILING_CODE = re.compile(r"[ \t,]*(?:[A-Z]{2,3}[ \t]+)?(?:\d{4,6}|\d{3}[ ]\d{2})(?![\w-])")
_YEAR_LIKE = re.compile(r"(?:19|20)\d\d")


def _address_edges(text: str, found: list[Finding]) -> list[Finding]:
    """House numbers before, and postal codes after, a found place or street."""
    extra = []
    for f in found:
        if f.entity not in ("STREET_ADDRESS", "LOCATION"):
            continue
        line_start = text.rfind("\n", 0, f.start) + 1
        before = _LEADING_NUMBER.search(text, line_start, f.start)
        if before and not _YEAR_LIKE.fullmatch(before.group(1)):
            extra.append(Finding(before.start(1), f.start, "STREET_ADDRESS", 0.6))
        after = _TRAILING_CODE.match(text, f.end)
        if after and not _YEAR_LIKE.fullmatch(after.group(0).strip(" \t,")):
            extra.append(Finding(f.end, after.end(), "STREET_ADDRESS", 0.6))
    return extra


def _mostly_identifiers(text: str, findings: list[Finding]) -> bool:
    visible = sum(not ch.isspace() for ch in text)
    if visible < 20:
        return False
    covered = sum(sum(not ch.isspace() for ch in text[f.start : f.end]) for f in findings)
    return covered > 0.8 * visible
