"""``stillroom train`` (distil a student) and ``stillroom models`` (the local catalogue)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from core.commands.config_defaults import add_numbers, default, given
from core.configs import to_json
from core.errors import RunError, TrainError, TrainOutOfMemoryError, UserError
from core.jobs.registry import TRAIN
from core.project import Project
from core.train.config import (
    DEFAULT_ALPHA,
    DEFAULT_LORA_LR,
    DEFAULT_LR,
    DEFAULT_MAX_LENGTH,
    Balance,
    DeriveFrom,
    HardLabels,
    Precision,
    TrainConfig,
)

if TYPE_CHECKING:
    from core.jobs.execute import RunOutcome
    from core.train.config import TrainResult

MULTI_GPU = (
    "Several GPUs: run the stored run under torchrun, one process per GPU: "
    "`torchrun --nproc_per_node N -m core.train.launch DIR RUN_ID` (or `accelerate launch "
    "-m core.train.launch DIR RUN_ID`); create the run with --create-only."
)


def add(sub: Any, common: argparse.ArgumentParser) -> None:
    train = sub.add_parser(
        "train", parents=[common], help="distil a student model from the teacher's outputs",
        description="Train a student on the anonymized train split with the teacher's soft "
        "labels (classification: alpha*T^2*KL + (1-alpha)*CE on the human label) or text "
        "(generation: SFT plus token-level KL when the tokenizers match), validating on the "
        "validation split. Checkpoints every N steps and on cancel (Ctrl-C); the same "
        "command resumes a stopped run exactly. The merged student lands in "
        "DIR/runs/RUN/student with lineage.json. " + MULTI_GPU,
    )  # fmt: skip
    train.add_argument("dir", type=Path, metavar="DIR", help="the project folder")
    _config_options(train)
    _run_options(train)
    train.set_defaults(handler=train_command)

    models = sub.add_parser(
        "models", parents=[common], help="list local models: size, parameters, memory, tasks",
        description="Scan folders for local Hugging Face model folders and .gguf files and "
        "list their parameter count, size on disk, estimated memory (inference, full "
        "fine-tune, LoRA; before activations) and the tasks they can be a student for. "
        "Without folders: the offline models installed as packages.",
    )  # fmt: skip
    models.add_argument("paths", type=Path, nargs="*", metavar="DIR", help="folders to scan")
    models.add_argument("--project", type=Path, help="also list a project's trained students")
    models.set_defaults(handler=models_command)


# Options that set a TrainConfig number: flag, type, help ({} shows the dataclass's default).
_NUMBERS = (
    ("--layers", int, "layers kept by --derive (default: two thirds of a decoder's, half "
     "of an encoder's)"), ("--lora-rank", int, "LoRA rank (default {})"),
    ("--lora-alpha", int, "LoRA alpha (default {})"),
    ("--epochs", float, "passes over the data (default: by the data's size, 3 to 8)"),
    ("--temperature", float, "distillation T (default {:g})"),
    ("--batch-size", int, "inputs per step per device ({})"),
    ("--grad-accum", int, "steps accumulated per update ({})"),
    ("--checkpoint-every", int, "steps between checkpoints ({})"),
    ("--eval-every", int, "steps between validations"),
    ("--early-stopping", int, "stop after N validations without improvement ({}; 0 = never)"),
    ("--seed", int, "seed (default {}), recorded in the lineage"),
)  # fmt: skip
_FLAGS = (
    ("--lora", "train LoRA adapters"), ("--gradient-checkpointing", None),
    ("--allow-raw-text", "also train on records that were not anonymized (audited)"),
    ("--auto-retry-oom", "on out of memory, retry once at half the batch size"),
)  # fmt: skip


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--student", metavar="PATH", help="a local model folder or .gguf")
    parser.add_argument("--derive", metavar="PATH", help="a larger local model to shrink")
    add_numbers(parser, TrainConfig, _NUMBERS, {"--layers": "K", "--early-stopping": "N"})
    for flag, text in _FLAGS:
        parser.add_argument(flag, action="store_true", default=None, help=text)
    # fmt: off
    parser.add_argument("--teacher-id", help="whose outputs to learn from (default: latest)")
    parser.add_argument("--prompt-version", help="that teacher's prompt version (default: latest)")
    parser.add_argument("--lora-targets", type=lambda s: tuple(s.split(",")),
                        help="modules to adapt, comma-separated (default: per architecture)")
    parser.add_argument("--alpha", type=float,
                        help=f"weight of the soft term (default {DEFAULT_ALPHA:g})")
    parser.add_argument("--hard-labels", choices=get_args(HardLabels), help="CE target: the "
                        f"human label or the teacher's (default {_default('hard_labels')})")
    parser.add_argument("--lr", type=float,
                        help=f"learning rate (default {DEFAULT_LR:g}; LoRA {DEFAULT_LORA_LR:g})")
    lengths = "/".join(str(n) for n in DEFAULT_MAX_LENGTH.values())
    parser.add_argument("--max-length", type=int, help=f"longest input in tokens ({lengths})")
    parser.add_argument("--device",
                        help=f"auto, cpu, cuda or cuda:N (default {_default('device')})")
    parser.add_argument("--precision", choices=get_args(Precision))
    parser.add_argument("--balance", choices=get_args(Balance),
                        help="class-aware training: sampler, weights, off, or auto (the "
                        "sampler when the labels are skewed; default)")
    parser.add_argument("--derive-from", choices=get_args(DeriveFrom),
                        help="cut the derived student from the teacher (when it is a local "
                        "model of the same family), from --derive PATH, or auto (default)")
    parser.add_argument("--augment-rare", type=int, metavar="N",
                        help="the teacher labels N perturbed copies (token dropout and swap, "
                        "seeded) of each rare-class training row, trained on besides the "
                        "records; needs a local classifier teacher (default 0: off)")
    parser.add_argument("--auto", action="store_true", default=None,
                        help="search for the smallest, fastest student whose validation "
                        "retention clears the floor (layers of --derive PATH, learning rate, "
                        "epochs, alpha/T), within --budget")
    parser.add_argument("--budget", type=_duration, dest="budget_s", metavar="TIME",
                        help="time budget of --auto: 30m, 2h, 900s (default 30m)")
    # fmt: on


def _run_options(parser: argparse.ArgumentParser) -> None:
    # fmt: off
    parser.add_argument("--resume", metavar="RUN_ID", help="resume this stopped train run")
    parser.add_argument("--fresh", action="store_true",
                        help="start a new run even if a stopped one has the same settings")
    parser.add_argument("--worker", action="store_true",
                        help="train in a background worker process, showing its events")
    parser.add_argument("--create-only", action="store_true",
                        help="only record the run and print its id (for torchrun)")
    # fmt: on


def _duration(text: str) -> float:
    """``30m``, ``2h``, ``900s`` or ``900`` as seconds."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    text = text.strip().lower()
    scale = units.get(text[-1:], 1.0)
    number = text[:-1] if text[-1:] in units else text
    try:
        seconds = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30m)") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("the budget must be positive")
    return seconds


