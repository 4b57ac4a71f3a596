"""Presidio recognizers of our own: catalogue regexes, project patterns, and text context.

Context is read from the raw text around a match (a window of characters), not from lemmas,
so it works the same with the spaCy model and in pattern-only mode, where there are no
tokens.
"""

from __future__ import annotations

from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer

from core.anonymize.catalogue import Rule
from core.anonymize.rules import AnonymizeRules

_FLAGS = regex.MULTILINE | regex.DOTALL
_TIMEOUT_S = 5.0  # a pathological user pattern must not hang a worker


class RegexRecognizer(EntityRecognizer):
    """Every rule of one entity type; a named group ``v`` marks the value inside a match."""

    def __init__(self, entity: str, rules: list[Rule], context: list[str], name: str) -> None:
        self._rules = rules
        self._label = name
        super().__init__(supported_entities=[entity], name=name, context=context)

    def load(self) -> None:
        from core.anonymize.catalogue import ADDRESS_TAIL

        self._tail = (
            regex.compile(ADDRESS_TAIL, _FLAGS)
            if self.supported_entities[0] == "STREET_ADDRESS"
            else None
        )
        self._compiled = [
            (
                rule,
                regex.compile(
                    rule.regex, _FLAGS if rule.case_sensitive else _FLAGS | regex.IGNORECASE
                ),
            )
            for rule in self._rules
        ]

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        results = []
        entity = self.supported_entities[0]
        for rule, compiled in self._compiled:
            for match in compiled.finditer(text, timeout=_TIMEOUT_S):
                has_value = "v" in compiled.groupindex and match.group("v") is not None
                start, end = match.span("v") if has_value else match.span()
                score = rule.scorer(text[start:end], rule.score)
                if score is None or end <= start:
                    continue
                if self._tail is not None:
                    tail = self._tail.match(text, end, timeout=_TIMEOUT_S)
                    end = tail.end() if tail else end
                labelled = has_value and (start, end) != match.span()
                results.append(self._result(entity, start, end, score, labelled=labelled))
        return results

    def _result(
        self, entity: str, start: int, end: int, score: float, *, labelled: bool
    ) -> RecognizerResult:
        # A labelled match ("MRN: ...") carries its own context: no second boost.
        return RecognizerResult(
            entity,
            start,
            end,
            score,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self._label,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: labelled,
            },
        )


class TextContextEnhancer(ContextAwareEnhancer):
    """Raise a result's score when one of its recognizer's context words is nearby."""

    def __init__(self, before: int = 48, after: int = 16, boost: float = 0.35) -> None:
        super().__init__(boost, 0.4, 0, 0)
        self._before, self._after = before, after
        self._patterns: dict[str, Any] = {}

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: Any,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        by_id = {r.id: r for r in recognizers}
        for result in raw_results:
            metadata = result.recognition_metadata or {}
            if metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, ""))
            pattern = self._pattern(recognizer) if recognizer is not None else None
            if pattern is None:
                continue
            window = (
                text[max(0, result.start - self._before) : result.start]
                + " \n "
                + text[result.end : result.end + self._after]
            )
            if pattern.search(window):
                result.score = min(
                    1.0,
                    max(
                        result.score + self.context_similarity_factor,
                        self.min_score_with_context_similarity,
                    ),
                )
                metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return raw_results

    def _pattern(self, recognizer: EntityRecognizer) -> Any:
        if recognizer.id not in self._patterns:
            words = sorted({w.strip().lower() for w in recognizer.context if w.strip()})
            self._patterns[recognizer.id] = (
                regex.compile(
                    r"(?<![^\W_])(?:"
                    + "|".join(regex.escape(w) for w in words)
                    + r")(?:s|es|'s)?(?![^\W_])",
                    regex.IGNORECASE,
                )
                if words
                else None
            )
        return self._patterns[recognizer.id]


def project_recognizers(rules: AnonymizeRules, entities: set[str]) -> list[EntityRecognizer]:
    """Recognizers for a project's own patterns and deny-lists (custom types included)."""
    from presidio_analyzer import PatternRecognizer

    by_entity: dict[str, list[Rule]] = {}
    context: dict[str, list[str]] = {}
    for pattern in rules.patterns:
        rule = Rule(pattern.entity_type, pattern.name, pattern.regex, pattern.score)
        by_entity.setdefault(pattern.entity_type, []).append(rule)
        context.setdefault(pattern.entity_type, []).extend(pattern.context)
    recognizers: list[EntityRecognizer] = [
        RegexRecognizer(entity, found, context.get(entity, []), f"ProjectPatterns{entity}")
        for entity, found in by_entity.items()
    ]
    for entity, words in rules.deny_lists:
        if words:
            recognizers.append(
                PatternRecognizer(
                    supported_entity=entity,
                    deny_list=list(words),
                    name=f"ProjectDenyList{entity}",
                    deny_list_score=1.0,
                )
            )
    entities.update(rules.custom_entities)
    return recognizers
