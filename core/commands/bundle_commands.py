"""The serving side of ``stillroom``: ``bundle verify``, ``predict`` and ``keys export-public``.

They import only the light modules of ``core.export`` (numpy, tokenizers, onnxruntime,
cryptography), never torch or transformers, and check the manifest's signature and every
checksum first. Their options are declared in :mod:`core.commands.export_commands`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.configs import to_json
from core.errors import BundleError

if TYPE_CHECKING:
    from core.export.signature import SignatureCheck


def verify_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.export.verify import verify_bundle

    report = verify_bundle(args.bundle, key=args.key)
    signature = report.signature
    assert signature is not None
    lines = [
        f"bundle OK: {report.files_checked} files match their checksums; the model loads "
        f"({report.provider}); {report.probes_checked} probe inputs reproduce their "
        "outputs" + "".join(f"; {checked}" for checked in report.targets_checked),
        *signature_lines(signature),
    ]
    lines += [f"  note: {note}" for note in report.notes]
    sign_off = report.sign_off
    lines.append("  sign-off (outside the checksums): "
                 + ("no SIGN-OFF.md" if sign_off is None else sign_off.describe()))  # fmt: skip
    return {
        "ok": True,
        "bundle": str(report.bundle),
        "task": report.task,
        "files_checked": report.files_checked,
        "probes_checked": report.probes_checked,
        "provider": report.provider,
        "signature": _signature_dict(signature),
        "sign_off": None if sign_off is None else to_json(sign_off),
        "notes": list(report.notes),
        "lines": lines,
    }


def signature_lines(signature: SignatureCheck) -> list[str]:
    """How a checked signature reads: pinned (authentic) or not (integrity only)."""
    if signature.pinned:
        return [f"  signature OK: manifest.json signed by the pinned key {signature.key_id}"]
    return [
        f"  signature OK, but only against the key inside the bundle ({signature.key_id}): "
        "the signer was NOT pinned, so this proves integrity only (whoever changed the "
        "bundle could have re-signed it)",
        "  to check who signed it: --key PUB (from `stillroom keys export-public`)",
    ]


def _signature_dict(signature: SignatureCheck) -> dict[str, Any]:
    return {"key_id": signature.key_id, "pinned": signature.pinned,
            "key_source": signature.key_source}  # fmt: skip


def predict_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.export.predict import predict

    texts = args.text or _read_lines(args.file)
    result = predict(
        args.bundle,
        texts,
        batch_size=max(args.batch_size, 1),
        max_new_tokens=max(args.max_new_tokens, 1),
        key=args.key,
    )
    assert result.signature is not None
    if not result.signature.pinned and not args.json:
        sys.stderr.write(
            f"note: bundle verified against its own key {result.signature.key_id} (signer not "
            "pinned: pass --key PUB or set STILLROOM_BUNDLE_KEY)\n"
        )
    verified = {"verified": _signature_dict(result.signature)}
    if result.task == "generation":
        return {
            "task": "generation",
            "provider": result.provider,
            "generations": list(result.generations),
            **verified,
            "lines": list(result.generations),
        }
    lines = [
        f"{p.label}\t" + " ".join(f"{k}={v:.4f}" for k, v in p.probabilities.items())
        for p in result.predictions
    ]
    return {
        "task": "classification",
        "provider": result.provider,
        "temperature": result.temperature,
        "predictions": [
            {"label": p.label, "probabilities": p.probabilities} for p in result.predictions
        ],
        **verified,
        "lines": lines,
    }


def export_public_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.export.keys import signer_for, write_public_key
    from core.export.signature import public_pem
    from core.project import Project

    with Project.open(args.dir) as project:
        signer = signer_for(project, args.signing_key)
    pem = public_pem(signer.public_key)
    about = f"key id {signer.key_id} ({signer.source} key {signer.path})"
    if args.out is None:  # stdout is the PEM alone, so that it can be redirected to a file
        if not args.json:
            sys.stderr.write(about + "\n")
        lines = pem.splitlines()
    else:
        write_public_key(signer, args.out.expanduser(), force=args.force)
        lines = [about, f"public key written to {args.out}; pin it: stillroom bundle verify "
                 f"BUNDLE --key {args.out}"]  # fmt: skip
    return {"key_id": signer.key_id, "source": signer.source, "public_key": pem,
            "out": None if args.out is None else str(args.out), "lines": lines}  # fmt: skip


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(
            f"{path} cannot be read as UTF-8 text", "pass a UTF-8 file with one text per line"
        ) from exc
    return [line for line in text.splitlines() if line.strip()]
