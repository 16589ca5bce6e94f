from django.apps import AppConfig


class InteractiveConfig(AppConfig):
    name = "webapp.interactive"
    label = "interactive"
    verbose_name = "Interactive retouching sessions"

    def ready(self):
        from webapp.interactive import worker_queue  # noqa: F401  (connects Celery worker signals)
