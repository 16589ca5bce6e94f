import uuid

from django.conf import settings
from django.db import models


class InteractiveSession(models.Model):
    """One person's interactive session on one photo with one engine.

    The heavy, click-independent state (working image, superpixels, people prior, statistics)
    lives in the memory of the worker that prepared it; ``worker_queue`` names that worker's own
    queue so later clicks go back to it (sticky routing).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="interactive_sessions")
    photo = models.ForeignKey("photos.Photo", on_delete=models.CASCADE, related_name="interactive_sessions")
    engine = models.CharField(max_length=64)
    engine_version = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    worker_queue = models.CharField(max_length=255, blank=True)
    last_seq = models.BigIntegerField(default=0)
    last_result_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"session {self.pk} {self.engine} photo {self.photo_id}"

    @property
    def group(self) -> str:
        return session_group(self.pk)


def session_group(session_id) -> str:
    """Channel-layer group of a session's WebSocket connections."""
    return f"isession.{session_id}"
