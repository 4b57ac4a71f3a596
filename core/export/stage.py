"""The export stage (DESIGN §4, §8): a verified, quantized ONNX bundle for on-prem serving.

``run_export`` refuses a student without a passing evaluation (unless overridden, audited),
exports it to ONNX, ships the INT8 file the evaluation scored (a copy, same SHA-256) or
quantizes it anew and re-scores it against the floor (``core.export.shipped``), checks
PyTorch/fp32/INT8 parity on the test split (refusing INT8 below the agreement threshold
unless overridden, audited), and writes the bundle atomically: a failure leaves no half
bundle.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.anonymize.vault import SECRET_FILES
from core.configs import to_json
from core.errors import ExportError, ExportRefusedError, StageCancelled
from core.evaluate.config import ShippedModel
from core.evaluate.inputs import StudentSource, find_student
from core.export import bundle_format as fmt
from core.export import generation
from core.export.build import (
    Built,
    classification_parity,
    classification_probes,
    export_and_quantize,
)
from core.export.bundle import BundleParts, check_target, json_bytes, write_bundle
from core.export.card import render_card
from core.export.config import ExportConfig, ExportResult, ParityReport
from core.export.keys import signer_for
from core.export.manifest import Gates, build_manifest
from core.export.runtime_causal import PROMPT_FILE
from core.export.serving import Serving
from core.export.shipped import ShippedFigures, evaluated_figures, rescore, reusable
from core.export.signature import Signer
from core.export.sources import Evaluation, calibration, check_gate, latest_evaluation
from core.project import Project
from core.reporter import Reporter
from core.store.db import user_errors

if TYPE_CHECKING:
    from core.jobs.registry import RunContext


def run_export(
    project: Project, config: ExportConfig, *, run: RunContext, reporter: Reporter
) -> ExportResult:
    """Export the student as a bundle at ``config.out``.

    Raises:
        ExportError: no student, an unusable model or option, or an output inside the project.
        OutputExistsError: ``out`` exists and ``force`` is off.
        ExportRefusedError: no passing evaluation, or INT8 agreement below the threshold,
            and no override reason.
        DiskFullError: the disk filled up; no half bundle is left behind.
        StageCancelled: the reporter asked to stop; nothing was written.
    """
    started = time.perf_counter()
    run_id = run.id
    job = _prepare(project, config, reporter, run_id)
    with user_errors():
        work = Path(tempfile.mkdtemp(prefix="export-work-", dir=run.dir))
    try:
        built = _build(job, work)
        figures = _figures(job, built)
        gates = Gates(config.override_floor, _parity_gate(job, built), config.min_agreement)
        _step(reporter, 0.9, "writing the bundle")
        serving = Serving(config.name or triton_name(project.path.name), built.shipped,
                          built.inputs, built.outputs, config.max_batch_size)  # fmt: skip
        manifest = build_manifest(project, config, job.student, job.evaluation, built,
                                  job.temperature, gates, serving=serving, run_id=run_id,
                                  signer=job.signer, shipped=figures)  # fmt: skip
        parts = _with_anonymize_rules(project, _parts(config, built, manifest, job.evaluation,
                                                      serving))  # fmt: skip
        written = write_bundle(job.out, parts, manifest, signer=job.signer, form=config.format,
                               force=config.force)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = _result(job, built, written, gates, figures, time.perf_counter() - started)
    _record(project, result, reporter)
    return result


@dataclass(frozen=True, slots=True)
class _Job:
    """One export's inputs, once the gate has let it through."""

    project: Project
    config: ExportConfig
    reporter: Reporter
    run_id: str
    out: Path
    student: StudentSource
    evaluation: Evaluation
    floor_overridden: bool
    temperature: tuple[float, str]
    signer: Signer
    reuse: ShippedModel | None
    reuse_why: str


def _prepare(project: Project, config: ExportConfig, reporter: Reporter, run_id: str) -> _Job:
    """Check the options and the output, find the student, apply the evaluation gate."""
    out = _check_out(project, config)
    unknown = sorted(set(config.label_definitions) - set(project.settings.labels))
    if unknown:
        raise ExportError(
            f"a label definition names {', '.join(unknown)}, which is not in the label set",
            f"the labels are {', '.join(project.settings.labels) or '(none)'}",
        )
    student = find_student(project, config.student, error=ExportError, purpose="export")
    evaluation = latest_evaluation(project, student.model_dir)
    overridden = check_gate(project, evaluation, config.override_floor, run_id)
    signer = signer_for(project, config.signing_key)  # before minutes of work, not after
    project.audit("export.start", {
        "run": run_id, "student": to_json(student.model_dir, project.path),
        "out": to_json(out, project.path),
        "evaluate_run": evaluation.run_id, "verdict": evaluation.verdict,
        "quantize": config.quantize, "format": config.format,
        "signing_key_id": signer.key_id, "signing_key_source": signer.source,
    })  # fmt: skip
    reuse, why = reusable(evaluation, config)
    return _Job(project, config, reporter, run_id, out, student, evaluation, overridden,
                calibration(student.model_dir, evaluation), signer, reuse, why)  # fmt: skip


