"""The evaluate stage: is the student good enough to ship? (DESIGN §4).

The teacher, the student and any baseline are scored on the held-out test split and,
separately, on the edge-case set, against the human labels where they exist and against the
teacher; the verdict is taken against the quality floor the project fixed before training.
Heavy libraries (torch, transformers, matplotlib) are imported inside the functions that use
them, so importing this package is cheap.
"""
