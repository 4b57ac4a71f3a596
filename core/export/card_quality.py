"""The model card's quality sections: the shipped file's evaluation with its uncertainty,
per-class retention, the quantize-only baseline, calibration, the human-review threshold,
speed and cost, limitations, the monitoring plan, export parity and reproducibility.

Each reads the manifest (``shipped``, ``review.evaluation``, ``parity``…) as JSON and
renders prose and tables.
"""

from __future__ import annotations

from typing import Any

from core.export.card_text import DASH, bullets, num, section, share, table, with_ci

SHIPPED, TEACHER, BASELINE = "student_onnx_int8", "teacher", "teacher_int8"


def _rows(m: dict[str, Any], evaluation: dict[str, Any], split: str) -> list[dict[str, Any]]:
    """Every model's figures on ``split``, the shipped file's from the manifest's own record
    (the evaluated file's row is dropped when the export shipped another file)."""
    shipped = [r for r in (m.get("shipped") or {}).get("rows") or [] if r["split"] == split]
    others = [r for r in evaluation.get("headline") or []
              if r["split"] == split and r["model"] != SHIPPED]  # fmt: skip
    return others + shipped


def evaluation_section(m: dict[str, Any], evaluation: dict[str, Any]) -> str:
    """The figures of every model on the test and edge-case sets, with intervals."""
    metric = evaluation.get("primary_metric") or m["quality"].get("primary_metric") or "metric"
    reference = evaluation.get("reference") or m["quality"].get("reference") or DASH
    shown = {"macro_f1": "macro-F1", "rouge_l": "ROUGE-L"}.get(metric, metric)
    generation = m.get("task") == "generation"
    head = ("Model", "Rows", shown, "Retention", "Agreement with teacher",
            *(() if generation else ("ECE (after T)",)))  # fmt: skip
    humans = "reference texts" if generation else "human labels"
    parts = [
        f"Reference: the {humans if reference == 'human' else 'teacher answers'}. "
        "Retention is the model's metric over the teacher's on the same rows; agreement the "
        "share of rows on which it gives the teacher's answer"
        + (
            "; answers are greedy, one input at a time as served."
            if generation
            else "; ECE the calibration error after the applied temperature (15 bins)."
        )
    ]
    for split, title in (("test", "Test set"), ("edge", "Edge-case set")):
        rows = [(r["title"], r.get("rows") or DASH, with_ci(r["metric"], r.get("metric_ci")),
                 with_ci(r["retention"], r.get("retention_ci")),
                 with_ci(r["agreement"], r.get("agreement_ci")),
                 *(() if generation else (with_ci(_gate_ece(r), r.get("ece_ci")),)))
                for r in _rows(m, evaluation, split)]  # fmt: skip
        parts.append(f"### {title}\n\n" + (table(head, rows) if rows else "not evaluated"))
    verdict = (m.get("shipped") or {}).get("verdict")
    if verdict:
        checks = "; ".join(_check_text(c) for c in verdict["checks"])
        parts.append(f"The file that ships, on the test set: {checks}.")
    failures = m["quality"].get("failures") or []
    if failures:
        parts.append("The evaluation's failed checks:\n\n" + bullets(failures))
    if m["quality"].get("edge_passed") is False:
        parts.append("**The edge-case set fails the floor**, although only the test set decides.")
    return section("Evaluation of the file that ships", *parts)


def _gate_ece(row: dict[str, Any]) -> float | None:
    value = row.get("ece_calibrated")
    return row.get("ece") if value is None else value


def _check_text(check: dict[str, Any]) -> str:
    value = check.get("value")
    if value is None:
        return f"{check['name']} not measurable ({check.get('detail')}), fails"
    held = "meets" if check["passed"] else "misses"
    side = "floor" if check["op"] == ">=" else "ceiling"
    return f"{check['name']} {value:.3f} {held} the {side} {check['bound']:g}"


def per_class_section(evaluation: dict[str, Any]) -> str:
    """Per-class retention of the judged model on the test set, the worst class named."""
    test = next((s for s in evaluation.get("sets") or [] if s["split"] == "test"), None)
    if not test or not test.get("classes"):
        return ""
    rows = [(c["label"], c["support"], c["student"][2] if c["student"] else None,
             c["teacher"][2] if c["teacher"] else None, c.get("retention"))
            for c in test["classes"]]  # fmt: skip
    worst = test.get("worst_class")
    kept = {c["label"]: c.get("retention") for c in test["classes"]}
    text = (f"The worst class is **{worst}**: the student keeps {num(kept.get(worst))} of the "
            "teacher's F1 there." if worst else "")  # fmt: skip
    head = ("Label", "Test rows", "Student F1", "Teacher F1", "Retention")
    return section("Per-class retention (test set)", table(head, rows), text)


