"""How much identifying text survives anonymization, per entity type, on labelled text.

Labelled samples come from a JSONL file of human-marked spans (``{"text": ..., "spans":
[{"start": 0, "end": 5, "entity_type": "PERSON"}]}``) or from presidio-evaluator's sentence
generator. Two measures, both per entity type: the share of marked values that still appear
verbatim in the output, and the share of their characters no finding covered. Values that the
Safe Harbor policy allows to stay (a bare year, an age up to 89) are counted as allowed, not
as leaks. The other side, over-redaction: the share of replacements that touch a marked
span (precision); a replacement of unmarked text ("EXTREMELY <LOCATION>!") damages the task
without protecting anyone. The report holds counts and fractions, never a value.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import AnonymizeError

# Generator and common annotation labels → the entity types this stage produces.
LABEL_ALIASES = {
    "GPE": "LOCATION",
    "DOMAIN_NAME": "URL",
    "LOC": "LOCATION",
    "PER": "PERSON",
    "ORG": "ORGANIZATION",
    "ADDRESS": "STREET_ADDRESS",
}
_BARE_YEAR = re.compile(r"\s*(?:1[89]\d{2}|20\d{2})\s*")


@dataclass(frozen=True, slots=True)
class LabelledSample:
    text: str
    spans: tuple[tuple[int, int, str], ...]  # (start, end, entity type)


@dataclass
class EntityLeakage:
    values: int = 0
    leaked_values: int = 0
    allowed_values: int = 0
    chars: int = 0
    leaked_chars: int = 0
    targeted: bool = True

    @property
    def value_leak(self) -> float:
        counted = self.values - self.allowed_values
        return self.leaked_values / counted if counted else 0.0

    @property
    def char_leak(self) -> float:
        return self.leaked_chars / self.chars if self.chars else 0.0


@dataclass
class LeakageReport:
    samples: int = 0
    per_entity: dict[str, EntityLeakage] = field(default_factory=dict)
    replaced: int = 0  # spans the output replaced
    false_replaced: dict[str, int] = field(default_factory=dict)  # per type: no marked span

    @property
    def precision(self) -> float:
        """The share of replacements that overlap a marked span (1.0 with none made)."""
        wrong = sum(self.false_replaced.values())
        return (self.replaced - wrong) / self.replaced if self.replaced else 1.0

    def overall(self) -> EntityLeakage:
        """Totals over the entity types this configuration targets."""
        total = EntityLeakage()
        for item in self.per_entity.values():
            if item.targeted:
                for name in ("values", "leaked_values", "allowed_values", "chars", "leaked_chars"):
                    setattr(total, name, getattr(total, name) + getattr(item, name))
        return total

    def to_dict(self) -> dict[str, Any]:
        def row(item: EntityLeakage) -> dict[str, Any]:
            return {
                **dataclasses.asdict(item),
                "value_leak": round(item.value_leak, 4),
                "char_leak": round(item.char_leak, 4),
            }

        return {
            "samples": self.samples,
            "replaced": self.replaced,
            "false_replaced": dict(sorted(self.false_replaced.items())),
            "precision": round(self.precision, 4),
            "overall": row(self.overall()),
            "per_entity": {k: row(v) for k, v in sorted(self.per_entity.items())},
        }


def score_sample(
    report: LeakageReport,
    sample: LabelledSample,
    output: str,
    spans: Sequence[dict[str, Any]],
    targeted: set[str],
    *,
    safe_harbor: bool,
) -> None:
    """Add one anonymized sample to the report: its leaks and its false replacements."""
    covered = bytearray(len(sample.text))
    for span in spans:
        if span["operator"] != "keep":
            covered[span["source_start"] : span["source_end"]] = b"\x01" * (
                span["source_end"] - span["source_start"]
            )
            _score_replacement(report, sample, span)
    report.samples += 1
    for start, end, label in sample.spans:
        value = sample.text[start:end]
        entity = LABEL_ALIASES.get(label, label)
        item = report.per_entity.setdefault(label, EntityLeakage(targeted=entity in targeted))
        item.values += 1
        visible = [i for i in range(start, end) if not sample.text[i].isspace()]
        item.chars += len(visible)
        item.leaked_chars += sum(1 for i in visible if not covered[i])
        if safe_harbor and _allowed(entity, value):
            item.allowed_values += 1
        elif value.strip() and value in output:
            item.leaked_values += 1


def _score_replacement(report: LeakageReport, sample: LabelledSample, span: dict[str, Any]) -> None:
    report.replaced += 1
    start, end = span["source_start"], span["source_end"]
    if not any(s < end and start < e for s, e, _ in sample.spans):
        entity = str(span.get("entity_type", "?"))
        report.false_replaced[entity] = report.false_replaced.get(entity, 0) + 1


def _allowed(entity: str, value: str) -> bool:
    if entity == "DATE_TIME":
        return bool(_BARE_YEAR.fullmatch(value))
    if entity == "AGE":
        digits = "".join(ch for ch in value if ch.isdigit())
        return bool(digits) and int(digits) <= 89
    return False


def read_labelled_jsonl(path: Path) -> list[LabelledSample]:
    """Human-marked samples from a JSONL file.

    Raises:
        AnonymizeError: the file cannot be read or a line is not a labelled sample (the
            message gives the line number, never its content).
    """
    samples = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AnonymizeError(f"cannot read {path} as UTF-8 text") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text = str(item["text"])
            spans = tuple(
                (int(s["start"]), int(s["end"]), str(s["entity_type"]))
                for s in item.get("spans", [])
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AnonymizeError(
                f"line {number} of {path} is not a labelled sample",
                'each line: {"text": "...", "spans": [{"start", "end", "entity_type"}]}',
            ) from exc
        if any(not 0 <= s < e <= len(text) for s, e, _ in spans):
            raise AnonymizeError(f"line {number} of {path} has a span outside its text")
        samples.append(LabelledSample(text, spans))
    return samples


def generated_samples(count: int, seed: int) -> list[LabelledSample]:
    """Span-labelled sentences from presidio-evaluator's generator (DESIGN §8b).

    Raises:
        AnonymizeError: presidio-evaluator (or pandas, which it needs) is not installed.
    """
    try:
        from presidio_evaluator.data_generator import PresidioSentenceFaker
    except ImportError as exc:
        raise AnonymizeError(
            "the sentence generator is not installed",
            "install presidio-evaluator==0.3.2 --no-deps plus pandas and python-dotenv, or "
            "check leakage on your own marked records with --leakage-file",
        ) from exc
    import contextlib
    import io

    # Its constructor and progress bar print; a CLI's --json output must stay clean. Note:
    # the generator is not fully repeatable even with a seed (it varies a little per run).
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        faker = PresidioSentenceFaker(locale="en_US", lower_case_ratio=0.05, random_seed=seed)
        generated = faker.generate_new_fake_sentences(count)
    return list(_from_generated(generated))


def _from_generated(generated: Iterable[Any]) -> Iterable[LabelledSample]:
    for item in generated:
        # The generator lower-cases some span values but not the text: the text is the truth.
        spans = tuple((s.start_position, s.end_position, s.entity_type) for s in item.spans)
        yield LabelledSample(item.full_text, spans)


def check_leakage(
    project: Any, config: Any, samples: Sequence[LabelledSample], *, reporter: Any
) -> LeakageReport:
    """Detect and anonymize ``samples`` as ``config`` would, without storing anything.

    Operators are forced to ``replace``: leakage is a matter of what was found, and a check
    must not write test values into the project's vault.

    Raises:
        ModelNotInstalledError: the spaCy model is not installed.
        StageCancelled: the reporter asked to stop.
    """
    from core.anonymize.engine import EngineSpec, check_model_installed
    from core.anonymize.operators import Anonymizer
    from core.anonymize.rules import load_rules, rules_file_for
    from core.anonymize.workers import DetectorPool, default_processes
    from core.reporter import StageCancelled

    rules = load_rules(rules_file_for(project.path, config.rules_path))
    if not config.pattern_only:
        check_model_installed(config.spacy_model)
    spec = EngineSpec(
        config.resolved_entities(), None if config.pattern_only else config.spacy_model, rules
    )
    anonymizer = Anonymizer(dataclasses.replace(config, operator="replace", operators=()), None)
    targeted = set(config.resolved_entities()) | set(rules.custom_entities)
    report, size = LeakageReport(), config.batch_size
    batches = (
        (samples[i : i + size], [s.text for s in samples[i : i + size]])
        for i in range(0, len(samples), size)
    )
    processes = config.processes or default_processes(len(samples))
    with DetectorPool(spec, config.score_threshold, config.review_threshold, processes) as pool:
        for batch, detections in pool.run(batches):
            for sample, detection in zip(batch, detections, strict=True):
                done = anonymizer.apply(sample.text, detection.findings)
                score_sample(
                    report, sample, done.text, done.spans, targeted, safe_harbor=config.safe_harbor
                )
            reporter.progress(
                report.samples / max(1, len(samples)),
                f"checked {report.samples:,} of {len(samples):,} samples",
            )
            if reporter.cancel_requested():
                raise StageCancelled("leakage check cancelled")
    overall = report.overall()
    project.audit(
        "anonymize.leakage_check",
        {
            "samples": report.samples,
            "value_leak": round(overall.value_leak, 4),
            "char_leak": round(overall.char_leak, 4),
            "precision": round(report.precision, 4),
            "mode": config.mode,
        },
    )
    return report
