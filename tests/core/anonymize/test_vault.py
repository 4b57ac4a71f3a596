"""Operators and the pseudonym vault: consistency, encryption, keys, restore."""

from __future__ import annotations

import os
import sys
import types

import pytest

from core.anonymize.config import AnonymizeConfig
from core.anonymize.vault import KEY_FILE, load_keys, restore_originals
from core.errors import VaultKeyError
from core.jobs.execute import run_stage
from core.jobs.registry import ANONYMIZE
from core.project import Project, QualityFloor
from core.reporter import NullReporter

from .conftest import add_records, anonymized

TEXTS = [
    "Dr. Helga Sorensen saw the patient; Sorensen will call back on 617-555-0143.",
    "Ask Helga Sorensen about the results at h.sorensen@example.org.",
]


def _run(project, **options):
    return run_stage(
        project, ANONYMIZE, AnonymizeConfig(processes=1, **options), reporter=NullReporter()
    )


def test_replace_numbers_values_within_a_record(project):
    (record,) = add_records(project, ["Tom Berglund met Ana Ruiz; Berglund then left."])
    _run(project)
    text = anonymized(project, record)["text"]
    assert text.count("<PERSON_1>") == 1
    assert "<PERSON_2>" in text
    assert "Berglund" not in text


def test_mask_keeps_the_length(project):
    (record,) = add_records(project, ["Write to h.sorensen@example.org now."])
    _run(project, operator="mask")
    assert anonymized(project, record)["text"] == "Write to " + "*" * 22 + " now."


def test_hash_is_salted_per_project(project, tmp_path):
    outputs = []
    other = Project.create(tmp_path / "b", task="classification", floor=QualityFloor(0.9))
    for proj in (project, other):
        ids = add_records(proj, ["SSN 536-22-8726.", "Again: SSN 536-22-8726"])
        _run(proj, operator="hash")
        outputs.append([anonymized(proj, i)["text"] for i in ids])
    other.close()
    assert outputs[0][0].split()[1].rstrip(".") == outputs[0][1].split()[-1]  # same value, hash
    assert outputs[0][0] != outputs[1][0]  # another project, another salt


def test_pseudonyms_are_consistent_natural_and_restorable(project):
    ids = add_records(project, TEXTS)
    _run(project, operator="pseudonym")
    first, second = (anonymized(project, i)["text"] for i in ids)
    for value in ("Helga", "Sorensen", "617-555-0143", "h.sorensen@example.org"):
        assert value not in first + second
    surname = first.split()[2].rstrip(";")
    assert first.split()[1] + " " + surname in second  # same person, same surrogate
    assert "<" not in first + second
    assert restore_originals(project, first) == TEXTS[0]
    rows = project.store.query("SELECT surrogate, original_encrypted FROM vault")
    assert rows
    assert not any(b"Sorensen" in bytes(r["original_encrypted"]) for r in rows)


def test_the_key_file_is_owner_only_and_checked(project):
    add_records(project, TEXTS[:1])
    _run(project, operator="pseudonym")
    key = project.path / KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    key.write_text("A" * 43 + "=\n")
    with pytest.raises(VaultKeyError, match="does not match"):
        load_keys(project, create=True)
    key.unlink()
    with pytest.raises(VaultKeyError, match="missing"):
        load_keys(project, create=True)


def test_the_os_keyring_is_used_when_it_works(project, monkeypatch):
    store = {}
    fake = types.ModuleType("keyring")
    fake.get_keyring = lambda: types.SimpleNamespace(priority=5)
    fake.set_password = lambda service, user, value: store.__setitem__((service, user), value)
    fake.get_password = lambda service, user: store.get((service, user))
    monkeypatch.setitem(sys.modules, "keyring", fake)
    keys = load_keys(project, create=True)
    assert keys.source == "keyring"
    assert not (project.path / KEY_FILE).exists()
    assert load_keys(project, create=False).check_value() == keys.check_value()


def test_restoring_needs_the_key(project):
    add_records(project, TEXTS[:1])
    _run(project, operator="pseudonym")
    os.remove(project.path / KEY_FILE)
    with pytest.raises(VaultKeyError):
        restore_originals(project, "anything")
