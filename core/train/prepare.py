"""Everything a training attempt needs, checked before any weight is loaded: the device, the
teacher, the examples, the student folder (derived if asked) and the token ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import TrainError
from core.project import Project
from core.train.config import TrainConfig
from core.train.data import TrainingData, load_data, pick_teacher
from core.train.derive import (
    DerivedStudent,
    default_layers,
    derive_student,
    derive_warnings,
    same_family,
    teacher_folder,
)
from core.train.device import DeviceChoice, choose_device
from core.train.features import (
    Features,
    classification_features,
    generation_features,
    tokenizer_matches,
)
from core.train.recipe import Recipe, make_recipe, row_classes
from core.train.students import check_task_fit, load_tokenizer, read_config, resolve_student_folder

DERIVED_DIR = "derived"
_TRUNCATION_WARNING = 0.05


@dataclass(frozen=True, slots=True)
class Prepared:
    task: str
    labels: tuple[str, ...]
    data: TrainingData
    student: Path
    derived: DerivedStudent | None
    model_type: str
    tokenizer: Any
    train: Features
    validation: Features
    device: DeviceChoice
    max_length: int
    token_kl: bool | None
    truncated_share: float
    prompt_template: str | None
    notes: list[str]
    recipe: Recipe
    source: Path  # what a derived student is cut from (the teacher or --derive PATH)


def prepare(project: Project, config: TrainConfig, run_dir: Path, *, main: bool) -> Prepared:
    """Check and load everything but the model weights.

    Raises:
        TrainError: no label set, no teacher outputs, a changed label set, no examples.
        StudentModelError: the student cannot be found, derived or used for the task.
    """
    task, labels = _task(project)
    # First: pinning a GPU must happen before anything asks torch about CUDA.
    device = choose_device(config.device, config.precision)
    source = resolve_student_folder(config.student or config.derive or "")
    check_task_fit(source, task)
    teacher = pick_teacher(project, config.teacher_id, config.prompt_version)
    data = load_data(
        project, task, teacher, allow_raw_text=config.allow_raw_text,
        hard_labels=config.hard_labels, alpha=config.alpha_for(task), seed=config.seed,
    )  # fmt: skip
    notes = list(data.notes)
    if config.augment_rare:
        data, note = augmented(project, config, task, labels, data)
        notes.append(note)
    if config.derive is not None:
        source, note = derive_source(project, config, source, data.teacher_id, labels, task)
        notes.append(note)
    student, derived = source, None
    if config.derive is not None and not config.auto:
        layers = config.layers
        if layers is None:
            layers, total = default_layers(source)
            notes.append(f"the derived student keeps {layers} of {total} layers (the default: "
                         "two thirds of a decoder's, half of an encoder's; --layers K to "
                         "choose)")  # fmt: skip
        derived = derive_student(source, layers, run_dir / DERIVED_DIR)
        student = derived.folder
    tokenizer = load_tokenizer(student)
    max_length = config.max_length_for(task)
    recipe = make_recipe(config, task, data.train, len(labels))
    if recipe.balance != "off" or config.balance != "auto":
        notes.append(recipe.reason)
    if derived is not None:
        notes += derive_warnings(derived, lora=config.lora, task=task)
    template: str | None = None
    token_kl: bool | None = None
    if task == "classification":
        weights = None
        if recipe.balance == "weights":
            weights = [recipe.class_weights[c] for c in row_classes(data.train)]
        train = classification_features(data.train, tokenizer, max_length, for_eval=False,
                                        weights=weights)  # fmt: skip
        validation = classification_features(data.validation, tokenizer, max_length,
                                              for_eval=True)  # fmt: skip
    else:
        template, token_kl, setup_note = _generation_setup(project, data, tokenizer, config)
        notes += [setup_note] if setup_note else []
        train, validation = _generation_features(data, tokenizer, template, max_length, token_kl)
    share = train.truncated / max(len(train.items), 1)
    if share >= _TRUNCATION_WARNING:
        notes.append(
            f"{share:.0%} of the training inputs ({train.truncated:,} of {len(train.items):,}) "
            f"are longer than --max-length {max_length} tokens and were truncated; raise "
            + (
                "--max-length if the start of a prompt or the end of an answer matters (the "
                "prompt is cut from the left, the answer at its end)"
                if task == "generation"
                else "--max-length if the end of an input matters"
            )
        )
    model_type = str(read_config(student).get("model_type", ""))
    return Prepared(task, labels, data, student, derived, model_type, tokenizer, train,
                    validation, device, max_length, token_kl, share, template, notes, recipe,
                    source)  # fmt: skip


def augmented(
    project: Project, config: TrainConfig, task: str, labels: tuple[str, ...],
    data: TrainingData,
) -> tuple[TrainingData, str]:  # fmt: skip
    """``data`` with the teacher-labelled copies of its rare-class training rows appended
    (:mod:`core.train.augment`), and a note that counts them.

    Raises:
        TrainError: not a classification project, or the teacher is not a local classifier.
        TeacherModelError: the teacher's folder cannot be loaded.
    """
    from dataclasses import replace

    from core.train.augment import augmentable_teacher, copy_texts, teacher_copies

    if task != "classification":
        raise TrainError("--augment-rare applies to classification only",
                         "drop --augment-rare")  # fmt: skip
    folder = augmentable_teacher(project, data.teacher_id)
    counts = make_recipe(config, task, data.train, len(labels)).class_counts
    made = copy_texts(data.train, counts, config.augment_rare, config.seed)
    copies = teacher_copies(made, folder, labels, data.teacher_id, config.hard_labels)
    sources = len({record_id for record_id, _ in made})
    note = (f"rare-class augmentation: the teacher labelled {len(copies):,} perturbed copies "
            f"of {sources:,} rare-class training rows (--augment-rare {config.augment_rare}); "
            "validation and test are untouched")  # fmt: skip
    return replace(data, train=data.train + copies, augmented=len(copies)), note


def derive_source(
    project: Project, config: TrainConfig, path: Path, teacher_id: str,
    labels: tuple[str, ...], task: str,
) -> tuple[Path, str]:  # fmt: skip
    """The model a derived student is cut from, and a note saying which and why.

    The teacher's own fine-tuned weights when it is a local model of ``path``'s family (its
    layers already know the task: DistilBERT initialises from the teacher the same way);
    ``path`` when asked (``--derive-from path``) or when the teacher cannot be used.

    Raises:
        TrainError: ``--derive-from teacher`` and the teacher cannot be used.
    """
    if config.derive_from == "path":
        return path, f"the student is derived from {path.name} (--derive-from path)"
    folder = teacher_folder(project, teacher_id)
    why = (
        "it is not a local model folder"
        if folder is None
        else same_family(folder, path, labels, task, None if config.auto else config.layers)
    )
    if folder is not None and why is None:
        copied = "classifier head" if task == "classification" else "output layer"
        return folder, (f"the student is derived from the teacher's own weights ({folder.name}), "
                        f"the kept layers and the {copied} copied from it")  # fmt: skip
    if config.derive_from == "teacher":
        raise TrainError(f"cannot derive the student from the teacher: {why}",
                         "pass --derive-from path to derive from --derive PATH")  # fmt: skip
    return path, f"the student is derived from {path.name}, not from the teacher: {why}"


def _task(project: Project) -> tuple[str, tuple[str, ...]]:
    settings = project.settings
    if settings.task == "classification" and len(settings.labels) < 2:
        raise TrainError(
            "the project has no label set yet",
            "import data with a label column (--label COL) or create it with --labels a,b,c",
        )
    return settings.task, settings.labels


def _generation_setup(
    project: Project, data: TrainingData, tokenizer: Any, config: TrainConfig
) -> tuple[str, bool, str | None]:
    """The teacher's prompt template, and whether token-level KL can be used (with why not)."""
    from core.teacher.prompts import default_template, stored_templates

    known = stored_templates(project).get(data.prompt_version)
    template = (known or default_template("generation")).text
    matches = tokenizer_matches(tokenizer, data.train)
    alpha = config.alpha_for("generation")
    if alpha == 0:
        return template, False, None
    if matches is None:
        return (
            template,
            False,
            (
                "the teacher stored no token log-probabilities (an endpoint without logprobs?): "
                "trained with SFT on its text only, no token-level KL"
            ),
        )
    if not matches:
        return (
            template,
            False,
            (
                "the student's tokenizer differs from the teacher's, so the teacher's top-k "
                "tokens cannot be matched: trained with SFT on its text only, no token-level KL "
                "(use a student with the teacher's tokenizer, e.g. --derive TEACHER --layers K)"
            ),
        )
    return template, True, None


def _generation_features(
    data: TrainingData, tokenizer: Any, template: str, max_length: int, token_kl: bool | None
) -> tuple[Features, Features]:
    from core.teacher.prompts import PromptTemplate, render

    prompt = PromptTemplate("generation", template)
    built = []
    for examples in (data.train, data.validation):
        prompts = [render(prompt, e.text, None) for e in examples]
        built.append(generation_features(examples, tokenizer, prompts, max_length,
                                         use_teacher_ids=bool(token_kl)))  # fmt: skip
    return built[0], built[1]
