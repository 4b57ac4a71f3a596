"""Assembling what a server runs with: log, counters, batcher, sampler, background worker."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from core.configs import to_json
from core.serve.batcher import MicroBatcher
from core.serve.config import INPUT_KEY_ENV, ServeConfig, ServeError
from core.serve.fingerprint import BUCKETS, VERSION
from core.serve.predlog import PredictionLog
from core.serve.runtime import ServeContext
from core.serve.served import ServedModel
from core.serve.shadow import Background, Sampler, WorkerSettings
from core.serve.stats import ServeStats

KEY_FILE = "input.key"
_MB = 1 << 20


def default_log_dir(bundle: Path) -> Path:
    """``<bundle>-serve-log`` beside the bundle."""
    bundle = Path(bundle).expanduser().resolve()
    return bundle.with_name(f"{bundle.stem}-serve-log")


def build_context(config: ServeConfig, model: ServedModel) -> ServeContext:
    """Everything the model class needs (started: the log thread, the background worker).

    Raises:
        ServeError: the input key cannot be read or is not a Fernet key.
        TeacherError: the shadow teacher's settings are invalid.
    """
    assert config.bundle is not None
    folder = config.log_dir or default_log_dir(config.bundle)
    meta = {
        "bundle_sha256": model.bundle_sha, "model": model.name, "task": "classification",
        "labels": ",".join(model.labels), "fingerprint": f"{VERSION}/{BUCKETS}",
        "keep_inputs": config.keep_inputs,
    }  # fmt: skip
    encrypt = _encryptor(config, folder) if config.keep_inputs == "encrypted" else None
    worker = _worker_settings(config, model) if config.background else None
    stats = ServeStats(model.name)
    log = PredictionLog(
        folder, meta, rotate_bytes=int(config.log_rotate_mb * _MB),
        max_bytes=int(config.log_max_mb * _MB),
    )  # fmt: skip
    background = None
    if worker is not None:
        background = Background(worker, bound=config.shadow_queue, log=log, stats=stats)
    batcher = MicroBatcher(
        lambda texts: model.probabilities(texts, config.max_batch_size),
        workers=config.workers, max_batch=config.max_batch_size, on_batch=stats.batch,
    )  # fmt: skip
    fraction = config.shadow_fraction if config.shadow_teacher else 0.0
    return ServeContext(
        model=model, config=config, batcher=batcher, log=log, stats=stats,
        sampler=Sampler(fraction, config.seed), background=background, encrypt=encrypt,
    )  # fmt: skip


def _worker_settings(config: ServeConfig, model: ServedModel) -> WorkerSettings:
    from core.teacher.config import TeachConfig

    anonymize, rules = model.anonymization()
    teach = None
    prompt = None
    if config.shadow_teacher is not None:
        teach_config = TeachConfig(
            teacher=config.shadow_teacher, model=config.shadow_model,
            timeout_s=config.shadow_timeout_s, connect_timeout_s=min(5.0, config.shadow_timeout_s),
            max_attempts=2, backoff_s=0.2, breaker_trips=1, batch_size=16,
        )  # fmt: skip
        teach_config.validate()
        teach = to_json(teach_config)
        prompt = _prompt(config.shadow_prompt)
    return WorkerSettings(
        task="classification", labels=model.labels, anonymize=anonymize, rules=rules,
        keep_anonymized=config.keep_inputs == "anonymized", teacher=config.shadow_teacher,
        teach=teach, prompt=prompt,
    )  # fmt: skip


def _prompt(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ServeError(
            f"cannot read the shadow prompt file {path} ({type(exc).__name__})",
            "pass a UTF-8 text file with --shadow-prompt",
        ) from None


def _encryptor(config: ServeConfig, folder: Path) -> Callable[[str], bytes]:
    """Fernet encryption with the configured key, or one created owner-only in the log folder.

    Raises:
        ServeError: the key cannot be read or is not a Fernet key.
    """
    from cryptography.fernet import Fernet

    key = os.environ.get(INPUT_KEY_ENV, "").encode() or None
    path = config.input_key_file
    if path is None and key is None:
        path = folder / KEY_FILE
        if not path.is_file():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
    try:
        if path is not None:
            key = Path(path).read_bytes().strip()
        fernet = Fernet(key or b"")
    except (OSError, ValueError) as exc:
        raise ServeError(
            f"the input key is unusable ({type(exc).__name__})",
            f"pass a Fernet key file with --input-key-file or set {INPUT_KEY_ENV}",
        ) from None
    return lambda text: fernet.encrypt(text.encode("utf-8"))
