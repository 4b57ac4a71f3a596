"""A serving target: the layout a bundle carries for one serving stack (DESIGN §8), and the
model's graph inputs and outputs it is written from. :data:`core.export.targets.TARGETS`
lists the targets. Light on purpose: ``bundle verify`` imports it.
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


@dataclass(frozen=True, slots=True)
class Serving:
    """What a target lays out: the shipped ONNX ``model``, served as ``name`` (``--name``)
    with its graph's ``inputs`` and ``outputs``, in batches of at most ``max_batch_size``."""

    name: str
    model: Path
    inputs: Sequence[TensorSpec]
    outputs: Sequence[TensorSpec]
    max_batch_size: int


@dataclass(frozen=True, slots=True)
class Target:
    """One serving stack's layout in the bundle.

    Attributes:
        key: its manifest section and its folder in the bundle (``triton``).
        title: the stack's name (``NVIDIA Triton Inference Server``).
        section: its manifest section, from the :class:`Serving`.
        write: writes its files under the bundle root, as its section describes them.
        check: raises :class:`~core.errors.BundleVerifyError` (naming the file) where its
            files do not fit the manifest or the model; run by ``bundle verify`` once the
            signature and every checksum passed.
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
