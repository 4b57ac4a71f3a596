"""Leakage and throughput of the anonymize stage against a naive Presidio loop.

Both run on the same span-labelled sentences from presidio-evaluator's generator (DESIGN
§8b), fully offline (the egress guard is installed first). The naive side is what a first
attempt looks like: ``AnalyzerEngine`` with its default recognizers and the shipped spaCy
model (named explicitly, or Presidio would try to download another), one ``analyze`` call
per text, every finding replaced. The stage side is ``run_anonymize`` on a fresh project,
timed end to end (worker start-up, database reads and writes included).

Leakage per entity type: the share of labelled values still verbatim in the output
("value"), and the share of their characters that no finding covered ("chars"). Values the
Safe Harbor policy lets stay (a bare year, an age up to 89) count as allowed, not leaked.
"Overall" is over the types the stage targets; ORGANIZATION, TITLE and NRP are not Safe
Harbor identifiers and are reported but not counted.

Over-redaction: precision = the share of replacements that overlap a labelled span; a
replacement of unlabelled text is a false one. A third set of PII-free sentences of our own
(shouting in capitals, relative dates, product and airline words) counts false replacements
where every replacement is false.

    .venv/bin/python bench/anonymize_bench.py --n 2000 --seed 42 --processes 1,2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from core import netguard
from core.jobs.execute import run_stage
from core.jobs.registry import ANONYMIZE

STRUCTURED = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "MEDICAL_RECORD_NUMBER",
    "HEALTH_PLAN_ID",
    "ACCOUNT_NUMBER",
    "DEVICE_ID",
    "LICENSE_NUMBER",
    "VEHICLE_ID",
    "ABA_ROUTING_NUMBER",
    "SWIFT_CODE",
)
NAMES_AND_PLACES = ("PERSON", "GPE", "STREET_ADDRESS", "ZIP_CODE")

# A second, smaller set for identifier classes the generator does not produce. Our own
# templates, so weaker evidence than the generator's; reported separately.
SUPPLEMENT = [
    ("MRN: {mrn}. Seen in clinic for follow-up.", "mrn"),
    ("Medical record number {mrn} was merged with a duplicate chart.", "mrn"),
    ("Pt discharged, chart no. {mrn}, meds reconciled.", "mrn"),
    ("Member ID {member} is not eligible for this service.", "member"),
    ("Please verify policy number {member} with the insurer.", "member"),
    ("Refund to account number {account} by Friday.", "account"),
    ("Acct #{account} is overdue by 30 days.", "account"),
    ("Routing number {routing}, checking account {account}.", "routing+account"),
    ("Wire via SWIFT {bic} to the hospital foundation.", "bic"),
    ("Pump serial {serial} alarmed twice overnight.", "serial"),
    ("Device ID {serial} was returned to the vendor.", "serial"),
    ("Licence number {licence} expires next year.", "licence"),
    ("VIN {vin} belongs to the patient's car.", "vin"),
    ("DEA {dea} on the prescription was checked.", "dea"),
]
# PII-free sentences: any replacement in them is over-redaction (our own; weaker evidence).
CLEAN = [
    "EXTREMELY {shout}! The flight was {delay} late {when}.",
    "{shout} {shout} {shout} service on the flight {when}. Awful.",
    "I waited {delay} at the gate {when} and nobody told us anything.",
    "Thanks for the upgrade {when}, the crew was {shout}!",
    "Checked in online {when}; the app said the bags were {shout}.",
    "Seat belt sign stayed on for {delay}, then the WIFI stopped. {shout}!",
    "Great food {when}, will fly again. BEST CREW EVER",
    "Called the help line {when}, on hold for {delay}. NOT HAPPY.",
]
_CLEAN_WORDS = {
    "shout": ["RUDE", "LATE", "AWFUL", "AMAZING", "LOST", "BROKEN", "TERRIBLE", "GREAT"],
    "delay": ["two hours", "45 minutes", "an hour", "three hours"],
    "when": ["this month", "last week", "today", "this morning", "yesterday", "tonight",
             "last month", "this weekend"],
}  # fmt: skip
_LABELS = {
    "mrn": "MEDICAL_RECORD_NUMBER",
    "member": "HEALTH_PLAN_ID",
    "account": "ACCOUNT_NUMBER",
    "routing": "ABA_ROUTING_NUMBER",
    "bic": "SWIFT_CODE",
    "serial": "DEVICE_ID",
    "licence": "LICENSE_NUMBER",
    "vin": "VEHICLE_ID",
    "dea": "LICENSE_NUMBER",
}


def _aba(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(8)]
        for last in range(10):
            number = [*digits, last]
            if sum(d * w for d, w in zip(number, (3, 7, 1) * 3, strict=True)) % 10 == 0:
                return "".join(map(str, number))


def _values(rng: random.Random) -> dict[str, str]:
    alnum = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    letters = lambda n: "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(n))  # noqa: E731
    return {
        "mrn": rng.choice([digits(8), f"{letters(2)}-{digits(7)}", f"{letters(1)}{digits(9)}"]),
        "member": rng.choice([f"{letters(3)}{digits(9)}", f"{letters(1)}{digits(8)}-{digits(2)}"]),
        "account": rng.choice([digits(10), f"{digits(4)}-{digits(4)}-{digits(4)}"]),
        "routing": _aba(rng),
        "bic": letters(4)
        + rng.choice(["DE", "GB", "FR", "US", "CH"])
        + letters(2)
        + rng.choice(["", "XXX", digits(3)]),
        "serial": rng.choice([f"{letters(2)}-{digits(5)}-{letters(1)}", f"SN{digits(10)}"]),
        "licence": f"{letters(1)}{digits(7)}",
        "vin": "".join(rng.choice(alnum) for _ in range(17)),
        "dea": f"{letters(2)}{digits(7)}",
    }


def supplement_samples(count: int, seed: int) -> list[Any]:
    from core.anonymize.leakage import LabelledSample

    rng, samples = random.Random(seed), []
    for _ in range(count):
        template, _ = rng.choice(SUPPLEMENT)
        values = _values(rng)
        text, spans = "", []
        for position, piece in enumerate(template.replace("}", "{").split("{")):
            if position % 2:
                spans.append((len(text), len(text) + len(values[piece]), _LABELS[piece]))
                text += values[piece]
            else:
                text += piece
        samples.append(LabelledSample(text, tuple(spans)))
    return samples


def clean_samples(count: int, seed: int) -> list[Any]:
    from core.anonymize.leakage import LabelledSample

    rng, samples = random.Random(seed), []
    for _ in range(count):
        text = re.sub(
            r"\{(\w+)\}", lambda m: rng.choice(_CLEAN_WORDS[m.group(1)]), rng.choice(CLEAN)
        )
        samples.append(LabelledSample(text, ()))
    return samples


def naive_run(samples: list[Any], targeted: set[str]) -> tuple[Any, float]:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from core.anonymize.config import SHIPPED_MODEL
    from core.anonymize.detect import Finding, merge_findings
    from core.anonymize.leakage import LeakageReport, score_sample

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SHIPPED_MODEL}],
        }
    )
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine())
    started = time.perf_counter()
    results = [analyzer.analyze(s.text, language="en") for s in samples]
    seconds = time.perf_counter() - started
    report = LeakageReport()
    for sample, found in zip(samples, results, strict=True):
        merged = merge_findings([Finding(r.start, r.end, r.entity_type, r.score) for r in found])
        out, cursor, spans = [], 0, []
        for f in merged:
            out += [sample.text[cursor : f.start], f"<{f.entity}>"]
            spans.append({"source_start": f.start, "source_end": f.end, "operator": "replace"})
            cursor = f.end
        out.append(sample.text[cursor:])
        score_sample(report, sample, "".join(out), spans, targeted, safe_harbor=True)
    return report, len(samples) / seconds


def stage_run(samples: list[Any], processes: int, targeted: set[str]) -> tuple[Any, Any]:
    from core.anonymize.config import AnonymizeConfig
    from core.anonymize.leakage import LeakageReport, score_sample
    from core.project import Project, QualityFloor
    from core.reporter import NullReporter

    with tempfile.TemporaryDirectory() as folder:
        project = Project.create(
            Path(folder) / "bench", task="classification", floor=QualityFloor(0.9)
        )
        with project.store.transaction() as conn:
            conn.execute(
                "INSERT INTO datasets (id, name, source_path, source_sha256, source_bytes, "
                "format, row_count, rows_read, column_map, split_config, imported_at) VALUES "
                "(1, 'bench', 'generated', 'x', 0, 'jsonl', 0, 0, '{}', '{}', 'now')"
            )
            conn.executemany(
                "INSERT INTO records (id, dataset_id, source_row, text, text_sha256) "
                "VALUES (?, 1, ?, ?, ?)",
                [
                    (i + 1, i + 1, s.text, hashlib.sha256(f"{i}:{s.text}".encode()).digest())
                    for i, s in enumerate(samples)
                ],
            )
        result = run_stage(
            project, ANONYMIZE, AnonymizeConfig(processes=processes), reporter=NullReporter()
        )
        report = LeakageReport()
        rows = project.store.conn.execute(
            "SELECT record_id, text, spans FROM anonymized ORDER BY record_id"
        )
        for record_id, text, spans in rows:
            score_sample(
                report, samples[record_id - 1], text, json.loads(spans), targeted, safe_harbor=True
            )
        project.close()
    return report, result


def _print_table(title: str, naive: Any, stage: Any) -> None:
    print(f"\n{title}")
    print(
        f"  {'entity':<22} {'n':>5}  {'naive value':>11}  {'stage value':>11}  "
        f"{'stage chars':>11}  target"
    )
    for entity in sorted(stage.per_entity, key=lambda e: -stage.per_entity[e].values):
        s, n = stage.per_entity[entity], naive.per_entity[entity]
        target = (
            "<= 1%"
            if entity in STRUCTURED
            else "<= 5%"
            if entity in NAMES_AND_PLACES
            else ""
            if s.targeted
            else "(not targeted)"
        )
        allowed = f"  ({s.allowed_values} allowed by Safe Harbor)" if s.allowed_values else ""
        print(
            f"  {entity:<22} {s.values:>5}  {n.value_leak:>11.2%}  {s.value_leak:>11.2%}  "
            f"{s.char_leak:>11.2%}  {target}{allowed}"
        )
    s, n = stage.overall(), naive.overall()
    print(
        f"  {'overall (targeted)':<22} {s.values:>5}  {n.value_leak:>11.2%}  "
        f"{s.value_leak:>11.2%}  {s.char_leak:>11.2%}  <= 3%"
    )
    _print_precision(naive, stage)


def _print_precision(naive: Any, stage: Any) -> None:
    wrong = ", ".join(f"{k} {v}" for k, v in sorted(stage.false_replaced.items())) or "none"
    print(
        f"  over-redaction: precision naive {naive.precision:.2%} "
        f"({sum(naive.false_replaced.values())} of {naive.replaced} replacements false), "
        f"stage {stage.precision:.2%} ({sum(stage.false_replaced.values())} of "
        f"{stage.replaced} false: {wrong})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="generated sentences")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--supplement", type=int, default=500, help="sentences of the supplementary identifier set"
    )
    parser.add_argument("--clean", type=int, default=300, help="PII-free sentences")
    parser.add_argument("--processes", default="1,2", help="stage process counts to time")
    args = parser.parse_args()
    netguard.install()

    from core.anonymize.config import AnonymizeConfig
    from core.anonymize.leakage import generated_samples

    targeted = set(AnonymizeConfig().resolved_entities()) | {"GPE", "DOMAIN_NAME"}
    samples = generated_samples(args.n, args.seed)
    extra = supplement_samples(args.supplement, args.seed)
    print(f"{len(samples)} generated sentences (seed {args.seed}), {len(extra)} supplementary")
    naive_report, naive_rate = naive_run(samples, targeted)
    runs = [(int(p), *stage_run(samples, int(p), targeted)) for p in args.processes.split(",")]
    _print_table("leakage, generated sentences", naive_report, runs[-1][1])
    naive_extra, _ = naive_run(extra, targeted)
    stage_extra, _ = stage_run(extra, 1, targeted)
    _print_table("leakage, supplementary identifiers", naive_extra, stage_extra)
    clean = clean_samples(args.clean, args.seed)
    naive_clean, _ = naive_run(clean, targeted)
    stage_clean, _ = stage_run(clean, 1, targeted)
    print(f"\nover-redaction on {len(clean)} PII-free sentences (every replacement is false)")
    _print_precision(naive_clean, stage_clean)
    print(f"\nthroughput on the {len(samples)} generated sentences (docs/s)")
    print(
        f"  naive AnalyzerEngine.analyze loop, 1 process, engine load excluded: {naive_rate:7.1f}"
    )
    for processes, _, result in runs:
        print(
            f"  stage run_anonymize, {processes} process(es), end to end:            "
            f"{result.docs_per_s:7.1f}  ({result.docs_per_s / naive_rate:.2f}x; "
            f"{result.startup_seconds:.1f} s to the first batch)"
        )
        print(
            f"  stage run_anonymize, {processes} process(es), after the first batch:   "
            f"{result.steady_docs_per_s:7.1f}  ({result.steady_docs_per_s / naive_rate:.2f}x)"
        )


if __name__ == "__main__":
    main()
