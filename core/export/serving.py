"""What a serving target is: a layout a bundle carries for one serving stack (DESIGN §8).

A :class:`Target` writes its files into the bundle being assembled (next to the shipped
``model.onnx``), describes them in the manifest under its own key, checks them in ``bundle
verify``, and says how to deploy them. :data:`core.export.targets.TARGETS` lists them; every
bundle carries every target. Light on purpose (no onnxruntime): ``bundle verify`` reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Manifest = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One graph input or output: its name, ONNX type and shape (str/None = dynamic)."""

    name: str
    type: str
    shape: tuple[int | str | None, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.type, "shape": list(self.shape)}


def graph_io(session: Any) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The inputs and outputs of an ONNX Runtime session."""

    def specs(nodes: Sequence[Any]) -> list[TensorSpec]:
        return [TensorSpec(n.name, n.type, tuple(n.shape)) for n in nodes]

    return specs(session.get_inputs()), specs(session.get_outputs())


def manifest_io(manifest: Manifest) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The shipped model's inputs and outputs as the manifest records them."""
    inputs, outputs = (
        [TensorSpec(t["name"], t["dtype"], tuple(t["shape"])) for t in manifest["model"][kind]]
        for kind in ("inputs", "outputs")
    )
    return inputs, outputs


@dataclass(frozen=True, slots=True)
class Serving:
    """What a target is given to describe and write its layout.

    Attributes:
        name: the served model's name (``--name``; Triton's model folder).
        model: the shipped ONNX file.
        inputs: the model's graph inputs.
        outputs: its graph outputs.
        max_batch_size: the largest batch a server may form.
    """

    name: str
    model: Path
    inputs: Sequence[TensorSpec]
    outputs: Sequence[TensorSpec]
    max_batch_size: int


@dataclass(frozen=True, slots=True)
class Target:
    """One serving stack's layout in the bundle.

    Attributes:
        key: its manifest section and folder in the bundle (``triton``).
        title: what people call the stack (``NVIDIA Triton Inference Server``).
        section: the manifest section describing its files, from the :class:`Serving`.
        write: writes its files under the bundle root, given the section.
        check: raises :class:`~core.errors.BundleVerifyError` (naming the file) when its files
            do not fit the manifest or the model; run by ``bundle verify`` on a bundle whose
            checksums and signature already passed.
        checked: what a passed ``check`` proves, for the verify report.
        instructions: copy-ready deploy steps, given the bundle folder and the manifest.
    """

    key: str
    title: str
    section: Callable[[Serving], dict[str, Any]]
    write: Callable[[Path, Serving, dict[str, Any]], None]
    check: Callable[[Path, Manifest], None]
    checked: str
    instructions: Callable[[Path, Manifest], list[str]]
