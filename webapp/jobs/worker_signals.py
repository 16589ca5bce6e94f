"""Each worker reports itself (device, queues, engines), recovers jobs of dead workers and purges
expired guests (webapp/accounts/guests.py)."""

from __future__ import annotations

import logging
import threading

from celery import signals
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

import inference.engines as engines
from webapp.accounts.guests import purge_if_due as purge_guests_if_due
from webapp.engine_pool import loaded_engines, set_worker_concurrency
from webapp.jobs.models import WorkerStatus
from webapp.jobs.services import fail_unserved_jobs, reap_stale_jobs

log = logging.getLogger("portrait_lab.workers")


def detect_device() -> str:
    try:
        import torch  # deferred: torch takes seconds to load and only this check needs it here

        if torch.cuda.is_available():
            return f"cuda:{torch.cuda.current_device()}"
    except Exception:  # no torch or a broken driver: the worker still serves CPU engines
        pass
    return "cpu"


def engines_for(queues: list[str]) -> list[str]:
    return [name for name in engines.names() if engines.spec(name).queue in queues]


def report_worker(name: str, queues: list[str], device: str) -> None:
    WorkerStatus.objects.update_or_create(name=name, defaults={
        "device": device, "queues": sorted(queues),
        "engines": {e: engines.versions(e, str(settings.MODEL_DIR)) for e in engines_for(queues)},
        "loaded": loaded_engines(), "last_seen": timezone.now()})


def start_worker_heartbeat(name: str, queues) -> threading.Event:
    """Report every few seconds, and reap jobs whose worker stopped; returns a stop event.

    ``queues`` is a list or a callable returning one (queues can be added after start-up).
    """
    stop = threading.Event()
    device = detect_device()

    def loop():
        while True:
            try:
                close_old_connections()
                report_worker(name, list(queues() if callable(queues) else queues), device)
                reap_stale_jobs()
                fail_unserved_jobs()
            except Exception:
                log.exception("worker heartbeat failed")
            try:  # expired guests of Try it online, at most every GUEST_PURGE_INTERVAL_SECONDS
                purge_guests_if_due()
            except Exception:
                log.exception("purging expired guests failed")
            if stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
                break

    threading.Thread(target=loop, name="worker-heartbeat", daemon=True).start()
    return stop


@signals.celeryd_after_setup.connect(weak=False)
def _on_worker_setup(sender=None, instance=None, **kwargs):
    # Not worker_ready: a solo worker may run a redelivered task before sending that signal,
    # and a worker must report (and reap) while its first task runs.
    if instance is None or not sender:
        return
    app = instance.app
    set_worker_concurrency(getattr(instance, "concurrency", 1))
    start_worker_heartbeat(sender, lambda: sorted(app.amqp.queues.consume_from))


@signals.worker_shutdown.connect
def _on_worker_shutdown(sender, **kwargs):
    try:
        WorkerStatus.objects.filter(name=sender.hostname).delete()
    except Exception:
        log.exception("could not deregister worker")
