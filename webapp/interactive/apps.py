from django.apps import AppConfig

from webapp.interactive import worker_queue  # noqa: F401  (connects Celery worker signals; imports no models)


class InteractiveConfig(AppConfig):
    name = "webapp.interactive"
    label = "interactive"
    verbose_name = "Interactive retouching sessions"
