"""The server never imports torch, and ``stillroom --help`` never imports the serving stack."""

from __future__ import annotations

import subprocess
import sys

import pytest
from serve_helpers import ROOT, environment

SERVE_ONCE = """
import sys
from pathlib import Path
from core import netguard
from core.serve.config import ServeConfig
from core.serve.server import free_port, serve
netguard.install()
seen = {}
def ready(info):
    seen.update({name: name in sys.modules for name in ("torch", "transformers")})
config = ServeConfig(bundle=Path(sys.argv[1]), port=free_port(), grpc_port=free_port(),
                     metrics_port=free_port(), log_dir=Path(sys.argv[2]))
serve(config, on_ready=ready, should_stop=lambda: bool(seen))
print(seen)
"""


def test_a_running_server_has_not_imported_torch(bundle, tmp_path):
    pytest.importorskip("mlserver")
    done = subprocess.run(
        [sys.executable, "-c", SERVE_ONCE, str(bundle), str(tmp_path / "log")], cwd=ROOT,
        env=environment(), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.strip().splitlines()[-1] == "{'torch': False, 'transformers': False}"


def test_help_does_not_import_the_serving_stack():
    code = (
        "import sys; from core.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('mlserver', 'onnxruntime', 'fastapi', 'torch') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment(),
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
