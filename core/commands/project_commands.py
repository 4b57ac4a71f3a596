"""``stillroom init``, ``status`` and ``audit``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.project import TASKS, Project, QualityFloor
from core.store import audit


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    init = sub.add_parser(
        "init",
        parents=[common],
        help="create a project folder and set its quality floor",
        description="Create a project in a new or empty folder (mode 0700). The quality "
        "floor is fixed here, before anything is trained.",
    )
    init.add_argument("dir", type=Path, metavar="DIR", help="the project folder to create")
    init.add_argument("--task", choices=TASKS, default="classification", help="the task")
    init.add_argument(
        "--labels",
        default="",
        help="comma-separated label set, e.g. urgent,routine,spam (classification; "
        "if omitted, taken from the first import's label column)",
    )
    init.add_argument(
        "--floor",
        type=float,
        required=True,
        help="minimum retention of the teacher's metric the student must reach, e.g. 0.95",
    )
    init.add_argument("--min-metric", type=float, help="optional absolute metric floor, 0..1")
    init.add_argument("--max-ece", type=float, help="optional maximum calibration error, 0..1")
    init.set_defaults(handler=init_command)

    status = sub.add_parser(
        "status",
        parents=[common],
        help="show a project's settings, data, runs and audit head",
    )
    status.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    status.set_defaults(handler=status_command)

    audit_parser = sub.add_parser("audit", help="check or show the audit log")
    audit_sub = audit_parser.add_subparsers(title="audit commands", metavar="ACTION")
    verify = audit_sub.add_parser(
        "verify",
        parents=[common],
        help="recompute the hash chain; exit 1 and name the first broken row if any",
    )
    verify.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    verify.set_defaults(handler=audit_verify_command)
    show = audit_sub.add_parser("show", parents=[common], help="print the newest entries")
    show.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    show.add_argument("--limit", type=int, default=20, help="how many entries (default 20)")
    show.set_defaults(handler=audit_show_command)


def init_command(args: argparse.Namespace) -> dict[str, Any]:
    labels = tuple(label for label in args.labels.split(",") if label.strip())
    floor = QualityFloor(args.floor, args.min_metric, args.max_ece)
    with Project.create(args.dir, task=args.task, labels=labels, floor=floor) as project:
        settings = project.settings
        lines = [
            f"created project {project.path}",
            f"  task: {settings.task}",
            f"  labels: {', '.join(settings.labels) or '(from the first import)'}",
            f"  quality floor: retention >= {floor.min_retention:g}"
            + (f", metric >= {floor.min_metric:g}" if floor.min_metric is not None else "")
            + (f", ECE <= {floor.max_ece:g}" if floor.max_ece is not None else ""),
            f"next: stillroom import {project.path} FILE --text COLUMN [--label COLUMN]",
        ]
        return {
            "project": str(project.path),
            "task": settings.task,
            "labels": list(settings.labels),
            "floor": {
                "min_retention": floor.min_retention,
                "min_metric": floor.min_metric,
                "max_ece": floor.max_ece,
            },
            "lines": lines,
        }


def status_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.status import project_status, render_status

    with Project.open(args.dir) as project:
        status = project_status(project)
    return {**status, "lines": render_status(status)}


def audit_verify_command(args: argparse.Namespace) -> dict[str, Any]:
    with Project.open(args.dir) as project:
        result = audit.verify(project.store)
    if result.ok:
        lines = [f"audit log intact: {result.rows_checked} rows, head {result.head_hash}"]
    else:
        lines = [
            f"audit log BROKEN at row {result.first_broken_id}: {result.reason}",
            f"  {result.rows_checked} rows before it are intact",
        ]
    return {
        "ok": result.ok,
        "rows_checked": result.rows_checked,
        "head_hash": result.head_hash,
        "first_broken_id": result.first_broken_id,
        "reason": result.reason,
        "lines": lines,
        "exit_code": 0 if result.ok else 1,
    }


def audit_show_command(args: argparse.Namespace) -> dict[str, Any]:
    if args.limit < 1:
        raise UserError("--limit must be at least 1")
    with Project.open(args.dir) as project:
        found = audit.entries(project.store, args.limit)
    rows = [
        {"id": e.id, "time": e.time, "user": e.os_user, "action": e.action, "details": e.details}
        for e in found
    ]
    lines = [f"{e.id:>5}  {e.time[:19]}  {e.os_user:<10} {e.action}" for e in found]
    return {"entries": rows, "lines": lines}
