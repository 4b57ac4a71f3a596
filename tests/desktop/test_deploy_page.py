"""The Deploy page drives a real trial server: the SERVE stage in the worker process, a real
HTTP request to it, live counters, and Stop."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "export"))
sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "evaluate"))
sys.path.insert(0, str(Path(__file__).parents[1] / "core" / "teacher"))

from evaluate_helpers import build_trained_student, cached
from export_helpers import build_project, fake_evaluate_run

from core.export.config import ExportConfig
from core.jobs.execute import run_stage
from core.jobs.registry import EXPORT
from core.project import Project
from core.serve.server import free_port
from core.stage_states import stage_states
from desktop.pages import deploy_page as deploy_module
from desktop.pages.deploy_page import DeployPage

BODY = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a bill"]}]}


@pytest.fixture(scope="module")
def exported_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("deploy-page")
    student = cached("tiny-student", build_trained_student)
    with build_project(root, student, name="deploying", rows=60) as project:
        fake_evaluate_run(project)
        run_stage(project, EXPORT, ExportConfig(out=root / "bundle", name="tiny"))
        return project.path


@pytest.fixture
def page(qtbot, app_context):
    widget = DeployPage(app_context)
    qtbot.addWidget(widget)
    widget.resize(1100, 900)
    widget.show()
    return widget


def test_without_a_bundle_the_server_cannot_start(page, opened_context):
    page.refresh()
    assert "export one first" in page.bundle_label.text()
    assert not page.start_button.isEnabled()


def test_start_serve_count_and_stop_a_trial_server(page, app_context, exported_project, qtbot,
                                                   monkeypatch):  # fmt: skip
    pytest.importorskip("mlserver")
    copied = []
    monkeypatch.setattr(deploy_module, "copy_text", copied.append)
    app_context.open_project(exported_project)
    page.refresh()
    assert "model “tiny”" in page.bundle_label.text()
    page.port_spin.setValue(free_port())
    page.start_button.click()
    qtbot.waitUntil(lambda: page.status_label.text().startswith("Running"), timeout=90_000)
    assert not page.start_button.isEnabled()
    url = page.url_edit.text()
    assert url == f"http://127.0.0.1:{page.port_spin.value()}"
    assert f"{url}/v2/models/tiny/infer" in page.curl_text.toPlainText()
    for _ in range(3):
        assert httpx.post(f"{url}/v2/models/tiny/infer", json=BODY, timeout=30).status_code == 200
    qtbot.waitUntil(lambda: page.counters["serve.requests"].text() == "3", timeout=20_000)
    assert page.counters["serve.p99_ms"].text().endswith(" ms")
    page.copy_button.click()
    assert copied
    assert copied[0].startswith("curl -s -X POST")
    page.stop_button.click()
    qtbot.waitUntil(lambda: not page.busy(), timeout=60_000)
    assert page.status_label.text().startswith("Stopped after")
    assert "3 requests answered" in page.status_label.text()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v2/health/live", timeout=2)
    with Project.open(exported_project) as project:
        assert stage_states(project)["serve"].state == "done"
