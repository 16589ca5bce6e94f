from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    label = "studies"
    verbose_name = "User studies"

    def ready(self):
        # Imported here, not at the top: both modules use models, which exist only once the app
        # registry is ready.
        from studies.engine_items import on_job_finished
        from webapp.jobs.signals import job_finished

        # Items from engines are built when their jobs finish (studies/engine_items.py).
        job_finished.connect(on_job_finished, dispatch_uid="studies.engine_items")
