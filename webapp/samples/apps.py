from django.apps import AppConfig


class SamplesConfig(AppConfig):
    name = "webapp.samples"
    label = "samples"
    verbose_name = "Sample portraits"