def _step(reporter: Reporter, fraction: float, message: str) -> None:
    reporter.progress(fraction, message)
    if reporter.cancel_requested():
        raise StageCancelled(message)


def _check_out(project: Project, config: ExportConfig) -> Path:
    out = Path(config.out).expanduser().absolute()
    if config.format == "zip" and out.suffix.lower() != ".zip":
        raise ExportError(f"{out} does not end in .zip", "name the zip BUNDLE.zip")
    exports = project.path / "exports"
    if project.path.is_relative_to(out) or (
        out.is_relative_to(project.path) and not out.is_relative_to(exports)
    ):
        raise ExportError(
            f"{out} is the project folder, holds it, or is inside it outside exports/",
            f"write bundles elsewhere, or under {exports}",
        )
    check_target(out, config.force)
    return out


def triton_name(folder_name: str) -> str:
    """A Triton model name from the project folder's name (letters, digits, _ . -)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", folder_name).strip("._-")[:48]
    return f"stillroom_{cleaned or 'model'}"


def _build(job: _Job, work: Path) -> Built:
    project, config, student = job.project, job.config, job.student

    def step(fraction: float, message: str) -> None:
        _step(job.reporter, fraction, message)

    with user_errors():
        labels = project.settings.labels
        built = export_and_quantize(config, student, project.settings.task, work, labels, step,
                                    reuse=job.reuse)  # fmt: skip
        if project.settings.task == "classification":
            classification_parity(project, config, student, built, step)
            step(0.85, "computing the probe outputs for the self-test")
            classification_probes(project, config, built, job.temperature[0], labels)
        else:
            generation.parity_step(project, config, student, built, step, job.evaluation)
            step(0.85, "computing the probe outputs for the self-test")
            generation.probes_step(project, config, built)
    return built


def _figures(job: _Job, built: Built) -> ShippedFigures:
    """The shipped file's figures: the evaluation's, or this export's re-score, judged.

    Raises:
        ExportRefusedError: the re-scored file fails the floor and there is no override.
    """
    if job.reuse is not None:
        return evaluated_figures(job.evaluation, job.reuse)
    _step(job.reporter, 0.86, f"scoring the file this export writes ({job.reuse_why})")
    with user_errors():
        figures = rescore(job.project, job.student, built, job.evaluation,
                          job.temperature[0], job.reuse_why)  # fmt: skip
    verdict = figures.verdict
    if verdict is None or verdict.passed or job.floor_overridden:
        return figures
    failed = "; ".join(c.describe() for c in verdict.failures)
    if job.config.override_floor is None:
        raise ExportRefusedError(
            f"the file this export writes fails the quality floor on the test set ({failed}); "
            "refusing to write the bundle",
            "export with the evaluated settings (the evaluated file then ships), or pass "
            '--override-floor "why it may ship anyway" (audited)',
        )
    job.project.audit("export.override_floor", {
        "run": job.run_id, "evaluate_run": job.evaluation.run_id, "verdict": "failed",
        "shipped_sha256": figures.sha256, "reason": job.config.override_floor,
    })  # fmt: skip
    return figures


def _failed(figures: ShippedFigures) -> bool:
    return figures.verdict is not None and not figures.verdict.passed


def _parity_gate(job: _Job, built: Built) -> str | None:
    """Refuse INT8 that agrees with PyTorch less often than the threshold, unless overridden.

    Raises:
        ExportRefusedError: agreement is below the threshold (or unmeasured) and no reason.
    """
    config, parity = job.config, built.parity
    shipped = built.shipped_variant
    variant = None if parity is None or parity.n == 0 else parity.variant(shipped)
    if variant is not None and variant.agreement >= config.min_agreement:
        return None
    measured = "not measured (no test inputs)" if variant is None else f"{variant.agreement:.2%}"
    if config.override_parity is None:
        raise ExportRefusedError(
            f"the {shipped} model agrees with the PyTorch student on {measured} of the test "
            f"inputs, below the {config.min_agreement:.0%} threshold; refusing to write the bundle",
            'export with --quantize none, or pass --override-parity "why" (audited)',
        )
    job.project.audit(
        "export.override_parity",
        {
            "run": job.run_id,
            "variant": shipped,
            "agreement": None if variant is None else variant.agreement,
            "threshold": config.min_agreement,
            "reason": config.override_parity,
        },
    )
    return config.override_parity


def _with_anonymize_rules(project: Project, parts: BundleParts) -> BundleParts:
    """The project's custom recognizers (its rules file) go with the bundle, so that a
    server's shadow teacher anonymizes as the project did. Never the vault."""
    import dataclasses
    import json

    from core.anonymize.rules import RULES_FILE, rules_file_for
    from core.jobs.registry import ANONYMIZE
    from core.jobs.runs import latest, run_config

    found = latest(project, ANONYMIZE)
    explicit = None if found is None else run_config(project, ANONYMIZE, found.run).rules_path
    path = rules_file_for(project.path, explicit)
    if path is None or not Path(path).is_file():
        return parts
    rules = json.loads(Path(path).read_text(encoding="utf-8"))
    return dataclasses.replace(parts, extra_json={**parts.extra_json, RULES_FILE: rules})


