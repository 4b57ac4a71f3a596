"""``stillroom init``, ``status`` and ``audit``."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from core.configs import to_json
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
    # fmt: off
    init.add_argument("dir", type=Path, metavar="DIR", help="the project folder to create")
    init.add_argument("--task", choices=TASKS, default="classification", help="the task")
    init.add_argument("--labels", default="",
                      help="comma-separated label set, e.g. urgent,routine,spam (classification; "
                      "if omitted, taken from the first import's label column)")
    init.add_argument("--floor", type=float, required=True,
                      help="minimum retention of the teacher's metric the student must reach, "
                      "e.g. 0.95")
    init.add_argument("--min-metric", type=float, help="optional absolute metric floor, 0..1")
    init.add_argument("--max-ece", type=float, help="optional maximum calibration error, 0..1")
    # fmt: on
    init.set_defaults(handler=init_command)

    status = sub.add_parser(
        "status", parents=[common], help="show a project's settings, data, runs and audit head"
    )
    status.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    status.set_defaults(handler=status_command)

    audit_parser = sub.add_parser("audit", help="check, show or export the audit log")
    audit_sub = audit_parser.add_subparsers(title="audit commands", metavar="ACTION")
    _add_audit_verify(audit_sub, common)
    export = audit_sub.add_parser(
        "export",
        parents=[common],
        help="write the chain as JSON lines, for write-once storage",
        description="Write every audit row (ids, times, OS users, actions, details with ids "
        "and counts only, and both hashes) to FILE, one JSON object a line (mode 0600). Keep "
        "it on write-once storage; `stillroom audit verify DIR --against FILE` later proves "
        "that no exported row was removed or rewritten.",
    )
    export.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="the file")
    export.add_argument("--force", action="store_true", help="replace an existing FILE")
    export.set_defaults(handler=audit_export_command)
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
        return {"project": str(project.path), "task": settings.task,
                "labels": list(settings.labels), "floor": to_json(floor),
                "lines": lines}  # fmt: skip


def status_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.status import project_status, render_status

    with Project.open(args.dir) as project:
        status = project_status(project)
    return {**status, "lines": render_status(status)}


def _add_audit_verify(audit_sub: Any, common: argparse.ArgumentParser) -> None:
    verify = audit_sub.add_parser(
        "verify",
        parents=[common],
        help="recompute the hash chain; exit 1 and name the first broken row if any",
        description="Recompute the hash chain: an edited, inserted or deleted row breaks it. "
        "The chain alone cannot show that its newest rows were deleted, or that the whole "
        "chain was rewritten with new hashes; for that, check it against an anchor kept "
        "elsewhere: a head hash recorded earlier (--head), the head a bundle's signed "
        "manifest recorded at export (--bundle), or an export on write-once storage "
        "(--against). Exits 1 when the chain or an anchor does not match.",
    )
    # fmt: off
    verify.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    verify.add_argument("--head", metavar="HASH",
                        help="a head hash recorded earlier: the chain must contain it")
    verify.add_argument("--bundle", type=Path, metavar="BUNDLE",
                        help="the chain must contain the head this bundle's signed manifest "
                        "recorded")
    verify.add_argument("--key", metavar="PUB",
                        help="with --bundle: the public key its signature must match")
    verify.add_argument("--against", type=Path, metavar="FILE",
                        help="an `audit export` file: every row in it must still be here, "
                        "unchanged")
    # fmt: on
    verify.set_defaults(handler=audit_verify_command)


def audit_verify_command(args: argparse.Namespace) -> dict[str, Any]:
    heads = _heads(args)
    exported = None if args.against is None else audit.read_export(args.against.expanduser())
    with Project.open(args.dir) as project:
        result = audit.verify(project.store)
        anchors = [(f"head {value} ({source})", audit.find_head(project.store, value))
                   for source, value in heads]  # fmt: skip
        if exported is not None:
            anchors.append((f"export {args.against}", audit.check_against(project.store, exported)))
    if result.ok:
        lines = [f"audit log intact: {result.rows_checked} rows, head {result.head_hash}"]
    else:
        lines = [
            f"audit log BROKEN at row {result.first_broken_id}: {result.reason}",
            f"  {result.rows_checked} rows before it are intact",
        ]
    lines += [_anchor_line(name, check) for name, check in anchors]
    if not anchors and result.ok:
        lines.append(
            "  note: a chain alone cannot show that its newest rows were deleted or that it "
            "was rewritten whole; check it against a recorded head (--head, --bundle) or an "
            "export (--against)"
        )
    ok = result.ok and all(check.ok for _, check in anchors)
    return {
        "ok": ok,
        "rows_checked": result.rows_checked,
        "head_hash": result.head_hash,
        "first_broken_id": result.first_broken_id,
        "reason": result.reason,
        "anchors": [{"anchor": name, **dataclasses.asdict(c)} for name, c in anchors],
        "lines": lines,
        "exit_code": 0 if ok else 1,
    }


def _heads(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The head hashes to look for: given, and recorded in a bundle's signed manifest.

    Raises:
        UserError: the hash is malformed, or --key is given without --bundle.
        BundleVerifyError: the bundle's signature does not match.
    """
    heads = []
    if args.head is not None:
        if not audit.is_hash(args.head.strip().lower()):
            raise UserError(
                f"--head {args.head!r} is not a chain hash",
                "pass the 64 hex digits `stillroom audit verify` or a bundle's manifest shows",
            )
        heads.append(("given", args.head.strip().lower()))
    if args.key is not None and args.bundle is None:
        raise UserError("--key needs --bundle", "pass the bundle whose signer the key is")
    if args.bundle is not None:
        from core.export.integrity import recorded_audit_head

        heads.append((f"recorded by {args.bundle}", recorded_audit_head(args.bundle, args.key)))
    return heads


def _anchor_line(name: str, check: audit.AnchorCheck) -> str:
    if not check.ok:
        return f"  ANCHOR FAILED: {name}: {check.reason}"
    if check.row is not None:
        return f"  anchor OK: {name} is row {check.row}; no row up to it was removed or changed"
    return f"  anchor OK: {name}: all {check.rows_checked} exported rows are present, unchanged"


def audit_export_command(args: argparse.Namespace) -> dict[str, Any]:
    out = args.out.expanduser()
    with Project.open(args.dir) as project:
        rows, head = audit.write_export(project.store, out, force=args.force)
        project.audit("audit.export", {"rows": rows, "head": head, "out": str(out.absolute())})
    return {
        "out": str(out),
        "rows": rows,
        "head_hash": head,
        "lines": [
            f"wrote {rows} audit rows (head {head}) to {out}",
            "  keep it on write-once storage; later: stillroom audit verify "
            f"{args.dir} --against {out}",
        ],
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
