"""The installation check behind ``stillroom --self-test`` (core part; DESIGN §9).

What IT needs to know before handing the app to analysts, checked on the machine itself:
every stage module and library imports (in a frozen build this catches a missing hidden
import or data file), the offline environment is in force, the egress guard refuses a
public address and a name lookup and allows loopback, the shipped spaCy model finds PII in
a fixed synthetic sentence, a transformers model and ONNX Runtime run, and the sample data
is there. ``desktop.self_test`` adds the window (core never imports Qt).

    python -m core.self_test [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

Check = Callable[[], str]

# Nothing is sent to it: the guard refuses the connect before a packet leaves. A real
# public address, so the check fails if the guard were ever loosened to "private only".
PUBLIC_PROBE = ("1.1.1.1", 443)
PUBLIC_NAME = "pypi.org"
# Invented for this check; no record text is ever used by the self-test.
SYNTHETIC_SENTENCE = (
    "Please ask John Smith to call 212-555-0187 or to write to john.smith@example.com."
)
EXPECTED_ENTITIES = frozenset({"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"})
LIBRARIES = (
    "torch", "transformers", "tokenizers", "safetensors", "accelerate", "peft",
    "optimum.exporters.onnx", "onnx", "onnxruntime", "spacy", "presidio_analyzer",
    "presidio_anonymizer", "faker", "cryptography", "sqlite_utils", "pyarrow", "openpyxl",
    "gguf", "matplotlib", "httpx",
)  # fmt: skip


class SelfTestFailure(Exception):
    """A check found the installation not as it must be."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome; ``detail`` names versions and counts, never data."""

    name: str
    ok: bool
    detail: str
    seconds: float


def check_offline_environment() -> str:
    """The offline variables are set, and huggingface_hub reads them as offline."""
    from core.offline import OFFLINE_ENVIRONMENT

    wrong = [key for key, value in OFFLINE_ENVIRONMENT.items() if os.environ.get(key) != value]
    if wrong:
        raise SelfTestFailure(f"not set to their offline values: {', '.join(sorted(wrong))}")
    from huggingface_hub import constants

    if not constants.HF_HUB_OFFLINE:
        raise SelfTestFailure("huggingface_hub is not in offline mode")
    return f"{len(OFFLINE_ENVIRONMENT)} variables set; huggingface_hub offline"


def check_egress_guard() -> str:
    """A public address and a public name are refused; loopback connects."""
    from core import netguard
    from core.errors import EgressBlocked

    netguard.install()  # idempotent: every entry point has installed it already
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(PUBLIC_PROBE)
        except EgressBlocked:
            pass
        else:
            raise SelfTestFailure(f"a connection to {PUBLIC_PROBE[0]} was allowed")
    try:
        socket.getaddrinfo(PUBLIC_NAME, 443)
    except EgressBlocked:
        pass
    else:
        raise SelfTestFailure(f"a name lookup of {PUBLIC_NAME} was allowed")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2.0):
            server.accept()[0].close()
    return f"{PUBLIC_PROBE[0]} and a lookup of {PUBLIC_NAME} refused; loopback connects"


def check_stage_modules() -> str:
    """Every stage the worker can run resolves to its function (they are found by name)."""
    from core.jobs.registry import STAGES

    names = [stage.key for stage in STAGES]
    for stage in STAGES:
        stage.function()
    import core.cli
    import core.demo

    core.cli.build_parser()
    return f"{len(names)} stages: {', '.join(names)}"


def check_libraries() -> str:
    """The heavy libraries the stages import lazily all import."""
    import importlib

    for name in LIBRARIES:
        importlib.import_module(name)
    import onnxruntime
    import torch
    import transformers

    cuda = "CUDA " + str(torch.version.cuda) if torch.cuda.is_available() else "no CUDA device"
    return (
        f"{len(LIBRARIES)} imported; torch {torch.__version__} ({cuda}), transformers "
        f"{transformers.__version__}, onnxruntime {onnxruntime.__version__}"
    )


def check_transformers_model() -> str:
    """A tiny BERT classifier built from a config runs a forward pass (no files, no hub)."""
    import torch
    from transformers import AutoModelForSequenceClassification, BertConfig

    config = BertConfig(  # type: ignore[no-untyped-call]
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
    )
    model = AutoModelForSequenceClassification.from_config(config)  # type: ignore[no-untyped-call]
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[1, 5, 7, 2]])).logits
    if tuple(logits.shape) != (1, 3):
        raise SelfTestFailure(f"unexpected output shape {tuple(logits.shape)}")
    return f"{type(model).__name__} forward pass"


