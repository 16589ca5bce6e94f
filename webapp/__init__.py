"""Portrait Lab's Django project: settings, URLs, ASGI, the Celery app and the core apps."""

from webapp.celery import app as celery_app

__all__ = ("celery_app",)
