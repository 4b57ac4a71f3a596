"""What the Deploy page shows a person about a bundle and its trial server (no serving
library imported: the window reads these on every view)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from core.project import Project


@dataclass(frozen=True, slots=True)
class DeployTarget:
    """The bundle a trial server would serve: where it is, its model's name and task."""

    bundle: Path
    model: str
    task: str


def deploy_target(project: Project) -> DeployTarget | None:
    """The project's latest exported bundle, or None before the first export.

    Raises:
        UserError: the bundle the export wrote is gone or unreadable.
    """
    from core.export.handoff import _manifest_only
    from core.jobs.registry import EXPORT
    from core.jobs.runs import latest_result

    exported = latest_result(project, EXPORT)
    if exported is None:
        return None
    if not Path(exported.bundle).exists():
        raise UserError(f"the exported bundle {exported.bundle} is gone", "export it again")
    manifest = _manifest_only(Path(exported.bundle))
    return DeployTarget(Path(exported.bundle), str(manifest["name"]), str(manifest["task"]))


def curl_example(url: str, model: str, text: str = "your text here") -> str:
    """A copy-ready ``curl`` that sends one text to the server's v2 infer endpoint."""
    body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}]}
    return (
        f"curl -s -X POST {url}/v2/models/{model}/infer \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d {shlex.quote(json.dumps(body))}"
    )
