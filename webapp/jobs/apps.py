from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "webapp.jobs"
    label = "jobs"
    verbose_name = "Jobs and workers"

    def ready(self):
        # Connects the Celery worker signals; imported here, not at the top, because it uses models,
        # which exist only once the app registry is ready.
        from webapp.jobs import worker_signals  # noqa: F401
