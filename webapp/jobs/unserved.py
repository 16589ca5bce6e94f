"""Queues that no live worker serves: say so, and fail their jobs after a while.

A worker reports its queues every 5 s (``webapp.jobs.worker_signals``); one not heard from for
``LIVE_SECONDS`` is gone. A queued job whose queue has no live worker reads
``"queued — no worker is serving queue <q>"`` (the job's ``waiting`` field, and ``/api/health/``), and
once it has waited ``JOB_UNSERVED_TIMEOUT_SECONDS`` without one it is failed with a message that
says how to start the missing worker. Checked on job and health reads and by every worker's
heartbeat (a CPU worker fails the jobs nobody serves on the GPU queue): see
``webapp.jobs.services.fail_unserved_jobs``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from webapp.jobs.models import Job, WorkerStatus

LIVE_SECONDS = 30
KNOWN_QUEUES = ("gpu", "cpu")
_CONTEXT_KEY = "_live_queues"


def live_queues() -> set[str]:
    recent = timezone.now() - timedelta(seconds=LIVE_SECONDS)
    queues: set[str] = set()
    for reported in WorkerStatus.objects.filter(last_seen__gte=recent).values_list("queues", flat=True):
        queues.update(reported or [])
    return queues


def waiting_message(queue: str) -> str:
    return f"queued — no worker is serving queue {queue}"


def waiting(job: Job, context: dict | None = None) -> str:
    """Why a queued job is not running yet ("" when it is not queued or a worker serves its queue).
    ``context`` (a serializer's) keeps the live queues for a whole list of jobs."""
    if job.status != Job.Status.QUEUED:
        return ""
    cache = context if context is not None else {}
    if _CONTEXT_KEY not in cache:
        cache[_CONTEXT_KEY] = live_queues()
    return "" if job.queue in cache[_CONTEXT_KEY] else waiting_message(job.queue)


def queue_report() -> list[dict]:
    """Per queue (the known ones and any with queued jobs): live workers, queued jobs, a warning."""
    recent = timezone.now() - timedelta(seconds=LIVE_SECONDS)
    workers: dict[str, int] = {}
    for reported in WorkerStatus.objects.filter(last_seen__gte=recent).values_list("queues", flat=True):
        for queue in reported or []:
            workers[queue] = workers.get(queue, 0) + 1
    queued = dict(Job.objects.filter(status=Job.Status.QUEUED).values_list("queue").annotate(n=Count("id")))
    report = []
    for queue in sorted(set(KNOWN_QUEUES) | set(queued)):
        entry = {"name": queue, "workers": workers.get(queue, 0), "queued_jobs": queued.get(queue, 0)}
        if not entry["workers"] and entry["queued_jobs"]:
            entry["detail"] = waiting_message(queue)
        report.append(entry)
    return report


def unserved_error(queue: str, waited: float) -> str:
    return (f"No worker served queue {queue} for {waited:.0f} s, so this job never started. Start one "
            f"(celery -A webapp worker -Q {queue}, see docs/deployment.md) and submit the job again.")


def overdue_jobs() -> list[tuple[Job, float]]:
    """(job, seconds waited) for queued jobs that waited JOB_UNSERVED_TIMEOUT_SECONDS or longer on a
    queue no live worker serves; ``webapp.jobs.services.fail_unserved_jobs`` fails them."""
    timeout = settings.JOB_UNSERVED_TIMEOUT_SECONDS
    now = timezone.now()
    overdue = Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=now - timedelta(seconds=timeout))
    if not overdue.exists():
        return []
    found = []
    for job in overdue.exclude(queue__in=live_queues()):
        # a job that ran before (a dead worker's, re-queued) waits from its last heartbeat
        waited = (now - max(filter(None, (job.created_at, job.heartbeat_at)))).total_seconds()
        if waited >= timeout:
            found.append((job, waited))
    return found
