"""What the export stage is asked to do, and what it reports back (DESIGN §6, §8)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from core.errors import ExportError
from core.evaluate.config import HeadlineRow

Quantize = Literal["int8", "none"]
BundleFormat = Literal["dir", "zip"]
Isa = Literal["auto", "avx2", "avx512", "avx512_vnni", "arm64"]
Exporter = Literal["auto", "optimum", "torch"]

ISAS: tuple[str, ...] = get_args(Isa)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ExportConfig:
    """The export stage's settings (``stillroom export``).

    Attributes:
        out: the bundle to write: a folder, or a ``.zip`` file with ``format="zip"``.
        student: the student model folder (default: the latest succeeded train run's).
        quantize: ``int8`` (dynamic, per-channel; the shipped ``model.onnx``) or ``none``.
        format: ``dir`` (a folder) or ``zip`` (one file).
        force: replace an existing ``out`` (atomically: the old one stays until the new
            one is complete).
        override_floor: ship although the evaluation failed or is missing; the reason is
            audited and written to the manifest and model card.
        override_parity: ship although INT8 agreement is below ``min_agreement``; audited.
        min_agreement: the least share of test inputs on which INT8 and the PyTorch
            student must pick the same class (generation: the same next token).
        isa: the CPU instruction set the INT8 kernels target (``auto``: this machine's).
        fp16: also write ``model_fp16.onnx`` for GPU serving.
        keep_fp32: also ship ``model_fp32.onnx`` (INT8 export only).
        exporter: ``auto`` (optimum's ``main_export``, ``torch.onnx.export`` if it cannot),
            ``optimum`` or ``torch``.
        opset: ONNX opset (default: the exporter's choice for the architecture).
        max_length: longest input in tokens (default: the training length).
        probes: anonymized test inputs stored for ``bundle verify``'s self-test.
        parity_limit: most test inputs compared in the parity check (None: all).
        batch_size: inputs per forward pass in the parity check.
        name: the served model's name in every serving target (Triton's model folder;
            default: from the project folder's name).
        max_batch_size: the largest batch a server may form (Triton's ``max_batch_size``).
        signing_key: an organisation's Ed25519 private key (PEM, owner-only) that signs
            the manifest; default: the project's own key, ``keys/bundle_signing.key``.
        owner: who owns the model (the model card's governance table; default: the OS
            user who exports).
        intended_use: what the model is for, in the owner's words (the model card; default:
            a sentence from the task and labels).
        label_definitions: what each label means (label → definition), for the card.
        parent: the SHA-256 of the manifest of the bundle this one replaces (set by
            ``stillroom redistill``; the manifest's ``parent``).
    """

    out: Path
    student: Path | None = None
    quantize: Quantize = "int8"
    format: BundleFormat = "dir"
    force: bool = False
    override_floor: str | None = None
    override_parity: str | None = None
    min_agreement: float = 0.99
    isa: Isa = "auto"
    fp16: bool = False
    keep_fp32: bool = False
    exporter: Exporter = "auto"
    opset: int | None = None
    max_length: int | None = None
    probes: int = 8
    parity_limit: int | None = 2000
    batch_size: int = 32
    name: str | None = None
    max_batch_size: int = 64
    signing_key: Path | None = None
    owner: str | None = None
    intended_use: str | None = None
    label_definitions: dict[str, str] = field(default_factory=dict)
    parent: str | None = None

    def validate(self) -> None:
        """Check the options before anything is loaded.

        Raises:
            ExportError: a value is out of range or two options contradict each other.
        """
        for ok, message in _checks(self):
            if not ok:
                raise ExportError(message)
        for reason in (self.override_floor, self.override_parity):
            if reason is not None and not reason.strip():
                raise ExportError(
                    "an override needs a reason", 'for example --override-floor "signed off"'
                )
        if self.name is not None and not _NAME.match(self.name):
            raise ExportError(
                f"the model name {self.name!r} is not usable as a Triton model name",
                "use letters, digits, '_', '-' or '.', starting with a letter or digit",
            )


def parse_label_definitions(lines: list[str]) -> dict[str, str]:
    """``LABEL=TEXT`` (or ``LABEL: TEXT``) lines as a mapping; blank lines are skipped.

    Raises:
        ExportError: a line names no label.
    """
    out = {}
    for line in (raw.strip() for raw in lines):
        if not line:
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if cut < 0:
            raise ExportError(
                f"the label definition {line!r} is not LABEL=TEXT",
                'for example "complaint=the customer is unhappy with the service"',
            )
        out[line[:cut].strip()] = line[cut + 1 :].strip()
    return out


def _checks(config: ExportConfig) -> list[tuple[bool, str]]:
    return [
        (config.quantize in ("int8", "none"), "--quantize must be int8 or none"),
        (config.format in ("dir", "zip"), "--format must be dir or zip"),
        (0.0 <= config.min_agreement <= 1.0, "--min-agreement must be between 0 and 1"),
        (config.isa in ISAS, f"--isa must be one of {', '.join(ISAS)}"),
        (config.exporter in ("auto", "optimum", "torch"), "--exporter: auto, optimum, torch"),
        (config.opset is None or 11 <= config.opset <= 25, "--opset must be 11..25"),
        (config.max_length is None or config.max_length >= 8, "--max-length must be >= 8"),
        (0 <= config.probes <= 256, "--probes must be between 0 and 256"),
        (config.parity_limit is None or config.parity_limit >= 1, "--parity-limit >= 1"),
        (1 <= config.batch_size <= 4096, "the batch size must be between 1 and 4096"),
        (1 <= config.max_batch_size <= 65536, "--max-batch-size must be at least 1"),
        (not (config.keep_fp32 and config.quantize == "none"), "--keep-fp32 needs int8"),
    ]


@dataclass(frozen=True, slots=True)
class VariantParity:
    """One ONNX variant against the PyTorch student on the test inputs.

    ``agreement`` is the share of inputs where both pick the same class (generation: the
    same greedy next token); ``metric_delta`` is the variant's metric minus PyTorch's.
    INT8 is run one input at a time, as ``predict`` and the batch-1 latency figures run it:
    dynamic quantization scales activations per batch, so padded batches give slightly
    different outputs; ``batched_agreement`` is the agreement in batches of the parity
    batch size, for reference.
    """

    variant: str  # onnx_fp32 | onnx_int8
    agreement: float
    max_abs_diff: float
    metric: float | None
    metric_delta: float | None
    batched_agreement: float | None = None


@dataclass(frozen=True, slots=True)
class ParityReport:
    """PyTorch against ONNX fp32 and INT8 on the same test inputs."""

    n: int
    reference: str  # human | teacher | none
    metric_name: str  # accuracy | next_token_accuracy
    pytorch_metric: float | None
    variants: tuple[VariantParity, ...]
    int8_vs_fp32_agreement: float | None

    def variant(self, name: str) -> VariantParity | None:
        return next((v for v in self.variants if v.variant == name), None)


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote; paths and numbers, never record contents."""

    run_id: str
    bundle: Path
    format: str
    task: str
    quantize: str
    isa: str | None
    exporter: str
    fallback_reason: str | None
    files: int
    bundle_bytes: int
    model_bytes: int
    fp32_bytes: int
    parity: ParityReport
    temperature: float
    temperature_source: str
    verdict: str  # passed | failed | none
    floor_overridden: bool
    parity_overridden: bool
    manifest_sha256: str
    seconds: float
    notes: tuple[str, ...] = ()
    signing_key_id: str = ""
    signing_key_source: str = ""
    shipped_sha256: str = ""
    shipped_source: str = ""  # evaluated (the evaluated file, copied) | re-scored
    shipped_why: str = ""  # why the evaluated file was not shipped
    precision: str = ""  # of the shipped model.onnx: fp32, int8 or int4
    shipped_rows: tuple[HeadlineRow, ...] = ()  # the shipped file's figures, per set
