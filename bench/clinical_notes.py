"""Seeded synthetic clinical notes with structured facts, reference summaries and PII spans.

Each note is built from one case (a complaint, the test that was done and what it showed, the
diagnosis, the medicine started, the follow-up) with a patient's age, sex and ward, wrapped in
one of several note styles with the identifiers a real note carries: the patient's name, the
MRN, a phone number, a date, the doctor's name, a relative's name and number. The reference
summary is written from the same facts and holds no identifier. Every identifier's span is
kept, so the same notes measure the anonymizer: leakage (identifiers left) and precision
(findings that are identifiers, not clinical words such as "Holter" or "Ward 4B").

Used by ``bench/generation_bench.py`` (the summarisation task) and
``bench/anonymize_bench.py --clinical`` (precision on clinical text).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# (complaint, test, finding, diagnosis, medicine, follow-up); {d} is a number of days.
CASES = (
    ("palpitations", "a Holter monitor", "paroxysmal atrial fibrillation",
     "atrial fibrillation", "apixaban 5 mg twice daily", "cardiology clinic in {w} weeks"),
    ("chest pain", "an ECG", "ST depression in the lateral leads", "unstable angina",
     "aspirin 300 mg and bisoprolol 2.5 mg", "an angiogram within {d} days"),
    ("shortness of breath", "a chest X-ray", "right lower lobe consolidation",
     "community-acquired pneumonia", "amoxicillin 500 mg three times daily for {d} days",
     "GP review in {d} days"),
    ("a severe headache", "a CT head", "no bleed", "migraine",
     "sumatriptan 50 mg; avoid NSAIDs for {d} days", "GP review in {w} weeks"),
    ("right iliac fossa pain", "an ultrasound of the abdomen", "an inflamed appendix",
     "acute appendicitis", "IV cefuroxime and metronidazole", "surgical review in {d} days"),
    ("a swollen left calf", "a Doppler ultrasound", "a popliteal vein thrombosis",
     "deep vein thrombosis", "rivaroxaban 15 mg twice daily for {w} weeks",
     "anticoagulation clinic in {w} weeks"),
    ("confusion and fever", "a urine dip and culture", "nitrites and leucocytes",
     "urinary tract infection", "nitrofurantoin 100 mg twice daily for {d} days",
     "repeat bloods in {d} days"),
    ("a fall with wrist pain", "a wrist X-ray", "a distal radius fracture",
     "Colles fracture", "a below-elbow cast and paracetamol 1 g four times daily",
     "fracture clinic in {d} days"),
    ("worsening wheeze", "peak flow and a blood gas", "a peak flow of 45% of predicted",
     "acute asthma", "prednisolone 40 mg daily for {d} days and salbutamol",
     "asthma nurse review in {w} weeks"),
    ("weakness of the left arm", "an MRI brain", "a small right-sided infarct",
     "ischaemic stroke", "clopidogrel 75 mg daily and atorvastatin 80 mg",
     "stroke clinic in {w} weeks"),
    ("high blood sugars", "HbA1c and renal function", "an HbA1c of 78 mmol/mol",
     "poorly controlled type 2 diabetes", "metformin 500 mg twice daily",
     "diabetes nurse review in {w} weeks"),
    ("ankle swelling", "an echocardiogram", "an ejection fraction of 35%",
     "heart failure with reduced ejection fraction", "furosemide 40 mg daily and ramipril 2.5 mg",
     "heart failure clinic in {w} weeks"),
)  # fmt: skip
WARDS = ("Ward 4B", "Ward 7A", "Ward 2C", "Ward 9", "the Acute Medical Unit", "Ward 11D")
EXAMS = (
    "neuro exam unremarkable", "chest clear", "abdomen soft", "heart sounds normal",
    "no focal neurology", "calves soft and non-tender",
)  # fmt: skip
STYLES = (
    "Patient: {name}, {age} {sex}, MRN {mrn}. Admitted to {ward} on {date} with {complaint}. "
    "{exam_cap}. {test_cap} showed {finding}. Impression: {diagnosis}. Plan: {medicine}; "
    "{followup}. Next of kin {relative} ({phone}) informed. Seen by Dr {doctor}.",
    "{age}-year-old {sex} ({name}, MRN {mrn}, tel {phone}) presented to {ward} on {date} "
    "complaining of {complaint}. On examination: {exam}. {test_cap} showed {finding}, "
    "consistent with {diagnosis}. Started {medicine}. Follow-up: {followup}. Dr {doctor}.",
    "Ward round {date}, {ward}. {name} (MRN {mrn}), {age} {sex}, admitted with {complaint}. "
    "{test_cap}: {finding}. {exam_cap}. Dx {diagnosis}. Started {medicine}. "
    "F/U {followup}. Daughter {relative} can be reached on {phone}.",
    "Discharge note for {name} ({age}-year-old {sex}), MRN {mrn}. Reason for admission: "
    "{complaint}. Investigations: {test} showed {finding}. Diagnosis: {diagnosis}. {exam_cap}. "
    "Medicines: {medicine}. Follow-up arranged: {followup}. Contact number {phone}. "
    "Dr {doctor}, {ward}, {date}.",
)
SUMMARY = (
    "{age}-year-old {sex} admitted to {ward} with {complaint}. {test_cap} showed {finding}. "
    "Diagnosis: {diagnosis}. Started {medicine}. Follow-up: {followup}."
)
PII_FIELDS = {
    "name": "PERSON",
    "doctor": "PERSON",
    "relative": "PERSON",
    "mrn": "MEDICAL_RECORD_NUMBER",
    "phone": "PHONE_NUMBER",
    "date": "DATE_TIME",
}


@dataclass(frozen=True, slots=True)
class Note:
    """One synthetic note: its text, the reference summary and where each identifier is."""

    text: str
    summary: str
    spans: tuple[tuple[int, int, str], ...]  # (start, end, entity type) of each identifier
    case: int


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _facts(rng: random.Random, fake: object) -> tuple[dict[str, str], int]:
    index = rng.randrange(len(CASES))
    complaint, test, finding, diagnosis, medicine, followup = CASES[index]
    numbers = {"d": str(rng.choice((2, 3, 5, 7, 10, 14))), "w": str(rng.choice((2, 4, 6)))}
    values = {
        "age": str(rng.randint(19, 89)),
        "sex": rng.choice(("man", "woman")),
        "ward": rng.choice(WARDS),
        "complaint": complaint,
        "test": test,
        "test_cap": _cap(test),
        "finding": finding,
        "diagnosis": diagnosis,
        "medicine": medicine.format(**numbers),
        "followup": followup.format(**numbers),
        "exam": rng.choice(EXAMS),
    }
    values["exam_cap"] = _cap(values["exam"])
    values |= {
        "name": f"{fake.first_name()} {fake.last_name()}",  # type: ignore[attr-defined]
        "doctor": str(fake.last_name()),  # type: ignore[attr-defined]
        "relative": str(fake.first_name()),  # type: ignore[attr-defined]
        "mrn": str(rng.randint(10_000_000, 99_999_999)),
        "phone": f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}",
        "date": f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2024",
    }
    return values, index


def _fill(template: str, values: dict[str, str]) -> tuple[str, list[tuple[int, int, str]]]:
    """The template filled in, with the span of every identifier it holds."""
    text, spans = "", []
    for position, piece in enumerate(template.replace("}", "{").split("{")):
        if position % 2 == 0:
            text += piece
            continue
        if piece in PII_FIELDS:
            spans.append((len(text), len(text) + len(values[piece]), PII_FIELDS[piece]))
        text += values[piece]
    return text, spans


def clinical_notes(count: int, seed: int) -> list[Note]:
    """``count`` distinct notes, the same for the same seed (and faker version)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    notes: list[Note] = []
    seen: set[str] = set()
    while len(notes) < count:
        values, case = _facts(rng, fake)
        text, spans = _fill(rng.choice(STYLES), values)
        if text in seen:
            continue
        seen.add(text)
        summary, _ = _fill(SUMMARY, values)
        notes.append(Note(text, summary, tuple(spans), case))
    return notes


def write_csv(notes: list[Note], path: object, *, with_summary: float = 1.0, seed: int = 0) -> None:
    """``id,note,summary`` rows; a share ``1 - with_summary`` have an empty summary."""
    import csv

    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:  # type: ignore[call-overload]
        writer = csv.writer(handle)
        writer.writerow(["id", "note", "summary"])
        for i, note in enumerate(notes):
            keep = rng.random() < with_summary
            writer.writerow([i + 1, note.text, note.summary if keep else ""])
