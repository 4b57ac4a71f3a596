"""The project store's schema, as numbered migrations (DESIGN §3).

``PRAGMA user_version`` holds the number of the last migration applied. A migration is
never edited once released: a change to the schema is a new entry at the end of
:data:`MIGRATIONS`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from core.store.portable import relative_paths

# "STRM": marks a SQLite file as a Stillroom store, so a random .db is not mistaken for one.
APPLICATION_ID = 0x5354524D

_V1 = """
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL                      -- JSON
);

CREATE TABLE datasets (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL,
    source_path        TEXT NOT NULL,
    source_sha256      TEXT NOT NULL UNIQUE,
    source_bytes       INTEGER NOT NULL,
    format             TEXT NOT NULL,
    encoding           TEXT,
    row_count          INTEGER NOT NULL,
    rows_read          INTEGER NOT NULL,
    duplicates_dropped INTEGER NOT NULL DEFAULT 0,
    conflicting_labels INTEGER NOT NULL DEFAULT 0,
    empty_dropped      INTEGER NOT NULL DEFAULT 0,
    oversize_dropped   INTEGER NOT NULL DEFAULT 0,
    column_map         TEXT NOT NULL,        -- JSON: {"text": ..., "label": ..., "flag": ...}
    split_config       TEXT NOT NULL,        -- JSON: {"fractions": [...], "seed": ...}
    imported_at        TEXT NOT NULL
);

CREATE TABLE records (
    id          INTEGER PRIMARY KEY,
    dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    source_row  INTEGER NOT NULL,            -- 1-based data row in the source file
    split       TEXT NOT NULL DEFAULT 'unassigned'
                CHECK (split IN ('unassigned', 'train', 'validation', 'test', 'edge')),
    text        TEXT NOT NULL,
    text_sha256 BLOB NOT NULL UNIQUE,        -- exact-duplicate key, project-wide
    label       TEXT,                        -- human label, if the data has one
    user_flag   INTEGER NOT NULL DEFAULT 0,
    edge_reason TEXT                         -- why the record is in the edge-case set
);
CREATE INDEX records_dataset_split ON records(dataset_id, split);

CREATE TABLE anonymized (
    record_id      INTEGER PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
    text           TEXT NOT NULL,
    entity_counts  TEXT NOT NULL,            -- JSON {"PERSON": 2, ...}; never the values found
    spans          TEXT NOT NULL DEFAULT '[]',
                   -- JSON [{start, end, source_start, source_end, entity_type, operator,
                   --        score}]: offsets only, never the values found
    config_hash    TEXT NOT NULL,
    needs_review   INTEGER NOT NULL DEFAULT 0,
    review_reasons TEXT NOT NULL DEFAULT '[]', -- JSON list: low_confidence, non_english, ...
    created_at     TEXT NOT NULL
);
CREATE INDEX anonymized_config ON anonymized(config_hash);

CREATE TABLE vault (
    id                 INTEGER PRIMARY KEY,
    entity_type        TEXT NOT NULL,
    original_digest    TEXT NOT NULL,        -- keyed hash, for lookup without decrypting
    surrogate          TEXT NOT NULL COLLATE NOCASE UNIQUE,  -- one original per surrogate
    original_encrypted BLOB NOT NULL,
    UNIQUE (entity_type, original_digest)
);

CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    stage         TEXT NOT NULL,
    config        TEXT NOT NULL,             -- JSON
    status        TEXT NOT NULL CHECK (status IN
                  ('pending', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    pid           INTEGER,
    created       TEXT NOT NULL,
    started       TEXT,
    finished      TEXT,
    error_class   TEXT,
    error_message TEXT,
    result        TEXT                       -- JSON
);

CREATE TABLE teacher_outputs (
    id                INTEGER PRIMARY KEY,
    record_id         INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    teacher_id        TEXT NOT NULL,
    prompt_version    TEXT NOT NULL DEFAULT '',  -- '' for teachers that take no prompt
    run_id            TEXT,                  -- the run that stored it (lineage)
    valid             INTEGER NOT NULL DEFAULT 1,  -- 0: answered outside the label set
    flag              TEXT,                  -- strict_retry | outside_label_set | ...
    label             TEXT,
    probabilities     TEXT,                  -- JSON list, in the project's label order
    soft_label_source TEXT,                  -- logits | logprobs | samples | parsed | human
    label_mass        REAL,                  -- mass on the label tokens before renormalising
    text              TEXT,
    token_logprobs    TEXT,                  -- JSON [{"token", "logprob", "top": {...}}]
    latency_ms        REAL,
    input_tokens      INTEGER,
    output_tokens     INTEGER,
    cost              REAL,
    attempts          INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    UNIQUE (record_id, teacher_id, prompt_version)
);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    time    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    payload TEXT NOT NULL                    -- JSON
);
CREATE INDEX events_run ON events(run_id, id);

