"""A Triton model repository for the bundle: ``triton/<name>/config.pbtxt`` + ``1/model.onnx``.

The config is written from the ONNX graph's own inputs and outputs, so names, dtypes and
dynamic dimensions cannot drift from the model. ``parse_pbtxt`` reads the protobuf text
format back (the subset Triton configs use) so that verify and the tests can check it
without Triton's protobuf definitions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One graph input or output: its name, ONNX type and shape (str/None = dynamic)."""

    name: str
    type: str
    shape: tuple[int | str | None, ...]

    def triton_dims(self) -> list[int]:
        """The dims without the batch dimension; every dynamic one is -1."""
        return [d if isinstance(d, int) and d > 0 else -1 for d in self.shape[1:]]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.type, "shape": list(self.shape)}


def graph_io(session: Any) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The inputs and outputs of an ONNX Runtime session."""

    def specs(nodes: Sequence[Any]) -> list[TensorSpec]:
        return [TensorSpec(n.name, n.type, tuple(n.shape)) for n in nodes]

    return specs(session.get_inputs()), specs(session.get_outputs())


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
    dims = ", ".join(str(d) for d in spec.triton_dims())
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
            expected = (
                spec.triton_dims()
                if batch
                else [d if isinstance(d, int) and d > 0 else -1 for d in spec.shape]
            )
            if dims != expected:
                problems.append(f"{spec.name}: dims {dims} != {expected}")
    return problems


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
