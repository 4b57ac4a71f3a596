"""Offline environment, applied before any Hugging Face or Presidio import (DESIGN §1), and
the thread settings every command runs with."""

from __future__ import annotations

import os

OFFLINE_ENVIRONMENT: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    # Presidio's email recognizer otherwise tries to fetch the public suffix list.
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    # ONNX Runtime >= 1.29 sends 1DS telemetry (mobile.events.data.microsoft.com) from its
    # native threads, out of reach of core.netguard; read once, before ORT initialises.
    "ORT_DISABLE_TELEMETRY": "1",
}


def apply_offline_environment() -> None:
    """Force the offline variables; a user's shell cannot turn the hub back on."""
    os.environ.update(OFFLINE_ENVIRONMENT)


# OpenMP's default busy-waiting makes PyTorch's 2 threads 2-3x slower than 1 thread on a
# machine that other work keeps busy (measured on a shared 2-core box: the demo's preview
# took 8 minutes); passive waiting avoids that collapse. Read when torch or ONNX Runtime
# loads, so it is set when `core` is imported, before any command runs; a user's value wins.
THREAD_DEFAULTS: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE"}


def apply_thread_defaults() -> None:
    """Set the thread defaults that the user has not set."""
    for name, value in THREAD_DEFAULTS.items():
        os.environ.setdefault(name, value)