def baseline_section(evaluation: dict[str, Any]) -> str:
    """Would quantizing the teacher alone have been enough?"""
    verdict = evaluation.get("baseline_verdict")
    if not evaluation:
        return ""
    if verdict is None:
        reason = evaluation.get("baseline_reason") or "not measured"
        return section("Quantize-only baseline", f"There is no quantize-only baseline: {reason}.")
    checks = "; ".join(_check_text(c) for c in verdict["checks"])
    answer = "Yes" if verdict["passed"] else "No"
    return section(
        "Quantize-only baseline",
        f"Would quantizing the teacher alone have been enough? **{answer}**: the teacher, "
        "exported to ONNX and quantized to INT8 through the same path, runtime and threads "
        f"as the student, against the same floor on the test set: {checks}.",
    )


def calibration_section(m: dict[str, Any], evaluation: dict[str, Any]) -> str:
    cal = m["calibration"]
    note = evaluation.get("temperature_note") or cal["source"]
    return section(
        "Calibration",
        f"Probabilities are softmax(logits / T) with T = {cal['temperature']:.4f}: {note}. "
        "A temperature is kept only when it lowers the negative log-likelihood of validation "
        "rows it was not fitted on. Read the probabilities as confidence only within the "
        "data's domain.",
    )


def referral_section(evaluation: dict[str, Any]) -> str:
    """The confidence below which cases go to a person."""
    referral = evaluation.get("referral")
    if not referral:
        return ""
    target = f"{referral['target']:.3f} ({referral['basis']})"
    if referral["threshold"] is None:
        text = (f"No confidence threshold reaches the target accuracy {target} on the test "
                "set: every case should be reviewed by a person.")  # fmt: skip
    else:
        text = (
            f"Send cases whose confidence is below **{referral['threshold']:.3f}** to a person. "
            f"On the test set ({referral['rows']:,} rows) the model's answers at or above it "
            f"were {referral['accuracy']:.3f} accurate, against the target {target}, and it "
            f"answered {share(referral['coverage'])} of the cases alone."
        )
    return section("Human-review threshold", text)


def speed_section(evaluation: dict[str, Any]) -> str:
    speed, cost = evaluation.get("speed") or [], evaluation.get("cost") or {}
    if not speed:
        return ""
    unit = f" ({cost['currency']})" if cost.get("currency") else ""
    rows = [(s["title"], num(s["p50_ms"], 1), num(s["p95_ms"], 1),
             num(s["throughput_per_s"], 1), num(s["size_mb"], 1), num(s["cost_per_million"], 2))
            for s in speed]  # fmt: skip
    head = ("Model", "p50 ms", "p95 ms", "Requests/s (batch 32)", "Size MB",
            f"Cost per 1M requests{unit}")  # fmt: skip
    threads = {s.get("threads") for s in speed} - {None}
    text = (f"CPU timings on the exporting machine ({', '.join(map(str, threads))} "
            "threads); they vary by about ±20% on a shared machine.")  # fmt: skip
    return section("Speed, size and cost", table(head, rows), text, _cost_text(cost))


def _cost_text(cost: dict[str, Any]) -> str:
    if not cost:
        return ""
    if cost.get("teacher_per_million") is None:
        return ("Savings: enter the teacher's price to see savings (Project page). Only "
                "numbers a person entered or Stillroom measured are priced.")  # fmt: skip
    return (f"Teacher: {num(cost['teacher_per_million'], 2)} per million requests "
            f"({cost['teacher_basis']}); student: {num(cost.get('student_per_million'), 2)} "
            f"({cost['student_basis']}).")  # fmt: skip


