"""The Triton target: a model repository ``triton/<name>/config.pbtxt`` + ``1/model.onnx``.

The config is written from the ONNX graph's own inputs and outputs, so names, dtypes and
dynamic dimensions cannot drift from the model. ``parse_pbtxt`` reads the protobuf text
format back (the subset Triton configs use) so that verify and the tests can check it
without Triton's protobuf definitions.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import BundleVerifyError
from core.export import bundle_format as fmt
from core.export.serving import Manifest, Serving, Target, TensorSpec

_FOLDER = "triton"  # the repository's folder in the bundle, and the manifest section
# ONNX Runtime's type strings → Triton's data types.
DTYPES = {
    "tensor(float)": "TYPE_FP32",
    "tensor(float16)": "TYPE_FP16",
    "tensor(double)": "TYPE_FP64",
    "tensor(int64)": "TYPE_INT64",
    "tensor(int32)": "TYPE_INT32",
    "tensor(int8)": "TYPE_INT8",
    "tensor(uint8)": "TYPE_UINT8",
    "tensor(bool)": "TYPE_BOOL",
    "tensor(string)": "TYPE_STRING",
}
_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|([{}\[\]:,])|("(?:[^"\\]|\\.)*")|([^\s{}\[\]:,"#]+))')


def _dims(spec: TensorSpec, *, batched: bool = True) -> list[int]:
    """The dims (without the batch dimension when batched); every dynamic one is -1."""
    shape = spec.shape[1:] if batched else spec.shape
    return [d if isinstance(d, int) and d > 0 else -1 for d in shape]


def render_config(
    name: str,
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec],
    *,
    max_batch_size: int,
) -> str:
    """``config.pbtxt`` for the ONNX Runtime backend with dynamic batching.

    Raises:
        ValueError: a tensor's type has no Triton equivalent.
    """
    lines = [
        f'name: "{name}"',
        'backend: "onnxruntime"',
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {max_batch_size}",
    ]
    for section, tensors in (("input", inputs), ("output", outputs)):
        lines.append(f"{section} [")
        entries = [_tensor(t) for t in tensors]
        lines.append(",\n".join(entries))
        lines.append("]")
    lines += [
        "dynamic_batching { }",
        "instance_group [",
        "  {",
        "    count: 1",
        "    kind: KIND_AUTO",
        "  }",
        "]",
    ]
    return "\n".join(lines) + "\n"


def _tensor(spec: TensorSpec) -> str:
    if spec.type not in DTYPES:
        raise ValueError(f"{spec.name} has type {spec.type}, which Triton has no type for")
    dims = ", ".join(str(d) for d in _dims(spec))
    return (
        f'  {{\n    name: "{spec.name}"\n    data_type: {DTYPES[spec.type]}\n'
        f"    dims: [ {dims} ]\n  }}"
    )


def parse_pbtxt(text: str) -> dict[str, Any]:
    """Parse protobuf text format into dicts; repeated fields become lists.

    Raises:
        ValueError: the text is not well formed.
    """
    tokens = [m for m in _tokens(text)]
    value, position = _message(tokens, 0, closing=None)
    if position != len(tokens):
        raise ValueError(f"unexpected {tokens[position]!r} at the top level")
    return value


def _tokens(text: str) -> list[str]:
    out, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip():
                raise ValueError(f"cannot read the config near {text[position : position + 20]!r}")
            break
        position = match.end()
        comment, punct, quoted, word = match.groups()
        if comment is None:
            out.append(punct or quoted or word)
    return out


def _message(tokens: list[str], i: int, closing: str | None) -> tuple[dict[str, Any], int]:
    fields: dict[str, Any] = {}
    while i < len(tokens) and tokens[i] != closing:
        key = tokens[i]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"expected a field name, got {key!r}")
        i += 1
        if i < len(tokens) and tokens[i] == ":":
            i += 1
        if i >= len(tokens):
            raise ValueError(f"{key} has no value")
        value, i = _value(tokens, i)
        _add(fields, key, value)
        if i < len(tokens) and tokens[i] in (",", ";"):
            i += 1
    if closing is not None:
        if i >= len(tokens):
            raise ValueError(f"a {closing!r} is missing")
        i += 1
    return fields, i


def _value(tokens: list[str], i: int) -> tuple[Any, int]:
    token = tokens[i]
    if token == "{":
        return _message(tokens, i + 1, "}")
    if token == "[":
        items: list[Any] = []
        i += 1
        while i < len(tokens) and tokens[i] != "]":
            item, i = _value(tokens, i)
            items.append(item)
            if i < len(tokens) and tokens[i] == ",":
                i += 1
        if i >= len(tokens):
            raise ValueError("a ']' is missing")
        return items, i + 1
    if token in ("}", "]", ":", ","):
        raise ValueError(f"unexpected {token!r}")
    return _scalar(token), i + 1


def _scalar(token: str) -> Any:
    if token.startswith('"'):
        return bytes(token[1:-1], "utf-8").decode("unicode_escape")
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    if re.fullmatch(r"-?\d+\.\d*(e-?\d+)?", token):
        return float(token)
    return token  # an enum name (TYPE_FP32, KIND_AUTO) or true/false


def _add(fields: dict[str, Any], key: str, value: Any) -> None:
    """Repeated keys and ``[...]`` lists both end up as one list under the key."""
    if key not in fields:
        fields[key] = value
        return
    existing = fields[key]
    fields[key] = (existing if isinstance(existing, list) else [existing]) + (
        value if isinstance(value, list) else [value]
    )


def config_problems(
    config: dict[str, Any], name: str, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]
) -> list[str]:
    """Where a parsed ``config.pbtxt`` disagrees with the ONNX graph; empty when it fits."""
    problems = []
    if config.get("name") != name:
        problems.append(f"name is {config.get('name')!r}, the folder is {name!r}")
    if config.get("platform") != "onnxruntime_onnx" and config.get("backend") != "onnxruntime":
        problems.append("neither the onnxruntime backend nor the onnxruntime_onnx platform")
    batch = config.get("max_batch_size")
    if not isinstance(batch, int) or batch < 0:
        problems.append("max_batch_size is missing or negative")
    for section, graph in (("input", inputs), ("output", outputs)):
        declared = _as_list(config.get(section))
        by_name = {str(t.get("name")): t for t in declared if isinstance(t, dict)}
        if sorted(by_name) != sorted(t.name for t in graph):
            problems.append(f"{section} names {sorted(by_name)} != graph {[t.name for t in graph]}")
            continue
        for spec in graph:
            entry = by_name[spec.name]
            if entry.get("data_type") != DTYPES.get(spec.type):
                problems.append(f"{spec.name}: data_type {entry.get('data_type')} != {spec.type}")
            dims = _as_list(entry.get("dims"))
            expected = _dims(spec) if batch else _dims(spec, batched=False)
            if dims != expected:
                problems.append(f"{spec.name}: dims {dims} != {expected}")
    return problems


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _section(serving: Serving) -> dict[str, Any]:
    folder = f"{_FOLDER}/{serving.name}"
    return {
        "model_name": serving.name,
        "config": f"{folder}/config.pbtxt",
        "model_file": f"{folder}/1/{fmt.MODEL}",
        "max_batch_size": serving.max_batch_size,
    }


def _write(root: Path, serving: Serving, section: dict[str, Any]) -> None:
    config = render_config(
        serving.name, serving.inputs, serving.outputs, max_batch_size=serving.max_batch_size
    )
    (root / section["model_file"]).parent.mkdir(parents=True)
    (root / section["config"]).write_text(config, encoding="utf-8")
    shutil.copyfile(serving.model, root / section["model_file"])


_SECTION_FIELDS = {"model_name": str, "config": str, "model_file": str}


def _check(root: Path, manifest: Manifest) -> None:
    triton = manifest[TRITON.key]
    problems = fmt.missing_fields(triton, _SECTION_FIELDS, "triton.")
    if problems:
        raise BundleVerifyError(fmt.MANIFEST, "schema: " + "; ".join(problems))
    config_file, model_file = triton["config"], triton["model_file"]
    try:
        parsed = parse_pbtxt((root / config_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleVerifyError(config_file, f"not a readable Triton config ({exc})") from exc
    shipped = manifest["files"].get(manifest["model"]["file"], {}).get("sha256")
    if manifest["files"].get(model_file, {}).get("sha256") != shipped:
        raise BundleVerifyError(model_file, "is not the bundle's shipped model")
    # Same bytes as the shipped model, whose graph was checked against the manifest.
    inputs, outputs = (
        [TensorSpec(t["name"], t["dtype"], tuple(t["shape"])) for t in manifest["model"][kind]]
        for kind in ("inputs", "outputs")
    )
    problems = config_problems(parsed, triton["model_name"], inputs, outputs)
    if problems:
        raise BundleVerifyError(config_file, "; ".join(problems[:3]))


def _instructions(bundle: Path, manifest: Manifest) -> list[str]:
    name = str(manifest[TRITON.key]["model_name"])
    folder = shlex.quote(f"{bundle}/{_FOLDER}/{name}")
    inputs = ", ".join(str(t["name"]) for t in manifest["model"]["inputs"])
    lines = [
        "Serve with NVIDIA Triton Inference Server",
        "1. Copy the model folder into the server's model repository (here /models):",
        f"     scp -r {folder} SERVER:/models/",
        "2. Start Triton on that repository (ONNX Runtime backend):",
        "     tritonserver --model-repository=/models",
        f'3. The model "{name}" takes {inputs}',
        "   (INT64, batch x tokens) and returns logits. Tokenize with the bundle's",
        f"   {manifest['tokenizer']['file']}, truncated to {manifest['max_length']} tokens.",
    ]
    if manifest["task"] == "classification":
        lines.append(
            f"   softmax(logits / {float(manifest['calibration']['temperature']):.4g}) gives "
            f"the calibrated probabilities, in the order of {fmt.LABELS}."
        )
    return lines


TRITON = Target(
    key=_FOLDER,
    title="NVIDIA Triton Inference Server",
    section=_section,
    write=_write,
    check=_check,
    checked="the Triton config matches the graph",
    instructions=_instructions,
)
