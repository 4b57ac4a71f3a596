"""``stillroom serve`` over the Open Inference Protocol v2, from real HTTP clients on loopback.

One server for the module (started with the real CLI in a subprocess); each test sends its
requests and checks the answers, the errors and that the server stays up.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time

import httpx
import numpy as np
import pytest
from serve_helpers import environment, infer_body, running_server, serve_command

from core.export.predict import predict
from core.serve.server import free_port

TEXTS = ("the invoice was charged twice", "the wound is healing well", "hello there")


@pytest.fixture(scope="module")
def server(bundle, tmp_path_factory):
    with running_server(bundle, tmp_path_factory.mktemp("serve")) as running:
        yield running


def test_health_and_model_metadata(server):
    assert httpx.get(f"{server.url}/v2/health/live").status_code == 200
    assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
    assert httpx.get(f"{server.url}/v2/models/tiny/ready").status_code == 200
    metadata = httpx.get(f"{server.url}/v2/models/tiny").json()
    assert metadata["name"] == "tiny"
    assert metadata["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert [o["name"] for o in metadata["outputs"]] == ["label", "probabilities", "confidence"]


def test_infer_with_the_triton_client_matches_predict(server, bundle):
    tritonclient = pytest.importorskip("tritonclient.http")
    client = tritonclient.InferenceServerClient(server.url.removeprefix("http://"))
    tensor = tritonclient.InferInput("text", [len(TEXTS)], "BYTES")
    # JSON tensors: the binary-data extension is Triton's, not part of the v2 protocol.
    tensor.set_data_from_numpy(np.array([t.encode() for t in TEXTS], dtype=np.object_),
                               binary_data=False)  # fmt: skip
    outputs = [tritonclient.InferRequestedOutput(name, binary_data=False)
               for name in ("label", "probabilities", "confidence")]  # fmt: skip
    result = client.infer("tiny", [tensor], outputs=outputs, request_id="req-1")
    # One request is one padded batch on the server: predict the same batch to compare.
    expected = predict(bundle, list(TEXTS), batch_size=len(TEXTS))
    labels = [str(v) for v in result.as_numpy("label")]
    assert labels == [p.label for p in expected.predictions]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (len(TEXTS), 3)
    for row, p in zip(probabilities, expected.predictions, strict=True):
        assert row == pytest.approx(list(p.probabilities.values()), abs=1e-4)
    assert result.as_numpy("confidence") == pytest.approx(probabilities.max(axis=1), abs=1e-5)
    assert result.get_response()["id"] == "req-1"


def test_one_text_and_a_batch_answer_alike(server):
    one = httpx.post(server.infer_url(), json=infer_body(TEXTS[0])).json()
    many = httpx.post(server.infer_url(), json=infer_body(*TEXTS)).json()
    assert one["outputs"][0]["data"] == many["outputs"][0]["data"][:1]
    # Dynamic INT8 scales its activations per batch: a batch moves probabilities a little.
    assert one["outputs"][1]["data"] == pytest.approx(many["outputs"][1]["data"][:3], abs=2e-3)
    assert json.loads(many["parameters"]["labels"]) == ["billing", "clinical", "other"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (infer_body("x", name="txt"), 400, "one input named 'text'"),
        (infer_body("x", datatype="FP32"), 400, "must be BYTES"),
        (infer_body(), 400, "holds no text"),
        (infer_body("   "), 400, "text 1 is empty"),
        (infer_body("a" * (1 << 20)), 413, "the limit is 65,536"),
        ({"inputs": [{"name": "text", "datatype": "WORDS", "shape": [1], "data": ["x"]}]},
         400, "malformed request"),
        ({"inputs": "nope"}, 400, "malformed request"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_message_and_the_server_stays_up(server, body, status, message):
    answer = httpx.post(server.infer_url(), json=body, timeout=30)
    assert answer.status_code == status
    assert message in answer.json()["error"]
    assert httpx.post(server.infer_url(), json=infer_body("still up")).status_code == 200


def test_a_refused_request_is_logged_with_its_kind_and_without_its_text(server):
    from core.serve.predlog import error_rows

    secret = "Zebulon Quartermaine 078-05-1120"
    bad = {**infer_body(secret, name="txt"), "id": "refused-1"}
    assert httpx.post(server.infer_url(), json=bad).status_code == 400
    huge = {**infer_body(secret + "a" * 70_000), "id": "refused-2"}
    assert httpx.post(server.infer_url(), json=huge).status_code == 413
    malformed = {"id": "refused-3", "inputs": [{"name": "text", "datatype": "WORDS",
                                                "shape": [1], "data": [secret]}]}  # fmt: skip
    assert httpx.post(server.infer_url(), json=malformed).status_code == 400
    found: dict[str, dict] = {}
    for _ in range(100):
        found = {r["request_id"]: r for r in error_rows(server.log_dir)}
        if {"refused-1", "refused-2"} <= found.keys():
            break
        time.sleep(0.1)
    assert (found["refused-1"]["error"], found["refused-1"]["status"]) == ("bad_request", 400)
    assert found["refused-1"]["texts"] == 1
    assert (found["refused-2"]["error"], found["refused-2"]["status"]) == ("too_large", 413)
    # refused before it reached the model (FastAPI's validation): logged, its id unknown
    assert any(r["error"] == "bad_request" and r["texts"] is None for r in found.values())
    for path in server.log_dir.iterdir():
        data = path.read_bytes()
        for fragment in ("Zebulon", "Quartermaine", "078-05-1120", "txt"):
            assert fragment.encode() not in data, (path.name, fragment)


def test_unknown_model_and_repository_endpoints_answer_errors(server):
    answer = httpx.post(server.infer_url("other"), json=infer_body("x"))
    assert answer.status_code == 404
    assert "error" in answer.json()
    # Nothing may unload or swap the served model at run time.
    gone = httpx.post(f"{server.url}/v2/repository/models/tiny/unload")
    assert gone.status_code == 404
    assert httpx.get(f"{server.url}/v2/models/tiny/ready").status_code == 200


def test_prometheus_metrics_count_requests_errors_and_batches(server):
    httpx.post(server.infer_url(), json=infer_body("count me"))
    text = httpx.get(server.metrics_url).text
    names = ("stillroom_requests_total", "stillroom_errors_total",
             "stillroom_request_latency_seconds_bucket", "stillroom_batch_size_bucket")  # fmt: skip
    for name in names:
        assert name in text, name


def test_no_raw_text_in_the_log_by_default(server):
    secret = "Zebulon Quartermaine 078-05-1120 lives at 42 Wallaby Way"
    assert httpx.post(server.infer_url(), json=infer_body(secret)).status_code == 200
    _wait_for_row_of_length(server.log_dir, len(secret))
    for path in server.log_dir.iterdir():
        data = path.read_bytes()
        for fragment in ("Zebulon", "Quartermaine", "078-05-1120", "Wallaby"):
            assert fragment.encode() not in data, (path.name, fragment)


def test_a_tampered_bundle_never_serves(bundle, tmp_path):
    copy = tmp_path / "tampered"
    shutil.copytree(bundle, copy)
    labels = copy / "labels.json"
    labels.write_text(labels.read_text().replace("billing", "bi11ing"))
    done = subprocess.run(
        serve_command(copy, "--port", str(free_port())), env=environment(), capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "refusing to serve: bundle verification failed: labels.json" in done.stderr
    assert "ready on" not in done.stderr


def _wait_for_row_of_length(folder, length, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    query = "SELECT COUNT(*) FROM predictions WHERE input_chars = ?"
    while time.monotonic() < deadline:
        with sqlite3.connect(folder / "predictions.db") as conn:
            if conn.execute(query, (length,)).fetchone()[0]:
                return
        time.sleep(0.1)
    raise AssertionError("the log rows did not arrive")
