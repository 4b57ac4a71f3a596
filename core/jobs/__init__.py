"""Background work: runs, the worker-process protocol, and the stage registry (DESIGN §5)."""
