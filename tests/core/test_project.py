from __future__ import annotations

import stat

import pytest

from core.errors import ProjectError, UserError
from core.project import Project, QualityFloor


def test_create_makes_an_owner_only_folder_and_store(tmp_path):
    with Project.create(
        tmp_path / "p",
        task="classification",
        labels=("a", "b"),
        floor=QualityFloor(0.9, min_metric=0.7, max_ece=0.1),
    ) as project:
        assert stat.S_IMODE(project.path.stat().st_mode) == 0o700
        assert stat.S_IMODE((project.path / "stillroom.db").stat().st_mode) == 0o600
        assert (project.path / "runs").is_dir()
    with Project.open(tmp_path / "p") as project:
        settings = project.settings
    assert settings.labels == ("a", "b")
    assert settings.floor == QualityFloor(0.9, 0.7, 0.1)


def test_creation_is_audited(tmp_path):
    with Project.create(tmp_path / "p", task="classification", floor=QualityFloor(0.95)) as p:
        row = p.store.query("SELECT action, details FROM audit")[0]
    assert row["action"] == "project.create"
    assert '"min_retention":0.95' in row["details"]


def test_refuses_a_non_empty_folder_and_an_existing_project(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("x")
    with pytest.raises(ProjectError, match="not an empty folder"):
        Project.create(tmp_path / "busy", task="classification", floor=QualityFloor(0.9))
    Project.create(tmp_path / "p", task="classification", floor=QualityFloor(0.9)).close()
    with pytest.raises(ProjectError, match="already a Stillroom project"):
        Project.create(tmp_path / "p", task="classification", floor=QualityFloor(0.9))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "ranking"}, "unknown task"),
        ({"labels": ("a",)}, "at least two labels"),
        ({"labels": ("a", "a")}, "repeats a label"),
        ({"labels": ("a", " ")}, "empty"),
        ({"task": "generation", "labels": ("a", "b")}, "no label set"),
        ({"floor": QualityFloor(1.5)}, "retention in"),
        ({"floor": QualityFloor(0.0)}, "retention in"),
        ({"floor": QualityFloor(0.9, max_ece=2.0)}, "max ECE"),
    ],
)
def test_invalid_settings_are_refused_and_nothing_is_created(tmp_path, kwargs, message):
    args = {"task": "classification", "labels": (), "floor": QualityFloor(0.9), **kwargs}
    with pytest.raises(UserError, match=message):
        Project.create(tmp_path / "p", **args)
    assert not (tmp_path / "p").exists()


def test_a_file_is_not_a_project(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ProjectError, match="not a folder"):
        Project.open(tmp_path / "f")


def test_settings_changes_are_audited(project):
    project.set_setting("labels", ["x", "y"])
    assert project.settings.labels == ("x", "y")
    assert project.store.scalar("SELECT action FROM audit ORDER BY id DESC") == "settings.change"
