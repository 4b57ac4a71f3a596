"""The bundle's KServe manifests: valid against KServe's own CRD schemas, naming the bundle's
model and the ``stillroom serve`` runtime, and checked by ``bundle verify``. (No cluster here:
the manifests were not applied to one.)"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.errors import BundleVerifyError
from core.export.handoff import serving_instructions
from core.export.kserve import KSERVE, service_name
from core.export.verify import verify_bundle

FIXTURES = Path(__file__).parents[2] / "fixtures" / "kserve"


def _schema(name: str) -> dict[str, Any]:
    return json.loads(gzip.decompress((FIXTURES / name).read_bytes()))


def _unknown_fields(document: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Fields the schema does not declare (kubectl --validate=strict refuses them)."""
    if isinstance(document, dict) and "properties" in schema:
        found = []
        for key, value in document.items():
            if key not in schema["properties"]:
                found.append(f"{where}.{key}")
            else:
                found += _unknown_fields(value, schema["properties"][key], f"{where}.{key}")
        return found
    if isinstance(document, list) and "items" in schema:
        return [f for i, v in enumerate(document)
                for f in _unknown_fields(v, schema["items"], f"{where}[{i}]")]  # fmt: skip
    return []


@pytest.mark.parametrize(
    ("file", "schema"),
    [("inferenceservice.yaml", "inferenceservice-v1beta1.schema.json.gz"),
     ("servingruntime.yaml", "servingruntime-v1alpha1.schema.json.gz")],
)  # fmt: skip
def test_the_manifests_fit_kserves_crd_schemas(bundle, file, schema):
    jsonschema = pytest.importorskip("jsonschema")
    document = yaml.safe_load((bundle / "kserve" / file).read_text())
    crd = _schema(schema)
    jsonschema.validate(document, crd)
    assert _unknown_fields(document, crd) == []


def test_the_manifests_run_stillroom_serve_on_the_mounted_bundle(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    section = manifest["kserve"]
    service = yaml.safe_load((bundle / section["inference_service"]).read_text())
    runtime = yaml.safe_load((bundle / section["serving_runtime"]).read_text())
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"] == section["runtime"]
    assert model["protocolVersion"] == "v2"
    assert service["metadata"]["name"] == service_name(manifest["name"])
    command = runtime["spec"]["containers"][0]["command"]
    assert command[:3] == ["stillroom", "serve", "/mnt/models"]
    assert verify_bundle(bundle).targets_checked[-1].startswith("the KServe manifests")
    steps = serving_instructions(bundle)
    assert "kubectl apply -f servingruntime.yaml -f inferenceservice.yaml" in steps


def test_a_manifest_naming_another_runtime_fails_verify(bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    path = copy / "kserve" / "inferenceservice.yaml"
    document = yaml.safe_load(path.read_text())
    document["spec"]["predictor"]["model"]["runtime"] = "another"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(BundleVerifyError, match=r"kserve/inferenceservice\.yaml"):  # signed
        verify_bundle(copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    with pytest.raises(BundleVerifyError, match="names another runtime"):
        KSERVE.check(copy, manifest)


@pytest.mark.parametrize(
    ("name", "label"),
    [("tiny", "tiny"), ("Ward_7.Triage", "ward-7-triage"), ("__", "stillroom-model")],
)
def test_service_names_are_dns_labels(name, label):
    assert service_name(name) == label
