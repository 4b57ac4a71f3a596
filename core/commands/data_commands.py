"""``stillroom import``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.commands.config_defaults import default, given
from core.data.formats import FORMATS
from core.data.importer import ImportConfig
from core.data.limits import format_size, parse_size
from core.errors import UserError
from core.project import Project

if TYPE_CHECKING:
    from core.data.importer import ImportResult


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    imp = sub.add_parser(
        "import",
        parents=[common],
        help="import a CSV, TSV, JSONL, Parquet or Excel file into a project",
        description="Import a local file (optionally .gz or .bz2 compressed): detect its "
        "format and encoding, drop empty rows and exact duplicates, split it into "
        "train/validation/test with a seeded stratified split, and set aside an edge-case "
        "set (rare labels, longest/shortest, non-ASCII-heavy and flagged rows). Nothing is "
        "written if anything is wrong.",
    )
    imp.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    imp.add_argument("file", type=Path, metavar="FILE", help="the data file")
    _config_options(imp)
    imp.set_defaults(handler=import_command)


def _config_options(imp: argparse.ArgumentParser) -> None:
    split = ",".join(f"{share:g}" for share in _default("split"))
    line, unpacked = (
        format_size(_default(n)) for n in ("max_line_bytes", "max_decompressed_bytes")
    )
    # fmt: off
    imp.add_argument("--text", required=True, metavar="COL", dest="text_column",
                     help="the column with the input")
    imp.add_argument("--label", metavar="COL", dest="label_column",
                     help="the column with a human label (optional)")
    imp.add_argument("--flag", metavar="COL", dest="flag_column",
                     help="a column whose truthy rows (1/true/yes/x) are edge cases")
    imp.add_argument("--split", metavar="T,V,T",
                     help=f"train,validation,test fractions (default {split})")
    imp.add_argument("--seed", type=int, help=f"seed of the split (default {_default('seed')})")
    imp.add_argument("--format", choices=FORMATS,
                     help="the file format, if detection from content and extension is not wanted")
    imp.add_argument("--encoding", help="the text encoding, if detection is not wanted")
    imp.add_argument("--sheet", help="the Excel sheet to read (default: the first)")
    imp.add_argument("--max-chars", type=int,
                     help=f"longest text accepted, in characters (default {_default('max_chars')})")
    imp.add_argument("--skip-oversize", action="store_true", default=None,
                     help="drop and count rows longer than --max-chars instead of refusing the "
                     "file")
    imp.add_argument("--max-line-bytes", type=_size, metavar="SIZE",
                     help="refuse the file at a line, row, Excel cell or Parquet value longer "
                     f"than this (bytes, or with K, M, G; default {line}; never below 4 x "
                     "--max-chars)")
    imp.add_argument("--max-decompressed-bytes", type=_size, metavar="SIZE",
                     help="refuse a .gz or .bz2 file that expands to more than this, or an .xlsx "
                     f"or Parquet file that declares more (default {unpacked})")
    imp.add_argument("--name", help="a name for the dataset (default: the file name)")
    # fmt: on


def _default(name: str) -> Any:
    return default(ImportConfig, name)


def parse_split(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` → a 3-tuple of floats.

    Raises:
        UserError: not three numbers.
    """
    try:
        parts = tuple(float(part) for part in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise UserError(
            f"--split must be three numbers, got {text!r}", "for example --split 0.8,0.1,0.1"
        )
    return parts[0], parts[1], parts[2]


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(exc.one_line()) from exc


def import_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.commands.progress import stage_output
    from core.jobs.registry import IMPORT

    values = given(args, ImportConfig)
    if "split" in values:
        values["split"] = parse_split(values["split"])
    config = ImportConfig(source=args.file.expanduser().resolve(), **values)
    with Project.open(args.dir) as project:
        return stage_output(project, IMPORT, config, render_import)


def render_import(result: ImportResult) -> list[str]:
    """An import result as lines for a terminal (counts only, never contents)."""
    splits = result.split_counts
    lines = [
        f"imported {result.rows_imported:,} records into dataset #{result.dataset_id} "
        f"{result.name!r} ({result.format}, {result.encoding or 'binary format'})",
        f"  read {result.rows_read:,} rows; dropped {result.duplicates_dropped:,} exact "
        f"duplicates ({result.conflicting_labels:,} with a different label), "
        f"{result.empty_dropped:,} empty, {result.oversize_dropped:,} oversize",
        "  split: " + ", ".join(f"{name} {count:,}" for name, count in splits.items()),
    ]
    if result.label_distribution:
        shown = ", ".join(f"{k} {v:,}" for k, v in result.label_distribution.items())
        lines.append(f"  labels: {shown}")
    if result.labels_added:
        lines.append(f"  label set taken from the data: {', '.join(result.labels_added)}")
    if result.edge_reasons:
        shown = ", ".join(f"{k} {v:,}" for k, v in result.edge_reasons.items())
        lines.append(f"  edge cases: {shown}")
    lines.append(f"  sha256 {result.sha256}")
    lines += [f"warning: {warning}" for warning in result.warnings]
    return lines
