"""The project store (DESIGN §3): one SQLite file per project, and the only place with SQL.

``db`` (connection, transactions, migrations), ``schema``, ``portable`` (migration 2) and
``audit`` (the hash chain), then typed functions per group of tables: ``settings``,
``records`` (datasets and records), ``edges`` and ``splits`` (where records go, decided in
SQL), ``anonymized`` (anonymized text and the vault), ``teacher_outputs`` and ``metrics``.
The ``runs`` and ``events`` tables belong to :mod:`core.jobs.runs`, the run lifecycle.
``tests/core/store/test_sql_in_store.py`` keeps SQL out of every other module.
"""
