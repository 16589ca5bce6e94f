"""The model registry: training runs (a frozen annotation dataset version → a training job → an
engine version in MODEL_DIR with its card → held-out metrics) and the studies that judged them.

The weights and the card live in ``MODEL_DIR`` (``inference.modelstore``); a row here records where
they came from so that every study result can be traced back to the photos (``selectors.provenance``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DatasetUpload(models.Model):
    """A PPR10K-layout folder uploaded as a zip (``POST /api/models/datasets/``): the alternative to a
    frozen annotation dataset version. Its files are in ``path`` (under DATA_DIR); provenance of a
    version trained on it stops here (no photos, experts or review rounds behind it)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="dataset_uploads")
    name = models.CharField(max_length=200)  # the zip's file name
    path = models.CharField(max_length=500)  # DATA_DIR/registry/uploads/<token>/
    sha256 = models.CharField(max_length=64)  # of the uploaded zip
    experts = models.JSONField(default=list)  # slots with a complete train split, e.g. ["a", "b"]
    counts = models.JSONField(default=dict)  # {"train": n, "val": n, "files": n}
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"upload {self.pk} {self.name}"


class TrainingRun(models.Model):
    """One engine version being made: reserved when the job is created, filled as it runs.

    ``job`` is the current training job; a resumed run gets a new job (a job's status only moves
    forward) and keeps the earlier ones in ``jobs`` (ids, oldest first)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        EXPORTING = "exporting"
        TRAINING = "training"
        EVALUATING = "evaluating"
        STOPPED = "stopped"  # cancelled or failed mid-run: a checkpoint may be there to resume
        READY = "ready"
        FAILED = "failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="training_runs")
    # the training data: a frozen annotation project's dataset version, or an uploaded folder (then
    # project is empty and dataset_version 0)
    project = models.ForeignKey("annotation.AnnotationProject", on_delete=models.PROTECT, related_name="training_runs",
                                null=True, blank=True)
    upload = models.ForeignKey(DatasetUpload, on_delete=models.PROTECT, related_name="training_runs",
                               null=True, blank=True)
    dataset_version = models.PositiveIntegerField()
    dataset_path = models.CharField(max_length=500, blank=True)  # the PPR10K-layout export it read
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    engine = models.CharField(max_length=64)  # the model / engine name, e.g. retouch.lut
    version = models.CharField(max_length=64)  # MODEL_DIR/<engine>/<version>
    expert = models.CharField(max_length=8)
    steps = models.PositiveIntegerField()
    seed = models.IntegerField(default=0)
    arguments = models.JSONField(default=dict, blank=True)  # the network's constructor arguments
    job = models.ForeignKey("jobs.Job", on_delete=models.PROTECT, related_name="+")
    jobs = models.JSONField(default=list)  # every training job of this run, oldest first
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    step = models.PositiveIntegerField(default=0)
    loss = models.JSONField(default=list)  # [[step, loss], …] thinned to a few hundred points
    throughput = models.JSONField(default=dict)  # steps_per_s, images_per_s, seconds of the last session
    metrics = models.JSONField(default=dict)  # inference.evaluate on the val split (per_image rows kept)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["engine", "version"], name="registry_engine_version")]

    def __str__(self) -> str:
        return f"{self.engine} v{self.version}"


class StudyComparison(models.Model):
    """A pairwise study made by "Compare in a study": which run it judges and what each method is."""

    study = models.OneToOneField("studies.Study", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(TrainingRun, on_delete=models.PROTECT, related_name="comparisons")
    methods = models.JSONField()  # [{"name", "kind": model|engine|expert|input, "engine"?, "version"?}]
    photos = models.JSONField(default=list)  # the val-split photo ids
    opened_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"study {self.study_id} judging {self.run}"
