"""The project store: one SQLite file per project (DESIGN §3)."""
