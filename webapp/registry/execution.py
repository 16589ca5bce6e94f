"""A training job inside a worker: export (or reuse) the dataset, train, evaluate, store.

Thin like ``webapp.jobs.execution``: the training is ``inference.train.train`` and the metrics are
``inference.evaluate.evaluate``; this module claims the job, reports progress and stores results.

Progress goes to the job's row (progress, heartbeat) and, as the job event plus a ``training`` object
(phase, step, steps, loss, new loss points, steps/s, images/s, ETA), to ``/ws/jobs/``. Cancelling the
job (``POST /api/jobs/<id>/cancel/``) is seen at the next step: the run checkpoints and stops, and
``POST /api/models/<id>/resume/`` continues it from there.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from inference import encoding, modelstore
from webapp import events
from webapp.engine_pool import cpu_threads
from webapp.jobs import services as job_services
from webapp.jobs.execution import _heartbeat as job_heartbeat
from webapp.jobs.models import Job
from webapp.jobs.serializers import job_event
from webapp.registry import datasets
from webapp.registry.models import TrainingRun

log = logging.getLogger("portrait_lab.registry")
Status = TrainingRun.Status
REPORT_EVERY_SECONDS = 0.1  # at most ten progress events a second; a cancel is seen at the next step
SAVE_EVERY_SECONDS = 1.0  # the run's loss curve in the database (a page opened later draws it)
MAX_POINTS = 400  # the stored curve keeps every point until then, every other one after
PHASES = {"exporting": (0.0, 0.05), "training": (0.05, 0.9), "evaluating": (0.9, 1.0)}


class Stopped(Exception):
    """The job was cancelled (or taken over by another worker)."""


def _thin(points: list) -> list:
    return points if len(points) <= MAX_POINTS else points[::2] + ([points[-1]] if len(points) % 2 == 0 else [])


class Reporter:
    """Progress of one training job: the job row, the run row and the job's WebSocket events."""

    def __init__(self, job: Job, run: TrainingRun, batch_size: int):
        self.job, self.run, self.batch_size = job, run, batch_size
        self.last_report = self.last_save = 0.0
        self.pending: list[list[float]] = []
        self.t0 = time.perf_counter()
        self.first_step: int | None = None
        self.rate = 0.0

    def phase(self, phase: str, fraction: float = 0.0) -> None:
        self.run.status = phase
        TrainingRun.objects.filter(pk=self.run.pk).update(status=phase)
        self.progress(phase, fraction, force=True)

    def progress(self, phase: str, fraction: float, *, force: bool = False, extra: dict | None = None) -> None:
        now = time.perf_counter()
        if not force and now - self.last_report < REPORT_EVERY_SECONDS:
            return
        self.last_report = now
        low, high = PHASES[phase]
        self.job.progress = round(low + (high - low) * max(0.0, min(1.0, fraction)), 4)
        if not Job.objects.filter(pk=self.job.pk, status=Job.Status.RUNNING, worker=self.job.worker).update(
                progress=self.job.progress, heartbeat_at=timezone.now()):
            raise Stopped()
        training = {"run": self.run.pk, "phase": phase, "step": self.run.step, "steps": self.run.steps,
                    "points": self.pending, **(extra or {})}
        self.pending = []
        events.publish(events.user_group(self.job.owner_id), {**job_event(self.job), "training": training})

    def step(self, step: int, steps: int, loss: float) -> bool:
        """``inference.train``'s ``on_step``: False stops the run (it checkpoints first)."""
        if self.first_step is None:
            self.first_step, self.t0 = step - 1, time.perf_counter()
        self.run.step = step
        self.run.loss.append([step, round(loss, 6)])
        self.pending.append([step, round(loss, 6)])
        done = step - self.first_step
        elapsed = time.perf_counter() - self.t0
        self.rate = done / elapsed if elapsed > 0 else 0.0
        extra = {"loss": round(loss, 6), "steps_per_s": round(self.rate, 3),
                 "images_per_s": round(self.rate * self.batch_size, 2),
                 "eta_s": round((steps - step) / self.rate, 1) if self.rate else None}
        try:
            self.progress("training", step / steps, force=step == steps, extra=extra)
        except Stopped:
            self.save()
            return False
        if time.perf_counter() - self.last_save >= SAVE_EVERY_SECONDS or step == steps:
            self.save()
        return True

    def save(self) -> None:
        self.last_save = time.perf_counter()
        self.run.loss = _thin(self.run.loss)
        elapsed = time.perf_counter() - self.t0
        done = self.run.step - (self.first_step or 0)
        self.run.throughput = {"steps_per_s": round(done / elapsed, 3) if elapsed > 0 else None,
                               "images_per_s": round(done * self.batch_size / elapsed, 2) if elapsed > 0 else None,
                               "batch_size": self.batch_size, "seconds": round(elapsed, 1), "steps": done,
                               "device": self.run.throughput.get("device", "")}
        TrainingRun.objects.filter(pk=self.run.pk).update(step=self.run.step, loss=self.run.loss,
                                                          throughput=self.run.throughput)