CREATE TABLE metrics (
    id     INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    split  TEXT NOT NULL DEFAULT '',
    name   TEXT NOT NULL,
    value  REAL NOT NULL,
    step   INTEGER
);
CREATE INDEX metrics_run ON metrics(run_id, name);

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    os_user   TEXT NOT NULL,
    action    TEXT NOT NULL,
    details   TEXT NOT NULL,                 -- canonical JSON
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

# Migration 3: the production traffic the monitor imports from prediction logs (DESIGN §11).
# A logged request is one row, keyed by (bundle, request id, item): re-importing a log adds
# nothing. No text unless the server kept it (anonymized, or encrypted with the server's key:
# a Fernet token, decrypted only by re-distillation with the key the operator gives).
_V3 = """
CREATE TABLE production_imports (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,              -- the log folder or file, as given
    rows_read    INTEGER NOT NULL,
    rows_new     INTEGER NOT NULL,
    rows_updated INTEGER NOT NULL,           -- a shadow answer or kept input arrived later
    run_id       TEXT,
    imported_at  TEXT NOT NULL
);

CREATE TABLE production (
    id            INTEGER PRIMARY KEY,
    bundle_sha    TEXT NOT NULL,             -- SHA-256 of the serving bundle's manifest
    request_id    TEXT NOT NULL,
    item          INTEGER NOT NULL,
    time          TEXT NOT NULL,             -- ISO-8601 UTC, as the server logged it
    label         TEXT NOT NULL,
    probabilities TEXT NOT NULL,             -- JSON list, in the bundle's label order
    confidence    REAL NOT NULL,
    latency_ms    REAL NOT NULL,
    input_chars   INTEGER NOT NULL,
    fingerprint   BLOB NOT NULL,             -- hashed n-gram counts (core.serve.fingerprint)
    shadow        INTEGER NOT NULL DEFAULT 0,  -- sampled for the shadow teacher
    shadow_status TEXT,                      -- answered | failed | dropped; NULL: none yet
    teacher_label TEXT,
    input_kind    TEXT,                      -- anonymized | encrypted; NULL: no text kept
    input_text    BLOB,
    import_id     INTEGER NOT NULL REFERENCES production_imports(id),
    record_id     INTEGER REFERENCES records(id) ON DELETE SET NULL,  -- re-distillation
    used_as       TEXT CHECK (used_as IN ('train', 'slice')),
    used_by       TEXT,                      -- the re-distill run that used it
    UNIQUE (bundle_sha, request_id, item)
);
CREATE INDEX production_bundle_time ON production(bundle_sha, time);
"""

# Migration 4: the requests a server refused or that failed (the monitor's error rate). One
# row per failed request, keyed by (bundle, request id, time): re-importing adds nothing. A
# fixed error kind and the HTTP status only: never the request's text or the error message.
_V4 = """
CREATE TABLE production_errors (
    id         INTEGER PRIMARY KEY,
    bundle_sha TEXT NOT NULL,                -- SHA-256 of the serving bundle's manifest
    request_id TEXT NOT NULL,
    time       TEXT NOT NULL,                -- ISO-8601 UTC, as the server logged it
    status     INTEGER NOT NULL,             -- the HTTP status answered (400, 413, 500)
    kind       TEXT NOT NULL,                -- bad_request | too_large | model_error
    texts      INTEGER,                      -- texts the request held, where known
    import_id  INTEGER NOT NULL REFERENCES production_imports(id),
    UNIQUE (bundle_sha, request_id, time)
);
CREATE INDEX production_errors_bundle_time ON production_errors(bundle_sha, time);
"""

Migration = str | Callable[[sqlite3.Connection], None]
MIGRATIONS: tuple[Migration, ...] = (_V1, relative_paths, _V3, _V4)
"""``MIGRATIONS[i]`` takes the store from version ``i`` to ``i + 1``: an SQL script, or a
function run inside the migration's transaction."""

SCHEMA_VERSION = len(MIGRATIONS)
