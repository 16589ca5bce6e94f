"""Run one job inside a worker: fetch inputs, call the engine, store outputs, report progress.

Engines are created once per worker process and kept warm (``webapp.engine_pool``).
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from contextlib import contextmanager

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

import inference.engines as engines
from inference import imageio
from webapp.engine_pool import warm_engine
from webapp.jobs import services
from webapp.jobs.models import Job
from webapp.photos.models import Mask, Photo
from webapp.photos.selectors import load_mask, load_photo_rgb

log = logging.getLogger("portrait_lab.jobs")


class JobCancelled(Exception):
    pass


def load_inputs(job: Job) -> dict:
    inputs: dict = {}
    if "photo" in job.inputs:
        inputs["image"] = load_photo_rgb(Photo.objects.get(pk=job.inputs["photo"]))
    if "mask" in job.inputs:
        inputs["mask"] = load_mask(Mask.objects.get(pk=job.inputs["mask"]))
    if "clicks" in job.inputs:
        inputs["clicks"] = job.inputs["clicks"]
    reference = job.inputs.get("reference")
    if reference:
        inputs["reference"] = ({"box": reference["box"]} if "box" in reference
                               else {"mask": load_mask(Mask.objects.get(pk=reference["mask"]))})
    return inputs


def encode_output(array: np.ndarray) -> bytes:
    """Images as lossless 8-bit PNG; single-channel masks as greyscale PNG."""
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return imageio.encode_png(np.asarray(array, dtype=np.float32))


def store_outputs(job: Job, result: dict) -> tuple[list[dict], dict]:
    stored = []
    for name, value in result.items():
        if name == "info" or not isinstance(value, np.ndarray):
            continue
        path = default_storage.save(f"jobs/{job.pk}/{job.attempts}-{name}.png",
                                    ContentFile(encode_output(value)))
        stored.append({"name": name, "path": path})
    return stored, _jsonable(result.get("info", {}))


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
    last_report = [0.0]

    def progress(fraction: float) -> None:
        now = time.perf_counter()
        if now - last_report[0] < 0.1 and fraction < 1.0:
            return
        last_report[0] = now
        if not services.report_progress(job, fraction):
            raise JobCancelled()

    try:
        with _heartbeat(job):
            engine = warm_engine(job.engine)
            result = engine.run(load_inputs(job), dict(job.params), progress=progress)
            outputs, info = store_outputs(job, result)
        services.finish_job(job, Job.Status.SUCCEEDED, outputs=outputs, info=info,
                            run_seconds=time.perf_counter() - started)
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
