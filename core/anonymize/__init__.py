"""The anonymize stage (DESIGN §4, §7): Presidio fully offline, measured leakage.

Importing this package is cheap: Presidio, spaCy and Faker are imported inside the functions
that need them, so the CLI and the window open fast.
"""
