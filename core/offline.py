"""Offline environment, applied before any Hugging Face or Presidio import (DESIGN §1)."""

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
