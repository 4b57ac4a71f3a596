"""Stillroom core: a GUI-free library and CLI for on-prem model distillation."""

from core.offline import apply_offline_environment, apply_thread_defaults

# Before anything in core can import transformers, huggingface_hub or presidio.
apply_offline_environment()
apply_thread_defaults()

__version__ = "0.1.0"
