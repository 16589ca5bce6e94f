from django.conf import settings
from django.db import models


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    engine = models.CharField(max_length=64)
    engine_version = models.CharField(max_length=32)
    queue = models.CharField(max_length=64)
    inputs = models.JSONField(default=dict)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    outputs = models.JSONField(default=list)  # [{"name", "path"}]
    output_format = models.CharField(max_length=8, default="png")  # of image outputs (inference.encoding)
    info = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    run_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"job {self.pk} {self.engine} {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED


class WorkerStatus(models.Model):
    """What each Celery worker last said about itself (heartbeat every few seconds)."""

    name = models.CharField(max_length=200, unique=True)
    device = models.CharField(max_length=64)
    queues = models.JSONField(default=list)
    engines = models.JSONField(default=list)
    loaded = models.JSONField(default=list)
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.device})"
