from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    label = "studies"
    verbose_name = "User studies"
