"""No teacher credential is ever stored or printed (issue 13, item 2).

A distinctive key is planted in the environment (and sent: the server records it), and the
same kind of secret is tried in URLs and in --api-key-env; then every file of the project
(the SQLite database, its WAL, logs) and of a trained, evaluated and exported bundle (zip
entries and ONNX included) is searched byte for byte, and every table row by row.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
import zipfile
from pathlib import Path

import pytest

from core.cli import main
from core.errors import TeacherError
from core.teacher.config import TeachConfig, parse_spec

KEY = "sk-PLANTED-7f3a9c1e5b2d"
PASSWORD = "PW-PLANTED-2b8d4e6a"
SECRETS = (KEY, PASSWORD)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def forms(text: str) -> list[bytes]:
    """UTF-8, JSON-escaped, URL-quoted and UTF-16 spellings of a secret."""
    from urllib.parse import quote

    return list({text.encode(), json.dumps(text)[1:-1].encode(), quote(text).encode(),
                 text.encode("utf-16-le")})  # fmt: skip


def blobs(root: Path):
    """(name, bytes) of every file under ``root``, zip entries decompressed too."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield str(path), data
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    yield f"{path}!{info.filename}", archive.read(info)


def assert_no_secret(*roots: Path, texts: tuple[str, ...] = ()) -> int:
    """No secret in any file under ``roots``, any table of their databases, or ``texts``."""
    checked = 0
    for root in roots:
        for name, data in blobs(root):
            checked += 1
            for secret in SECRETS:
                assert not any(f in data for f in forms(secret)), f"{secret!r} in {name}"
        for db in root.rglob("*.db"):
            _assert_no_secret_in_tables(db)
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    return checked


def _assert_no_secret_in_tables(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                shown = repr(row)
                for secret in SECRETS:
                    assert secret not in shown, f"{secret!r} in table {table}"
    finally:
        conn.close()


# -- refused before anything is stored ------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [f"http://admin:{PASSWORD}@gpu-box:8000/v1", f"https://{PASSWORD}@gpu-box/v1",
     f"http://admin:{PASSWORD}@127.0.0.1:9/v1", f"http://gpu-box/v1?api_key={PASSWORD}",
     f"http://gpu-box/v1?key={PASSWORD}", f"http://gpu-box/v1?token={PASSWORD}",
     f"http://gpu-box/v1?access_token={PASSWORD}", f"http://gpu-box/v1?x=1&Api-Key={PASSWORD}",
     f"http://gpu-box/v1?{PASSWORD}", f"http://gpu-box/v1#{PASSWORD}",
     f"http://admin:{PASSWORD}@[::1/v1"],
)  # fmt: skip
def test_credentials_in_the_url_are_refused_without_quoting_them(url):
    with pytest.raises(TeacherError) as info:
        parse_spec(f"openai:{url}")
    assert PASSWORD not in info.value.one_line()
    assert PASSWORD not in repr(info.value)
    with pytest.raises(TeacherError):
        TeachConfig(teacher=f"openai:{url}", model="m").validate()


def test_unknown_spec_does_not_quote_the_rest(capsys):
    with pytest.raises(TeacherError) as info:
        parse_spec(f"gpt:admin:{PASSWORD}@host")
    assert PASSWORD not in info.value.one_line()