def check_onnxruntime() -> str:
    """ONNX Runtime runs a one-node model; the detail lists the providers present."""
    import numpy as np
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    tensor = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["y"])],
        "selftest",
        [tensor("x", TensorProto.FLOAT, [2])],
        [tensor("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = min(model.ir_version, 10)
    session = onnxruntime.InferenceSession(
        onnx.ModelProto.SerializeToString(model), providers=["CPUExecutionProvider"]
    )
    (result,) = session.run(None, {"x": np.array([1.0, 2.0], dtype=np.float32)})
    if result.tolist() != [2.0, 4.0]:
        raise SelfTestFailure("the test model computed a wrong result")
    return "providers: " + ", ".join(onnxruntime.get_available_providers())


def check_pii_detection() -> str:
    """The shipped spaCy model loads and Presidio finds a name, a phone and an email."""
    from importlib import metadata

    from core.anonymize.config import SHIPPED_MODEL, SHIPPED_PACKAGE, AnonymizeConfig
    from core.anonymize.detect import Detector
    from core.anonymize.engine import EngineSpec, check_model_installed
    from core.anonymize.rules import AnonymizeRules

    check_model_installed(SHIPPED_MODEL)
    config = AnonymizeConfig()
    spec = EngineSpec(config.resolved_entities(), SHIPPED_MODEL, AnonymizeRules())
    detector = Detector(spec, config.score_threshold, config.review_threshold)
    (detection,) = detector.detect_batch([SYNTHETIC_SENTENCE])
    found = {finding.entity for finding in detection.findings}
    missing = EXPECTED_ENTITIES - found
    if missing:
        raise SelfTestFailure(f"not found in the test sentence: {', '.join(sorted(missing))}")
    version = metadata.version(SHIPPED_PACKAGE)
    return f"{SHIPPED_MODEL} {version}; found {', '.join(sorted(EXPECTED_ENTITIES))}"


def check_sample_data() -> str:
    """The demo's sample data is installed and readable."""
    from core.demo import sample_path

    path = sample_path()
    with open(path, "rb") as handle:
        handle.read(1)
    return f"{path.name} ({path.stat().st_size / 1e6:.1f} MB)"


def core_checks() -> list[tuple[str, Check]]:
    """The checks that need no window, in the order they run."""
    return [
        ("offline environment", check_offline_environment),
        ("egress guard", check_egress_guard),
        ("stage modules", check_stage_modules),
        ("libraries", check_libraries),
        ("transformers model", check_transformers_model),
        ("onnxruntime", check_onnxruntime),
        ("spaCy model and PII detection", check_pii_detection),
        ("sample data", check_sample_data),
    ]


def run_checks(checks: Sequence[tuple[str, Check]]) -> list[CheckResult]:
    """Run every check, even after a failure, so one run lists everything that is wrong."""
    results = []
    for name, check in checks:
        started = time.monotonic()
        try:
            detail, ok = check(), True
        except Exception as exc:  # noqa: BLE001  (a self-test reports every failure, whatever its class)
            detail, ok = f"{type(exc).__name__}: {_first_line(exc)}", False
        results.append(CheckResult(name, ok, detail, time.monotonic() - started))
    return results


def _first_line(exc: BaseException) -> str:
    # UserError carries its hint separately; other errors here come from imports and
    # library set-up, never from user data (the self-test reads none).
    hint = getattr(exc, "hint", "")
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{text} — {hint}" if hint else text


def render(results: Sequence[CheckResult]) -> list[str]:
    """One line per check and a verdict line."""
    lines = [
        f"{'ok  ' if r.ok else 'FAIL'}  {r.name}: {r.detail} ({r.seconds:.1f} s)" for r in results
    ]
    failed = [r.name for r in results if not r.ok]
    total = sum(r.seconds for r in results)
    if failed:
        lines.append(f"self-test FAILED: {len(failed)} of {len(results)} checks ({total:.0f} s)")
    else:
        lines.append(f"self-test passed: {len(results)} checks ({total:.0f} s)")
    return lines


def report(results: Sequence[CheckResult], as_json: bool) -> int:
    """Write the results to stdout; return the exit code (0 all passed, 1 otherwise)."""
    if as_json:
        payload = {"ok": all(r.ok for r in results), "checks": [asdict(r) for r in results]}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(render(results)) + "\n")
    sys.stdout.flush()
    return 0 if all(r.ok for r in results) else 1


def parse_args(argv: Sequence[str] | None, prog: str) -> argparse.Namespace:
    """The self-test's options (shared with the window part)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Check this Stillroom installation; exit 0 if it is usable."
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the core checks; exit code 0 when every check passed."""
    from core import netguard

    netguard.install()
    args = parse_args(argv, "python -m core.self_test")
    return report(run_checks(core_checks()), args.json)


if __name__ == "__main__":
    sys.exit(main())
