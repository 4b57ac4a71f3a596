"""The stage's promises to a compliance officer: no value in any trace, no network, no
download, and Presidio configured with an explicit, installed model."""

from __future__ import annotations

import json
import logging

import pytest

from core import netguard
from core.anonymize.config import SHIPPED_MODEL, AnonymizeConfig
from core.anonymize.engine import nlp_configuration
from core.cli import main
from core.configs import to_json
from core.errors import ModelNotInstalledError
from core.jobs.execute import execute_run, run_stage
from core.jobs.registry import ANONYMIZE
from core.jobs.runs import create_run
from core.reporter import NullReporter

from .conftest import add_records

VALUES = [
    "Bartholomew Okafor",
    "Okafor",
    "b.okafor@example.org",
    "617-555-0143",
    "536-22-8726",
    "00481263",
    "GB82 WEST 1234 5698 7654 32",
    "4111 1111 1111 1111",
    "Ingrid Lindqvist",
    "Lindqvist",
    "1428 Elm Street",
]
TEXTS = [
    "Patient Bartholomew Okafor (MRN: 00481263) lives at 1428 Elm Street; SSN 536-22-8726.",
    "Okafor can be reached on 617-555-0143 or b.okafor@example.org.",
    "Refund to IBAN GB82 WEST 1234 5698 7654 32, card 4111 1111 1111 1111, per Ingrid Lindqvist.",
    "Lindqvist: please call Okafor back.",
]


def _traces(project):
    """Everything the stage may have written outside the anonymized text itself."""
    rows = [
        json.dumps(project.store.query(f"SELECT * FROM {table}"), default=str)
        for table in ("events", "audit", "runs", "settings")
    ]
    files = [
        p.read_text(errors="replace")
        for p in project.path.rglob("*")
        if p.is_file() and p.suffix != ".db" and "-wal" not in p.name and p.name != "vault.key"
    ]
    return "\n".join(rows + files)


def test_no_found_value_reaches_logs_events_audit_results_or_errors(
    project, caplog, capsys, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    add_records(project, TEXTS)
    sink = []
    config = AnonymizeConfig(operator="pseudonym", processes=1)
    outcome = execute_run(project, create_run(project, ANONYMIZE, config), sink.append)
    assert outcome.status == "succeeded"
    assert (
        main(["anonymize", str(project.path), "--operator", "mask", "--json", "--review", "2"]) == 0
    )
    cli_out = capsys.readouterr()

    from core.anonymize import operators

    def failing(self, text, findings):
        raise RuntimeError(f"could not anonymize {text}")

    monkeypatch.setattr(operators.Anonymizer, "apply", failing)
    crashed = execute_run(
        project, create_run(project, ANONYMIZE, AnonymizeConfig(operator="hash")), sink.append
    )
    assert crashed.status == "failed"
    haystack = "\n".join(
        [
            _traces(project),
            json.dumps(sink, default=str),
            json.dumps(to_json(outcome.result)),
            caplog.text,
            cli_out.err,
            crashed.error.one_line(),
            json.dumps({k: v for k, v in json.loads(cli_out.out).items() if k != "lines"}),
        ]
    )
    assert [v for v in VALUES if v in haystack] == []


def test_the_engine_names_the_shipped_model_explicitly(detector):
    nlp_engine = detector.analyzer.nlp_engine
    assert nlp_engine.models == [{"lang_code": "en", "model_name": SHIPPED_MODEL}]
    assert type(nlp_engine).__name__ == "OfflineSpacyNlpEngine"
    assert "parser" not in nlp_engine.get_nlp("en").pipe_names
    assert nlp_configuration(SHIPPED_MODEL)["models"][0]["model_name"] == SHIPPED_MODEL
    assert nlp_configuration(None)["nlp_engine_name"] == "no_op"


def test_a_missing_model_is_a_clear_error_and_nothing_downloads(project, monkeypatch):
    import spacy.cli

    from core.anonymize.offline_spacy import OfflineSpacyNlpEngine

    downloads = []
    monkeypatch.setattr(spacy.cli, "download", lambda *a, **k: downloads.append(a))
    add_records(project, ["nothing to see"])
    with pytest.raises(ModelNotInstalledError) as info:
        run_stage(
            project,
            ANONYMIZE,
            AnonymizeConfig(spacy_model="en_core_web_lg", processes=1),
            reporter=NullReporter(),
        )
    assert "en-core-web-lg" in info.value.hint
    assert "--pattern-only" in info.value.hint
    with pytest.raises(ModelNotInstalledError):
        OfflineSpacyNlpEngine._download_spacy_model_if_needed("en_core_web_trf")
    assert downloads == []


def test_no_network_is_touched(project):
    attempts = []

    def listener(host, port):
        attempts.append((host, port))

    netguard.add_block_listener(listener)
    try:
        add_records(
            project,
            [
                "Mail j.doe@example.co.uk or see https://intranet.example.com/x",
                "Server 10.0.0.12 at www.example.org",
            ],
        )
        result = run_stage(
            project, ANONYMIZE, AnonymizeConfig(processes=1), reporter=NullReporter()
        )
    finally:
        netguard.remove_block_listener(listener)
    assert netguard.is_installed()
    assert result.entity_counts["EMAIL_ADDRESS"] == 1
    assert attempts == []
