"""``stillroom teach``: soft labels from a local model, an endpoint, or existing labels."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from core.commands.config_defaults import add_numbers, default, given
from core.configs import to_json
from core.project import Project
from core.teacher.config import (
    DEFAULT_REPLY_BYTES,
    REPLY_BYTES_PER_TOKEN,
    LabelTokens,
    Mode,
    TeachConfig,
)
from core.teacher.sources import SPECS

if TYPE_CHECKING:
    from core.teacher.config import TeachResult
    from core.teacher.preview import PreviewRow


def _default(name: str) -> Any:
    return default(TeachConfig, name)


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    teach = sub.add_parser(
        "teach",
        parents=[common],
        help="label the anonymized records with a teacher (local model, endpoint or labels)",
        description="Ask a teacher for soft labels (classification) or text (generation) on "
        "every anonymized record, storing each answer once: re-running skips what is stored "
        "and resumes a stopped run; a record is never billed twice. The teacher only sees "
        "anonymized text. Prints the teacher's accuracy against the human labels "
        "(generation: its ROUGE-L against the reference texts imported with --label). "
        "Generation: the built-in prompt asks for a summary of the text; for any other task "
        "pass --prompt FILE, a template with the instruction around {text} (see --preview).",
    )
    teach.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    teach.add_argument(
        "--teacher", required=True, metavar="SPEC",
        help=", ".join(f"{spec.usage} ({spec.summary})" for spec in SPECS),
    )  # fmt: skip
    teach.add_argument("--model", help="the endpoint's model name (openai: only)")
    teach.add_argument(
        "--mode", choices=get_args(Mode), help=f"the endpoint's API (default {_default('mode')})"
    )
    _config_options(teach)
    teach.add_argument(
        "--preview", action="store_true",
        help="dry run on 5 records: show the anonymized text, prompt and answer; store nothing",
    )  # fmt: skip
    teach.set_defaults(handler=teach_command)


# Options that set a TeachConfig number: flag, type, help ({} shows the dataclass's default).
_NUMBERS = (
    ("--concurrency", int, "requests in flight (default {})"),
    ("--rate", float, "most requests per second"),
    ("--price-in", float, "price per 1M input tokens"),
    ("--price-out", float, "price per 1M output tokens"),
    ("--samples", int, "answers sampled per record when the endpoint gives no logprobs (their "
     "shares are the soft label; default {})"),
    ("--temperature", float, "soft-label (local) or sampling (endpoint) temperature"),
    ("--batch-size", int, "records per batch (default {})"),
    ("--max-new-tokens", int, "generation length (default {})"),
    ("--limit", int, "label at most N new records"),
    ("--max-reply-bytes", int, f"the largest answer read (default {DEFAULT_REPLY_BYTES >> 20} "
     f"MiB, more for long generations: {REPLY_BYTES_PER_TOKEN >> 10} KiB per --max-new-tokens); "
     "a longer one fails its record as 'reply too large'"),
)  # fmt: skip


def _config_options(teach: argparse.ArgumentParser) -> None:
    # fmt: off
    add_numbers(teach, TeachConfig, _NUMBERS, {"--limit": "N", "--max-reply-bytes": "N"})
    teach.add_argument("--api-key-env", metavar="VAR",
                       help="environment variable holding the endpoint's API key (default "
                       f"{_default('api_key_env')}; else the OS keyring, service 'stillroom', "
                       "user = host)")
    teach.add_argument("--timeout", type=float, metavar="S", dest="timeout_s",
                       help="the most seconds one request may take in all, reading the answer "
                       f"included (default {_default('timeout_s'):g}); a slower one is retried")
    teach.add_argument("--ca-bundle", type=Path, metavar="PEM",
                       help="certificate authorities to trust for an https endpoint (your "
                       "organisation's internal CA, as a PEM file); default: the system's")
    teach.add_argument("--allow-insecure-http", action="store_true", default=None,
                       help="let the API key go over plain http to a host other than this "
                       "computer (refused otherwise; recorded in the audit log). Never needed "
                       "for https or localhost")
    teach.add_argument("--prompt", type=Path, metavar="FILE", dest="prompt_file",
                       help="an edited prompt template with {text} and, for classification, "
                       "{choices} (default: the built-in one; generation: a summary "
                       "instruction, so pass your own for another task)")
    teach.add_argument("--label-tokens", choices=get_args(LabelTokens),
                       help="answer labels by name or by letter (default "
                       f"{_default('label_tokens')}: names if each is one token)")
    teach.add_argument("--no-logprobs", action="store_false", dest="use_logprobs",
                       default=None, help="do not ask for logprobs")
    # fmt: on


def config_from_args(args: argparse.Namespace) -> TeachConfig:
    """The stage config for the parsed options: those typed, the dataclass's defaults else.

    Raises:
        TeacherError: an option is out of range or the teacher spec is malformed.
    """
    values = given(args, TeachConfig)
    for name in ("ca_bundle", "prompt_file"):
        if name in values:
            values[name] = values[name].expanduser().resolve()
    config = TeachConfig(**values)
    config.validate()
    return config


def teach_command(args: argparse.Namespace) -> dict[str, Any]:
    config = config_from_args(args)
    if args.preview:
        return _preview(args.dir, config)
    from core.commands.progress import stage_output
    from core.jobs.registry import TEACH

    with Project.open(args.dir) as project:
        return stage_output(project, TEACH, config, render_teach)


def _preview(folder: Path, config: TeachConfig) -> dict[str, Any]:
    from core.teacher.preview import preview_teach

    with Project.open(folder) as project:
        rows = preview_teach(project, config)
    return {"preview": [to_json(r) for r in rows], "lines": render_preview(rows)}


def render_preview(rows: list[PreviewRow]) -> list[str]:
    """The dry run for a terminal: the user asked to see the anonymized text and prompts."""
    lines = [f"dry run on {len(rows)} records (anonymized text; nothing stored)"]
    for row in rows:
        lines.append(f"--- record #{row.record_id} ({row.split})")
        lines.append(row.prompt if row.prompt is not None else row.text)
        if row.task == "generation":
            lines += _generated(row)
            continue
        shown = "" if row.probabilities is None else " " + _vector(row.probabilities)
        answer = "(no answer)" if not row.valid and row.answer is None else repr(row.answer)
        why = (row.flag or "outside_label_set").replace("_", " ")
        verdict = row.label if row.valid else f"INVALID ({why})"
        lines.append(f">>> {verdict}{shown}   raw answer: {answer}")
    return lines


def _generated(row: PreviewRow) -> list[str]:
    """A generation answer: the teacher's text, then the reference text where there is one."""
    if row.answer is None or not row.valid:
        why = (row.flag or "no answer").replace("_", " ")
        return [f">>> INVALID ({why})"]
    lines = [f">>> {row.answer}"]
    if row.reference:
        lines.append(f"reference: {row.reference}")
    return lines


