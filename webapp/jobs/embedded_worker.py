"""The embedded mode's Celery worker: a real WorkController in a thread of the server process.

Jobs still travel through Celery (memory transport), so the code path is the distributed one.
"""

from __future__ import annotations

import socket
import threading

from celery.worker import WorkController

from webapp.celery import app
from webapp.engine_pool import set_worker_concurrency
from webapp.jobs.worker_signals import start_worker_heartbeat


class _EmbeddedWorkController(WorkController):
    def __init__(self, *args, **kwargs):
        self.ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer):
        self.ready.set()


def start_embedded_worker(queues: tuple[str, ...] = ("gpu", "cpu"), concurrency: int = 2,
                          name: str | None = None) -> _EmbeddedWorkController:
    app.finalize()
    app.set_current()
    app.set_default()
    hostname = name or f"embedded@{socket.gethostname()}"
    worker = _EmbeddedWorkController(
        app=app, hostname=hostname, pool="threads", concurrency=concurrency,
        queues=list(queues), loglevel="WARNING", ready_callback=None,
        without_heartbeat=True, without_mingle=True, without_gossip=True)
    threading.Thread(target=worker.start, name="embedded-celery-worker", daemon=True).start()
    if not worker.ready.wait(30):
        raise RuntimeError("the embedded Celery worker did not start within 30 s")
    set_worker_concurrency(concurrency)
    start_worker_heartbeat(hostname, lambda: sorted(app.amqp.queues.consume_from))
    return worker
