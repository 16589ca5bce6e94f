from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "webapp.annotation"
    label = "annotation"
    verbose_name = "Expert annotation"

    def ready(self):
        # Registers the export task with Celery (sent by name, "annotation.export_dataset") in every
        # process that loads Django, worker included; imported here because it uses the models.
        from webapp.annotation import tasks  # noqa: F401