def _vector(values: Any) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def render_teach(result: TeachResult) -> list[str]:
    """A teach result as terminal lines (counts and numbers, never record contents)."""
    lines = [
        f"teacher {result.teacher_id}"
        + (f" (prompt {result.prompt_version})" if result.prompt_version else ""),
        f"  labelled {result.labelled:,} records in {result.seconds:.1f} s "
        f"({result.records_per_s:.1f}/s); {result.already_stored:,} were already "
        f"stored; {result.invalid:,} invalid; {result.failed:,} left for a re-run",
        f"  cost {result.cost:.4f} this run, {result.cost_total:.4f} in total "
        f"({result.input_tokens:,} input / {result.output_tokens:,} output tokens)",
    ]
    reasons = result.invalid_reasons
    if reasons:
        lines.append("  invalid: " + ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items())))
    if result.soft_label_sources:
        shown = ", ".join(
            f"{k.replace('+', ' with ').replace('_', ' ')} {v:,}"
            for k, v in sorted(result.soft_label_sources.items())
        )
        kind = "answers" if result.task == "generation" else "soft labels"
        lines.append(f"  {kind} from: {shown}")
    if result.accuracy:
        shown = ", ".join(
            f"{split} {value:.3f} (n={result.accuracy_n[split]:,})"
            for split, value in result.accuracy.items()
        )
        lines.append(f"  teacher {result.metric_title}: {shown}")
    lines += [f"  note: {warning}" for warning in result.warnings]
    return lines
