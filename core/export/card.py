"""``MODEL_CARD.md``: a model-risk document, from the manifest alone.

Written for a reviewer who has not seen the project (SR 11-7: parties unfamiliar with a model
can understand how it operates, its limitations and key assumptions): the recommendation
and the decision first, then governance, intended use, labels, data, how the teacher came
to be, the student, anonymization, the shipped file's evaluation with its uncertainty
(``card_quality``), limitations, a monitoring plan and the sign-off. Plain prose and tables:
every path is relative to the bundle, no mapping is printed as it is stored, and nothing
quotes a record, a probe input or a prompt template.
"""

from __future__ import annotations

from typing import Any

from core.export.card_quality import (
    baseline_section,
    calibration_section,
    evaluation_section,
    export_section,
    limitations_section,
    monitoring_section,
    per_class_section,
    referral_section,
    reproducibility_section,
    speed_section,
)
from core.export.card_text import DASH, bullets, num, section, table

SPLITS = ("train", "validation", "test", "edge")
_CHOICE = {"quantized_teacher": "Ship the quantized teacher", "student": "Ship the student",
           "neither": "Ship neither"}  # fmt: skip


def render_card(manifest: dict[str, Any]) -> str:
    """The model card as Markdown."""
    review = manifest.get("review") or {}
    evaluation = review.get("evaluation") or {}
    # A generation student gives texts, not probabilities: no calibration, no referral.
    generation = manifest.get("task") == "generation"
    sections = [
        _title(manifest),
        _recommendation(manifest, evaluation),
        _decision(manifest, evaluation),
        _governance(manifest, review),
        _intended_use(manifest, review),
        _labels(manifest, review),
        _data(manifest, review),
        section("How the teacher came to be", review.get("teacher_origin") or DASH),
        _student(manifest),
        _anonymization(manifest, review),
        evaluation_section(manifest, evaluation),
        per_class_section(evaluation),
        baseline_section(evaluation),
        *(
            ()
            if generation
            else (calibration_section(manifest, evaluation), referral_section(evaluation))
        ),
        speed_section(evaluation),
        limitations_section(manifest, evaluation),
        monitoring_section(manifest, evaluation),
        export_section(manifest),
        reproducibility_section(manifest),
        _sign_off(),
    ]
    return "\n\n".join(s.rstrip() for s in sections if s) + "\n"


def _title(m: dict[str, Any]) -> str:
    return (
        f"# Model card: {m['name']}\n\nFor the model-risk review. Every figure below was "
        "measured by Stillroom on the project's held-out data; figures in brackets are 95% "
        "bootstrap intervals over the test rows. The reviewer records the decision in "
        "SIGN-OFF.md (see Sign-off)."
    )


def _recommendation(m: dict[str, Any], evaluation: dict[str, Any]) -> str:
    advice = evaluation.get("recommendation")
    override = (m["quality"].get("override") or {}).get("reason")
    parts = []
    if advice:
        headline = _CHOICE.get(advice["choice"], advice["headline"])
        parts += [f"**{headline}.**", bullets(advice["reasons"])]
    else:
        parts.append("No recommendation: the bundle's student was not evaluated against a "
                     "quantize-only baseline.")  # fmt: skip
    if advice and advice["choice"] != "student":
        parts.append("This bundle holds the student; read the reasons above before using it.")
    if override:
        parts.append(f"**This bundle was exported under an audited override of the quality "
                     f"floor:** {override}")  # fmt: skip
    return section("Recommendation", *parts)


