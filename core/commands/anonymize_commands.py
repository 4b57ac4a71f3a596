"""``stillroom anonymize``: run the anonymize stage, review it, or measure its leakage."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.configs import to_json
from core.errors import UserError
from core.project import Project

if TYPE_CHECKING:
    from core.anonymize.config import AnonymizeResult

_OPERATORS = ("replace", "mask", "hash", "pseudonym")
_LOUD = "WARNING: pattern-only mode: names and places NOT detected"


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    cmd = sub.add_parser(
        "anonymize",
        parents=[common],
        help="replace identifiers in every record (Presidio, offline), or measure leakage",
        description="Find the 18 HIPAA Safe Harbor identifier classes and bank identifiers in "
        "every record with Presidio and the installed spaCy model, and replace them. Nothing is "
        "downloaded. Re-running skips records done with the same settings and redoes the rest. "
        "With --check-leakage, nothing is anonymized: labelled text (your marked records, or "
        "generated sentences) is run through the same settings and the share of identifier "
        "values and characters that survive is printed per entity type.",
        epilog="Operators: replace → <PERSON_1>; mask → *****; hash → salted per-project hash; "
        "pseudonym → consistent realistic surrogate, originals kept encrypted in the vault "
        "(key in the OS keyring, else DIR/vault.key, mode 0600: never share or export it).",
    )
    cmd.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    cmd.add_argument("--entities", help="comma-separated entity types (default: all identifiers)")
    cmd.add_argument(
        "--operator",
        choices=_OPERATORS,
        default="replace",
        help="what replaces a found value (default replace)",
    )
    cmd.add_argument(
        "--operator-for",
        action="append",
        default=[],
        metavar="ENTITY=OP",
        help="a different operator for one entity type (repeatable)",
    )
    cmd.add_argument(
        "--pattern-only",
        action="store_true",
        help="no language model: patterns only; names and places are NOT detected",
    )
    cmd.add_argument(
        "--spacy-model",
        metavar="NAME",
        help="an installed spaCy model package (default: the shipped one)",
    )
    cmd.add_argument("--locale", default="en_US", help="Faker locale of pseudonyms")
    cmd.add_argument(
        "--no-safe-harbor",
        action="store_true",
        help="replace dates, ages and ZIP codes whole instead of generalising them",
    )
    cmd.add_argument(
        "--threshold",
        type=float,
        default=0.4,
        help="lowest detector confidence that is anonymized (default 0.4)",
    )
    cmd.add_argument(
        "--review-threshold",
        type=float,
        default=0.5,
        help="records with a finding below this confidence need review (default 0.5)",
    )
    cmd.add_argument("--batch-size", type=int, default=64, help="records per batch")
    cmd.add_argument("--processes", type=int, help="worker processes (default: one per core)")
    cmd.add_argument(
        "--rules",
        type=Path,
        metavar="FILE",
        help="rules file (default DIR/anonymize_rules.json if present)",
    )
    cmd.add_argument(
        "--review",
        type=int,
        default=0,
        metavar="N",
        help="afterwards, print N anonymized records with the replaced spans marked",
    )
    leak = cmd.add_argument_group("leakage check")
    leak.add_argument(
        "--check-leakage",
        action="store_true",
        help="measure leakage instead of anonymizing the project",
    )
    leak.add_argument(
        "--leakage-file",
        type=Path,
        metavar="JSONL",
        help='your marked records: {"text", "spans": [{start, end, entity_type}]}',
    )
    leak.add_argument(
        "--generated",
        type=int,
        default=2000,
        metavar="N",
        help="else: N generated sentences (needs presidio-evaluator)",
    )
    leak.add_argument("--seed", type=int, default=42, help="seed of the generated sentences")
    cmd.set_defaults(handler=anonymize_command)


def build_config(args: argparse.Namespace) -> Any:
    """The stage configuration from the command line.

    Raises:
        UserError: an option is malformed.
    """
    from core.anonymize.config import SHIPPED_MODEL, AnonymizeConfig

    overrides = []
    for item in args.operator_for:
        entity, _, operator = item.partition("=")
        if not operator:
            raise UserError(
                f"--operator-for takes ENTITY=OPERATOR, got {item!r}",
                "for example --operator-for PERSON=pseudonym",
            )
        overrides.append((entity.strip().upper(), operator.strip()))
    entities = tuple(e.strip().upper() for e in (args.entities or "").split(",") if e.strip())
    config = AnonymizeConfig(
        entities=entities,
        operator=args.operator,
        operators=tuple(sorted(overrides)),
        spacy_model=args.spacy_model or SHIPPED_MODEL,
        pattern_only=args.pattern_only,
        locale=args.locale,
        safe_harbor=not args.no_safe_harbor,
        score_threshold=args.threshold,
        review_threshold=args.review_threshold,
        batch_size=args.batch_size,
        processes=args.processes,
        rules_path=None if args.rules is None else args.rules.expanduser().resolve(),
    )
    config.validate()
    return config


def anonymize_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.commands.progress import run_stage
    from core.jobs.registry import ANONYMIZE

    config = build_config(args)
    if args.check_leakage:
        return leakage_command(args, config)
    with Project.open(args.dir) as project:
        result = run_stage(project, ANONYMIZE, config)
        samples = _review_lines(project, args.review)
    return {**to_json(result), "lines": [*render_anonymize(result), *samples]}


def render_anonymize(result: AnonymizeResult) -> list[str]:
    """A stage result as terminal lines (counts only)."""
    lines = [_LOUD] if result.warning else []
    lines.append(
        f"anonymized {result.anonymized:,} of {result.records_total:,} records "
        f"({result.skipped:,} already done, {result.reanonymized:,} redone because the "
        f"settings changed) in {result.seconds:.1f} s, {result.docs_per_s:,.0f} docs/s, "
        f"{result.processes} process(es), {result.mode}"
    )
    if result.entity_counts:
        lines.append(
            "  replaced: " + ", ".join(f"{k} {v:,}" for k, v in result.entity_counts.items())
        )
    reasons = ", ".join(f"{k} {v:,}" for k, v in result.review_reasons.items())
    lines.append(
        f"  needs review: {result.needs_review:,} records" + (f" ({reasons})" if reasons else "")
    )
    lines.append(f"  settings hash {result.config_hash}")
    return lines


def _review_lines(project: Project, count: int) -> list[str]:
    if count <= 0:
        return []
    from core.anonymize.review import marked_text, review_sample

    flagged = review_sample(project, count, needs_review_only=True)
    items = flagged + review_sample(project, count - len(flagged))
    lines = ["", f"review sample ({len(items)} records; ⟦TYPE: replacement⟧ marks a change):"]
    for item in items:
        flag = f" [needs review: {', '.join(item.reasons)}]" if item.needs_review else ""
        lines.append(f"#{item.record_id}{flag}: {marked_text(item)}")
    return lines


def leakage_command(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    from core.anonymize.leakage import check_leakage, generated_samples, read_labelled_jsonl
    from core.reporter import NullReporter

    if args.leakage_file is not None:
        samples = read_labelled_jsonl(args.leakage_file.expanduser())
    else:
        samples = generated_samples(args.generated, args.seed)
    with Project.open(args.dir) as project:
        report = check_leakage(project, config, samples, reporter=NullReporter())
    data = report.to_dict()
    lines = [_LOUD] if config.pattern_only else []
    lines.append(
        f"leakage on {data['samples']:,} samples ({config.mode}); value = share of "
        "marked values still verbatim in the output, chars = share of their "
        "characters not replaced"
    )
    for entity, row in data["per_entity"].items():
        note = "" if row["targeted"] else "  (not an entity of these settings)"
        lines.append(
            f"  {entity:<22} n={row['values']:>5}  value {row['value_leak']:6.1%}  "
            f"chars {row['char_leak']:6.1%}{note}"
        )
    overall = data["overall"]
    lines.append(
        f"  {'overall (targeted)':<22} n={overall['values']:>5}  value "
        f"{overall['value_leak']:6.1%}  chars {overall['char_leak']:6.1%}"
    )
    return {**data, "lines": lines}
