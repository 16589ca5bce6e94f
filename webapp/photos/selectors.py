"""Reads for photos; who may see what lives here."""

from __future__ import annotations

import numpy as np
from django.core.files.storage import default_storage

from inference import imageio
from webapp.accounts.permissions import user_has_role
from webapp.photos.models import Mask, Photo


def photos_visible_to(user):
    if not user_has_role(user, "researcher", "expert", "reviewer"):
        return Photo.objects.none()
    return Photo.objects.select_related("group").prefetch_related("masks")


def load_photo_rgb(photo: Photo, *, size: str = "original") -> np.ndarray:
    """Decode a stored photo to float32 sRGB: ``original`` (EXIF/ICC applied) or ``working``."""
    field = photo.original if size == "original" else photo.working
    with default_storage.open(field.name, "rb") as fh:
        return imageio.decode(fh.read(), max_pixels=10**9).rgb


def load_mask(mask: Mask) -> np.ndarray:
    with default_storage.open(mask.file.name, "rb") as fh:
        return imageio.decode(fh.read(), max_pixels=10**9).rgb[..., 0]
