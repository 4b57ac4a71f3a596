"""Precision on clinical notes and leakage, with and without the clinical allow-list.

Precision: on seeded synthetic clinical notes (``bench/clinical_notes.py``; every
identifier's span is known), the share of the anonymizer's findings that touch an identifier.
AGE findings are left out of it: ages are replaced by policy but are not marked in the notes.
Leakage: identifiers left in the same notes, and on the held-out presidio-evaluator seed of
``bench/anonymize_bench.py`` (the stage end to end, 1 process). "before" runs with the
allow-list switched off in-process, "after" with the shipped one.

    .venv/bin/python bench/clinical_anonymize_bench.py --notes 300 --n 1000 --seed 42
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core import netguard

sys.path.insert(0, str(Path(__file__).parent))


@contextmanager
def allow_list(enabled: bool) -> Any:
    """The anonymizer with the allow-list on (as shipped) or off."""
    from core.anonymize import detect

    shipped = detect.is_clinical
    if not enabled:
        detect.is_clinical = lambda text, start, end: False
    try:
        yield
    finally:
        detect.is_clinical = shipped


def precision(notes: list[Any]) -> tuple[float, float, Counter[str], int]:
    """Precision, identifier character leakage, the kept false positives, findings."""
    from core.anonymize.config import AnonymizeConfig
    from core.anonymize.detect import Detector
    from core.anonymize.engine import EngineSpec

    config = AnonymizeConfig()
    spec = EngineSpec(config.resolved_entities(), config.spacy_model)
    detector = Detector(spec, config.score_threshold, config.review_threshold)
    detections = detector.detect_batch([note.text for note in notes])
    hits = findings = leaked = total = 0
    wrong: Counter[str] = Counter()
    for note, detection in zip(notes, detections, strict=True):
        covered: set[int] = set()
        for f in detection.findings:
            covered |= set(range(f.start, f.end))
            if f.entity == "AGE":
                continue
            findings += 1
            if any(s < f.end and f.start < e for s, e, _ in note.spans):
                hits += 1
            else:
                wrong[f"{f.entity}: {note.text[f.start : f.end]}"] += 1
        for start, end, _ in note.spans:
            total += end - start
            leaked += sum(i not in covered for i in range(start, end))
    return hits / max(1, findings), leaked / max(1, total), wrong, findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=300, help="synthetic clinical notes")
    parser.add_argument("--n", type=int, default=1000, help="held-out generated sentences")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    netguard.install()

    from anonymize_bench import stage_run
    from clinical_notes import clinical_notes

    from core.anonymize.config import AnonymizeConfig
    from core.anonymize.leakage import generated_samples

    notes = clinical_notes(args.notes, args.seed)
    targeted = set(AnonymizeConfig().resolved_entities()) | {"GPE", "DOMAIN_NAME"}
    samples = generated_samples(args.n, args.seed)
    print(f"{len(notes)} clinical notes, {len(samples)} generated sentences (seed {args.seed})")
    print(f"  {'':<7} {'precision':>9} {'findings':>8} {'notes chars leaked':>18} "
          f"{'seed value leak':>15} {'seed chars leak':>15}")  # fmt: skip
    for label, enabled in (("before", False), ("after", True)):
        with allow_list(enabled):
            value, leak, wrong, found = precision(notes)
            report, _ = stage_run(samples, 1, targeted)
        overall = report.overall()
        print(f"  {label:<7} {value:>9.3f} {found:>8} {leak:>18.2%} "
              f"{overall.value_leak:>15.2%} {overall.char_leak:>15.2%}")  # fmt: skip
        print("    most common false positives: "
              + "; ".join(f"{k} x{v}" for k, v in wrong.most_common(8)))  # fmt: skip


if __name__ == "__main__":
    main()
