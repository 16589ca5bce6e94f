"""Writes and routing for interactive sessions: create a session, send a click to a worker."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from django.utils import timezone

import inference.engines as engines
from webapp.interactive.models import InteractiveSession
from webapp.jobs.models import WorkerStatus

log = logging.getLogger("portrait_lab.interactive")
SHARED_QUEUE = "cpu"
# A worker whose heartbeat (every 5 s) is older than this is gone: its sessions fall back.
WORKER_GONE_SECONDS = float(os.environ.get("INTERACTIVE_WORKER_GONE_SECONDS", 15.0))
# Clicks that wait longer than this in a queue are dropped by the broker side (nobody waits).
CLICK_EXPIRES_SECONDS = 60


class SessionRefused(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def interactive_engines() -> list[str]:
    return [name for name in engines.names() if engines.spec(name).interactive]


def create_session(*, owner, photo_id, engine: str) -> InteractiveSession:
    from webapp.photos.selectors import photos_visible_to

    if not isinstance(engine, str) or engine not in interactive_engines():
        raise SessionRefused(f"engine must be one of the interactive engines: {', '.join(interactive_engines())}")
    if isinstance(photo_id, bool) or not isinstance(photo_id, int) or photo_id <= 0:
        raise SessionRefused("photo must be a positive integer id")
    photo = photos_visible_to(owner).filter(pk=photo_id).first()
    if photo is None:
        raise SessionRefused(f"photo {photo_id} does not exist or is not visible to you", status=404)
    spec = engines.spec(engine)
    return InteractiveSession.objects.create(owner=owner, photo=photo, engine=spec.name,
                                             engine_version=spec.version)


def queue_of(worker_name: str) -> str:
    from webapp.interactive.click_worker import worker_queue_name

    return worker_queue_name(worker_name)


def worker_alive(worker_queue: str) -> bool:
    """Is the worker behind ``interactive.<hostname>`` still reporting?"""
    prefix = queue_of("")
    if not worker_queue or not worker_queue.startswith(prefix):
        return False
    name = worker_queue[len(prefix):]
    recent = timezone.now() - timedelta(seconds=WORKER_GONE_SECONDS)
    return WorkerStatus.objects.filter(name=name, last_seen__gte=recent).exists()


def choose_queue(worker_queue: str) -> str:
    """The session's sticky queue while its worker lives, the shared queue otherwise."""
    if worker_queue and worker_alive(worker_queue):
        return worker_queue
    return SHARED_QUEUE


def forget_worker(session_id, worker_queue: str) -> None:
    InteractiveSession.objects.filter(pk=session_id, worker_queue=worker_queue).update(worker_queue="")


def dispatch_click(session_id, seq: int, clicks: list, params: dict, queue: str) -> None:
    from webapp.interactive.tasks import run_click

    run_click.apply_async(args=[str(session_id), int(seq), clicks, params], queue=queue,
                          expires=CLICK_EXPIRES_SECONDS)
