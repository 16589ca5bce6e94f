"""``python manage.py serve``: the whole platform in one process (embedded mode) or its web tier.

Applies migrations, creates demo content on first run, starts an in-process Celery worker when
the broker is the in-memory transport, and serves HTTP + WebSocket with uvicorn.
"""

from __future__ import annotations

import asyncio
import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Portrait Lab (HTTP and WebSocket) on http://HOST:PORT."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--no-demo", action="store_true", help="do not create demo content")
        parser.add_argument("--no-worker", action="store_true",
                            help="never start the in-process worker (distributed web tier)")

    def handle(self, host, port, no_demo, no_worker, **options):
        import uvicorn

        from webapp import events
        from webapp.jobs import services
        from webapp.pages.first_run import ensure_demo_content

        call_command("migrate", interactive=False, verbosity=0)
        if not no_demo:
            for line in ensure_demo_content():
                self.stdout.write(line)
        embedded_broker = settings.CELERY_BROKER_URL.startswith("memory://")
        if embedded_broker and not no_worker:
            from webapp.jobs.embedded_worker import start_embedded_worker

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
