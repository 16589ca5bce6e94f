"""Writes for jobs: create, claim, progress, finish, cancel, and recover from dead workers.

A job's status only moves forward: queued → running → succeeded | failed | cancelled.
Every transition out of ``running`` is a conditional UPDATE, so a cancelled job is never
overwritten by a late result and two workers never both finish one job.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

import inference.engines as engines
from webapp import events
from webapp.celery import app as celery_app
from webapp.jobs import unserved
from webapp.jobs.models import Job
from webapp.jobs.serializers import job_event
from webapp.jobs.signals import job_finished
from webapp.jobs.validation import validate_job_inputs, validate_output_format
from webapp.refusal import Conflict, Refusal

log = logging.getLogger("portrait_lab.jobs")
Status = Job.Status
RUN_JOB = "jobs.run_job"  # the task in webapp/jobs/tasks.py, sent by name
# Jobs that are not an engine run (the model registry's training jobs) name their own task by
# ``engine``; apps built on jobs register it (``register_task``), so recovery re-sends the right one.
_TASKS: dict[str, str] = {}


def register_task(engine: str, task: str) -> None:
    _TASKS[engine] = task


def create_job(*, owner, engine: str, inputs: dict, params: dict | None = None,
               output_format: str = "png", version: str | None = None) -> Job:
    try:
        spec = engines.spec(engine)
    except KeyError:
        raise Refusal(f"Unknown engine {engine!r}. Known engines: {', '.join(engines.names())}.") from None
    try:
        engine_version = engines.resolve_version(spec.name, version, str(settings.MODEL_DIR))
        clean_params = engines.validate_params(spec, params or {})
    except engines.EngineInputError as exc:
        raise Refusal(str(exc)) from exc
    clean_inputs = validate_job_inputs(spec, inputs, owner)
    validate_output_format(output_format, clean_inputs)
    with transaction.atomic():
        job = Job.objects.create(owner=owner, engine=spec.name, engine_version=engine_version,
                                 queue=spec.queue, inputs=clean_inputs, params=clean_params,
                                 output_format=output_format)
        transaction.on_commit(lambda: enqueue(job))
    return job


def enqueue(job: Job) -> None:
    celery_app.send_task(_TASKS.get(job.engine, RUN_JOB), args=[job.pk], queue=job.queue)


def claim_job(job_id: int, *, worker: str, redelivered: bool = False) -> Job | None:
    """Mark a job running on ``worker``; None when there is nothing (left) to do.

    A message delivered again because its worker died finds the job ``running``: it takes the job
    over (counting a new attempt) when the broker says so or the old heartbeat is stale, and fails
    it once JOB_MAX_ATTEMPTS attempts have been spent.
    """
    now = timezone.now()
    job = _claim_queued(job_id, worker, now)
    if job is not None:
        notify(job)
        return job
    stale_before = now - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.finished:
            return None
        if job.status == Status.RUNNING and not redelivered and job.heartbeat_at and \
                job.heartbeat_at > stale_before:
            return None  # another live worker holds it
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            _finish(job, Status.FAILED, error=_gave_up_message(job))
            return None
        job.status = Status.RUNNING
        job.attempts += 1
        job.worker = worker
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.progress = 0.0
        job.save(update_fields=["status", "attempts", "worker", "started_at", "heartbeat_at", "progress"])
    notify(job)
    return job


def _claim_queued(job_id: int, worker: str, now) -> Job | None:
    """The common case in one statement (no transaction, one round trip): a queued job with
    attempts left becomes running on ``worker``; None when the job is in any other state."""
    table = connection.ops.quote_name(Job._meta.db_table)
    stamp = connection.ops.adapt_datetimefield_value(now)
    claimed = list(Job.objects.raw(
        f"UPDATE {table} SET status = %s, attempts = attempts + 1, worker = %s, "
        "started_at = COALESCE(started_at, %s), heartbeat_at = %s, progress = 0 "
        "WHERE id = %s AND status = %s AND attempts < %s RETURNING *",
        [Status.RUNNING, worker, stamp, stamp, job_id, Status.QUEUED, settings.JOB_MAX_ATTEMPTS]))
    return claimed[0] if claimed else None


def _gave_up_message(job: Job) -> str:
    return (f"The worker running this job stopped {job.attempts} times before finishing "
            f"(last: {job.worker or 'unknown'}); it was not retried again. Submit it anew, "
            "and check the worker logs if it keeps happening.")


def report_progress(job: Job, fraction: float) -> bool:
    """Store progress and a heartbeat; False when the job is no longer running (cancelled)."""
    job.progress = max(0.0, min(1.0, float(fraction)))
    updated = Job.objects.filter(pk=job.pk, status=Status.RUNNING, worker=job.worker).update(
        progress=job.progress, heartbeat_at=timezone.now())
    if updated:
        notify(job)
    return bool(updated)


def heartbeat(job: Job) -> bool:
    return bool(Job.objects.filter(pk=job.pk, status=Status.RUNNING, worker=job.worker)
                .update(heartbeat_at=timezone.now()))


def finish_job(job: Job, status: str, *, outputs=None, info=None, error: str = "",
               run_seconds: float | None = None) -> bool:
    """Conditional transition out of running; False if the job was cancelled meanwhile."""
    now = timezone.now()
    fields = {"status": status, "finished_at": now, "error": error[:5000], "heartbeat_at": now}
    if status == Status.SUCCEEDED:
        fields["progress"] = 1.0
    if outputs is not None:
        fields["outputs"] = outputs
    if info is not None:
        fields["info"] = info
    if run_seconds is not None:
        fields["run_seconds"] = run_seconds
    updated = Job.objects.filter(pk=job.pk, status=Status.RUNNING, worker=job.worker).update(**fields)
    if updated:
        for name, value in fields.items():  # what the row now holds: no need to read it back
            setattr(job, name, value)
        notify(job)
        _announce_finished(job)
    return bool(updated)


def _finish(job: Job, status: str, *, error: str = "") -> None:
    job.status = status
    job.error = error
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    transaction.on_commit(lambda: notify(job))
    _announce_finished(job)


def _announce_finished(job: Job) -> None:
    """Send ``job_finished`` (webapp/jobs/signals.py) once the write that finished ``job`` commits."""
    transaction.on_commit(lambda: _send_finished(job))


def _send_finished(job: Job) -> None:
    for receiver, result in job_finished.send_robust(sender=Job, job=job):
        if isinstance(result, Exception):
            log.error("job %s: job_finished receiver %s failed", job.pk, getattr(receiver, "__qualname__", receiver),
                      exc_info=result)


def cancel_job(job: Job) -> Job:
    if job.finished:
        raise Conflict(f"The job has already {job.status}.")
    with transaction.atomic():
        updated = Job.objects.filter(pk=job.pk, status__in=[Status.QUEUED, Status.RUNNING]).update(
            status=Status.CANCELLED, finished_at=timezone.now(), error="Cancelled by the user.")
    job.refresh_from_db()
    if not updated:
        raise Conflict(f"The job has already {job.status}.")
    notify(job)
    _announce_finished(job)
    return job


def fail_unserved_jobs() -> int:
    """Fail the queued jobs that no worker served for JOB_UNSERVED_TIMEOUT_SECONDS (webapp/jobs/unserved.py)."""
    failed = 0
    for job, waited in unserved.overdue_jobs():
        if Job.objects.filter(pk=job.pk, status=Status.QUEUED).update(
                status=Status.FAILED, finished_at=timezone.now(), error=unserved.unserved_error(job.queue, waited)):
            job.refresh_from_db()
            log.warning("job %s: no worker served queue %s for %.0f s; failed", job.pk, job.queue, waited)
            notify(job)
            _announce_finished(job)
            failed += 1
    return failed


def reap_stale_jobs(*, requeue: bool = True) -> int:
    """Recover running jobs whose worker stopped reporting: retry once, then fail clearly."""
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    count = 0
    for job in Job.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stale_before):
        count += recover_job(job, requeue=requeue)
    return count


def recover_job(job: Job, *, requeue: bool = True) -> int:
    if job.attempts >= settings.JOB_MAX_ATTEMPTS:
        updated = Job.objects.filter(pk=job.pk, status=Status.RUNNING, heartbeat_at=job.heartbeat_at).update(
            status=Status.FAILED, finished_at=timezone.now(), error=_gave_up_message(job))
    else:
        updated = Job.objects.filter(pk=job.pk, status=Status.RUNNING, heartbeat_at=job.heartbeat_at).update(
            status=Status.QUEUED, progress=0.0)
    if updated:
        job.refresh_from_db()
        log.warning("job %s: worker %s stopped reporting; now %s", job.pk, job.worker, job.status)
        notify(job)
        if job.status == Status.QUEUED and requeue:
            enqueue(job)
        elif job.finished:
            _announce_finished(job)
    return updated


def requeue_after_restart() -> int:
    """Embedded mode: the in-memory broker died with the last process; send its jobs again."""
    count = 0
    for job in Job.objects.filter(status__in=[Status.QUEUED, Status.RUNNING]):
        if job.status == Status.RUNNING:
            count += recover_job(job)
        else:
            enqueue(job)
            count += 1
    return count


def notify(job: Job) -> None:
    events.publish(events.user_group(job.owner_id), job_event(job))
