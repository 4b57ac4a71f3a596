"""The prediction log: crash-safe under kill -9, rotated and capped, exported for the analyst,
and text kept only when asked (then encrypted or anonymized)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pyarrow.parquet as pq
import pytest
from serve_helpers import infer_body, running_server

from core.commands import serve_commands
from core.serve.fingerprint import BUCKETS, counts, decode, fingerprint
from core.serve.logexport import LogExportError, export_log
from core.serve.predlog import CURRENT, PredictionLog, log_files, rows, utc_now

META = {"bundle_sha256": "ab" * 32, "labels": "a,b"}


def _row(i: int) -> tuple:
    return (utc_now(), f"r{i}", 0, "ab" * 32, "a", json.dumps([0.75, 0.25]), 0.75, 2.5, 10,
            fingerprint(f"text number {i}"), 0)  # fmt: skip


def test_kill_9_mid_load_leaves_a_readable_log_without_a_torn_row(bundle, tmp_path):
    with running_server(bundle, tmp_path) as server:
        stop = threading.Event()
        sent = []

        def load(worker: int) -> None:
            with httpx.Client(timeout=10) as client:
                for i in range(2000):
                    if stop.is_set():
                        return
                    answer = client.post(server.infer_url(), json=infer_body(f"load {worker} {i}"))
                    sent.append(answer.status_code)

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(load, w) for w in range(4)]
            deadline = time.monotonic() + 20
            while len(sent) < 300 and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(server.process.pid, signal.SIGKILL)  # mid-load, no chance to flush
            stop.set()
            for future in futures:
                future.exception()
        server.process.wait(10)
    assert sent.count(200) >= 300
    with sqlite3.connect(server.log_dir / CURRENT) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    found = list(rows(server.log_dir))
    assert len(found) >= 200  # all but the last group commit's rows
    for row in found:
        assert row["label"] in ("billing", "clinical", "other")
        assert sum(row["probabilities"]) == pytest.approx(1.0, abs=1e-4)
        assert len(row["fingerprint"]) == BUCKETS
        assert row["latency_ms"] > 0


def test_rotation_and_the_size_cap_keep_the_folder_bounded(tmp_path):
    log = PredictionLog(tmp_path, META, rotate_bytes=64 << 10, max_bytes=300 << 10)
    for i in range(6000):
        log.append("predictions", _row(i))
    log.close()
    files = log_files(tmp_path)
    assert log.counts.rotations >= 3
    assert log.counts.deleted_files >= 1
    assert sum(p.stat().st_size for p in files) <= 300 << 10
    kept = [row["request_id"] for row in rows(tmp_path)]
    assert kept == sorted(kept, key=lambda r: int(r[1:]))  # oldest first, no gaps inside
    assert kept[-1] == "r5999"
    assert int(kept[-1][1:]) - int(kept[0][1:]) + 1 == len(kept)


def test_every_queued_row_is_written_on_close(tmp_path):
    log = PredictionLog(tmp_path, META, rotate_bytes=1 << 30, max_bytes=1 << 30)
    for i in range(5000):
        log.append("predictions", _row(i))
    log.close()
    assert log.counts.rows == 5000
    assert len(list(rows(tmp_path))) == 5000


def test_export_writes_jsonl_and_parquet_with_the_shadow_answer(tmp_path):
    folder = tmp_path / "log"
    log = PredictionLog(folder, META, rotate_bytes=1 << 30, max_bytes=1 << 30)
    for i in range(3):
        log.append("predictions", _row(i))
    log.append("shadow", (utc_now(), "r1", 0, "answered", "b", "[0.1, 0.9]", 812.0, 0))
    log.close()
    written = export_log(folder, tmp_path / "out.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert written.rows == 3
    assert lines[0]["shadow"] is None
    assert lines[1]["shadow"] == {"status": "answered", "label": "b", "probabilities": [0.1, 0.9],
                                  "latency_ms": 812.0, "agrees": False}  # fmt: skip
    assert lines[0]["meta"]["labels"] == "a,b"
    export_log(folder, tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 3
    assert table.schema.metadata[b"stillroom.labels"] == b"a,b"
    with pytest.raises(LogExportError, match="already exists"):
        export_log(folder, tmp_path / "out.jsonl")


def test_export_carries_the_failed_requests_and_reads_a_log_from_before_them(tmp_path):
    folder = tmp_path / "log"
    log = PredictionLog(folder, META, rotate_bytes=1 << 30, max_bytes=1 << 30)
    log.append("predictions", _row(0))
    log.append("errors", (utc_now(), "r9", "ab" * 32, 500, "model_error", 3))
    log.close()
    written = export_log(folder, tmp_path / "out.jsonl")
    assert (written.rows, written.errors) == (1, 1)
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert "error" not in lines[0]
    assert {k: lines[1][k] for k in ("request_id", "error", "status", "texts")} == {
        "request_id": "r9", "error": "model_error", "status": 500, "texts": 3}  # fmt: skip
    export_log(folder, tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["error"] for r in table] == [None, "model_error"]
    with sqlite3.connect(folder / CURRENT) as conn:  # a log written before errors were logged
        conn.execute("DROP TABLE errors")
    assert export_log(folder, tmp_path / "old.jsonl").errors == 0


def test_serve_log_export_from_the_cli(tmp_path, capsys):
    from core.cli import main

    log = PredictionLog(tmp_path / "log", META, rotate_bytes=1 << 30, max_bytes=1 << 30)
    log.append("predictions", _row(0))
    log.close()
    assert serve_commands  # registered with the CLI
    code = main(["serve-log", "export", str(tmp_path / "log"), "--out", str(tmp_path / "x.jsonl")])
    assert code == 0
    assert "wrote 1 predictions" in capsys.readouterr().out


def test_the_fingerprint_is_a_fixed_width_count_vector():
    vector = counts("The cat sat. The cat sat!")
    assert vector.shape == (BUCKETS,)
    assert int(vector.sum()) == 6 + 5  # six words, five bigrams
    assert (decode(fingerprint("The cat sat. The cat sat!")) == vector).all()
    assert (counts("the CAT sat the cat sat") == vector).all()  # case and punctuation


def test_encrypted_inputs_round_trip_with_the_servers_key(bundle, tmp_path):
    from cryptography.fernet import Fernet

    key = tmp_path / "input.key"
    key.write_bytes(Fernet.generate_key())
    secret = "Mrs Ottilie Vandersloot, MRN 5512348"
    with running_server(bundle, tmp_path, "--keep-inputs", "encrypted",
                        "--input-key-file", str(key)) as server:  # fmt: skip
        assert httpx.post(server.infer_url(), json=infer_body(secret)).status_code == 200
    kept = [row["input"] for row in rows(server.log_dir)]
    assert kept[0]["kind"] == "encrypted"
    for path in server.log_dir.iterdir():
        assert b"Vandersloot" not in path.read_bytes()
    assert Fernet(key.read_bytes()).decrypt(kept[0]["text"].encode()).decode() == secret
