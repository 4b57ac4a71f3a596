"""``stillroom teach``: soft labels from a local model, an endpoint, or existing labels."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.configs import to_json
from core.project import Project

if TYPE_CHECKING:
    from core.teacher.config import TeachConfig, TeachResult
    from core.teacher.preview import PreviewRow


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    teach = sub.add_parser(
        "teach",
        parents=[common],
        help="label the anonymized records with a teacher (local model, endpoint or labels)",
        description="Ask a teacher for soft labels (classification) or text (generation) on "
        "every anonymized record, storing each answer once: re-running skips what is stored "
        "and resumes a stopped run; a record is never billed twice. The teacher only sees "
        "anonymized text. Prints the teacher's accuracy against the human labels.",
    )
    teach.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    teach.add_argument(
        "--teacher",
        required=True,
        metavar="SPEC",
        help="hf:PATH (a local model folder or .gguf file), openai:BASE_URL (an "
        "OpenAI-compatible endpoint, e.g. https://gpu-box:8000/v1; never with a password or "
        "key in it: see --api-key-env), or labels (the human labels as one-hot soft labels)",
    )
    teach.add_argument("--model", help="the endpoint's model name (openai: only)")
    teach.add_argument("--mode", choices=("chat", "completions"), default="chat")
    teach.add_argument(
        "--api-key-env",
        default="STILLROOM_TEACHER_API_KEY",
        metavar="VAR",
        help="environment variable holding the endpoint's API key (default "
        "STILLROOM_TEACHER_API_KEY; else the OS keyring, service 'stillroom', user = host)",
    )
    teach.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    teach.add_argument("--rate", type=float, help="most requests per second")
    teach.add_argument(
        "--timeout", type=float, default=60.0, metavar="S",
        help="the most seconds one request may take in all, reading the answer included "
        "(default 60); a slower one is retried",
    )  # fmt: skip
    teach.add_argument(
        "--max-reply-bytes", type=int, metavar="N",
        help="the largest answer read (default 1 MiB, more for long generations: 4 KiB per "
        "--max-new-tokens); a longer one fails its record as 'reply too large'",
    )  # fmt: skip
    teach.add_argument(
        "--ca-bundle", type=Path, metavar="PEM",
        help="certificate authorities to trust for an https endpoint (your organisation's "
        "internal CA, as a PEM file); default: the system's",
    )  # fmt: skip
    teach.add_argument(
        "--allow-insecure-http", action="store_true",
        help="let the API key go over plain http to a host other than this computer "
        "(refused otherwise; recorded in the audit log). Never needed for https or localhost",
    )  # fmt: skip
    teach.add_argument("--price-in", type=float, default=0.0, help="price per 1M input tokens")
    teach.add_argument("--price-out", type=float, default=0.0, help="price per 1M output tokens")
    teach.add_argument(
        "--samples", type=int, default=1, help="answers sampled per record when the endpoint "
        "gives no logprobs (their shares are the soft label)",
    )  # fmt: skip
    teach.add_argument("--temperature", type=float, help="soft-label (local) or sampling "
                       "(endpoint) temperature")  # fmt: skip
    teach.add_argument("--prompt", type=Path, metavar="FILE", help="an edited prompt template "
                       "with {text} and, for classification, {choices}")  # fmt: skip
    teach.add_argument(
        "--label-tokens", choices=("auto", "names", "letters"), default="auto",
        help="answer labels by name or by letter (auto: names if each is one token)",
    )  # fmt: skip
    teach.add_argument("--no-logprobs", action="store_true", help="do not ask for logprobs")
    teach.add_argument("--batch-size", type=int, default=16, help="records per batch")
    teach.add_argument("--max-new-tokens", type=int, default=256, help="generation length")
    teach.add_argument("--limit", type=int, metavar="N", help="label at most N new records")
    teach.add_argument(
        "--preview", action="store_true",
        help="dry run on 5 records: show the anonymized text, prompt and answer; store nothing",
    )  # fmt: skip
    teach.set_defaults(handler=teach_command)


def config_from_args(args: argparse.Namespace) -> TeachConfig:
    """The stage config for the parsed options.

    Raises:
        TeacherError: an option is out of range or the teacher spec is malformed.
    """
    from core.teacher.config import TeachConfig

    config = TeachConfig(
        teacher=args.teacher,
        model=args.model,
        mode=args.mode,
        api_key_env=args.api_key_env,
        concurrency=args.concurrency,
        rate=args.rate,
        timeout_s=args.timeout,
        max_reply_bytes=args.max_reply_bytes,
        ca_bundle=None if args.ca_bundle is None else args.ca_bundle.expanduser().resolve(),
        allow_insecure_http=args.allow_insecure_http,
        price_in=args.price_in,
        price_out=args.price_out,
        samples=args.samples,
        temperature=args.temperature,
        prompt_file=None if args.prompt is None else args.prompt.expanduser().resolve(),
        label_tokens=args.label_tokens,
        use_logprobs=not args.no_logprobs,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        limit=args.limit,
    )
    config.validate()
    return config


def teach_command(args: argparse.Namespace) -> dict[str, Any]:
    config = config_from_args(args)
    if args.preview:
        return _preview(args.dir, config)
    from core.commands.progress import run_stage
    from core.jobs.registry import TEACH

    with Project.open(args.dir) as project:
        result = run_stage(project, TEACH, config)
    return {**to_json(result), "lines": render_teach(result)}


def _preview(folder: Path, config: TeachConfig) -> dict[str, Any]:
    from core.teacher.preview import preview_teach

    with Project.open(folder) as project:
        rows = preview_teach(project, config)
    as_data = [
        {"record_id": r.record_id, "split": r.split, "text": r.text, "prompt": r.prompt,
         "label": r.label, "probabilities": r.probabilities, "answer": r.answer,
         "valid": r.valid, "flag": r.flag}
        for r in rows
    ]  # fmt: skip
    return {"preview": as_data, "lines": render_preview(rows)}


def render_preview(rows: list[PreviewRow]) -> list[str]:
    """The dry run for a terminal: the user asked to see the anonymized text and prompts."""
    lines = [f"dry run on {len(rows)} records (anonymized text; nothing stored)"]
    for row in rows:
        lines.append(f"--- record #{row.record_id} ({row.split})")
        lines.append(row.prompt if row.prompt is not None else row.text)
        shown = "" if row.probabilities is None else " " + _vector(row.probabilities)
        answer = "(no answer)" if not row.valid and row.answer is None else repr(row.answer)
        why = (row.flag or "outside_label_set").replace("_", " ")
        verdict = row.label if row.valid else f"INVALID ({why})"
        lines.append(f">>> {verdict}{shown}   raw answer: {answer}")
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
        shown = ", ".join(f"{k} {v:,}" for k, v in sorted(result.soft_label_sources.items()))
        lines.append(f"  soft labels from: {shown}")
    if result.accuracy:
        shown = ", ".join(
            f"{split} {value:.3f} (n={result.accuracy_n[split]:,})"
            for split, value in result.accuracy.items()
        )
        lines.append(f"  teacher accuracy vs human labels: {shown}")
    lines += [f"  note: {warning}" for warning in result.warnings]
    return lines
