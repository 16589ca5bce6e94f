from django.conf import settings
from django.db import models


class PhotoGroup(models.Model):
    """Photos shot in one session that experts must retouch with a consistent tone (PPR10K)."""

    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Photo(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="photos")
    group = models.ForeignKey(PhotoGroup, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="photos")
    original = models.FileField(upload_to="photos/originals/")
    original_name = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=8)
    width = models.PositiveIntegerField()   # after EXIF orientation
    height = models.PositiveIntegerField()
    bit_depth = models.PositiveSmallIntegerField(default=8)
    has_alpha = models.BooleanField(default=False)
    working = models.FileField(upload_to="photos/working/")   # 360 px short side (PPR10K proxies)
    display = models.FileField(upload_to="photos/display/")   # ≤ 1600 px long side, for the browser
    sha256 = models.CharField(max_length=64, db_index=True)
    # Interactive engines' prepared states stored with the photo (webapp/photos/prepared.py):
    # {engine name: {"version", "path", "size": [width, height]}}
    prepared = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.original_name or f"photo {self.pk}"


class Mask(models.Model):
    """A region mask attached to a photo (human region, reference region, …), full resolution."""

    class Kind(models.TextChoices):
        HUMAN = "human", "Human region"
        REFERENCE = "reference", "Reference region"
        FOREGROUND = "foreground", "Foreground (composite)"

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="masks")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.HUMAN)
    file = models.FileField(upload_to="photos/masks/")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} mask of photo {self.photo_id}"
