"""``stillroom redistill`` end to end on tiny models: production inputs kept encrypted are
decrypted with the server's key, anonymized, labelled by the teacher, trained on; the new
student is evaluated on the original test set and on a production slice, and the new bundle
verifies and names its parent."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from monitor_helpers import shifted, times, unshifted

from core.cli import main
from core.export.verify import verify_bundle
from core.jobs.registry import TRAIN
from core.jobs.runs import get_run, run_config
from core.monitor.reference import manifest_sha, project_floors
from core.monitor.replay import replay
from core.project import Project
from core.store import production


@pytest.mark.slow  # four real stages on tiny models: about a minute
def test_redistill_end_to_end_names_the_parent_and_evaluates_on_the_production_slice(
    project_dir, tmp_path, capsys
):
    parent = project_dir / "exports" / "tiny"
    key = Fernet.generate_key()
    (tmp_path / "input.key").write_bytes(key)
    fernet = Fernet(key)
    texts = unshifted(30) + shifted(90)
    replay(parent, texts, tmp_path / "log", times=times(len(texts)),
           keep=lambda t: ("encrypted", fernet.encrypt(t.encode())))  # fmt: skip
    assert main(["monitor", str(project_dir), "--log", str(tmp_path / "log"),
                 "--window-rows", "60"]) == 1  # fmt: skip
    capsys.readouterr()
    code = main(["redistill", str(project_dir), "--budget", "40", "--slice", "30", "--epochs",
                 "1", "--input-key-file", str(tmp_path / "input.key"), "--json"])  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["chosen"] == 40
    assert result["slice_rows"] == 30
    assert result["before"]["model"] == "parent bundle"
    assert result["after"]["rows"] == 30
    assert result["export_run"] is not None
    bundle = project_dir / "exports" / "tiny-r1"
    assert result["bundle"] == str(bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["parent"] == {"manifest_sha256": manifest_sha(parent)}
    card = (bundle / "MODEL_CARD.md").read_text()
    assert f"the bundle whose manifest SHA-256 is `{manifest_sha(parent)}`" in card
    assert verify_bundle(bundle).files_checked > 0  # raises on any mismatch
    assert code == (0 if result["passed"] else 1)
    with Project.open(project_dir) as project:
        used = {r.used_as for r in production.production_rows(project.store, manifest_sha(parent))}
        assert used == {None, "train", "slice"}
        actions = [r["action"] for r in project.store.query("SELECT action FROM audit")]
    assert "redistill.chose" in actions
    assert "redistill.done" in actions
    with Project.open(project_dir) as project:
        trained = run_config(project, TRAIN, get_run(project, result["train_run"]))
        accepted = json.loads((parent / "manifest.json").read_text())["quality"]["evaluate_run"]
        floors = project_floors(project, accepted)
    assert not trained.keep_best  # the final weights: validation holds no production traffic
    assert trained.early_stopping == 0
    # The slice is judged by the floor the parent was accepted with, not the new evaluation's.
    assert result["slice_floor"] == pytest.approx(floors.agreement_floor)


def test_redistill_without_kept_inputs_says_the_server_must_keep_them(
    project_dir, tmp_path, capsys
):
    parent = project_dir / "exports" / "tiny"
    replay(parent, unshifted(60), tmp_path / "log", times=times(60))
    main(["monitor", str(project_dir), "--log", str(tmp_path / "log"), "--window-rows", "60"])
    capsys.readouterr()
    assert main(["redistill", str(project_dir)]) == 2
    assert "--keep-inputs" in capsys.readouterr().err


def test_layers_for_a_student_not_cut_from_a_larger_model_are_refused_before_any_work(
    project_dir, tmp_path, capsys
):
    parent = project_dir / "exports" / "tiny"
    replay(parent, unshifted(60), tmp_path / "log", times=times(60),
           keep=lambda t: ("anonymized", t.encode()))  # fmt: skip
    main(["monitor", str(project_dir), "--log", str(tmp_path / "log"), "--window-rows", "60"])
    capsys.readouterr()
    assert main(["redistill", str(project_dir), "--layers", "2"]) == 2
    assert "--layers cuts a student from a larger model" in capsys.readouterr().err
    with Project.open(project_dir) as project:
        used = {r.used_as for r in production.production_rows(project.store, manifest_sha(parent))}
    assert used == {None}  # nothing was chosen, anonymized or labelled
