"""Portrait Lab's Django project: settings, URLs, ASGI, the Celery app and the core apps."""

from inference.memory import keep_freed_memory

keep_freed_memory()  # before any thread starts: see inference/memory.py

from webapp.celery import app as celery_app  # noqa: E402 - after the allocator is set

__all__ = ("celery_app",)
