"""Prompt templates edited in the desktop app, saved as files the teach stage reads.

The teach stage takes an edited template as a file (``TeachConfig.prompt_file``, the CLI's
``--prompt``). The file is named by the template's version, a hash of task and text, so a
stored run config keeps pointing at exactly the prompt it ran with, whatever is edited later.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.project import Project
from core.teacher.prompts import PromptTemplate, default_template, validate

PROMPTS_DIR = "prompts"


def write_prompt_file(project: Project, text: str) -> Path | None:
    """Save an edited template for the project's task.

    Args:
        project: the open project; the file goes to its ``prompts`` folder.
        text: the template, with ``{text}`` and (classification) ``{choices}``.

    Returns:
        The file to pass as ``prompt_file``, or None when the text is the task's built-in
        template (so a run with it has the same prompt version as a CLI run without
        ``--prompt``).

    Raises:
        TeacherError: the template uses an unknown field, lacks ``{text}``, or (for
            classification) lacks ``{choices}``.
    """
    task = project.settings.task
    template = PromptTemplate(task, text.rstrip("\n"))  # as load_template reads it back
    validate(template)
    if template == default_template(task):
        return None
    folder = project.path / PROMPTS_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{template.version}.txt"
    if not path.is_file():
        path.write_text(template.text + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
    return path


def builtin_template(task: str) -> str:
    """The task's built-in template text (what the editor starts from)."""
    return default_template(task).text
