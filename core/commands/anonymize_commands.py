"""``stillroom anonymize``: run the anonymize stage, review it, or measure its leakage."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.anonymize.config import OPERATORS, PATTERN_ONLY_WARNING, AnonymizeConfig
from core.commands.config_defaults import add_numbers, default, given
from core.errors import UserError
from core.project import Project

if TYPE_CHECKING:
    from core.anonymize.config import AnonymizeResult

_LOUD = f"WARNING: {PATTERN_ONLY_WARNING}"


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
        "values and characters that survive is printed per entity type, with the over-"
        "redaction: the share of replacements that touch a marked value (precision).",
        epilog="Operators: replace → <PERSON_1>; mask → *****; hash → salted per-project hash; "
        "pseudonym → consistent realistic surrogate, originals kept encrypted in the vault "
        "(key in the OS keyring, else DIR/vault.key, mode 0600: never share or export it).",
    )
    cmd.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    _config_options(cmd)
    cmd.add_argument(
        "--review", type=int, default=0, metavar="N",
        help="afterwards, print N anonymized records with the replaced spans marked",
    )  # fmt: skip
    # fmt: off
    leak = cmd.add_argument_group("leakage check")
    leak.add_argument("--check-leakage", action="store_true",
                      help="measure leakage instead of anonymizing the project")
    leak.add_argument("--leakage-file", type=Path, metavar="JSONL",
                      help='your marked records: {"text", "spans": [{start, end, entity_type}]}')
    leak.add_argument("--generated", type=int, default=2000, metavar="N",
                      help="else: N generated sentences (needs presidio-evaluator)")
    leak.add_argument("--seed", type=int, default=42, help="seed of the generated sentences")
    # fmt: on
    cmd.set_defaults(handler=anonymize_command)


_NUMBERS = (
    ("--review-threshold", float, "records with a finding below this confidence need review "
     "(default {})"),
    ("--batch-size", int, "records per batch (default {})"),
    ("--processes", int, "worker processes (default: one per core)"),
)  # fmt: skip


def _config_options(cmd: argparse.ArgumentParser) -> None:
    # fmt: off
    cmd.add_argument("--entities", help="comma-separated entity types (default: all identifiers)")
    cmd.add_argument("--operator", choices=OPERATORS,
                     help=f"what replaces a found value (default {_default('operator')})")
    cmd.add_argument("--operator-for", action="append", default=[], metavar="ENTITY=OP",
                     help="a different operator for one entity type (repeatable)")
    cmd.add_argument("--pattern-only", action="store_true", default=None,
                     help="no language model: patterns only; names and places are NOT detected")
    cmd.add_argument("--spacy-model", metavar="NAME",
                     help="an installed spaCy model package (default: the shipped one)")
    cmd.add_argument("--locale", help=f"Faker locale of pseudonyms (default {_default('locale')})")
    cmd.add_argument("--no-safe-harbor", action="store_false", dest="safe_harbor", default=None,
                     help="replace dates, ages and ZIP codes whole instead of generalising them")
    cmd.add_argument("--threshold", type=float, dest="score_threshold", metavar="THRESHOLD",
                     help="lowest detector confidence that is anonymized "
                     f"(default {_default('score_threshold')})")
    add_numbers(cmd, AnonymizeConfig, _NUMBERS)
    cmd.add_argument("--rules", type=Path, metavar="FILE", dest="rules_path",
                     help="rules file (default DIR/anonymize_rules.json if present)")
    # fmt: on


def _default(name: str) -> Any:
    return default(AnonymizeConfig, name)


def build_config(args: argparse.Namespace) -> AnonymizeConfig:
    """The stage configuration: the options typed, the dataclass's defaults else.

    Raises:
        UserError: an option is malformed.
    """
    overrides = []
    for item in args.operator_for:
        entity, _, operator = item.partition("=")
        if not operator:
            raise UserError(
                f"--operator-for takes ENTITY=OPERATOR, got {item!r}",
                "for example --operator-for PERSON=pseudonym",
            )
        overrides.append((entity.strip().upper(), operator.strip()))
    values = given(args, AnonymizeConfig)
    values["entities"] = tuple(
        e.strip().upper() for e in (args.entities or "").split(",") if e.strip()
    )
    values["operators"] = tuple(sorted(overrides))
    if "rules_path" in values:
        values["rules_path"] = values["rules_path"].expanduser().resolve()
    config = AnonymizeConfig(**values)
    config.validate()
    return config


def anonymize_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.commands.progress import stage_output
    from core.jobs.registry import ANONYMIZE

    config = build_config(args)
    if args.check_leakage:
        return leakage_command(args, config)
    with Project.open(args.dir) as project:
        output = stage_output(project, ANONYMIZE, config, render_anonymize)
        output["lines"] += _review_lines(project, args.review)
    return output


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
    if result.regrouped:
        lines.append(
            f"  note: {result.regrouped:,} records became identical to a record in another "
            "split once anonymized; they were moved to that record's split so that no text is "
            "both trained on and tested on"
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


def leakage_command(args: argparse.Namespace, config: AnonymizeConfig) -> dict[str, Any]:
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
    wrong = ", ".join(f"{k} {v}" for k, v in data["false_replaced"].items()) or "none"
    lines.append(
        f"over-redaction: {data['precision']:.1%} of {data['replaced']:,} replacements touch "
        f"a marked value (precision); replaced unmarked text: {wrong}"
    )
    return {**data, "lines": lines}