def finite(value):
    """NaN and infinities (e.g. an interval over one group) as None: JSON and PostgreSQL refuse them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _update_card(folder: Path, extra: dict) -> None:
    card = modelstore.read_card(folder)
    card.update(extra)
    tmp = folder / (modelstore.CARD + ".tmp")
    tmp.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, folder / modelstore.CARD)


def _previews(job: Job, run: TrainingRun, folder: Path, data: Path) -> list[dict]:
    """Small JPEGs of every val image (input, expert target, model) as the job's outputs: the model
    page's per-image strip and before/after viewer (served to the owner like any job output)."""
    from inference.datasets import PPR10KFolder  # deferred: reads TIFFs, only workers need it

    model, _ = modelstore.load_module(folder)
    stored = []
    for sample in PPR10KFolder(data, "val", run.expert):
        pred, _ = model.predict(sample["source"], sample["mask"])
        for kind, image in (("input", sample["source"]), ("target", sample["target"]), ("model", pred)):
            name = f"{sample['name']}.{kind}"
            path = default_storage.save(f"jobs/{job.pk}/{secrets.token_hex(12)}-{name}.jpg",
                                        ContentFile(encoding.encode(image, "jpeg")))
            stored.append({"name": name, "path": path})
    return stored


def run_training(job_id: int, *, worker: str, redelivered: bool = False) -> str | None:
    import torch  # deferred: torch takes seconds to load; only training workers need it

    from inference.evaluate import evaluate
    from inference.models import model_class
    from inference.train import pick_device, train

    job = job_services.claim_job(job_id, worker=worker, redelivered=redelivered)
    if job is None:
        return None
    run = TrainingRun.objects.select_related("project", "upload").get(job=job)
    started = time.perf_counter()
    reporter = Reporter(job, run, model_class(run.engine).BATCH_SIZE)
    device = pick_device("auto")
    if device.type == "cpu" and cpu_threads():  # the worker's cores shared by its concurrent tasks: more
        torch.set_num_threads(cpu_threads())  # OpenMP threads than cores spin and run many times slower
    run.throughput = {**run.throughput, "device": str(device)}
    try:
        with job_heartbeat(job):
            reporter.phase(Status.EXPORTING)
            data, reused = datasets.prepare(run, lambda f: reporter.progress("exporting", f))
            run.dataset_path, run.manifest_sha256 = str(data), datasets.dataset_sha256(run, data)
            TrainingRun.objects.filter(pk=run.pk).update(dataset_path=run.dataset_path,
                                                         manifest_sha256=run.manifest_sha256)
            reporter.phase(Status.TRAINING)
            finished = modelstore.version_dir(settings.MODEL_DIR, run.engine, run.version)
            # a run stopped while evaluating has its weights already: resuming evaluates them
            folder = finished if (finished / modelstore.CARD).is_file() else train(run.engine, data, run.expert, settings.MODEL_DIR, steps=run.steps, seed=run.seed,
                           device="auto", version=run.version, arguments=run.arguments or None, quiet=True,
                           on_step=reporter.step, card_extra={"provenance": {
                               "training_run": run.pk, "training_jobs": run.jobs,
                               "dataset": datasets.describe(run),
                               "expert": run.expert, "steps": run.steps, "seed": run.seed}})
            reporter.save()
            if folder is None:
                raise Stopped()
            reporter.phase(Status.EVALUATING)
            try:
                metrics = finite(evaluate(folder, data, run.expert, "val", seed=run.seed))
            except (FileNotFoundError, ValueError) as exc:  # no val split: the card says so
                metrics = {"error": f"no held-out evaluation: {exc}"}
            reporter.progress("evaluating", 0.6, force=True)
            names = datasets.photo_ids_by_name(run)
            for method in ("model", "input", "retouch.auto"):
                for row in metrics.get(method, {}).get("per_image", []):
                    row["photo"] = names.get(row["name"])
            _update_card(folder, {"held_out": {m: {k: v for k, v in r.items() if k != "per_image"}
                                               for m, r in metrics.items() if m != "meta"}})
            outputs = _previews(job, run, folder, data) if "model" in metrics else []
            TrainingRun.objects.filter(pk=run.pk).update(metrics=metrics, status=Status.READY,
                                                         finished_at=timezone.now())
            info = {"run": run.pk, "engine": run.engine, "version": run.version, "dataset_reused": reused,
                    "throughput": run.throughput}
            if job_services.finish_job(job, Job.Status.SUCCEEDED, outputs=outputs, info=info,
                                       run_seconds=time.perf_counter() - started):
                return Job.Status.SUCCEEDED
            raise Stopped()  # cancelled while evaluating: the weights are written, the run is not "ready"
    except Stopped:
        log.info("training job %s stopped at step %s", job.pk, run.step)
        _stop(run, "")
    except Exception as exc:
        log.exception("training job %s failed", job.pk)
        message = f"Training {run.engine} v{run.version} failed: {type(exc).__name__}: {exc}"
        job_services.finish_job(job, Job.Status.FAILED, error=message, run_seconds=time.perf_counter() - started)
        _stop(run, message)
    job.refresh_from_db()
    return job.status


def _stop(run: TrainingRun, error: str) -> None:
    """Cancelled or failed: resumable when a checkpoint is there (``MODEL_DIR/<engine>/.<v>.training``)."""
    from inference.train import CHECKPOINT

    checkpoint = Path(settings.MODEL_DIR) / run.engine / f".{run.version}.training" / CHECKPOINT
    # a cancelled run can always go on (from its checkpoint, or anew); a failed one from a checkpoint
    status = Status.STOPPED if not error or checkpoint.is_file() else Status.FAILED
    TrainingRun.objects.filter(pk=run.pk).update(status=status, error=error[:5000], step=run.step,
                                                 finished_at=timezone.now())
    job = Job.objects.get(pk=run.job_id)
    events.publish(events.user_group(job.owner_id), {**job_event(job), "training": {
        "run": run.pk, "phase": status, "step": run.step, "steps": run.steps, "points": []}})
