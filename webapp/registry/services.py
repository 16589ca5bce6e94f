"""Writes for the model registry: start and resume training jobs, compare a trained version in a
user study, open that study once its items are built.

A training job is a ``webapp.jobs`` Job (engine ``training``, queue ``gpu``) run by this app's task
``registry.train_model`` (``execution.run_training``): export the frozen dataset version (or reuse its
export), train with progress events on ``/ws/jobs/``, evaluate on the val split. The version
folder's name is reserved when the job is created, so two runs never write the same one.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

import inference.engines as engines
from inference import modelstore
from studies import engine_items, setup
from studies.models import JobItem, Study
from webapp import events
from webapp.annotation import selectors as annotation_selectors
from webapp.annotation.export import frozen_or_refuse
from webapp.annotation.models import AnnotationProject
from webapp.jobs import services as job_services
from webapp.jobs.models import Job
from webapp.photos.models import Photo
from webapp.refusal import Conflict, NotFound, Refusal
from webapp.registry import datasets, uploads
from webapp.registry.models import StudyComparison, TrainingRun
from webapp.registry.selectors import provenance

log = logging.getLogger("portrait_lab.registry")
TRAINING_ENGINE = "training"  # Job.engine of training jobs (sent to tasks.TRAIN_MODEL, not jobs.run_job)
TRAINING_QUEUE = "gpu"
MAX_STEPS = 100_000
MAX_ARGUMENTS = 8
Status = TrainingRun.Status


def trainable_models() -> list[str]:
    """Learned engines that work on a photo alone: what ``inference.evaluate`` measures and a study
    can show. (``retouch.clicks`` and ``harmonize.net`` need clicks or a reference region.)"""
    return [name for name in engines.names()
            if engines.is_learned(name) and tuple(engines.spec(name).inputs) == ("image",)]


def _int(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Refusal(f"{name} must be a whole number from {low} to {high}.", errors={name: ["out of range"]})
    return value


def _arguments(value) -> dict:
    if value in (None, {}):
        return {}
    if not isinstance(value, dict) or len(value) > MAX_ARGUMENTS or not all(
            isinstance(k, str) and k.isidentifier() and isinstance(v, int | float) and not isinstance(v, bool)
            for k, v in value.items()):
        raise Refusal(f"arguments must be an object of at most {MAX_ARGUMENTS} numeric constructor arguments, "
                      'e.g. {"size": 64, "dim": 9}.')
    return value


def owned_project(owner, project_id) -> AnnotationProject:
    """A frozen retouching project of ``owner`` (any for a superuser): the training data."""
    if isinstance(project_id, bool) or not isinstance(project_id, int) or not 0 < project_id < 2**31:
        raise Refusal("dataset must be the id of a frozen annotation project (dataset version).",
                      errors={"dataset": ["not an id"]})
    scope = AnnotationProject.objects.all() if owner.is_superuser else AnnotationProject.objects.filter(owner=owner)
    project = scope.filter(pk=project_id).first()
    if project is None:
        raise NotFound("No such annotation dataset, or it is not yours.")
    return project


def _next_version(engine: str) -> str:
    on_disk = [v for v in modelstore.versions(settings.MODEL_DIR, engine) if v.isdigit()]
    unfinished = [p.name[1:-len(".training")] for p in (settings.MODEL_DIR / engine).glob(".*.training")] \
        if (settings.MODEL_DIR / engine).is_dir() else []
    reserved = TrainingRun.objects.filter(engine=engine).values_list("version", flat=True)
    numbers = [int(v) for v in [*on_disk, *unfinished, *reserved] if v.isdigit()]
    return str(max(numbers, default=0) + 1)


def start_training(*, owner, dataset=None, model: str, expert: str = "a", steps: int = 200, seed: int = 0,
                   arguments=None, upload=None) -> TrainingRun:
    """Validate everything, reserve the next version of ``model`` and queue the training job.

    The data is ``dataset`` (a frozen annotation project) or ``upload`` (an uploaded PPR10K-layout
    zip, ``uploads.store``): exactly one of the two."""
    if (dataset is None) == (upload is None):
        raise Refusal('Send exactly one of "dataset" (a frozen annotation project) and "upload" (an uploaded '
                      "PPR10K-layout zip).", errors={"dataset": ["exactly one of dataset, upload"]})
    if model not in trainable_models():
        raise Refusal(f"model must be one of {', '.join(trainable_models())}.", errors={"model": ["not trainable"]})
    steps = _int(steps, "steps", 1, MAX_STEPS)
    seed = _int(seed, "seed", 0, 2**31 - 1)
    arguments = _arguments(arguments)
    project = uploaded = None
    if upload is not None:
        uploaded = uploads.owned_upload(owner, upload)
        slots, data_inputs = uploaded.experts, {"upload": uploaded.pk}
    else:
        project = owned_project(owner, dataset)
        if project.kind != AnnotationProject.Kind.RETOUCH:
            raise Refusal("Only retouching ground truth trains these models; this is a harmonization project.")
        frozen_or_refuse(project)
        slots, data_inputs = project.slots, {"dataset": project.pk, "dataset_version": project.dataset_version}
    if not isinstance(expert, str) or expert not in slots:
        raise Refusal(f"expert must be one of the dataset's slots: {', '.join(slots)}.",
                      errors={"expert": ["unknown slot"]})
    for attempt in range(3):  # a concurrent start may take the same number: the constraint says so
        try:
            with transaction.atomic():
                version = _next_version(model)
                job = Job.objects.create(owner=owner, engine=TRAINING_ENGINE, engine_version=version,
                                         queue=TRAINING_QUEUE, inputs=data_inputs,
                                         params={"model": model, "expert": expert, "steps": steps, "seed": seed,
                                                 "arguments": arguments})
                run = TrainingRun.objects.create(owner=owner, project=project, upload=uploaded,
                                                 dataset_version=project.dataset_version if project else 0,
                                                 engine=model, version=version, expert=expert, steps=steps,
                                                 seed=seed, arguments=arguments, job=job, jobs=[job.pk])
                transaction.on_commit(lambda job=job: job_services.enqueue(job))
            return run
        except IntegrityError:
            if attempt == 2:
                raise Conflict("Another training run took that version just now; try again.") from None
    raise AssertionError("unreachable")


def resume_training(run: TrainingRun) -> TrainingRun:
    """A stopped run (cancelled, or its worker failed) continues from its last checkpoint in a new job."""
    if run.status != Status.STOPPED or not run.job.finished:
        raise Conflict(f"Only a stopped run can be resumed; this one is {run.status}.")
    with transaction.atomic():
        job = Job.objects.create(owner=run.owner, engine=TRAINING_ENGINE, engine_version=run.version,
                                 queue=TRAINING_QUEUE, inputs=dict(run.job.inputs), params=dict(run.job.params))
        updated = TrainingRun.objects.filter(pk=run.pk, status=Status.STOPPED).update(
            job=job, jobs=[*run.jobs, job.pk], status=Status.QUEUED, error="")
        if not updated:
            raise Conflict("The run was resumed by another request.")
        transaction.on_commit(lambda: job_services.enqueue(job))
    run.refresh_from_db()
    return run


# --- compare in a study ----------------------------------------------------------------------------
DEFAULT_METHODS = ["model", "retouch.auto", "expert", "input"]


def _method(entry, run: TrainingRun, owner) -> dict:
    """One study method: the run's model, another trained version, a classical engine, the expert's
    own targets (upper reference) or the untouched input."""
    if entry == "model":
        return {"name": f"{run.engine} v{run.version}", "kind": "model", "engine": run.engine, "version": run.version}
    if entry == "expert":
        return {"name": f"expert {run.expert} (target)", "kind": "expert", "engine": "adjust"}
    if entry == "input":
        return {"name": "input (untouched)", "kind": "input", "engine": "adjust"}
    if isinstance(entry, dict) and "run" in entry:
        other = TrainingRun.objects.filter(pk=entry["run"] if isinstance(entry["run"], int) else -1,
                                           owner=owner, status=Status.READY).first()
        if other is None:
            raise Refusal(f"No ready model version with id {entry['run']!r} of yours.")
        return {"name": f"{other.engine} v{other.version}", "kind": "model", "engine": other.engine,
                "version": other.version, "run": other.pk}
    name = entry if isinstance(entry, str) else None
    if name is None or name not in engines.names() or engines.is_learned(name) \
            or tuple(engines.spec(name).inputs) != ("image",) or "image" not in engines.spec(name).outputs:
        raise Refusal('methods are "model", "expert", "input", {"run": id} or a classical engine that works on '
                      f"a photo alone (e.g. retouch.auto); {entry!r} is none of these.")
    return {"name": name, "kind": "engine", "engine": name}


def compare_in_study(*, run: TrainingRun, owner, methods=None, title: str | None = None,
                     participants: int = 20) -> StudyComparison:
    """A pairwise study over the val-split photos: one job per photo × method, each recorded as a
    studies ``JobItem``; studies' ``job_finished`` receiver builds the items as the jobs finish and
    :func:`on_job_finished` opens the study once every item is there."""
    if run.status != Status.READY:
        raise Conflict(f"The model is {run.status}; compare it once training and evaluation are done.")
    if run.upload_id is not None:
        raise Conflict("This version was trained on an uploaded dataset: its photos are not on the platform, so "
                       "a study cannot show them. Compare versions trained on a frozen annotation dataset.")
    entries = DEFAULT_METHODS if methods in (None, []) else methods
    if not isinstance(entries, list) or len(entries) < 2 or len(entries) > 8:
        raise Refusal("methods must be a list of 2–8 methods.")
    specs = [_method(e, run, owner) for e in entries]
    if len({s["name"] for s in specs}) != len(specs):
        raise Refusal("Each method may appear once.")
    participants = _int(participants, "participants", 1, 10_000)
    val = datasets.val_photos(run)
    photos = {p.pk: p for p in Photo.objects.filter(pk__in=val)}
    if not photos:
        raise Conflict("The dataset has no val-split photos to compare on.")
    targets = _expert_params(run, list(photos))
    n = len(specs)
    with transaction.atomic():
        study = setup.create_study(
            owner=owner, title=(title or f"{run.engine} v{run.version} vs references (expert {run.expert})")[:200],
            kind="pairwise", participants_wanted=participants,
            trials_per_participant=max(4, len(photos) * n * (n - 1) // 2), attention_every=10, speeder_ms=0,
            instructions=("You will see a portrait and two retouched versions of it. Choose the one a "
                          "professional retoucher would deliver: natural skin, balanced exposure and colour."))
        for spec in specs:
            setup.add_method(study, spec["name"])
        for photo_id in sorted(photos):
            for spec in specs:
                params = targets.get(photo_id, {}) if spec["kind"] == "expert" else {}
                job = job_services.create_job(owner=owner, engine=spec["engine"], inputs={"photo": photo_id},
                                              params=params, version=spec.get("version"))
                JobItem.objects.create(study=study, photo=photos[photo_id], method=spec["name"], job=job,
                                       subset="val")
        comparison = StudyComparison.objects.create(study=study, run=run, methods=specs, photos=sorted(photos))
    return comparison


def _expert_params(run: TrainingRun, photo_ids: list[int]) -> dict[int, dict]:
    """The expert slot's frozen parameters per photo: rendered by ``adjust``, the same renderer the
    export used for the targets."""
    assignments = list(run.project.assignments.filter(slot=run.expert))
    edits = annotation_selectors.current_edits(assignments)
    return {photo_id: edit.params for (_, photo_id), edit in edits.items() if photo_id in photo_ids}


def open_if_filled(comparison: StudyComparison) -> bool:
    """Open the study once every val photo has its item; True when this call opened it."""
    study = comparison.study
    engine_items.build_ready_items(study)  # studies' own receiver normally did it already
    rows = JobItem.objects.filter(study=study)
    if rows.filter(item__isnull=True).exists() or study.items.count() < len(comparison.photos):
        return False
    if not StudyComparison.objects.filter(pk=comparison.pk, opened_at__isnull=True).update(opened_at=timezone.now()):
        return False  # another finishing job opened it
    setup.set_status(Study.objects.get(pk=study.pk), Study.Status.OPEN)
    log.info("study %s filled from its jobs and opened", study.pk)
    # the model page listens on /ws/jobs/: tell it (a job event without a job, carrying "registry")
    events.publish(events.user_group(study.owner_id), {"type": "job.event", "id": None, "status": "", "registry": {
        "run": comparison.run_id, "study": study.pk, "study_status": Study.Status.OPEN}})
    return True


def on_job_finished(sender, job: Job, **kwargs) -> None:
    """``job_finished`` receiver: a comparison study whose last job just finished opens; a training job
    that ended before a worker took it (cancelled while queued, or no worker served ``gpu``) leaves
    its run stopped, so it can be resumed (from the start)."""
    if job.engine == TRAINING_ENGINE:
        if job.status != Job.Status.SUCCEEDED:
            TrainingRun.objects.filter(job_id=job.pk, status=Status.QUEUED).update(
                status=Status.STOPPED, error=job.error if job.status == Job.Status.FAILED else "")
        return
    if job.status != Job.Status.SUCCEEDED:
        return
    study_ids = JobItem.objects.filter(job_id=job.pk).values_list("study_id", flat=True)
    for comparison in StudyComparison.objects.filter(study_id__in=list(study_ids), opened_at__isnull=True) \
            .select_related("study"):
        open_if_filled(comparison)


def describe_study(sender, study, **kwargs) -> dict | None:
    """``studies.provenance.describe_study`` receiver: the model versions a comparison study judged."""
    comparison = StudyComparison.objects.filter(study=study).select_related("run").first()
    if comparison is None:
        return None
    runs = [comparison.run, *TrainingRun.objects.filter(pk__in=[m["run"] for m in comparison.methods if "run" in m])]
    return {"links": [{"label": f"{r.engine} v{r.version}", "url": f"/models/{r.pk}/"} for r in runs],
            "provenance": provenance(comparison.run)}
