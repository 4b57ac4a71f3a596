"""The teacher stage (DESIGN §4): soft labels or generations from a local model, an on-prem
OpenAI-compatible endpoint, or the labels already in the data.

Entry points: :func:`core.teacher.stage.run_teach` (and its job-stage adapter
``run_teach_stage``) and :func:`core.teacher.preview.preview_teach`. Nothing heavy is
imported here, so importing the package stays cheap.
"""
