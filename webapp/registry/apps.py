from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "webapp.registry"
    label = "registry"
    verbose_name = "Model registry"

    def ready(self):
        # Imported here, not at the top: these modules use models, which exist only once the app
        # registry is ready.
        from studies.provenance import describe_study
        from webapp.jobs import services as job_services
        from webapp.jobs.signals import job_finished
        from webapp.registry import services, tasks

        # Training jobs are Job rows run by this app's task: recovery and restarts re-send it by name.
        job_services.register_task(services.TRAINING_ENGINE, tasks.TRAIN_MODEL)
        # After studies' own receiver (it builds the items): open a "compare in a study" once filled.
        job_finished.connect(services.on_job_finished, dispatch_uid="registry.open_filled_studies")
        # A study made from a model version says so on its results page and in its export.
        describe_study.connect(services.describe_study, dispatch_uid="registry.study_provenance")
