"""packaging/wheelhouse.sh: pinned, hashed wheels that install with the network cut.

The fast test builds a wheelhouse of two small pure-Python packages made here (so it needs
no index and no network), installs it into a fresh venv with ``--no-index --require-hashes``
and imports it; a tampered wheel is refused. The slow test builds the real wheelhouse from
the project's .venv and installs Stillroom from it offline.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "wheelhouse.sh"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pins = _load("stillroom_packaging_pins", ROOT / "packaging" / "pins.py")
lock = _load("stillroom_packaging_lock", ROOT / "packaging" / "lock.py")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(folder: Path, name: str, version: str, requires: list[str], code: str) -> Path:
    """A minimal pure-Python wheel: one module, METADATA, WHEEL and RECORD."""
    module = name.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}.py": code.encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        ).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def _offline_pip_env(find_links: Path | None = None) -> dict[str, str]:
    """pip with no configuration files, no index and only ``find_links``: nothing remote."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    if find_links is not None:
        env["PIP_FIND_LINKS"] = str(find_links)
    return env


def _fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=False).create(path)
    return path / "bin" / "python"


def _install(python: Path, wheelhouse: Path, lock_file: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
               "--find-links", str(wheelhouse), "--require-hashes", "-r",
               str(wheelhouse / lock_file)]  # fmt: skip
    return subprocess.run(
        command, env=_offline_pip_env(), capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def source_wheels(tmp_path) -> Path:
    """Two packages, the first depending on the second, as a local find-links folder."""
    source = tmp_path / "source"
    source.mkdir()
    make_wheel(source, "sr-probe-alpha", "1.2.0", ["sr-probe-beta>=2"],
               "from sr_probe_beta import BASE\nVALUE = BASE + 1\n")  # fmt: skip
    make_wheel(source, "sr-probe-beta", "2.0.1", [], "BASE = 41\n")
    return source


def test_wheelhouse_installs_offline_with_hashes(tmp_path, source_wheels):
    requirements = tmp_path / "pins.txt"
    requirements.write_text("# pinned\nsr-probe-alpha==1.2.0\nsr-probe-beta==2.0.1\n")
    out = tmp_path / "house"
    built = subprocess.run(
        ["bash", str(SCRIPT), str(out), "--requirements", str(requirements)],
        env=_offline_pip_env(find_links=source_wheels), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert sorted(p.name for p in out.glob("*.whl")) == [
        "sr_probe_alpha-1.2.0-py3-none-any.whl",
        "sr_probe_beta-2.0.1-py3-none-any.whl",
    ]
    locked = (out / "requirements.lock").read_text().splitlines()
    assert [line.split(" ")[0] for line in locked] == [
        "sr-probe-alpha==1.2.0",
        "sr-probe-beta==2.0.1",
    ]
    assert all("--hash=sha256:" in line for line in locked)
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True)
    assert checked.returncode == 0
    assert "--require-hashes -r requirements.lock" in (out / "INSTALL.txt").read_text()

    python = _fresh_venv(tmp_path / "fresh")
    installed = _install(python, out, "requirements.lock")
    assert installed.returncode == 0, installed.stderr
    imported = subprocess.run(
        [str(python), "-c", "import sr_probe_alpha; print(sr_probe_alpha.VALUE)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert imported.stdout.strip() == "42"


def test_a_tampered_wheel_is_refused(tmp_path, source_wheels):
    out = tmp_path / "house"
    requirements = tmp_path / "pins.txt"
    requirements.write_text("sr-probe-beta==2.0.1\n")
    subprocess.run(
        ["bash", str(SCRIPT), str(out), "--requirements", str(requirements)],
        env=_offline_pip_env(find_links=source_wheels), check=True, capture_output=True,
        timeout=300,
    )  # fmt: skip
    wheel = out / "sr_probe_beta-2.0.1-py3-none-any.whl"
    wheel.unlink()
    make_wheel(out, "sr-probe-beta", "2.0.1", [], "BASE = 666\n")
    installed = _install(_fresh_venv(tmp_path / "fresh"), out, "requirements.lock")
    assert installed.returncode != 0
    assert "do not match the hashes" in installed.stderr.lower().replace("\n", " ")


def test_wheelhouse_refuses_a_folder_with_packages(tmp_path, source_wheels):
    requirements = tmp_path / "pins.txt"
    requirements.write_text("sr-probe-beta==2.0.1\n")
    result = subprocess.run(
        ["bash", str(SCRIPT), str(source_wheels), "--requirements", str(requirements)],
        env=_offline_pip_env(find_links=source_wheels), capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "already holds packages" in result.stderr


def test_pins_follow_the_installed_versions_and_markers():
    from importlib import metadata

    from packaging.requirements import Requirement

    found = pins.closure([Requirement("sqlite-utils")])
    assert found["sqlite-utils"] == metadata.version("sqlite-utils")
    assert found["click"] == metadata.version("click")
    # A dependency behind a marker that is false here is not followed.
    assert "colorama" not in found  # click needs it on Windows only


def test_pins_of_the_project_cover_its_extras_and_skip_it(tmp_path):
    from importlib import metadata

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "demo"\ndependencies = ["sqlite-utils"]\n'
        '[project.optional-dependencies]\ncpu = ["onnxruntime"]\ngpu = ["onnxruntime-gpu"]\n'
    )
    requirements = pins.project_requirements(pyproject, ["cpu"])
    found = pins.closure(requirements)
    assert found["onnxruntime"] == metadata.version("onnxruntime")
    assert "demo" not in found
    with pytest.raises(pins.MissingDistribution, match="onnxruntime-gpu"):
        pins.closure(pins.project_requirements(pyproject, ["gpu"]))


def test_pins_refuse_a_version_the_project_does_not_accept(tmp_path):
    from packaging.requirements import Requirement

    with pytest.raises(pins.MissingDistribution, match="needs <1"):
        pins.closure([Requirement("sqlite-utils<1")])


def test_lock_splits_the_no_deps_packages_and_refuses_duplicates(tmp_path):
    make_wheel(tmp_path, "sr-probe-beta", "2.0.1", [], "BASE = 1\n")
    make_wheel(tmp_path, "sr-model-data", "0.1.0", ["something-huge"], "X = 1\n")
    counts = lock.write_lock(tmp_path, ["sr-model-data"])
    assert counts == {lock.LOCK: 1, lock.NODEPS_LOCK: 1}
    assert (tmp_path / lock.NODEPS_LOCK).read_text().startswith("sr-model-data==0.1.0 --hash=")
    make_wheel(tmp_path, "sr-probe-beta", "2.0.2", [], "BASE = 2\n")
    with pytest.raises(ValueError, match="twice"):
        lock.write_lock(tmp_path)


@pytest.mark.slow
def test_full_wheelhouse_installs_stillroom_offline(tmp_path):
    """The real thing: every pinned wheel from .venv, then an offline install (minutes)."""
    out = tmp_path / "house"
    built = subprocess.run(
        ["bash", str(SCRIPT), str(out)], capture_output=True, text=True, timeout=3600
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert any(p.name.startswith("stillroom-") for p in out.glob("*.whl"))
    python = _fresh_venv(tmp_path / "fresh")
    for lock_file, extra in (
        ("requirements.lock", []),
        ("requirements-nodeps.lock", ["--no-deps"]),
    ):
        command = [sys.executable, "-m", "pip", "--python", str(python), "install",
                   "--no-index", "--find-links", str(out), "--require-hashes", *extra, "-r",
                   str(out / lock_file)]  # fmt: skip
        installed = subprocess.run(
            command, env=_offline_pip_env(), capture_output=True, text=True, timeout=3600
        )
        assert installed.returncode == 0, installed.stderr[-3000:]
    helped = subprocess.run(
        [str(python.parent / "stillroom"), "--help"], capture_output=True, text=True, timeout=300
    )
    assert helped.returncode == 0
    assert "anonymize" in helped.stdout
    # The installed app is complete: models, resources (sample, stylesheet) and the window.
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    checked = subprocess.run(
        [str(python), "-m", "desktop.self_test", "--json"], capture_output=True, text=True,
        timeout=600, env=env, cwd=tmp_path,
    )  # fmt: skip
    failed = {c["name"]: c["detail"] for c in json.loads(checked.stdout)["checks"] if not c["ok"]}
    assert failed == {}
