"""Expert annotation: projects of photo groups, one assignment per (group, slot), every saved edit
kept as a version, review issues, cached per-edit statistics, and dataset exports.

An assignment's state only moves along :data:`TRANSITIONS` (``services.py`` enforces it with a
conditional UPDATE, so two requests never both move it).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

DEFAULT_SLOTS = ["a", "b", "c"]


def default_slots() -> list[str]:
    return list(DEFAULT_SLOTS)


def default_qa() -> dict:
    """Automatic QA on submit (per project; ``docs/annotation.md``)."""
    return {"max_glc": 30.0, "max_clipped_fraction": 0.02, "extreme_fraction": 0.95}


class AnnotationProject(models.Model):
    class Kind(models.TextChoices):
        RETOUCH = "retouch", "Retouching ground truth"
        HARMONIZATION = "harmonization", "Harmonization ground truth"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotation_projects")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RETOUCH)
    slots = models.JSONField(default=default_slots)
    max_rounds = models.PositiveSmallIntegerField(default=3)
    qa = models.JSONField(default=default_qa)
    duplicates = models.PositiveSmallIntegerField(default=0)  # hidden duplicates per assignment
    split_seed = models.IntegerField(default=0)
    val_fraction = models.FloatField(default=0.2)
    dataset_version = models.PositiveIntegerField(default=0)  # +1 at every freeze
    frozen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class ProjectGroup(models.Model):
    """A photo group in a project; ``index`` is PPR10K's ``g`` in ``{g}_{i}`` file names."""

    project = models.ForeignKey(AnnotationProject, on_delete=models.CASCADE, related_name="project_groups")
    group = models.ForeignKey("photos.PhotoGroup", on_delete=models.PROTECT, related_name="+")
    index = models.PositiveIntegerField()

    class Meta:
        ordering = ["project", "index"]
        constraints = [models.UniqueConstraint(fields=["project", "index"], name="annotation_group_index"),
                       models.UniqueConstraint(fields=["project", "group"], name="annotation_group_once")]

    def __str__(self) -> str:
        return f"group {self.index} of {self.project_id}"


class Assignment(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        IN_PROGRESS = "in_progress", "In progress"
        IN_REVIEW = "in_review", "In review"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        ACCEPTED = "accepted", "Accepted"
        FROZEN = "frozen", "Frozen"

    EDITABLE = (State.IN_PROGRESS, State.CHANGES_REQUESTED)

    project = models.ForeignKey(AnnotationProject, on_delete=models.CASCADE, related_name="assignments")
    project_group = models.ForeignKey(ProjectGroup, on_delete=models.CASCADE, related_name="assignments")
    slot = models.CharField(max_length=8)
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="annotation_assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="annotation_reviews")
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED, db_index=True)
    round = models.PositiveSmallIntegerField(default=1)
    duplicates = models.JSONField(default=list)  # photo ids of other groups, hidden among this group's
    first_pass = models.BooleanField(null=True)  # accepted in round 1? (None until decided)
    submitted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "project_group__index", "slot"]
        constraints = [models.UniqueConstraint(fields=["project_group", "slot"], name="annotation_one_per_slot")]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.project_group.index}{self.slot}"

    @property
    def editable(self) -> bool:
        return self.state in self.EDITABLE


class Edit(models.Model):
    """One saved parameter set: the newest version per (assignment, photo) is the current edit."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="edits")
    photo = models.ForeignKey("photos.Photo", on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    params = models.JSONField()
    renderer_version = models.CharField(max_length=32)
    source = models.CharField(max_length=16, default="editor")  # editor, sync, match, xmp, suggestion, undo
    unsupported = models.JSONField(default=dict)  # XMP keys that had no counterpart (import only)
    round = models.PositiveSmallIntegerField(default=1)
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assignment", "photo", "version"]
        constraints = [models.UniqueConstraint(fields=["assignment", "photo", "version"], name="annotation_edit_version")]

    def __str__(self) -> str:
        return f"edit v{self.version} of photo {self.photo_id} in {self.assignment_id}"


class ReviewIssue(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        VERIFIED = "verified", "Verified"
        REOPENED = "reopened", "Reopened"

    UNRESOLVED = (State.OPEN, State.REOPENED)

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="issues")
    photo = models.ForeignKey("photos.Photo", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    region = models.JSONField(null=True, blank=True)  # {"box": [x0, y0, x1, y1]} or {"brush": [[x, y, r], …]}
    slider = models.CharField(max_length=32, blank=True)
    comment = models.TextField()
    suggested_params = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    reply = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    round = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assignment", "id"]

    def __str__(self) -> str:
        return f"issue {self.pk} ({self.state})"


class EditStats(models.Model):
    """What agreement and QA need from one edit's 360p result, computed once (an Edit never changes)."""

    edit = models.OneToOneField(Edit, on_delete=models.CASCADE, related_name="stats")
    mean_lab = models.JSONField()  # [L*, a*, b*] of the whole result
    human_lab = models.JSONField(null=True)  # the same over the human region (None: no mask)
    clipped_white = models.FloatField(default=0.0)  # fraction of the (human) region at 1.0 in every channel
    clipped_black = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"stats of edit {self.edit_id}"


class EditPair(models.Model):
    """ΔE between two edits of the same photo at 360p (two slots, two rounds, or a hidden duplicate)."""

    first = models.ForeignKey(Edit, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Edit, on_delete=models.CASCADE, related_name="+")
    delta_e76 = models.FloatField()
    delta_e_hc = models.FloatField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["first", "second"], name="annotation_pair_once")]

    def __str__(self) -> str:
        return f"ΔE {self.delta_e76:.2f} between edits {self.first_id} and {self.second_id}"


class DatasetExport(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    project = models.ForeignKey(AnnotationProject, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sizes = models.JSONField(default=list)
    dataset_version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    path = models.CharField(max_length=500, blank=True)  # folder under MEDIA_ROOT/exports/
    files = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export {self.pk} of project {self.project_id} ({self.status})"

    @property
    def download_url(self) -> str | None:
        """The archive is served by the annotation API to the project's owner, not by /media/."""
        return f"/api/annotation/projects/{self.project_id}/export/{self.pk}/download" if self.path else None
