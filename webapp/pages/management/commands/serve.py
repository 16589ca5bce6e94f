"""``python manage.py serve``: the whole platform in one process (embedded mode) or its web tier.

Applies migrations, creates demo content on first run, starts an in-process Celery worker when
the broker is the in-memory transport, and serves HTTP + WebSocket with uvicorn.
"""

from __future__ import annotations

import asyncio
import os

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from webapp import events
from webapp.jobs import services
from webapp.jobs.embedded_worker import start_embedded_worker
from webapp.pages.first_run import ensure_demo_content


class Command(BaseCommand):
    help = ("Serve Portrait Lab (HTTP and WebSocket) on http://HOST:PORT. Without CELERY_BROKER_URL it "
            "also runs a Celery worker inside this process (EMBEDDED_WORKER_CONCURRENCY threads, default 2).")

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"),
                            help="address to listen on (default: %(default)s; the HOST variable sets the default)")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)),
                            help="port to listen on (default: %(default)s; the PORT variable sets the default)")
        parser.add_argument("--no-demo", action="store_true",
                            help="do not create the demo researcher and sample photos on first run "
                                 "(default: create them)")
        parser.add_argument("--no-worker", action="store_true",
                            help="never start the in-process worker, even with the in-memory broker "
                                 "(default: start it when CELERY_BROKER_URL is unset)")

    def handle(self, host, port, no_demo, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not no_demo:
            for line in ensure_demo_content():
                self.stdout.write(line)
        embedded_broker = settings.CELERY_BROKER_URL.startswith("memory://")
        if embedded_broker and not no_worker:
            start_embedded_worker(concurrency=int(os.environ.get("EMBEDDED_WORKER_CONCURRENCY", 2)))
            recovered = services.requeue_after_restart()
            if recovered:
                self.stdout.write(f"re-queued {recovered} job(s) left from the last run")
        mode = "embedded" if settings.EMBEDDED else "distributed"
        self.stdout.write(f"Portrait Lab ({mode} mode, data in {settings.DATA_DIR}) on http://{host}:{port}/")

        config = uvicorn.Config("webapp.asgi:application", host=host, port=port, lifespan="off",
                                log_level=os.environ.get("UVICORN_LOG_LEVEL", "warning"),
                                ws_max_size=4 * 2**20, timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)

        async def main():
            events.bind_server_loop(asyncio.get_running_loop())
            await server.serve()

        asyncio.run(main())