def limitations_section(m: dict[str, Any], evaluation: dict[str, Any]) -> str:
    items = [
        "The student imitates its teacher: it inherits the teacher's errors and biases, and "
        "its quality is bounded by the teacher's on this data.",
        f"Inputs longer than {m['max_length']} tokens are truncated.",
        "Figures come from the project's held-out split of the same data; other data, a "
        "later period or another population may score lower.",
    ]
    items += [f"Too little data: {w}." for w in evaluation.get("warnings") or []]
    quant = m["model"].get("quantization") or {}
    name = str(quant.get("variant", "onnx_int8"))
    shipped = next((v for v in m["parity"].get("variants", []) if v["variant"] == name), None)
    if shipped is not None and quant:
        items.append(f"The shipped {str(quant.get('precision', 'int8')).upper()} file and the "
                     f"PyTorch student disagree on {share(1 - shipped['agreement'])} of the "
                     "test inputs' next answers.")  # fmt: skip
    anon = (m["lineage"].get("anonymization") or {}).get("settings") or []
    if any("pattern" in str(s.get("mode", "")) for s in anon):
        items.append("Anonymization ran pattern-only: names and places were NOT detected.")
    return section("Limitations and key assumptions", bullets(items))


def monitoring_section(m: dict[str, Any], evaluation: dict[str, Any]) -> str:
    referral = evaluation.get("referral") or {}
    items = []
    if referral.get("threshold") is not None:
        items.append(
            f"The share of requests below the human-review threshold ({referral['threshold']:.3f}"
            f"): {share(1 - referral['coverage'])} on the test set; a lasting rise means the "
            "inputs moved away from the training data."
        )
    test = next((s for s in evaluation.get("sets") or [] if s["split"] == "test"), None)
    if test and test.get("classes"):
        total = sum(c["support"] for c in test["classes"]) or 1
        shares = ", ".join(f"{c['label']} {c['support'] / total:.0%}" for c in test["classes"])
        items.append(f"The mix of answers against the test set's labels ({shares}).")
    plan = (m.get("review") or {}).get("monitoring")
    items += plan or [
        "Agreement with the teacher on a monthly sample of anonymized production inputs; "
        "re-evaluate when it falls below the retention floor."
    ]
    items += [
        "Re-validate by the date in SIGN-OFF.md, and after any change of teacher, data, "
        + ("prompt" if m.get("task") == "generation" else "label set")
        + " or serving hardware.",
    ]
    return section("Monitoring plan", bullets(items))


def export_section(m: dict[str, Any]) -> str:
    model, parity = m["model"], m["parity"]
    quant = model.get("quantization") or {}
    rows = [(v["variant"], v["agreement"], v.get("batched_agreement"), v["max_abs_diff"],
             v["metric"], v["metric_delta"]) for v in parity.get("variants", [])]  # fmt: skip
    how = (f"dynamic, per-channel {num(quant.get('per_channel'))}, kernel target "
           f"{quant.get('target_isa')}" if quant else "none (fp32)")  # fmt: skip
    if quant.get("method") == "weight-only":
        how = (f"weight-only {quant['bits']}-bit ({quant['operator']}, blocks of "
               f"{quant['block_size']}), the smallest file that kept the student's next "
               "token and its greedy answers or test score (see manifest.json notes)")  # fmt: skip
    fallback = f" (fallback: {model['fallback_reason']})" if model.get("fallback_reason") else ""
    head = ("Variant", "Agreement", "In batches", "Largest logit difference",
            parity["metric_name"], "Change vs PyTorch")  # fmt: skip
    parts = [
        f"Exported with {model['exporter']}{fallback}; quantization: {how}.",
        f"Parity with the PyTorch student on {parity['n']:,} test inputs (reference: "
        f"{parity['reference']}; PyTorch {parity['metric_name']} "
        f"{num(parity['pytorch_metric'])}), one input at a time as served:",
        table(head, rows),
    ]
    if parity.get("override"):
        parts.append(f"**Parity gate overridden:** {parity['override']['reason']}")
    return section("Export and parity", *parts)


def reproducibility_section(m: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in sorted(m["versions"].items()))
    signing = m.get("signing") or {}
    key = f" with the key `{signing['key_id']}`" if signing.get("key_id") else ""
    return section(
        "Reproducibility and integrity",
        bullets([
            f"Libraries at export: {versions}.",
            f"Audit chain head at export: `{m['audit_head']}` (row "
            f"{m.get('audit_head_row', DASH)}); `stillroom audit verify PROJECT --bundle "
            "BUNDLE --key PUB` proves no audit row up to the export was changed.",
            f"Every file's SHA-256 is in manifest.json, which is signed (signature.json){key}; "
            "`stillroom bundle verify BUNDLE --key PUB` checks both, PUB being the public key "
            "IT pinned.",
        ]),
    )  # fmt: skip
