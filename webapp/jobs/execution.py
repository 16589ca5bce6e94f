"""Run one job inside a worker: fetch inputs, call the engine, store outputs, report progress.

Engines are created once per worker process and kept warm (``webapp.engine_pool``).
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import threading
import time
from contextlib import contextmanager

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

import inference.engines as engines
from inference import encoding
from webapp.engine_pool import warm_engine
from webapp.jobs import services
from webapp.jobs.models import Job
from webapp.photos import prepared
from webapp.photos.models import Mask, Photo
from webapp.photos.selectors import load_mask, load_photo_rgb

log = logging.getLogger("portrait_lab.jobs")
PROGRESS_QUIET_SECONDS = 0.2
PROGRESS_EVERY_SECONDS = 0.1


class JobCancelled(Exception):
    pass


def load_inputs(job: Job) -> dict:
    inputs: dict = {}
    if "photo" in job.inputs:
        inputs["image"] = load_photo_rgb(Photo.objects.get(pk=job.inputs["photo"]))
    if "mask" in job.inputs:
        inputs["mask"] = load_mask(Mask.objects.get(pk=job.inputs["mask"]))
    if "background" in job.inputs:
        inputs["background"] = load_photo_rgb(Photo.objects.get(pk=job.inputs["background"]))
    if "clicks" in job.inputs:
        inputs["clicks"] = job.inputs["clicks"]
    reference = job.inputs.get("reference")
    if reference:
        inputs["reference"] = ({"box": reference["box"]} if "box" in reference
                               else {"mask": load_mask(Mask.objects.get(pk=reference["mask"]))})
    return inputs


def encode_output(array: np.ndarray, output_format: str = "png") -> tuple[bytes, str]:
    """(file bytes, extension): images in the job's format, single-channel masks as greyscale PNG."""
    fmt = output_format if array.ndim == 3 else "png"
    return encoding.encode(array, fmt), encoding.EXTENSIONS[fmt]


def store_outputs(job: Job, result: dict) -> tuple[list[dict], dict]:
    stored = []
    for name, value in result.items():
        if name == "info" or not isinstance(value, np.ndarray):
            continue
        data, ext = encode_output(value, job.output_format)
        # an unguessable name: /media/ also checks the job's owner (webapp/media_views.py)
        path = default_storage.save(f"jobs/{job.pk}/{secrets.token_hex(12)}-{name}.{ext}", ContentFile(data))
        stored.append({"name": name, "path": path})
    return stored, _jsonable(result.get("info", {}))


def run_engine(engine, job: Job, progress) -> dict:
    """The engine on the job's inputs. Interactive engines with clicks on a photo (no mask) start
    from the photo's prepared state (webapp.photos.prepared), as the session's preview did."""
    inputs = load_inputs(job)
    if engines.spec(job.engine).interactive and "clicks" in inputs and "photo" in job.inputs \
            and "mask" not in inputs:
        return prepared.run_full_resolution(engine, Photo.objects.get(pk=job.inputs["photo"]), inputs,
                                            dict(job.params))
    return engine.run(inputs, dict(job.params), progress=progress)


def _jsonable(value):
    return json.loads(json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


@contextmanager
def _heartbeat(job: Job):
    """Keep the job's heartbeat fresh even while an engine step reports no progress."""
    stop = threading.Event()

    def beat():
        while not stop.wait(settings.JOB_HEARTBEAT_SECONDS):
            try:
                services.heartbeat(job)
            except Exception:
                log.exception("heartbeat for job %s failed", job.pk)

    thread = threading.Thread(target=beat, name=f"job-{job.pk}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def execute_job(job_id: int, *, worker: str, redelivered: bool = False) -> str | None:
    job = services.claim_job(job_id, worker=worker, redelivered=redelivered)
    if job is None:
        return None
    started = time.perf_counter()
    # No progress report (a database write and an event) in a job's first PROGRESS_QUIET_SECONDS:
    # a job that short is done before anyone sees a progress bar; at most one report per 0.1 s after.
    last_report = [started + PROGRESS_QUIET_SECONDS - PROGRESS_EVERY_SECONDS]

    def progress(fraction: float) -> None:
        now = time.perf_counter()
        if now - last_report[0] < PROGRESS_EVERY_SECONDS:
            return
        last_report[0] = now
        if not services.report_progress(job, fraction):
            raise JobCancelled()

    try:
        with _heartbeat(job):
            engine = warm_engine(job.engine, job.engine_version)
            result = run_engine(engine, job, progress)
            outputs, info = store_outputs(job, result)
        if services.finish_job(job, Job.Status.SUCCEEDED, outputs=outputs, info=info,
                               run_seconds=time.perf_counter() - started):
            return job.status
    except JobCancelled:
        log.info("job %s cancelled while running", job.pk)
    except engines.EngineInputError as exc:
        services.finish_job(job, Job.Status.FAILED, error=str(exc))
    except Exception as exc:
        log.exception("job %s failed", job.pk)
        buffer = io.StringIO()
        buffer.write(f"The engine {job.engine} failed: {type(exc).__name__}: {exc}")
        services.finish_job(job, Job.Status.FAILED, error=buffer.getvalue(),
                            run_seconds=time.perf_counter() - started)
    job.refresh_from_db()
    return job.status
