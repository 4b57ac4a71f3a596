"""How the demo decides to skip, resume or start a stage (the real stages run in the slow
end-to-end test; here a probe stage counts its calls)."""

from __future__ import annotations

import importlib
import textwrap

import pytest

from core.demo_steps import ensure_run
from core.errors import UserError
from core.jobs import registry
from core.project import Project, QualityFloor

PROBE = textwrap.dedent(
    """
    from dataclasses import dataclass

    from core.errors import UserError


    @dataclass(frozen=True)
    class ProbeConfig:
        size: int = 0
        fail_once: bool = False
        override: str = ""


    @dataclass(frozen=True)
    class ProbeResult:
        calls: int


    def probe(project, config, *, run, reporter):
        calls = project.path / "calls"
        calls.write_text(calls.read_text() + "x" if calls.exists() else "x")
        marker = project.path / "failed-once"
        if config.fail_once and not marker.exists():
            marker.touch()
            raise UserError("the probe failed on purpose")
        return ProbeResult(len(calls.read_text()))
    """
)


@pytest.fixture
def probe(tmp_path, monkeypatch):
    (tmp_path / "stillroom_demo_probe.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("stillroom_demo_probe")
    stage = registry.Stage(
        key="probe", title="Probe", page="", config=module.ProbeConfig,
        result=module.ProbeResult, runner="stillroom_demo_probe:probe", noun="probe",
        shown=False,
    )  # fmt: skip
    monkeypatch.setattr(registry, "STAGES", (*registry.STAGES, stage))
    return stage, module


@pytest.fixture
def project(tmp_path, probe):
    created = Project.create(
        tmp_path / "p", task="classification", labels=("a", "b"), floor=QualityFloor(0.9)
    )
    yield created
    created.close()


def _calls(project: Project) -> int:
    return len((project.path / "calls").read_text())


def test_a_succeeded_run_with_the_same_config_is_skipped(project, probe):
    stage, m = probe
    run_id, result, status = ensure_run(project, stage, m.ProbeConfig(size=1))
    assert (status, result) == ("ran", m.ProbeResult(calls=1))
    assert ensure_run(project, stage, m.ProbeConfig(size=1)) == (run_id, result, "skipped")
    assert _calls(project) == 1
    other, _, status = ensure_run(project, stage, m.ProbeConfig(size=2))
    assert (status, _calls(project)) == ("ran", 2)
    assert other != run_id


def test_a_failed_run_is_resumed_under_its_own_id(project, probe):
    stage, m = probe
    with pytest.raises(UserError, match="on purpose"):
        ensure_run(project, stage, m.ProbeConfig(fail_once=True))
    run_id, result, status = ensure_run(project, stage, m.ProbeConfig(fail_once=True))
    assert (status, result) == ("resumed", m.ProbeResult(calls=2))
    rows = project.store.query("SELECT id, status FROM runs WHERE stage = 'probe'")
    assert rows == [{"id": run_id, "status": "succeeded"}]


def test_a_fallback_config_that_succeeded_counts_as_done(project, probe):
    stage, m = probe
    fallback = m.ProbeConfig(size=1, override="why")
    run_id, _, _ = ensure_run(project, stage, fallback)
    assert ensure_run(project, stage, m.ProbeConfig(size=1), done_as=(fallback,))[::2] == (
        run_id,
        "skipped",
    )
    assert _calls(project) == 1
