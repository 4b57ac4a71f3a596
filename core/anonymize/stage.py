"""The anonymize stage (DESIGN §4): every record, in batches, resumable, cancellable.

A record is skipped when it was anonymized with the same configuration hash; a changed
configuration re-anonymizes it (and the result says how many). Each batch's rows and the
vault entries they created are one transaction. Audit entries, events and the result hold
counts, never a found value.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from core.anonymize.config import (
    PATTERN_ONLY_WARNING,
    AnonymizeConfig,
    AnonymizeResult,
    config_hash,
)
from core.anonymize.rules import AnonymizeRules, load_rules, rules_file_for
from core.project import Project
from core.reporter import Reporter, StageCancelled
from core.store import anonymized, records
from core.store.anonymized import AnonymizedRow

if TYPE_CHECKING:
    from core.jobs.registry import RunContext


@dataclasses.dataclass
class _Tally:
    anonymized: int = 0
    reanonymized: int = 0
    needs_review: int = 0
    first_batch: int = 0
    first_batch_at: float = 0.0
    straddled: int = 0  # texts that were in two splits once anonymized
    regrouped: int = 0  # records moved to their duplicate's split
    entities: Counter[str] = dataclasses.field(default_factory=Counter)
    reasons: Counter[str] = dataclasses.field(default_factory=Counter)


def run_anonymize(
    project: Project, config: AnonymizeConfig, *, run: RunContext, reporter: Reporter
) -> AnonymizeResult:
    """Anonymize every record of the project that this configuration has not done yet.

    Raises:
        AnonymizeError: the configuration or the rules file is invalid.
        ModelNotInstalledError: the spaCy model is not installed (nothing is downloaded).
        VaultKeyError: pseudonyms or hashes are asked for and the vault key is unusable.
        StageCancelled: the reporter asked to stop; finished batches are committed.
    """
    from core.anonymize.engine import EngineSpec, check_model_installed
    from core.anonymize.workers import DetectorPool, default_processes

    config.validate()
    rules = load_rules(rules_file_for(project.path, config.rules_path))
    chash = config_hash(config, rules.digest)
    if not config.pattern_only:
        check_model_installed(config.spacy_model)
    total = records.count_records(project.store)
    todo = anonymized.to_anonymize(project.store, chash)
    processes = config.processes or default_processes(len(todo))
    anonymizer = _anonymizer(project, config, rules)
    details = {
        "config_hash": chash,
        "mode": config.mode,
        "records": total,
        "to_do": len(todo),
        "processes": processes,
        "rules": rules.summary(),
    }
    project.audit("anonymize.start", details)
    if config.pattern_only:
        reporter.progress(0.0, PATTERN_ONLY_WARNING)
    tally, started = _Tally(), time.monotonic()
    if todo:
        spec = EngineSpec(
            config.resolved_entities(), None if config.pattern_only else config.spacy_model, rules
        )
        with DetectorPool(spec, config.score_threshold, config.review_threshold, processes) as pool:
            for batch, detections in pool.run(_batches(project, todo, config.batch_size)):
                _commit(project, anonymizer, chash, batch, detections, tally)
                if not tally.first_batch:
                    tally.first_batch, tally.first_batch_at = len(batch), time.monotonic()
                reporter.progress(tally.anonymized / len(todo), _message(config, tally, todo))
                if reporter.cancel_requested():
                    project.audit("anonymize.cancel", _counts(tally))
                    raise StageCancelled(f"anonymized {tally.anonymized} of {len(todo)}")
    with project.store.transaction():
        tally.straddled, tally.regrouped = anonymized.regroup_duplicates(project.store)
    seconds = time.monotonic() - started
    if tally.first_batch:
        tally.first_batch_at -= started
    result = _result(config, chash, total, len(todo), tally, processes, seconds)
    reporter.metric("anonymize.docs_per_s", result.docs_per_s)
    project.audit("anonymize.finish", {"config_hash": chash, **_counts(tally)})
    return result


def record_anonymizer(project: Project) -> Any:
    """The operators of the project's latest anonymize run (the defaults before any), for
    re-anonymizing one record after a reviewer's fix.

    Raises:
        AnonymizeError: the rules file is invalid.
        VaultKeyError: the run used pseudonyms or hashes and the vault key is unusable.
    """
    from core.jobs.registry import ANONYMIZE
    from core.jobs.runs import list_runs, run_config

    runs = list_runs(project, ANONYMIZE.key)
    config = run_config(project, ANONYMIZE, runs[-1]) if runs else AnonymizeConfig()
    return _anonymizer(project, config, load_rules(rules_file_for(project.path, config.rules_path)))


def _anonymizer(project: Project, config: AnonymizeConfig, rules: AnonymizeRules) -> Any:
    from core.anonymize.operators import Anonymizer
    from core.anonymize.vault import Vault, load_keys

    entities = (*config.resolved_entities(), *rules.custom_entities)
    secret_ops = {config.operator_for(e) for e in entities} & {"hash", "pseudonym"}
    vault = Vault(project, load_keys(project, create=True)) if secret_ops else None
    return Anonymizer(config, vault)


def _batches(
    project: Project, todo: list[tuple[int, str | None]], size: int
) -> Iterator[tuple[list[tuple[int, str, str | None]], list[str]]]:
    for offset in range(0, len(todo), size):
        chunk = todo[offset : offset + size]
        previous = dict(chunk)
        rows = records.record_texts(project.store, list(previous))
        batch = [(record_id, text, previous[record_id]) for record_id, text in rows]
        yield batch, [text for _, text, _ in batch]


def _commit(
    project: Project,
    anonymizer: Any,
    chash: str,
    batch: list[tuple[int, str, str | None]],
    detections: list[Any],
    tally: _Tally,
) -> None:
    from core.anonymize.detect import REVIEW_FLAGS
    from core.anonymize.review_actions import apply_edits, review_edits

    rows, edits = [], review_edits(project)  # a reviewer's span fixes outlive a re-run
    for (record_id, text, previous), detection in zip(batch, detections, strict=True):
        done = anonymizer.apply(text, apply_edits(detection.findings, edits.get(record_id)))
        reasons = sorted(detection.flags)
        needs_review = any(reason in REVIEW_FLAGS for reason in reasons)
        rows.append(
            AnonymizedRow(
                record_id, done.text, dict(done.counts), done.spans, needs_review, reasons
            )
        )
        tally.anonymized += 1
        tally.reanonymized += previous is not None
        tally.needs_review += needs_review
        tally.entities.update(done.counts)
        tally.reasons.update(reasons)
    with project.store.transaction():
        anonymized.save_anonymized(project.store, chash, rows)
        if anonymizer.vault is not None:
            anonymizer.vault.flush(project)


def _message(config: AnonymizeConfig, tally: _Tally, todo: list[Any]) -> str:
    prefix = "[names and places NOT detected] " if config.pattern_only else ""
    return f"{prefix}anonymized {tally.anonymized:,} of {len(todo):,} records"


def _counts(tally: _Tally) -> dict[str, Any]:
    return {
        "anonymized": tally.anonymized,
        "reanonymized": tally.reanonymized,
        "needs_review": tally.needs_review,
        "entities": dict(tally.entities),
        "duplicate_texts_across_splits": tally.straddled,
        "regrouped": tally.regrouped,
    }


def _result(
    config: AnonymizeConfig,
    chash: str,
    total: int,
    todo: int,
    tally: _Tally,
    processes: int,
    seconds: float,
) -> AnonymizeResult:
    return AnonymizeResult(
        records_total=total,
        anonymized=tally.anonymized,
        skipped=total - todo,
        reanonymized=tally.reanonymized,
        entity_counts=dict(sorted(tally.entities.items())),
        needs_review=tally.needs_review,
        review_reasons=dict(sorted(tally.reasons.items())),
        config_hash=chash,
        mode=config.mode,
        warning=PATTERN_ONLY_WARNING if config.pattern_only else "",
        processes=processes,
        seconds=round(seconds, 3),
        docs_per_s=round(tally.anonymized / seconds, 1) if seconds > 0 else 0.0,
        startup_seconds=round(tally.first_batch_at, 3),
        regrouped=tally.regrouped,
        steady_docs_per_s=round(steady / (seconds - tally.first_batch_at), 1)
        if (steady := tally.anonymized - tally.first_batch) > 0
        else 0.0,
    )
