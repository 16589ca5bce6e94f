"""Writes and routing for interactive sessions: create a session, send a click to a worker."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import inference.engines as engines
from webapp.celery import app as celery_app
from webapp.interactive.models import InteractiveSession
from webapp.interactive.worker_queue import worker_queue_name
from webapp.jobs.models import WorkerStatus
from webapp.photos.selectors import photos_visible_to
from webapp.refusal import Forbidden, NotFound, Refusal

log = logging.getLogger("portrait_lab.interactive")
SHARED_QUEUE = "cpu"
RUN_CLICK = "interactive.run_click"  # the task in webapp/interactive/tasks.py, sent by name
WARM_SESSION = "interactive.warm_session"  # ditto
# A worker whose heartbeat (every 5 s) is older than this is gone: its sessions fall back.
WORKER_GONE_SECONDS = float(os.environ.get("INTERACTIVE_WORKER_GONE_SECONDS", 15.0))
# Clicks that wait longer than this in a queue are dropped by the broker side (nobody waits).
CLICK_EXPIRES_SECONDS = 60


def interactive_engines() -> list[str]:
    return [name for name in engines.names() if engines.spec(name).interactive]


def create_session(*, owner, photo_id, engine: str) -> InteractiveSession:
    if not isinstance(engine, str) or engine not in interactive_engines():
        raise Refusal(f"engine must be one of the interactive engines: {', '.join(interactive_engines())}")
    if isinstance(photo_id, bool) or not isinstance(photo_id, int) or photo_id <= 0:
        raise Refusal("photo must be a positive integer id")
    photo = photos_visible_to(owner).filter(pk=photo_id).first()
    if photo is None:
        raise NotFound(f"photo {photo_id} does not exist or is not visible to you")
    spec = engines.spec(engine)
    try:  # a learned engine without trained weights is refused here, not at the first click
        version = engines.resolve_version(spec.name, None, str(settings.MODEL_DIR))
    except engines.EngineInputError as exc:
        raise Refusal(str(exc)) from exc
    session = InteractiveSession.objects.create(owner=owner, photo=photo, engine=spec.name,
                                                engine_version=version)
    # Before anyone clicks: a worker loads the photo's prepared state (or prepares it).
    transaction.on_commit(lambda: _send_warm(session))
    return session


def _send_warm(session: InteractiveSession) -> None:
    try:
        celery_app.send_task(WARM_SESSION, args=[str(session.pk)], queue=SHARED_QUEUE, expires=CLICK_EXPIRES_SECONDS)
    except Exception:  # the first click prepares instead
        log.exception("session %s: could not send the warm-up task", session.pk)


def session_for(session_id, user) -> InteractiveSession:
    """The session ``user`` may drive: its owner's (or any, for a superuser)."""
    session = InteractiveSession.objects.select_related("photo").filter(pk=session_id).first()
    if session is None:
        raise NotFound("No such session.")
    if session.owner_id != user.pk and not user.is_superuser:
        raise Forbidden("This session belongs to someone else.")
    return session


def worker_alive(worker_queue: str) -> bool:
    """Is the worker behind ``interactive.<hostname>`` still reporting?"""
    prefix = worker_queue_name("")
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
    celery_app.send_task(RUN_CLICK, args=[str(session_id), int(seq), clicks, params], queue=queue,
                         expires=CLICK_EXPIRES_SECONDS)
