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
