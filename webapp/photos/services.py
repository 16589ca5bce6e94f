"""Writes for photos: decode safely, keep the original, make proxies, attach masks."""

from __future__ import annotations

import hashlib
import uuid

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from inference import encoding, imageio
from webapp.photos.models import Mask, Photo, PhotoGroup
from webapp.refusal import Refusal, TooLarge

_EXTENSIONS = {"jpeg": "jpg", "png": "png", "tiff": "tif"}


def _read_limited(upload) -> bytes:
    size = getattr(upload, "size", None)
    limit = settings.UPLOAD_MAX_BYTES
    if size is not None and size > limit:
        raise TooLarge(f"The file is {size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB.")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"The file is larger than the {limit / 2**20:.0f} MB limit.")
    return data


def decode_upload(data: bytes, **limits) -> imageio.DecodedImage:
    """Decode within the pixel and memory budgets: over a limit is a 413, not an image a 400."""
    try:
        return imageio.decode(data, max_pixels=settings.UPLOAD_MAX_PIXELS,
                              max_memory=settings.DECODE_MEMORY_BUDGET_BYTES, **limits)
    except imageio.ImageTooLarge as exc:
        raise TooLarge(str(exc)) from exc
    except imageio.ImageRejected as exc:
        raise Refusal(str(exc)) from exc


def ingest_photo(*, upload, owner, group: PhotoGroup | None = None) -> Photo:
    """Validate and store an uploaded image. Nothing is stored unless every step succeeds."""
    data = _read_limited(upload)
    decoded = decode_upload(data, max_bytes=settings.UPLOAD_MAX_BYTES)

    stem = uuid.uuid4().hex
    working = imageio.make_proxy(decoded.rgb, imageio.WORKING_SHORT_SIDE)
    display = imageio.make_display_proxy(decoded.rgb, imageio.DISPLAY_LONG_SIDE)
    photo = Photo(
        owner=owner,
        group=group,
        original_name=(getattr(upload, "name", "") or "")[:255],
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        bit_depth=decoded.bit_depth,
        has_alpha=decoded.alpha is not None,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    saved: list = []
    try:
        with transaction.atomic():
            photo.original.save(f"{stem}.{_EXTENSIONS[decoded.format]}", ContentFile(data), save=False)
            saved.append(photo.original)
            photo.working.save(f"{stem}.png", ContentFile(imageio.encode_png(working)), save=False)
            saved.append(photo.working)
            photo.display.save(f"{stem}.jpg", ContentFile(imageio.encode_jpeg(display, quality=90)),
                               save=False)
            saved.append(photo.display)
            photo.save()
    except Exception:
        for field in saved:  # a failed save leaves no orphan files behind
            field.storage.delete(field.name)
        raise
    return photo


def attach_mask(*, photo: Photo, upload, kind: str, created_by) -> Mask:
    """Store a mask image for ``photo``; it must have the photo's size (or its working size)."""
    if kind not in Mask.Kind.values:
        raise Refusal(f"kind must be one of {', '.join(Mask.Kind.values)}")
    data = _read_limited(upload)
    decoded = decode_upload(data)
    if (decoded.width, decoded.height) != (photo.width, photo.height):
        raise Refusal(
            f"The mask is {decoded.width} × {decoded.height} pixels but the photo is "
            f"{photo.width} × {photo.height}.")
    mask = decoded.rgb.mean(axis=2)
    if decoded.alpha is not None and float(mask.min()) == float(mask.max()):
        mask = decoded.alpha  # a transparent PNG cut-out: the alpha is the mask
    return save_mask_array(photo=photo, mask=mask, kind=kind, created_by=created_by)


def save_mask_array(*, photo: Photo, mask: np.ndarray, kind: str, created_by) -> Mask:
    if float(mask.max(initial=0.0)) <= 0.0:
        raise Refusal("The mask is empty: no pixel is marked.")
    grey = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)  # stored as an 8-bit greyscale PNG
    record = Mask(photo=photo, kind=kind, created_by=created_by)
    record.file.save(f"{uuid.uuid4().hex}.png", ContentFile(encoding.encode_png(grey)), save=False)
    try:
        record.save()
    except Exception:
        record.file.storage.delete(record.file.name)
        raise
    return record


def create_group(*, name: str, created_by) -> PhotoGroup:
    return PhotoGroup.objects.create(name=name.strip()[:200], created_by=created_by)
