"""Reads for photos; who may see what lives here."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from django.core.files.storage import default_storage
from django.db.models import Q

from inference import imageio
from webapp.accounts.models import Role
from webapp.accounts.permissions import is_guest, user_has_role
from webapp.photos.models import Mask, Photo


def photos_visible_to(user):
    """Staff see the library; a guest sees its own uploads and the sample portraits. Guests' uploads
    stay private to them (and are deleted with them: webapp/accounts/guests.py)."""
    photos = Photo.objects.select_related("group", "sample").prefetch_related("masks")
    if is_guest(user):
        return photos.filter(Q(owner=user) | Q(sample__isnull=False))
    if not user_has_role(user, "researcher", "expert", "reviewer"):
        return Photo.objects.none()
    return photos.exclude(owner__role=Role.GUEST)


class _SmallImages:
    """Decoded pixels of recently used small stored images, by storage name (stored files never
    change: names are unique). Repeated jobs on one photo — an editor's every slider release —
    skip reading and decoding it; callers get a copy they may modify."""

    def __init__(self, max_pixels: int = 2_000_000, slots: int = 8):
        self.max_pixels, self.slots = max_pixels, slots
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> np.ndarray | None:
        with self._lock:
            pixels = self._items.get(name)
            if pixels is not None:
                self._items.move_to_end(name)
        return None if pixels is None else pixels.copy()

    def put(self, name: str, pixels: np.ndarray) -> None:
        if pixels.shape[0] * pixels.shape[1] > self.max_pixels:
            return
        with self._lock:
            self._items[name] = pixels.copy()
            while len(self._items) > self.slots:
                self._items.popitem(last=False)


small_images = _SmallImages()


def load_photo_rgb(photo: Photo, *, size: str = "original") -> np.ndarray:
    """Decode a stored photo to float32 sRGB: ``original`` (EXIF/ICC applied) or ``working``."""
    field = photo.original if size == "original" else photo.working
    pixels = small_images.get(field.name)
    if pixels is None:
        with default_storage.open(field.name, "rb") as fh:
            pixels = imageio.decode(fh.read(), max_pixels=10**9).rgb
        small_images.put(field.name, pixels)
    return pixels


def load_photo_codes(photo: Photo) -> np.ndarray:
    """The full-resolution original as the file's code values (uint8 / uint16 H×W×3, EXIF/ICC
    applied as :func:`load_photo_rgb` applies them), or float32 where a colour step left floats.
    Not cached: a caller that wants codes works at full size, on one photo after another."""
    with default_storage.open(photo.original.name, "rb") as fh:
        return imageio.decode(fh.read(), max_pixels=10**9, as_codes=True).rgb


def load_mask(mask: Mask) -> np.ndarray:
    """A stored mask as float32 H×W (8-bit greyscale PNGs decode straight to one channel)."""
    with default_storage.open(mask.file.name, "rb") as fh:
        return imageio.decode_grey(fh.read(), max_pixels=10**9)
