"""Pin a dependency closure to the versions installed in this Python (for wheelhouse.sh).

    python packaging/pins.py [--extras cpu] [--pyproject pyproject.toml] [--only PKG ...]

Prints ``name==version`` lines, sorted: the runtime closure of Stillroom's dependencies as
``pyproject.toml`` declares them, with its ``--extras`` (or the closure of the ``--only``
distributions), each at the exact version installed here, following the requirements'
environment markers for this interpreter and platform. Stillroom itself is not pinned (the
wheelhouse builds its wheel from the same source). A requirement that applies here but is
not installed is an error: the pins would not describe a working environment.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


class MissingDistribution(Exception):
    """A required distribution is not installed in this environment."""


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras))


def project_requirements(pyproject: Path, extras: Sequence[str]) -> list[Requirement]:
    """The dependencies ``pyproject.toml`` declares, with those of ``extras``.

    Raises:
        KeyError: an extra that the project does not declare.
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        lines += optional[extra]
    return [Requirement(line) for line in lines]


def closure(roots: Iterable[Requirement]) -> dict[str, str]:
    """Installed version of every distribution that ``roots`` need here, by name.

    Raises:
        MissingDistribution: something that applies on this platform is not installed, or
            is installed at a version its dependant does not accept.
    """
    pins: dict[str, str] = {}
    queue = [(root, "the project") for root in roots if _applies(root, ())]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while queue:
        requirement, parent = queue.pop()
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise MissingDistribution(
                f"{requirement.name} (needed by {parent}) is not installed"
            ) from None
        if not requirement.specifier.contains(dist.version, prereleases=True):
            raise MissingDistribution(
                f"{requirement.name} {dist.version} is installed but {parent} needs "
                f"{requirement.specifier}"
            )
        extras = tuple(sorted(requirement.extras))
        key = (canonicalize_name(requirement.name), extras)
        if key in seen:
            continue
        seen.add(key)
        pins[canonicalize_name(dist.metadata["Name"])] = dist.version
        for line in dist.requires or []:
            child = Requirement(line)
            if _applies(child, extras):
                queue.append((child, requirement.name))
    return pins


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pins.py", description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="cpu", help="extras of stillroom, comma-separated")
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT, help="the project file")
    parser.add_argument("--only", nargs="+", metavar="PKG", help="pin these instead")
    args = parser.parse_args(argv)
    if args.only:
        roots = [Requirement(name) for name in args.only]
    else:
        extras = [extra for extra in args.extras.split(",") if extra]
        roots = project_requirements(args.pyproject, extras)
    try:
        pins = closure(roots)
    except (MissingDistribution, KeyError) as exc:
        sys.stderr.write(f"pins.py: {exc}\n")
        return 2
    sys.stdout.write("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
