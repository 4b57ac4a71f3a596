"""The train stage (DESIGN §4): distil a student from the teacher's stored outputs.

Entry points: :func:`core.train.stage.run_train` (and its job-stage adapter
``run_train_stage``), :func:`core.train.derive.derive_student`, the model catalogue in
``catalogue.py`` and the multi-process launcher ``python -m core.train.launch``. Nothing
heavy is imported here, so importing the package stays cheap.
"""
