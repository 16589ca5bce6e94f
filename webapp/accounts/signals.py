"""Credentials die with the password that earned them: a password change or a sign-out revokes the
user's API token and WebSocket tickets (``webapp.accounts.tokens``). A guest who signs out is deleted
with everything it uploaded (``webapp.accounts.guests``)."""

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from webapp.accounts.models import User
from webapp.accounts.permissions import is_guest
from webapp.accounts.tokens import revoke_credentials


@receiver(post_save, sender=User, dispatch_uid="accounts.password_changed")
def _password_changed(sender, instance, created, **kwargs):
    # set_password() keeps the raw password in _password until save() has run the validators' hooks.
    if not created and getattr(instance, "_password", None) is not None:
        revoke_credentials(instance)


@receiver(user_logged_out, dispatch_uid="accounts.signed_out")
def _signed_out(sender, request, user, **kwargs):
    if user is None:
        return
    if is_guest(user):  # a guest who signs out is gone: its uploads and results are deleted now
        from webapp.accounts.guests import delete_guest

        delete_guest(user)
        return
    revoke_credentials(user)