@pytest.mark.parametrize(
    "argv",
    [["--teacher", f"openai:http://admin:{PASSWORD}@127.0.0.1:{{port}}/v1", "--model", "tiny"],
     ["--teacher", f"openai:http://127.0.0.1:{{port}}/v1?api_key={PASSWORD}", "--model", "tiny"],
     ["--teacher", "openai:http://127.0.0.1:{port}/v1", "--model", "tiny",
      "--api-key-env", PASSWORD]],
)  # fmt: skip
def test_the_cli_refuses_before_storing_anything(capsys, teach_project, server, argv):
    argv = [a.replace("{port}", str(server.port)) for a in argv]
    audit_before = teach_project.store.scalar("SELECT COUNT(*) FROM audit")
    code, out, err = run(capsys, "teach", teach_project.path, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "STILLROOM_TEACHER_API_KEY" in err
    assert "keyring" in err or "--api-key-env" in err
    assert_no_secret(teach_project.path, texts=(out, err))
    assert teach_project.store.scalar("SELECT COUNT(*) FROM runs") == 0
    assert teach_project.store.scalar("SELECT COUNT(*) FROM audit") == audit_before
    assert server.headers_seen == []  # nothing was sent either


# -- a key that is used is never stored -----------------------------------------------------


def _teach_with_a_planted_key(capsys, project, server, monkeypatch) -> list[str]:
    """Teach with the key in the environment after trying it in URLs; return all output."""
    monkeypatch.setenv("HOSPITAL_TEACHER_KEY", KEY)
    server.switches.api_key = KEY
    printed: list[str] = []
    bad = f"openai:http://admin:{KEY}@127.0.0.1:{server.port}/v1"
    for teacher in (bad, f"openai:{server.base_url}?api_key={KEY}"):
        code, out, err = run(capsys, "teach", project.path, "--teacher", teacher, "--model",
                             "tiny")  # fmt: skip
        assert code == 2
        printed += [out, err]
    # A run that fails with the key set (a closed port): its error is stored.
    code, out, err = run(capsys, "teach", project.path, "--teacher",
                         "openai:http://127.0.0.1:9/v1", "--model", "tiny",
                         "--api-key-env", "HOSPITAL_TEACHER_KEY")  # fmt: skip
    assert code == 2
    printed += [out, err]
    # A refused key (a different one on the server), then the right one.
    server.switches.api_key = "sk-other"
    code, out, err = run(capsys, "teach", project.path, "--teacher", f"openai:{server.base_url}",
                         "--model", "tiny", "--api-key-env", "HOSPITAL_TEACHER_KEY")  # fmt: skip
    assert code == 2
    assert "refused the API key" in err
    printed += [out, err]
    server.switches.api_key = KEY
    code, out, err = run(capsys, "teach", project.path, "--teacher", f"openai:{server.base_url}",
                         "--model", "tiny", "--api-key-env", "HOSPITAL_TEACHER_KEY",
                         "--json")  # fmt: skip
    assert code == 0, err
    printed += [out, err]
    assert json.loads(out)["labelled"] == 30
    # The key really was sent, as a bearer token, on every request.
    assert f"Bearer {KEY}" in server.authorizations
    assert len(server.authorizations) == len(server.headers_seen)
    return printed


def test_a_planted_key_reaches_the_server_and_nothing_else(capsys, teach_project, server,
                                                           monkeypatch):  # fmt: skip
    printed = _teach_with_a_planted_key(capsys, teach_project, server, monkeypatch)
    # The closed port and the refused key left their errors (the refused run was then
    # resumed with the right key, so the run that failed there now succeeded).
    failed = teach_project.store.query("SELECT payload FROM events WHERE kind = 'error'")
    assert len(failed) == 2
    # Before a checkpoint (the WAL holds the latest pages) and after one.
    assert_no_secret(teach_project.path, texts=tuple(printed))
    teach_project.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert assert_no_secret(teach_project.path) >= 1


def test_a_planted_key_is_in_no_file_of_the_project_or_its_bundle(
    capsys, teach_project, server, monkeypatch, tiny_classifier, tmp_path
):
    """The whole chain: teach (key sent), train, evaluate, export a zip bundle; grep all.

    ~6 s on two cores (tiny student, 30 records), so it stays in the default run.
    """
    start = time.monotonic()
    printed = _teach_with_a_planted_key(capsys, teach_project, server, monkeypatch)
    folder = teach_project.path
    train = ["--epochs", "1", "--batch-size", "4", "--device", "cpu", "--early-stopping", "0"]
    code, out, err = run(capsys, "train", folder, "--student", tiny_classifier, *train)
    assert code == 0, err
    printed += [out, err]
    code, out, err = run(capsys, "evaluate", folder, "--no-latency", "--no-baseline")
    assert code in (0, 1), err  # pass or fail the floor: both write the report
    printed += [out, err]
    bundle = tmp_path / "bundle.zip"
    export = ["--format", "zip", "--override-floor", "leak test", "--min-agreement", "0"]
    code, out, err = run(capsys, "export", folder, "--out", bundle, *export)
    assert code == 0, err
    printed += [out, err]
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
    assert any(n.endswith(".onnx") for n in names)
    assert any(n.endswith("manifest.json") for n in names)
    assert any(n.endswith("MODEL_CARD.md") for n in names)
    assert_no_secret(folder, tmp_path, texts=tuple(printed))
    print(f"full chain in {time.monotonic() - start:.1f} s", file=sys.stderr)