def _parts(
    config: ExportConfig,
    built: Built,
    manifest: dict[str, Any],
    evaluation: Evaluation,
    serving: Serving,
) -> BundleParts:
    variants: dict[str, Path] = {}
    if config.keep_fp32 and built.quantization:
        variants[fmt.MODEL_FP32] = built.fp32
    if built.fp16 is not None:
        variants[fmt.MODEL_FP16] = built.fp16
    for secret in SECRET_FILES:  # never in a bundle, whatever the model folder holds
        (built.folder / secret).unlink(missing_ok=True)
    return BundleParts(
        model=built.shipped,
        model_folder=built.folder,
        labels=built.labels,
        probes=built.probes,
        serving=serving,
        card=render_card({**manifest, "files": {}}),
        report=None if evaluation.result is None else evaluation.result.report_html,
        variants=variants,
        extra_json={PROMPT_FILE: built.prompt} if built.prompt is not None else {},
    )


def _result(job: _Job, built: Built, written: dict[str, Any], gates: Gates,
            figures: ShippedFigures, seconds: float) -> ExportResult:  # fmt: skip
    import hashlib

    files, out = written["files"], job.out
    size = out.stat().st_size if out.is_file() else sum(e["size"] for e in files.values())
    return ExportResult(
        run_id=job.run_id, bundle=out, format=job.config.format, task=written["task"],
        quantize=job.config.quantize, isa=built.isa, exporter=built.exporter,
        fallback_reason=built.fallback_reason, files=len(files) + 2, bundle_bytes=size,
        model_bytes=files[fmt.MODEL]["size"], fp32_bytes=built.fp32_bytes,
        parity=built.parity or ParityReport(0, "none", "accuracy", None, (), None),
        temperature=job.temperature[0], temperature_source=job.temperature[1],
        verdict=job.evaluation.verdict,
        floor_overridden=job.floor_overridden or _failed(figures),
        parity_overridden=gates.parity_override is not None,
        manifest_sha256=hashlib.sha256(json_bytes(written)).hexdigest(),
        seconds=round(seconds, 2), notes=tuple(written.get("notes", [])),
        signing_key_id=job.signer.key_id, signing_key_source=job.signer.source,
        shipped_sha256=figures.sha256, shipped_source=figures.source,
        shipped_why=figures.why, precision=built.precision, shipped_rows=figures.rows,
    )  # fmt: skip


def _record(project: Project, result: ExportResult, reporter: Reporter) -> None:
    rows = [
        (f"{v.variant}.{k}", value)
        for v in result.parity.variants
        for k, value in (
            ("agreement", v.agreement),
            ("max_abs_diff", v.max_abs_diff),
            ("metric", v.metric),
            ("metric_delta", v.metric_delta),
        )
        if value is not None
    ]
    rows += [
        ("bundle_bytes", float(result.bundle_bytes)),
        ("model_bytes", float(result.model_bytes)),
    ]
    with project.store.transaction() as conn:
        conn.execute("DELETE FROM metrics WHERE run_id = ?", (result.run_id,))
        conn.executemany(
            "INSERT INTO metrics (run_id, split, name, value) VALUES (?, ?, ?, ?)",
            [(result.run_id, "test", n, float(v)) for n, v in rows],
        )
        project.audit(
            "export.finish",
            {
                "run": result.run_id,
                "bundle": to_json(result.bundle, project.path),
                "format": result.format,
                "manifest_sha256": result.manifest_sha256,
                "signing_key_id": result.signing_key_id,
                "files": result.files,
                "floor_overridden": result.floor_overridden,
                "parity_overridden": result.parity_overridden,
                "shipped_sha256": result.shipped_sha256,
                "shipped_source": result.shipped_source,
            },
        )
    for name, value in rows:
        reporter.metric(f"export/{name}", float(value))
    reporter.progress(1.0, f"bundle written to {result.bundle}")


__all__ = ["ExportConfig", "ExportResult", "run_export"]
