"""The clinical allow-list keeps clinical vocabulary and never costs a name, phone or MRN
(issue 17)."""

from __future__ import annotations

import pytest

from core.anonymize.clinical import clinical_allow_list, is_clinical, parse_allow_list
from core.errors import UserError

NOTE = (
    "Ward round 12/03/2024, Ward 4B. Maria Kowalski (MRN 48213377), 67 woman, admitted with "
    "palpitations. A Holter monitor showed paroxysmal atrial fibrillation. Neuro exam "
    "unremarkable. Dx atrial fibrillation. Started apixaban 5 mg twice daily; avoid NSAIDs "
    "for 5 days. F/U GP review in 2 weeks. Daughter Agnieszka can be reached on "
    "(415) 555-0132. Seen by Dr Okonkwo."
)
KEPT = ("Ward 4B", "Holter", "Neuro", "NSAIDs", "GP", "5 days", "2 weeks", "apixaban")
REMOVED = ("Maria Kowalski", "48213377", "Agnieszka", "(415) 555-0132", "Okonkwo", "12/03/2024")


def _covered(findings, text, value):
    start = text.index(value)
    end = start + len(value)
    return any(f.start < end and start < f.end for f in findings)


def test_clinical_words_stay_and_identifiers_go(find):
    findings = find(NOTE)
    for word in KEPT:
        assert not _covered(findings, NOTE, word), word
    for value in REMOVED:
        start = NOTE.index(value)
        covered = set()
        for f in findings:
            covered |= set(range(max(f.start, start), min(f.end, start + len(value))))
        assert covered >= set(range(start, start + len(value))), value


def test_a_name_after_a_title_is_never_allowed():
    text = "Referred by Dr Holter for a Holter monitor."
    first = text.index("Holter")
    assert not is_clinical(text, first, first + len("Holter"))
    second = text.index("Holter", first + 1)
    assert is_clinical(text, second, second + len("Holter"))


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("admitted to Ward 4B on Monday", "Ward", True),  # the ward's code follows
        ("seen by Ward yesterday", "Ward", False),  # a surname: not listed on its own
        ("a wrist X-ray showed", "ray", True),  # the word it was cut from
        ("Next of kin (0161 496 0000) informed", "kin", True),  # the phrase it ends
        ("a son, Kin, informed", "Kin", False),  # the same word as a name
        ("Smith Holter called", "Smith Holter", False),  # any unlisted word keeps it
        ("for 10 days", "10 days", True),
        ("born 12/03/1950", "12/03/1950", False),  # a date is not a duration
    ],
)
def test_spans(text, value, expected):
    start = text.index(value)
    assert is_clinical(text, start, start + len(value)) is expected


def test_shipped_file_parses_and_bad_patterns_are_user_errors():
    allowed = clinical_allow_list()
    assert {"holter", "nsaids", "gp"} <= allowed.words
    assert "ward" not in allowed.words  # a common surname
    with pytest.raises(UserError, match="line 2"):
        parse_allow_list("# comment\nre:(unclosed")


def test_another_mention_of_a_found_name_is_still_checked_against_the_list(find):
    # The generation bench: a patient named Ray turned "X-ray" into "X-<PERSON_2>".
    text = "Ray Patel, 58 man, fell at home. A wrist X-ray showed a fracture. Ray is well."
    findings = find(text)
    assert not _covered(findings, text, "X-ray")
    assert _covered(findings, text, "Ray Patel")
    last = text.rindex("Ray")
    assert any(f.start <= last < f.end for f in findings)  # "Ray is well": still the name
