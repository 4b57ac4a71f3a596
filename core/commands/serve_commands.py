"""``stillroom serve BUNDLE`` and ``stillroom serve-log export``.

Both work without a project: IT has only the bundle (and, later, the log). The serving
library (MLServer) is imported only when a server starts, so ``stillroom --help`` and the
window never load it.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from core.commands.config_defaults import add_numbers, default, given
from core.configs import to_json
from core.serve.config import KEEP_INPUTS, ServeConfig

_default = partial(default, ServeConfig)
_KEY_HELP = (
    "the signer's public key to require: a PEM file or its id sha256:… (default: "
    "$STILLROOM_BUNDLE_KEY; without either, the key inside the bundle is used, which proves "
    "integrity but not who signed it)"
)


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    _add_serve(sub, common)
    log = sub.add_parser(
        "serve-log", help="work with a server's prediction log",
        description="Read what `stillroom serve` logged.",
    )  # fmt: skip
    log_sub = log.add_subparsers(title="serve-log commands", metavar="ACTION")
    export = log_sub.add_parser(
        "export", parents=[common], help="write the prediction log as one file",
        description="Write every prediction of a log folder (its rotated files included, "
        "oldest first), with the shadow teacher's answer where sampled, as JSON lines (.jsonl) "
        "or Parquet (.parquet): a file an analyst carries back beside the project. Safe while "
        "the server runs (it reads a consistent snapshot of each file). Raw text is never in "
        "it unless the server kept inputs (--keep-inputs), and then only anonymized or "
        "encrypted.",
    )  # fmt: skip
    export.add_argument("log", type=Path, metavar="LOG_DIR", help="the server's log folder")
    export.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="the file to write (.jsonl or .parquet)")  # fmt: skip
    export.add_argument("--force", action="store_true", help="replace an existing FILE")
    export.set_defaults(handler=log_export_command)


def _add_serve(sub: Any, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser(
        "serve", parents=[common], help="serve a bundle (Open Inference Protocol v2)",
        description="Verify the bundle (signature and every checksum: a tampered bundle "
        "exits 2 and never serves), then serve it with MLServer over the Open Inference "
        "Protocol v2 (REST on --port, gRPC on --grpc-port) with Prometheus metrics on "
        "--metrics-port, until Ctrl-C. One input 'text' (BYTES, one text per row); outputs "
        "'label', 'probabilities' and 'confidence' (calibrated). Concurrent requests are "
        "batched. Every text answered is one row of the prediction log (no text in it unless "
        "--keep-inputs). With --shadow-teacher a share of requests is also sent, anonymized "
        "with the project's settings and in a background process, to the teacher; callers "
        "never wait for it. Classification bundles only: generation bundles are not served "
        "yet. Needs the 'serve' extra (MLServer).",
    )  # fmt: skip
    serve.add_argument("bundle", type=Path, metavar="BUNDLE", help="a bundle folder or .zip")
    serve.add_argument("--key", metavar="PUB", help=_KEY_HELP)
    serve.add_argument("--host", help=f"listen address (default {_default('host')})")
    add_numbers(serve, ServeConfig, (
        ("--port", int, "HTTP port (default {})"),
        ("--grpc-port", int, "gRPC port (default {})"),
        ("--metrics-port", int, "Prometheus port, /metrics (default {})"),
        ("--workers", int, "batches computed at once; they share the cores (default {})"),
        ("--max-batch-size", int, "most texts per forward pass (default {})"),
        ("--max-text-bytes", int, "longest text accepted, in UTF-8 bytes (default {})"),
        ("--max-request-texts", int, "most texts in one request (default {})"),
    ))  # fmt: skip
    serve.add_argument("--device", help=f"cpu or cuda[:N] (default {_default('device')})")
    serve.add_argument(
        "--log-dir",
        type=Path,
        metavar="DIR",
        help="the prediction log's folder (default: BUNDLE-serve-log beside it)",
    )
    serve.add_argument(
        "--keep-inputs", choices=KEEP_INPUTS[1:],
        help="keep the text too: 'anonymized' (the project's anonymization, in the background "
        "worker; texts it cannot keep up with are not kept) or 'encrypted' (raw text, Fernet, "
        "key from --input-key-file or $STILLROOM_SERVE_INPUT_KEY, else created in the log "
        "folder). Default: no text is kept",
    )  # fmt: skip
    serve.add_argument("--input-key-file", type=Path, metavar="FILE",
                       help="the Fernet key for --keep-inputs encrypted")  # fmt: skip
    add_numbers(serve, ServeConfig, (
        ("--log-rotate-mb", float, "start a new log file past this size (default {:g})"),
        ("--log-max-mb", float, "delete the oldest log files past this total (default {:g})"),
    ))  # fmt: skip
    _add_shadow(serve)
    serve.set_defaults(handler=serve_command)


def _add_shadow(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--shadow-teacher", metavar="SPEC",
        help="also ask this teacher, asynchronously: openai:BASE_URL (with --shadow-model) or "
        "hf:PATH (run in the background process)",
    )  # fmt: skip
    serve.add_argument("--shadow-model", "--model", dest="shadow_model", metavar="NAME",
                       help="the endpoint's model name (openai: teachers)")  # fmt: skip
    add_numbers(serve, ServeConfig, (
        ("--shadow-fraction", float, "share of requests also sent to the teacher "
                                     "(default {:g})"),
        ("--shadow-queue", int, "shadow requests waiting at most; more are dropped and "
                                "counted (default {})"),
        ("--shadow-timeout-s", float, "most seconds one teacher call may take (default {:g})"),
        ("--seed", int, "seed of the shadow sampling"),
    ))  # fmt: skip
    serve.add_argument(
        "--shadow-prompt",
        type=Path,
        metavar="FILE",
        help="the prompt template of an LLM teacher (default: the task's)",
    )


def serve_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.serve.server import announce, serve

    config = ServeConfig(**given(args, ServeConfig))
    result = serve(config, on_ready=announce)
    values = to_json(result)
    agreement = result.shadow_agreement
    shadow = "" if agreement is None else f"; shadow agreement {agreement:.1%}"
    lines = [
        f"served {result.requests:,} requests ({result.errors:,} refused) in "
        f"{result.seconds:.0f} s; p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
        f"{shadow}; shadow dropped {result.shadow_dropped:,}",
        f"prediction log: {result.log_dir}",
    ]
    return {**values, "lines": lines}


def log_export_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.serve.logexport import export_log

    written = export_log(args.log, args.out, force=args.force)
    return {
        "out": str(written.out), "rows": written.rows, "errors": written.errors,
        "files": written.files,
        "lines": [f"wrote {written.rows:,} predictions and {written.errors:,} failed requests "
                  f"from {written.files} log file(s) to {written.out}"],
    }  # fmt: skip
