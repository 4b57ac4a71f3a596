"""What ``stillroom serve`` (and the Deploy page's trial server) is asked to do, and what it
reports when it stops. Frozen dataclasses of paths, names and numbers; no serving library
is imported here, so the registry and ``stillroom --help`` stay light.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from core.errors import UserError

KeepInputs = Literal["none", "anonymized", "encrypted"]
KEEP_INPUTS: tuple[str, ...] = get_args(KeepInputs)
_DEVICE = re.compile(r"^(cpu|cuda(:\d{1,2})?)$")
INPUT_NAME = "text"  # the one input tensor (BYTES): a text per row
INPUT_KEY_ENV = "STILLROOM_SERVE_INPUT_KEY"  # the Fernet key for --keep-inputs encrypted


class ServeError(UserError):
    """The server cannot start as asked: a busy port, a bad option, a bundle it cannot serve."""


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """The server's settings (``stillroom serve BUNDLE``).

    Attributes:
        bundle: the bundle folder or zip (the Deploy page: None, the project's latest export).
        key: the signer's public key to require (PEM file or ``sha256:…`` id; default
            ``$STILLROOM_BUNDLE_KEY``), as for ``predict``.
        host: the address to listen on; loopback unless the operator opens it.
        port: the HTTP port (Open Inference Protocol v2, REST).
        grpc_port: the gRPC port of the same protocol.
        metrics_port: the Prometheus scrape port (``/metrics``).
        workers: batches computed at once (ONNX Runtime threads are shared out between them).
        device: ``cpu`` or ``cuda[:N]`` (``cuda`` needs onnxruntime-gpu).
        max_batch_size: the most texts one forward pass takes (requests are batched up to it
            while the previous batch runs). Small on purpose: a batch pads to its longest
            text; on the 2-core CPU of ``bench/serve_bench.py`` a batch of 8 costs more per
            text than single texts (1 is faster there; on GPUs batching pays).
        max_text_bytes: the largest text accepted (UTF-8 bytes); a longer one is refused (413).
        max_request_texts: the most texts in one request.
        log_dir: where the prediction log goes (default: ``serve-log`` beside the bundle).
        keep_inputs: ``none`` (default: no text is kept), ``anonymized`` (the project's
            anonymization, in the background worker) or ``encrypted`` (raw text, Fernet).
        input_key_file: the Fernet key for ``encrypted`` (default ``$STILLROOM_SERVE_INPUT_KEY``,
            else a key created owner-only in the log folder).
        log_rotate_mb: a log file is closed and a new one started past this size.
        log_max_mb: the log folder's cap; the oldest closed files are deleted past it.
        shadow_teacher: ``openai:BASE_URL`` or ``hf:PATH``: the teacher asked in the shadow.
        shadow_model: the endpoint's model name (``openai:`` only).
        shadow_fraction: the share of requests also sent to the teacher (0..1).
        shadow_queue: the shadow queue's bound; requests past it are dropped (and counted).
        shadow_prompt: a prompt template file for an LLM teacher (default: the task's own).
        shadow_timeout_s: the most seconds one teacher call may take.
        seed: seeds the shadow sampling (reproducible shares in tests and benches).
    """

    bundle: Path | None = None
    key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    grpc_port: int = 8081
    metrics_port: int = 8082
    workers: int = 2
    device: str = "cpu"
    max_batch_size: int = 8
    max_text_bytes: int = 65_536
    max_request_texts: int = 256
    log_dir: Path | None = None
    keep_inputs: KeepInputs = "none"
    input_key_file: Path | None = None
    log_rotate_mb: float = 64.0
    log_max_mb: float = 1024.0
    shadow_teacher: str | None = None
    shadow_model: str | None = None
    shadow_fraction: float = 0.05
    shadow_queue: int = 256
    shadow_prompt: Path | None = None
    shadow_timeout_s: float = 30.0
    seed: int | None = None

    def validate(self) -> None:
        """Check the numbers and names before anything starts.

        Raises:
            ServeError: a value is out of range.
        """
        ports = (self.port, self.grpc_port, self.metrics_port)
        checks = [
            (all(0 < p < 65536 for p in ports), "ports must be between 1 and 65535"),
            (len(set(ports)) == 3, "--port, --grpc-port and --metrics-port must differ"),
            (self.workers >= 1 and self.max_batch_size >= 1, "--workers and batch size >= 1"),
            (self.max_text_bytes >= 16 and self.max_request_texts >= 1, "limits must be >= 1"),
            (bool(_DEVICE.match(self.device)), "--device must be cpu or cuda[:N]"),
            (self.keep_inputs in KEEP_INPUTS, "--keep-inputs: none, anonymized or encrypted"),
            (self.log_max_mb >= self.log_rotate_mb > 0, "--log-max-mb >= --log-rotate-mb > 0"),
            (0.0 <= self.shadow_fraction <= 1.0, "--shadow-fraction must be between 0 and 1"),
            (self.shadow_queue >= 1 and self.shadow_timeout_s > 0, "shadow limits must be > 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ServeError(message, "see `stillroom serve --help`")

    @property
    def background(self) -> bool:
        """Whether the background worker (anonymizer, shadow teacher) runs."""
        return self.shadow_teacher is not None or self.keep_inputs == "anonymized"


@dataclass(frozen=True, slots=True)
class ServeResult:
    """What a server did between start and stop; counts and timings only.

    Attributes:
        url: the HTTP base URL it listened on.
        model: the served model's name (``/v2/models/<model>``).
        bundle_sha: the SHA-256 of the bundle's signed manifest (every log row carries it).
        requests: infer requests answered.
        errors: infer requests refused or failed.
        p50_ms: median server-side latency of the last requests.
        p99_ms: 99th percentile of the same.
        shadow_sampled: requests picked for the shadow (sent or dropped).
        shadow_answered: of those, the teacher answered.
        shadow_agreement: teacher and student gave the same label, share of answered.
        shadow_dropped: picked but dropped (the queue was full: the teacher is slow or down).
        log_dir: the prediction log's folder.
        seconds: how long it served.
    """

    url: str
    model: str
    bundle_sha: str
    requests: int = 0
    errors: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    shadow_sampled: int = 0
    shadow_answered: int = 0
    shadow_agreement: float | None = None
    shadow_dropped: int = 0
    log_dir: Path | None = None
    seconds: float = 0.0