def _default(name: str) -> Any:
    return default(TrainConfig, name)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The stage config for a new run: the options typed, the dataclass's defaults else.

    Raises:
        TrainError: the options are invalid or contradict each other.
    """
    from core.train.config import resolve_path

    values = given(args, TrainConfig)
    for key in ("student", "derive"):
        if key in values:
            values[key] = str(resolve_path(values[key]))
    config = TrainConfig(**values)
    config.validate()
    return config


def train_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.jobs.locks import stage_lock

    with Project.open(args.dir) as project:
        # Held while a run is picked or created, so a second `train` is refused before it
        # records anything; a worker process takes it itself, so it is released first then.
        with stage_lock(project, TRAIN.key):
            run_id, note = _pick_run(project, args)
            outcome = None if args.create_only or args.worker else _run_here(project, run_id)
        if args.create_only:
            return {"run_id": run_id, "lines": [run_id]}
        if outcome is None:
            outcome = _run_in_worker(project, run_id)
    if outcome.error is not None:
        raise outcome.error
    if outcome.result is None:
        raise UserError(
            f"the train run {run_id} was {outcome.status}; its last step is checkpointed",
            f"run the same command again (or add --resume {run_id}) to continue",
        )
    lines = ([note] if note else []) + render_train(outcome.result)
    return {**to_json(outcome.result), "lines": lines}


def _pick_run(project: Project, args: argparse.Namespace) -> tuple[str, str]:
    """The run to execute: the one named, a stopped one with the same settings, or new."""
    from core.jobs.runs import RESUMABLE, get_run, replace_config, run_config, start_run
    from core.train.stage import with_overrides

    if args.resume:
        run = get_run(project, args.resume)
        if run.stage != TRAIN.key or run.status not in ("pending", *RESUMABLE):
            raise RunError(f"run {run.id} is a {run.stage} run that is {run.status}",
                           "pass a stopped train run (see `stillroom status DIR`)")  # fmt: skip
        given_now = {k: v for k, v in given(args, TrainConfig).items()
                     if k not in ("student", "derive")}  # fmt: skip
        stored = run_config(project, TRAIN, run)
        config = with_overrides(stored, given_now)
        if config != stored:
            replace_config(project, TRAIN, run.id, config, "resume options")
        return run.id, f"resuming {run.id}"
    run_id = start_run(project, TRAIN, config_from_args(args), fresh=args.fresh)
    if get_run(project, run_id).status == "pending":
        return run_id, ""
    return run_id, f"resuming the stopped run {run_id} (same settings; --fresh starts anew)"


def _run_here(project: Project, run_id: str) -> RunOutcome[TrainResult]:
    from core.jobs.execute import execute_run
    from core.jobs.protocol import request_cancel

    run_dir = project.run_dir(run_id)
    pressed: list[bool] = []

    def cancel() -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(True)
        request_cancel(run_dir)

    with _ctrl_c_calls(cancel):
        return execute_run(project, run_id, TrainProgress())


@contextlib.contextmanager
def _ctrl_c_calls(action: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C calls ``action`` (a cancel request: the run checkpoints, then stops)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        sys.stderr.write("\nstopping at the next step (checkpointing); Ctrl-C again to abort\n")
        action()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_in_worker(project: Project, run_id: str) -> RunOutcome[TrainResult]:
    from core.jobs import protocol
    from core.jobs.execute import RunOutcome
    from core.jobs.runs import get_run, run_result
    from core.jobs.worker import WorkerProcess

    worker = WorkerProcess(project.path, run_id)
    render, last_error = TrainProgress(), None
    with _ctrl_c_calls(worker.cancel):  # first: checkpoint and stop; second: kill
        for event in worker.events():
            render(event)
            last_error = event if event["kind"] == "error" else last_error
        code = worker.wait()
    run = get_run(project, run_id)
    error: UserError | None = None
    if code != protocol.EXIT_OK:
        message = (last_error or {}).get("message") or f"the worker exited with code {code}"
        hint = (last_error or {}).get("hint", "")
        error = (TrainOutOfMemoryError(message, hint, suggested_batch_size=0)
                 if code == protocol.EXIT_OUT_OF_MEMORY else TrainError(message, hint))  # fmt: skip
        error.exit_code = code if code > 0 else protocol.EXIT_CRASH  # < 0: killed by a signal
    return RunOutcome(run_id, run.status, code, run_result(project, TRAIN, run), error)


class TrainProgress:
    """Progress bar plus one line per validation (loss and accuracy), on stderr."""

    def __init__(self) -> None:
        from core.commands.progress import TerminalProgress

        self._bar = TerminalProgress()

    def __call__(self, event: dict[str, Any]) -> None:
        self._bar(event)
        if event["kind"] == "metric" and str(event["name"]).startswith("train/eval_"):
            name = str(event["name"]).removeprefix("train/")
            sys.stderr.write(f"  step {event.get('step')}: {name} {event['value']:.4f}\n")
        elif event["kind"] == "progress" and event.get("fraction") == 0.0 and event["message"]:
            sys.stderr.write(f"note: {event['message']}\n")


def render_train(result: TrainResult) -> list[str]:
    """A train result as terminal lines (numbers and paths, never record contents)."""
    best = result.best_val_metric
    shown = "n/a" if best is None else f"{best:.4f}"
    skipped = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in result.skipped.items())
    lines = [
        f"trained student: {result.model_dir}",
        f"  run {result.run_id}"
        + (f", resumed from step {result.resumed_from_step:,}" if result.resumed else ""),
        f"  teacher {result.teacher_id}; {result.train_examples:,} train "
        + (f"(+{result.augmented:,} augmented copies) " if result.augmented else "")
        + f"/ {result.validation_examples:,} validation examples"
        + (f"; skipped: {skipped}" if skipped else ""),
        f"  {result.global_step:,} steps ({result.epochs_run:g} epochs); best "
        f"validation {result.val_metric_name} {shown}"
        + ("; stopped early" if result.stopped_early else ""),
        f"  {result.samples_per_s:.1f} samples/s on {result.device}, peak memory "
        f"{result.peak_memory_mb:.0f} MB; batch {result.batch_size} x "
        f"{result.grad_accum} accumulation",
    ]
    if result.token_kl is not None:
        lines.append(f"  token-level KL: {'yes' if result.token_kl else 'no (SFT only)'}")
    start = result.initial_validation.get(result.val_metric_name)
    if start is not None:
        lines.append(f"  untrained start (step 0): validation {result.val_metric_name} {start:.4f}")
    lines += [f"  note: {note}" for note in result.notes]
    if result.needs_attention is not None:
        lines.append(f"  NEEDS ATTENTION: {result.needs_attention}")
    lines.append(f"  curves: {result.curves_path}; lineage: {result.lineage_path}")
    if result.search is not None:
        lines += _search_lines(result.search)
    return lines


def _search_lines(search: Any) -> list[str]:
    """The --auto frontier: one line per trial (validation figures, latency)."""
    lines = [
        f"  search: {len(search.trials)} trials, floor {search.floor:g} on "
        f"{search.validation_rows:,} validation rows; frontier plot {search.frontier_path}"
    ]
    for t in search.trials:
        interval = (
            "" if t.retention_low is None else f" [{t.retention_low:.3f}, {t.retention_high:.3f}]"
        )
        worst = "n/a" if t.worst_class_retention is None else f"{t.worst_class_retention:.3f}"
        shown = "n/a" if t.retention is None else f"{t.retention:.3f}"
        lines.append(
            f"    {t.layers} layers, lr {t.lr:g}, alpha {t.alpha:g}, T "
            f"{t.temperature:g}: retention {shown}{interval}, worst class {worst}, "
            f"{t.latency_ms or 0:.1f} ms"
            + (" PASSES" if t.passed else "")
            + (" (cut by the budget)" if t.cut_by_budget else "")
        )
    return lines


def models_command(args: argparse.Namespace) -> dict[str, Any]:
    from core.train.catalogue import catalogue, default_roots, render_catalogue

    roots = [path.expanduser() for path in args.paths] or default_roots()
    if args.project is not None:
        with Project.open(args.project) as project:
            roots.append(project.runs_dir)
    missing = [str(path) for path in roots if not path.exists()]
    if missing:
        raise UserError(f"no such folder: {missing[0]}", "pass folders that exist")
    entries = catalogue(roots)
    return {"models": [to_json(e) for e in entries], "lines": render_catalogue(entries)}