def _decision(m: dict[str, Any], evaluation: dict[str, Any]) -> str:
    quality, shipped = m["quality"], m.get("shipped") or {}
    verdict = shipped.get("verdict")
    state = quality["verdict"].upper()
    if verdict is not None:
        state = "PASSES" if verdict["passed"] else "FAILS"
    floor = quality.get("floor") or {}
    bounds = [f"retention ≥ {num(floor.get('min_retention'), 2)}"]
    if floor.get("min_metric") is not None:
        metric = quality.get("primary_metric") or "metric"
        bounds.append(f"{metric} ≥ {num(floor['min_metric'], 2)}")
    if floor.get("max_ece") is not None:
        bounds.append(f"ECE ≤ {num(floor['max_ece'], 2)}")
    if evaluation.get("gate_on_lower_bound"):
        bounds.append("judged on each figure's 95% interval bound")
    model = m["model"]
    quant = model.get("quantization") or {}
    precision = model["precision"].upper() + (
        f" ({quant['target_isa']})" if quant.get("target_isa") else ""
    )
    warnings = evaluation.get("warnings") or []
    rows = [
        ("Quality verdict (the file that ships, test set)", f"{state} the floor"),
        ("Quality floor (set before training)", "; ".join(bounds)),
        ("File that ships", f"{model['file']}, ONNX {precision}"),
        ("Its SHA-256", f"`{shipped.get('sha256', DASH)}`"),
        ("Where its figures come from", _figures_source(shipped)),
        ("Sample-size warnings", "; ".join(warnings) if warnings else "none"),
    ]
    return section("Decision summary", table(("", ""), rows))


def _figures_source(shipped: dict[str, Any]) -> str:
    if shipped.get("source") == "evaluated":
        return (f"evaluate run {shipped.get('evaluate_run')}, which scored this very file "
                "(same SHA-256)")  # fmt: skip
    if shipped.get("source") == "re-scored":
        return f"scored at export on the test set, because {shipped.get('why') or 'asked'}"
    return DASH


def _governance(m: dict[str, Any], review: dict[str, Any]) -> str:
    rows = [
        ("Model", m["name"]),
        ("Version", f"export run {m.get('export_run') or DASH}, exported {m['exported_at'][:10]}"),
        ("Owner", review.get("owner") or DASH),
        ("Developer (exported by)", m["exported_by"]),
        ("Approver, decision, date, valid until", "recorded by the reviewer in SIGN-OFF.md"),
    ]
    return section("Governance", table(("Field", "Value"), rows))


def _intended_use(m: dict[str, Any], review: dict[str, Any]) -> str:
    out_of_scope = [
        "inputs in another language, domain or format than the project's data;",
        "labels outside the list below;" if m["labels"] else "tasks other than this one;",
        "decisions about people made without human review;",
        "answers whose confidence is below the human-review threshold (see below), "
        "without a person looking at them."
        if m.get("task") != "generation"
        else "summaries used without a person checking them against the source text.",
    ]
    return section("Intended use", review.get("intended_use") or DASH,
                   "Out of scope:\n\n" + bullets(out_of_scope))  # fmt: skip


def _labels(m: dict[str, Any], review: dict[str, Any]) -> str:
    if not m["labels"]:
        return ""
    definitions = review.get("label_definitions") or {}
    splits = (review.get("data") or {}).get("splits") or {}
    rows = [
        (label, definitions.get(label) or "not recorded",
         *(splits.get(split, {}).get(label, 0) for split in SPLITS))
        for label in m["labels"]
    ]  # fmt: skip
    note = ""
    if not any(definitions.values()):
        note = ("No label definitions were recorded: the owner states them with `stillroom "
                "export --label-definition LABEL=TEXT`.")  # fmt: skip
    head = ("Label", "Definition", "Train", "Validation", "Test", "Edge cases")
    return section("Labels", table(head, rows), note)


def _data(m: dict[str, Any], review: dict[str, Any]) -> str:
    data = review.get("data") or {}
    datasets = data.get("datasets") or []
    rows = [(d["name"], d["rows"], d["imported"], f"`{d['sha256'][:16]}…`") for d in datasets]
    splits = data.get("splits") or {}
    counts = ", ".join(f"{split} {sum(splits.get(split, {}).values()):,}" for split in SPLITS)
    dates = sorted(d["imported"] for d in datasets)
    imported = dates[0] if len(set(dates)) == 1 else f"{dates[0]} to {dates[-1]}"
    text = m["lineage"].get("text_source", "anonymized")
    prose = (
        f"Records per split: {counts}. Imported {imported if dates else DASH}; the records "
        "carry no dates of their own, so the period they cover is not known to Stillroom "
        "and should be stated by the owner. The splits were drawn at import"
        + ("" if m.get("task") == "generation" else ", stratified by label")
        + "; records identical once anonymized share one split; the student read the "
        f"**{text}** text."
    )
    return section("Data", table(("Dataset", "Rows", "Imported", "SHA-256"), rows), prose)


