from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "webapp.jobs"
    label = "jobs"
    verbose_name = "Jobs and workers"

    def ready(self):
        from webapp.jobs import worker_signals  # noqa: F401  (connects Celery worker signals)
