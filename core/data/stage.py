"""The data import as a job stage, so the CLI and the GUI's worker run it the same way."""

from __future__ import annotations

import dataclasses
from typing import Any

from core.configs import config_from_json, config_to_json
from core.data.importer import ImportConfig, run_import
from core.errors import UserError
from core.project import Project
from core.reporter import Reporter


def import_config_from_dict(values: dict[str, Any]) -> ImportConfig:
    """Build an :class:`ImportConfig` from its JSON form (as stored in ``runs.config``)."""
    return config_from_json(
        ImportConfig, values, lambda: UserError("the stored import config is incomplete")
    )


def import_config_to_dict(config: ImportConfig) -> dict[str, Any]:
    return config_to_json(config)


def run_import_stage(
    project: Project, run_id: str, config: dict[str, Any], reporter: Reporter
) -> dict[str, Any]:
    """Run :func:`run_import` for the run's stored config; the result as plain data."""
    result = run_import(project, import_config_from_dict(config), reporter=reporter)
    values = dataclasses.asdict(result)
    values["run_id"] = run_id
    values["labels_added"] = list(result.labels_added)
    return values
