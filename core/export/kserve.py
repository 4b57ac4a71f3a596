"""The KServe target: ``kserve/servingruntime.yaml`` + ``kserve/inferenceservice.yaml``.

The runtime is ``stillroom serve`` itself (MLServer inside, Open Inference Protocol v2),
so a pod verifies the bundle (signature and every checksum) before it reports ready, exactly
as on a single server: KServe's storage initializer puts the bundle folder at
``/mnt/models`` and the container serves it. The image is the hospital's own build of
Stillroom with the ``serve`` extra (docs/INSTALL.md); the manifests name it
``stillroom-serve:<version>`` and the bundle's location as a PVC, both to be set on a copy
before ``kubectl apply`` (the copies inside the bundle stay as signed).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from core.errors import BundleVerifyError
from core.export import bundle_format as fmt
from core.export.serving import Manifest, Serving, Target

_FOLDER = "kserve"
RUNTIME = "stillroom-mlserver"
MODEL_FORMAT = "stillroom"
MOUNT = "/mnt/models"  # where KServe's storage initializer puts storageUri's content
_PORTS = {"http": 8080, "grpc": 8081, "metrics": 8082}


def service_name(name: str) -> str:
    """``name`` as a DNS-1123 label (what an InferenceService may be called)."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return label or "stillroom-model"


def _image() -> str:
    import core

    return f"stillroom-serve:{core.__version__}"


def serving_runtime() -> dict[str, Any]:
    """The ServingRuntime that runs ``stillroom serve`` on the mounted bundle."""
    command = ["stillroom", "serve", MOUNT, "--host", "0.0.0.0", "--port", str(_PORTS["http"]),
               "--grpc-port", str(_PORTS["grpc"]), "--metrics-port", str(_PORTS["metrics"]),
               "--log-dir", "/var/log/stillroom"]  # fmt: skip
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": RUNTIME},
        "spec": {
            "supportedModelFormats": [{"name": MODEL_FORMAT, "version": "1", "autoSelect": True}],
            "protocolVersions": ["v2"],
            "annotations": {
                "prometheus.kserve.io/port": str(_PORTS["metrics"]),
                "prometheus.kserve.io/path": "/metrics",
            },
            "containers": [
                {
                    "name": "kserve-container",
                    "image": _image(),
                    "command": command,
                    "env": [{"name": "STILLROOM_BUNDLE_KEY", "value": "PIN-THE-SIGNER-KEY-ID"}],
                    "ports": [
                        {"containerPort": _PORTS["http"], "name": "http1", "protocol": "TCP"}
                    ],
                    "resources": {
                        "requests": {"cpu": "1", "memory": "1Gi"},
                        "limits": {"cpu": "2", "memory": "2Gi"},
                    },
                }
            ],
        },
    }


def inference_service(serving: Serving) -> dict[str, Any]:
    """The InferenceService of the bundle's model on :func:`serving_runtime`."""
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": service_name(serving.name)},
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "maxReplicas": 4,
                "model": {
                    "modelFormat": {"name": MODEL_FORMAT, "version": "1"},
                    "runtime": RUNTIME,
                    "protocolVersion": "v2",
                    "storageUri": f"pvc://stillroom-bundles/{service_name(serving.name)}",
                },
            },
        },
    }


def _section(serving: Serving) -> dict[str, Any]:
    return {
        "model_name": serving.name,
        "service": service_name(serving.name),
        "runtime": RUNTIME,
        "inference_service": f"{_FOLDER}/inferenceservice.yaml",
        "serving_runtime": f"{_FOLDER}/servingruntime.yaml",
    }


def _write(root: Path, serving: Serving, section: dict[str, Any]) -> None:
    import yaml

    (root / _FOLDER).mkdir()
    for key, document in (("serving_runtime", serving_runtime()),
                          ("inference_service", inference_service(serving))):  # fmt: skip
        text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        (root / section[key]).write_text(text, encoding="utf-8")


_SECTION_FIELDS = {"model_name": str, "service": str, "runtime": str,
                   "inference_service": str, "serving_runtime": str}  # fmt: skip


def _check(root: Path, manifest: Manifest) -> None:
    import yaml

    section = manifest[KSERVE.key]
    problems = fmt.missing_fields(section, _SECTION_FIELDS, "kserve.")
    if problems:
        raise BundleVerifyError(fmt.MANIFEST, "schema: " + "; ".join(problems))
    documents = {}
    for key in ("serving_runtime", "inference_service"):
        try:
            documents[key] = yaml.safe_load((root / section[key]).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            problem = f"not readable YAML ({type(exc).__name__})"
            raise BundleVerifyError(section[key], problem) from None
    runtime, service = documents["serving_runtime"], documents["inference_service"]
    model = ((service or {}).get("spec") or {}).get("predictor", {}).get("model") or {}
    checks = [
        ((runtime or {}).get("kind") == "ServingRuntime", section["serving_runtime"],
         "is not a ServingRuntime"),
        ((service or {}).get("kind") == "InferenceService", section["inference_service"],
         "is not an InferenceService"),
        (model.get("runtime") == runtime.get("metadata", {}).get("name") == section["runtime"],
         section["inference_service"], "names another runtime than the bundle's"),
        (service.get("metadata", {}).get("name") == section["service"],
         section["inference_service"], "names another service than the manifest"),
    ]  # fmt: skip
    for ok, file, problem in checks:
        if not ok:
            raise BundleVerifyError(file, problem)


def _instructions(bundle: Path, manifest: Manifest) -> list[str]:
    section = manifest[KSERVE.key]
    folder = shlex.quote(f"{bundle}/{_FOLDER}")
    key_id = (manifest.get("signing") or {}).get("key_id", "sha256:…")
    return [
        "Serve on a Kubernetes cluster with KServe (Open Inference Protocol v2)",
        "1. Build the serving image from your wheelhouse: Stillroom with the 'serve' extra,",
        f"   tagged {_image()} (docs/INSTALL.md, 'Serve').",
        f"2. Copy the bundle folder to the volume the InferenceService reads "
        f"(pvc://stillroom-bundles/{section['service']}).",
        f"3. Copy {folder}/*.yaml out of the bundle; in the copies set the image, the "
        f"storageUri, and STILLROOM_BUNDLE_KEY={key_id} (the signer's key id).",
        "4. kubectl apply -f servingruntime.yaml -f inferenceservice.yaml",
        f'5. The model "{section["model_name"]}" answers POST /v2/models/'
        f'{section["model_name"]}/infer with a BYTES input "text"; a pod whose bundle fails '
        "verification never becomes ready.",
    ]


KSERVE = Target(
    key=_FOLDER,
    title="KServe (stillroom serve runtime)",
    section=_section,
    write=_write,
    check=_check,
    checked="the KServe manifests name the bundle's model and runtime",
    instructions=_instructions,
)
