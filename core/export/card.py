"""``MODEL_CARD.md``: what a model-risk reviewer needs, from the manifest alone.

Everything here is a count, a metric, a setting, a hash or an id: the card never quotes a
record, a probe input or a prompt template.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_HEADLINE = ("accuracy", "macro_f1", "retention", "agreement", "ece", "ece_calibrated")


def render_card(manifest: dict[str, Any]) -> str:
    """The model card as Markdown."""
    sections = [
        _summary(manifest),
        _intended_use(manifest),
        _data(manifest),
        _models(manifest),
        _evaluation(manifest),
        _calibration(manifest),
        _export(manifest),
        _limitations(manifest),
        _reproducibility(manifest),
    ]
    return "\n\n".join(s.rstrip() for s in sections) + "\n"


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _summary(m: dict[str, Any]) -> str:
    quality = m["quality"]
    override = quality.get("override")
    verdict = quality["verdict"].upper()
    lines = [
        f"# Model card: {m['name']}",
        "",
        f"- **Task:** {m['task']}"
        + (f" over {len(m['labels'])} labels: {', '.join(m['labels'])}" if m["labels"] else ""),
        f"- **Quality verdict:** {verdict} against the project's floor"
        + (f" — **shipped under an override**: {override['reason']}" if override else ""),
        f"- **Served model:** `{m['model']['file']}` ({m['model']['precision']}, ONNX), "
        f"inputs up to {m['max_length']} tokens",
        f"- **Exported** {m['exported_at']} by `{m['exported_by']}` (export run "
        f"{m.get('export_run') or '—'}); audit chain head `{m['audit_head'][:16]}…`",
    ]
    return "\n".join(lines)


def _intended_use(m: dict[str, Any]) -> str:
    what = (
        f"assign one of the labels ({', '.join(m['labels'])}) to a text"
        if m["task"] == "classification"
        else "continue a prompt in the way the teacher model did"
    )
    return "\n".join(
        [
            "## Intended use",
            f"This model was distilled from a larger teacher to {what}, on inputs like the "
            "project's data, served on-premises (CPU, ONNX Runtime) where sending the text to "
            "the teacher is too slow, costly or not allowed.",
            "",
            "Out of scope: inputs in another language or domain than the training data, labels "
            "outside the list above, and decisions about people made without human review.",
        ]
    )


def _data(m: dict[str, Any]) -> str:
    lineage = m["lineage"]
    anon = lineage.get("anonymization") or {}
    rows = [(d.get("name"), d.get("rows"), d.get("sha256")) for d in lineage.get("source_data", [])]
    train = lineage.get("training_data") or {}
    entities = anon.get("entities_replaced") or {}
    lines = ["## Data", _table(("dataset", "rows", "SHA-256"), rows), ""]
    lines.append(
        f"Training examples: {_fmt(train.get('train_examples'))}, validation examples: "
        f"{_fmt(train.get('validation_examples'))}; the student read "
        f"**{lineage.get('text_source', 'anonymized')}** text."
    )
    lines += [
        "",
        "### Anonymization applied",
        f"{_fmt(anon.get('records_anonymized'))} of {_fmt(anon.get('records'))} records "
        "were anonymized before any teacher saw them.",
    ]
    for setting in anon.get("settings") or []:
        lines.append(
            f"- settings `{setting.get('config_hash')}`: mode {setting.get('mode')}, "
            f"rules {setting.get('rules')}"
        )
    if entities:
        lines.append(
            "- values replaced, by type: " + ", ".join(f"{k} {v:,}" for k, v in entities.items())
        )
    if lineage.get("text_source") != "anonymized":
        lines.append("- **note:** some training text was NOT anonymized (audited at train time)")
    return "\n".join(lines)


def _models(m: dict[str, Any]) -> str:
    lineage = m["lineage"]
    teacher, student = lineage.get("teacher") or {}, lineage.get("student") or {}
    training = lineage.get("training") or {}
    derived = student.get("derived_from") or {}
    return "\n".join(
        [
            "## Teacher and student",
            f"- Teacher: `{_fmt(teacher.get('teacher_id'))}` (prompt version "
            f"`{_fmt(teacher.get('prompt_version'))}`)",
            f"- Student base: `{_fmt(student.get('base'))}`, {_fmt(student.get('parameters'))} "
            "parameters"
            + (
                f"; derived from `{derived.get('source')}` keeping layers "
                f"{derived.get('kept_layers')}"
                if derived
                else ""
            ),
            f"- Training: seed {_fmt(training.get('seed'))}, {_fmt(training.get('epochs_run'))} "
            f"epochs, LoRA {_fmt(training.get('lora'))}, device {_fmt(training.get('device'))}; "
            "the full configuration is in manifest.json (lineage.training)",
        ]
    )


def _metric_rows(metrics: dict[str, float], models: Iterable[str]) -> list[list[Any]]:
    return [
        [model, *(metrics.get(f"{model}.{k}") for k in _HEADLINE)]
        for model in models
        if any(f"{model}.{k}" in metrics for k in _HEADLINE)
    ]


def _evaluation(m: dict[str, Any]) -> str:
    metrics, quality = m["metrics"], m["quality"]
    floor = quality.get("floor") or {}
    lines = [
        "## Evaluation",
        f"Evaluate run: {_fmt(quality.get('evaluate_run'))}. Floor: "
        f"retention ≥ {_fmt(floor.get('min_retention'))}, metric ≥ "
        f"{_fmt(floor.get('min_metric'))}, ECE ≤ {_fmt(floor.get('max_ece'))}.",
    ]
    for failure in quality.get("failures") or []:
        lines.append(f"- failed: {failure}")
    models = ("teacher", "student", "student_onnx_int8", "teacher_int8")
    for split, title in (("test", "Test set"), ("edge", "Edge-case results")):
        rows = _metric_rows(metrics.get(split, {}), models)
        lines += ["", f"### {title}"]
        lines.append(_table(("model", *_HEADLINE), rows) if rows else "not evaluated")
    if quality.get("edge_passed") is False:
        lines.append("\n**The edge-case set fails the floor** although it does not gate.")
    return "\n".join(lines)


def _calibration(m: dict[str, Any]) -> str:
    cal = m["calibration"]
    return "\n".join(
        [
            "## Calibration",
            f"Probabilities are softmax(logits / T) with T = {cal['temperature']:.4f} "
            f"({cal['source']}). Use them as confidence only within the data's domain.",
        ]
    )


def _export(m: dict[str, Any]) -> str:
    model, parity = m["model"], m["parity"]
    quant = model.get("quantization") or {}
    rows = [
        (
            v["variant"],
            v["agreement"],
            v.get("batched_agreement"),
            v["max_abs_diff"],
            v["metric"],
            v["metric_delta"],
        )
        for v in parity.get("variants", [])
    ]
    lines = [
        "## Export and parity",
        f"Exported with {model['exporter']}"
        + (f" (fallback: {model['fallback_reason']})" if model.get("fallback_reason") else ""),
        f"Quantization: {quant.get('method', 'none')}, per-channel {quant.get('per_channel')}, "
        f"kernel target {quant.get('target_isa')}."
        if quant
        else "Quantization: none (fp32).",
        "",
        f"Parity on {parity['n']:,} test inputs (reference: {parity['reference']}; "
        f"PyTorch {parity['metric_name']} {_fmt(parity['pytorch_metric'])}):",
        _table(
            (
                "variant",
                "agreement",
                "in batches",
                "max |Δlogit|",
                parity["metric_name"],
                "Δ vs PyTorch",
            ),
            rows,
        ),
    ]
    lines.append(
        "\nAgreement is the share of test inputs on which the variant picks the same "
        "class as PyTorch, one input at a time as served; INT8 scales activations per "
        'batch, so padded batches ("in batches") can differ slightly.'
    )
    if parity.get("override"):
        lines.append(f"\n**Parity gate overridden:** {parity['override']['reason']}")
    return "\n".join(lines)


def _limitations(m: dict[str, Any]) -> str:
    parity = m["parity"]
    int8 = next((v for v in parity.get("variants", []) if v["variant"] == "onnx_int8"), None)
    lines = [
        "## Limitations",
        "- The student imitates its teacher: it inherits the teacher's errors and biases, "
        "and its scores are bounded by the teacher's on this data.",
        f"- Inputs longer than {m['max_length']} tokens are truncated.",
        "- Scores come from the project's held-out split; other data may score lower.",
    ]
    if int8 is not None:
        lines.append(
            f"- INT8 and the PyTorch student disagree on "
            f"{(1 - int8['agreement']) * 100:.2f}% of the test inputs."
        )
    anon = (m["lineage"].get("anonymization") or {}).get("settings") or []
    if any("pattern" in str(s.get("mode", "")) for s in anon):
        lines.append("- Anonymization ran pattern-only: names and places were NOT detected.")
    return "\n".join(lines)


def _reproducibility(m: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in sorted(m["versions"].items()))
    return "\n".join(
        [
            "## Reproducibility",
            f"- Libraries at export: {versions}",
            f"- Audit chain head at export: `{m['audit_head']}` (row "
            f"{m.get('audit_head_row', '—')}); the project's chain must still contain it: "
            "`stillroom audit verify PROJECT --bundle BUNDLE --key PUB`",
            "- Every file's SHA-256 is in manifest.json, and manifest.json is signed "
            f"(signature.json){_signer(m)}; check both with `stillroom bundle verify BUNDLE "
            "--key PUB`, PUB being the public key IT pinned.",
        ]
    )


def _signer(m: dict[str, Any]) -> str:
    signing = m.get("signing") or {}
    if not signing.get("key_id"):
        return ""
    source = f" ({signing['source']} key)" if signing.get("source") else ""
    return f" with {signing.get('algorithm', 'ed25519')} key `{signing['key_id']}`{source}"
