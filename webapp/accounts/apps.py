from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "webapp.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from webapp.accounts import signals  # noqa: F401  (app-loading order: connects the receivers)
