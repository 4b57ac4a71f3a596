"""``stillroom export``, and the options of ``bundle verify``, ``predict`` and ``keys
export-public`` (their handlers, the serving side, are in :mod:`core.commands.bundle_commands`).
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any, get_args

from core.commands.bundle_commands import (
    export_public_command,
    predict_command,
    verify_command,
)
from core.commands.config_defaults import default, given
from core.configs import to_json
from core.export.config import (
    ISAS,
    BundleFormat,
    ExportConfig,
    Exporter,
    ExportResult,
    Quantize,
    parse_label_definitions,
)

_default = partial(default, ExportConfig)

_KEY_HELP = (
    "the signer's public key to require: a PEM file from `stillroom keys export-public`, "
    "or its id sha256:… (default: $STILLROOM_BUNDLE_KEY; without either, the key inside "
    "the bundle is used, which proves integrity but not who signed it)"
)


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    _add_export(sub, common)
    bundle = sub.add_parser(
        "bundle", help="check an exported bundle", description="Work with an exported bundle."
    )
    bundle_sub = bundle.add_subparsers(title="bundle commands", metavar="COMMAND")
    verify = bundle_sub.add_parser(
        "verify",
        parents=[common],
        help="recompute checksums and self-test a bundle",
        description="Check the Ed25519 signature over manifest.json (by the pinned key with "
        "--key), recompute every file's SHA-256 and size against it (files it does not list "
        "are refused), check the manifest's schema, load the model with ONNX Runtime, check "
        "each serving layout (the Triton config) against the graph, and re-run the stored "
        "anonymized probe inputs against their expected outputs; SIGN-OFF.md, the reviewer's "
        "form, is the one file outside the checksums: it is read and reported, not checked. "
        "Exits 0 when everything "
        "matches, 1 naming the first file that does not (or a missing or wrong signature), 2 "
        "when BUNDLE is not a bundle. A zip with '..', absolute or link entries is refused.",
    )
    verify.add_argument("bundle", type=Path, metavar="BUNDLE", help="a bundle folder or .zip")
    verify.add_argument("--key", metavar="PUB", help=_KEY_HELP)
    verify.set_defaults(handler=verify_command)
    predict = sub.add_parser(
        "predict",
        parents=[common],
        help="label texts with a bundle (ONNX Runtime, no torch)",
        description="Check the bundle's signature and checksums (exit 1 and nothing runs "
        "when they do not match), then tokenize with its tokenizer.json and run its model "
        "with ONNX Runtime (CUDA when onnxruntime-gpu is installed): prints each text's label "
        "and calibrated probabilities (generation bundles: the greedy continuation).",
    )
    predict.add_argument("bundle", type=Path, metavar="BUNDLE", help="a bundle folder or .zip")
    predict.add_argument("--key", metavar="PUB", help=_KEY_HELP)
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", action="append", metavar="T", help="a text (repeatable)")
    source.add_argument("--file", type=Path, metavar="F", help="a UTF-8 file, one text a line")
    predict.add_argument(
        "--batch-size", type=int, default=1,
        help="texts per forward pass (default 1: each text alone, as a server answers a "
        "request and as the evaluation scored the file; INT8 answers in padded batches can "
        "differ slightly)",
    )  # fmt: skip
    predict.add_argument("--max-new-tokens", type=int, default=32, help="generation length")
    predict.set_defaults(handler=predict_command)
    _add_keys(sub, common)


def _add_keys(sub: Any, common: argparse.ArgumentParser) -> None:
    keys = sub.add_parser(
        "keys",
        help="the key that signs a project's bundles",
        description="Bundles are signed with the project's Ed25519 key (DIR/keys/"
        "bundle_signing.key, owner-only, created on first use) or an organisation's key "
        "(`stillroom export --signing-key`). IT pins the public key.",
    )
    keys_sub = keys.add_subparsers(title="keys commands", metavar="ACTION")
    public = keys_sub.add_parser(
        "export-public",
        parents=[common],
        help="write the public key that IT pins to check bundles",
        description="Write the public key (PEM) of the key that signs DIR's bundles, and print "
        "its id (sha256: of the key's DER form). Creates the project's key if it has none "
        "yet (audited). Servers pin it with `stillroom bundle verify --key PUB`, `predict "
        "--key PUB` or STILLROOM_BUNDLE_KEY=PUB.",
    )
    public.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    public.add_argument("--out", type=Path, metavar="PUB", help="write it here (default: print)")
    public.add_argument(
        "--signing-key", type=Path, metavar="KEY", help="an organisation's key instead"
    )
    public.add_argument("--force", action="store_true", help="replace an existing PUB")
    public.set_defaults(handler=export_public_command)


def _add_export(sub: Any, common: argparse.ArgumentParser) -> None:
    from core.export.targets import TARGETS

    layouts = ", ".join(f"{t.title} ({t.key}/)" for t in TARGETS)
    export = sub.add_parser(
        "export",
        parents=[common],
        help="write a verified, quantized ONNX bundle",
        description="Export the evaluated student to ONNX (optimum) and ship the INT8 file "
        "the evaluation scored (a copy with the same SHA-256) when the settings match; "
        "otherwise quantize it to dynamic per-channel INT8 and score the written file on the "
        "test split against the floor. Check PyTorch/ONNX fp32/INT8 parity, and write a "
        "bundle (manifest with checksums, lineage and the shipped file's figures, signed "
        "with the project's Ed25519 key or --signing-key; tokenizer, labels, a model card for "
        "a model-risk reviewer, report, a blank SIGN-OFF.md outside the checksums, and the "
        f"serving layouts for {layouts}) atomically. Refuses a student without a passing "
        "evaluation, or INT8 below --min-agreement, unless overridden with a reason (audited).",
    )
    export.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    export.add_argument(
        "--out", type=Path, required=True, metavar="BUNDLE",
        help="the bundle folder (or .zip with --format zip) to write",
    )  # fmt: skip
    export.add_argument(
        "--student", type=Path, metavar="DIR",
        help="the student folder (default: the latest succeeded train run's model)",
    )  # fmt: skip
    _choice(export, "--quantize", "quantize", get_args(Quantize), "the shipped model's precision")
    _choice(export, "--format", "format", get_args(BundleFormat), "a folder, or one .zip file")
    _flag(export, "--force", "force", "replace an existing BUNDLE")
    export.add_argument(
        "--override-floor", metavar="REASON",
        help="export although the evaluation failed or is missing; the reason is audited",
    )  # fmt: skip
    export.add_argument(
        "--override-parity", metavar="REASON",
        help="export although INT8 agreement is below --min-agreement; audited",
    )  # fmt: skip
    export.add_argument(
        "--min-agreement", type=float, metavar="X",
        help="least INT8/PyTorch argmax agreement on the test split "
        f"(default {_default('min_agreement')})",
    )  # fmt: skip
    _add_card(export)
    _add_tuning(export)
    export.set_defaults(handler=export_command)


def _add_card(export: Any) -> None:
    """What the model card says that only a person knows."""
    card = export.add_argument_group("model card")
    card.add_argument("--owner", help="who owns the model (default: the OS user who exports)")
    card.add_argument(
        "--intended-use", metavar="TEXT",
        help="what the model is for, in the owner's words (default: from the task and labels)",
    )  # fmt: skip
    card.add_argument(
        "--label-definition", action="append", metavar="LABEL=TEXT", dest="definitions",
        help="what a label means (repeatable; one per label)",
    )  # fmt: skip


def _add_tuning(export: Any) -> None:
    """Options most exports leave at their defaults."""
    export.add_argument(
        "--signing-key", type=Path, metavar="KEY",
        help="sign with an organisation's Ed25519 private key (PEM, mode 0600) instead of the "
        "project's own (DIR/keys/bundle_signing.key, created on first export)",
    )  # fmt: skip
    _choice(export, "--isa", "isa", ISAS, "CPU instruction set the INT8 kernels target")
    _flag(export, "--fp16", "fp16", "add model_fp16.onnx (GPU)")
    _flag(export, "--keep-fp32", "keep_fp32", "add model_fp32.onnx")
    _choice(export, "--exporter", "exporter", get_args(Exporter),
            "what makes the ONNX graph (auto: optimum, else torch.onnx)")  # fmt: skip
    export.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    export.add_argument(
        "--max-length", type=int, help="longest input in tokens (default: the training length)"
    )
    export.add_argument(
        "--probes", type=int, help=f"self-test inputs stored (default {_default('probes')})"
    )
    export.add_argument(
        "--parity-limit", type=int, metavar="N",
        help=f"most test inputs in the parity check (default {_default('parity_limit')})",
    )  # fmt: skip
    export.add_argument("--name", help="the served model's name (default: from DIR's name)")


def _choice(
    parser: argparse.ArgumentParser, flag: str, field: str, choices: Any, text: str
) -> None:
    parser.add_argument(
        flag, dest=field, choices=choices, help=f"{text} (default {_default(field)})"
    )


def _flag(parser: argparse.ArgumentParser, flag: str, field: str, text: str) -> None:
    parser.add_argument(flag, dest=field, action="store_const", const=True, help=text)


def export_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.commands.progress import run_stage
    from core.jobs.registry import EXPORT
    from core.project import Project

    values = given(args, ExportConfig)
    values["out"] = args.out.expanduser().absolute()
    if args.definitions:
        values["label_definitions"] = parse_label_definitions(args.definitions)
    for name in ("student", "signing_key"):
        if name in values:
            values[name] = values[name].expanduser().absolute()
    config = ExportConfig(**values)
    config.validate()
    with Project.open(args.dir) as project:
        result = run_stage(project, EXPORT, config)
        lines = render_export(result) + _signing_lines(result, project.path)
    return {**to_json(result), "lines": lines}


def _signing_lines(result: ExportResult, project: Path) -> list[str]:
    if not result.signing_key_id:
        return []
    pin = f"stillroom keys export-public {project} --out bundle_signing.pub"
    if result.signing_key_source == "organisation":
        pin += " --signing-key KEY"
    return [
        f"  signed with Ed25519 key {result.signing_key_id} "
        f"({result.signing_key_source} key); give IT its public key to pin: {pin}"
    ]


def render_export(result: ExportResult) -> list[str]:
    """An export result for a terminal: where, what, parity, gates."""
    parity = result.parity
    generation = result.task == "generation"
    how = (f"weight-only {result.precision.upper()}, chosen by parity" if generation
           else f"INT8 target: {result.isa or '—'}; temperature {result.temperature:.3f} "
           f"({result.temperature_source})")  # fmt: skip
    lines = [
        f"bundle written to {result.bundle} ({result.files} files, "
        f"{result.bundle_bytes / 1e6:.1f} MB; model {result.model_bytes / 1e6:.1f} MB "
        f"{result.precision or result.quantize}, fp32 {result.fp32_bytes / 1e6:.1f} MB)",
        f"  exporter: {result.exporter}; {how}",
        f"  parity on {parity.n:,} test inputs (reference {parity.reference}, PyTorch "
        f"{parity.metric_name} {_num(parity.pytorch_metric)}):",
    ]
    for v in parity.variants:
        lines.append(
            f"    {v.variant:<10} agreement {v.agreement:.4f}  max |Δlogit| "
            f"{v.max_abs_diff:.4f}  {parity.metric_name} {_num(v.metric)} "
            f"(Δ {_num(v.metric_delta)})"
            + ("" if v.batched_agreement is None else f"; in batches {v.batched_agreement:.4f}")
        )
    if result.shipped_source == "evaluated":
        digest = result.shipped_sha256[:16]
        lines.append(f"  model.onnx is the file the evaluation scored (SHA-256 {digest}…): "
                     "its figures are the shipped file's")  # fmt: skip
    elif result.shipped_source:
        lines.append(f"  model.onnx was scored on the test set at export ({result.shipped_why})")
    for row in result.shipped_rows:
        name = "ROUGE-L" if generation else "metric"
        lines.append(f"    {row.split}: {name} {_num(row.metric)}, retention "
                     f"{_num(row.retention)} ({row.rows:,} rows)")  # fmt: skip
    if result.floor_overridden:
        lines.append(f"  WARNING: exported over a {result.verdict} evaluation (override audited)")
    if result.parity_overridden:
        lines.append("  WARNING: exported below the parity threshold (override audited)")
    lines += [f"  note: {note}" for note in result.notes]
    return lines


def _num(value: Any) -> str:
    return "—" if value is None else f"{value:+.4f}" if value < 0 else f"{value:.4f}"