def _student(m: dict[str, Any]) -> str:
    lineage = m["lineage"]
    student, training = lineage.get("student") or {}, lineage.get("training") or {}
    data = lineage.get("training_data") or {}
    derived = student.get("derived_from") or {}
    base = str(student.get("base") or DASH)
    lines = [f"Base model: {base}, {num(student.get('parameters'))} parameters"
             + (f"; derived from {derived.get('source')}, keeping layers "
                f"{', '.join(map(str, derived.get('kept_layers') or []))} of "
                f"{derived.get('source_layers')}" if derived else "") + "."]  # fmt: skip
    lora = training.get("lora")
    tuning = "full fine-tuning" if not lora else f"LoRA adapters (rank {lora.get('rank', DASH)})"
    lines.append(
        f"Training: {tuning}, {num(training.get('epochs_run'), 1)} epochs, seed "
        f"{num(training.get('seed'))}, on {training.get('device') or DASH}; "
        f"{num(data.get('train_examples'))} training and "
        f"{num(data.get('validation_examples'))} validation examples (train run "
        f"{lineage.get('train_run') or DASH}). The full configuration is in manifest.json "
        "(lineage.training)."
    )
    if (training.get("config") or {}).get("keep_best") is False:
        lines.append("The final weights were kept, not the checkpoint the validation split "
                     "scored best: that split holds none of the production traffic the "
                     "student was re-distilled on.")  # fmt: skip
    parent = (m.get("parent") or {}).get("manifest_sha256")
    if parent:
        lines.append(
            f"Re-distilled: this bundle succeeds the bundle whose manifest SHA-256 is "
            f"`{parent}`, on production requests the teacher labelled (the "
            "production dataset above). Its agreement with the teacher on a "
            "held-out production slice is measured on this file after export, so "
            "the re-distillation reports it (CLI, Monitor page), not this card."
        )
    return section("The student", bullets(lines))


def _anonymization(m: dict[str, Any], review: dict[str, Any]) -> str:
    anon = m["lineage"].get("anonymization") or {}
    settings = [(s.get("config_hash"), s.get("mode"), s.get("records")) for s in
                anon.get("settings") or []]  # fmt: skip
    entities = sorted((anon.get("entities_replaced") or {}).items())
    queue = review.get("review_queue") or {}
    parts = [
        f"{num(anon.get('records_anonymized'))} of {num(anon.get('records'))} records were "
        "anonymized before any teacher saw them; found values were replaced and never "
        "stored outside the project's encrypted vault.",
        table(("Settings", "Detector", "Records"), settings) if settings else "",
        table(("Entity type", "Values replaced"), entities) if entities else "",
        _leakage(review.get("leakage_check")),
        f"Records the anonymizer flagged for a person to check: {num(queue.get('flagged'))}, "
        f"of which unresolved: {num(queue.get('unresolved'))} (Stillroom records no review "
        "decision, so every flagged record counts as unresolved).",
    ]
    if m["lineage"].get("text_source") != "anonymized":
        parts.append("**Some training text was not anonymized** (audited at train time).")
    return section("Anonymization", *parts)


def _leakage(check: dict[str, Any] | None) -> str:
    if not check:
        return ("Leakage check: not run (`stillroom anonymize DIR --check-leakage` plants "
                "synthetic identifiers and counts how many get through).")  # fmt: skip
    return (
        f"Leakage check ({check.get('date')}, {num(check.get('samples'))} synthetic samples, "
        f"{check.get('mode')}): {num(check.get('value_leak'), 4)} of planted values and "
        f"{num(check.get('char_leak'), 4)} of their characters got through."
    )


def _sign_off() -> str:
    return section(
        "Sign-off",
        "The reviewer records the decision in SIGN-OFF.md beside this card: reviewer, date, "
        "decision (approved, approved with conditions, rejected), valid until, conditions. "
        "That file is deliberately outside the bundle's checksums and signature so that it "
        "can be filled in after export; it names the manifest it belongs to, and "
        "`stillroom bundle verify BUNDLE` reports what it says.",
    )
