from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    RESEARCHER = "researcher", "Researcher"
    EXPERT = "expert", "Expert annotator"
    REVIEWER = "reviewer", "Reviewer"
    GUEST = "guest", "Guest (try it online)"


class User(AbstractUser):
    """A signed-in member of the lab. Study participants are not users: they hold a token."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RESEARCHER)

    @property
    def is_researcher(self) -> bool:
        return self.role == Role.RESEARCHER or self.is_superuser

    @property
    def is_guest(self) -> bool:
        return self.role == Role.GUEST and not self.is_superuser


class SocketTicket(models.Model):
    """A single-use pass for opening one WebSocket (``?ticket=``), valid for seconds.

    Browsers cannot send an Authorization header on a WebSocket; a ticket keeps the API token
    out of URLs (and so out of access logs). Only its SHA-256 is stored."""

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"socket ticket of user {self.user_id}"


class GuestPass(models.Model):
    """What makes a ``guest`` user short-lived: when it and everything it made are deleted.

    A visitor of "Try it online" gets one with one click (``POST /api/auth/guest/``); the
    ``purge_guests`` command (also run by every worker's heartbeat, ``webapp.accounts.guests``)
    deletes the user, its photos, jobs, sessions and their files once ``expires_at`` has passed.
    Only a digest of the client address is kept, for the per-address limits."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="guest_pass")
    address_digest = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    # Bytes of the guest's uploads and masks so far (GUEST_STORAGE_MB caps it).
    stored_bytes = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"guest pass of user {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"
