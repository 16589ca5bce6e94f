from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    RESEARCHER = "researcher", "Researcher"
    EXPERT = "expert", "Expert annotator"
    REVIEWER = "reviewer", "Reviewer"


class User(AbstractUser):
    """A signed-in member of the lab. Study participants are not users: they hold a token."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RESEARCHER)

    @property
    def is_researcher(self) -> bool:
        return self.role == Role.RESEARCHER or self.is_superuser


class SocketTicket(models.Model):
    """A single-use pass for opening one WebSocket (``?ticket=``), valid for seconds.

    Browsers cannot send an Authorization header on a WebSocket; a ticket keeps the API token
    out of URLs (and so out of access logs). Only its SHA-256 is stored."""

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"socket ticket of user {self.user_id}"
