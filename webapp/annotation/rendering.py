"""Rendering an edit: the photo (working proxy or original) through the adjust renderer, limited to
the pasted person for harmonization tasks; and the masks a photo carries.

Everything that shows or measures an expert's result (QA, agreement, the reviewer's view, the
export) renders through :func:`render`, so they all agree with each other and with the editor.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
from django.core.files.storage import default_storage

import inference.engines as engines
from inference import render as renderer
from inference.imagefiles import quantise
from inference.segmentation import resize_image
from webapp.photos.models import Mask, Photo
from webapp.photos.selectors import load_mask, load_photo_rgb

RENDERER_VERSION = f"adjust-{engines.spec('adjust').version}"
# Lightroom's Basic panel order; sliders the renderer does not have (yet) are left out.
BASIC_ORDER = ("temperature", "tint", "exposure", "contrast", "highlights", "shadows", "whites", "blacks",
               "texture", "clarity", "dehaze", "vibrance", "saturation")
SLIDERS = tuple(k for k in BASIC_ORDER if k in renderer.PARAMS)


def identity_params() -> dict:
    return renderer.normalize_params({})


def latest_mask(photo: Photo, kind: str) -> Mask | None:
    return photo.masks.filter(kind=kind).order_by("-id").first()


def mask_array(mask: Mask | None, height: int, width: int) -> np.ndarray | None:
    """The mask in [0, 1] at (height, width), or None.

    Masks are the platform's own grey PNGs (checked when they were stored), so they are read as one
    grey channel with OpenCV: about three times faster than a full RGB decode at 24 MP."""
    if mask is None:
        return None
    grey = _stored_grey(mask)
    if grey is None:  # not a format OpenCV reads: the general decoder
        m = load_mask(mask)
    else:
        m = grey.astype(np.float32) / np.float32(255.0 if grey.dtype == np.uint8 else 65535.0)
    if m.shape != (height, width):
        m = np.clip(resize_image(m, height, width), 0.0, 1.0)
    return m.astype(np.float32, copy=False)


def _stored_grey(mask: Mask) -> np.ndarray | None:
    with default_storage.open(mask.file.name, "rb") as fh:
        return cv2.imdecode(np.frombuffer(fh.read(), np.uint8), cv2.IMREAD_GRAYSCALE)


def mask_codes(mask: Mask | None, height: int, width: int) -> np.ndarray | None:
    """The mask as 8-bit codes (0..255) at (height, width), or None: the stored PNG's own values
    when it is 8-bit at that size (the usual case; no float copy of a 24 MP mask), otherwise
    :func:`mask_array` quantised."""
    if mask is None:
        return None
    grey = _stored_grey(mask)
    if grey is not None and grey.dtype == np.uint8 and grey.shape == (height, width):
        return grey
    return quantise(mask_array(mask, height, width))


def source(photo: Photo, size: str = "working") -> np.ndarray:
    """``working`` (short side 360, PPR10K's 360p) or ``original`` (full resolution)."""
    return load_photo_rgb(photo, size=size)


def render(photo: Photo, params: dict, *, size: str = "working", harmonization: bool = False,
           image: np.ndarray | None = None, progress=None) -> np.ndarray:
    """The edit's result. For a harmonization task the sliders act on the pasted person only:
    ``out = src + m·(adjusted − src)`` with ``m`` the photo's foreground mask."""
    src = source(photo, size) if image is None else image
    out = renderer.apply_adjustments(src, params, progress)
    if harmonization:
        fg = mask_array(latest_mask(photo, Mask.Kind.FOREGROUND), *src.shape[:2])
        if fg is not None:
            out = src + fg[..., None] * (out - src)
    return out


#: Largest region the 1:1 view may ask for at once (a 4K screen's worth and then some).
MAX_CROP_PIXELS = 4096 * 3072


class _LastOriginal:
    """The full-resolution original the 1:1 view asked for last, decoded, per process: a pan asks for
    crop after crop of one photo, and decoding a 24 MP JPEG (~2 s on 2 cores) would dominate every
    answer. One slot (a 24 MP photo takes 288 MB as float32), replaced when another photo is asked
    for; read-only, so a render can never change it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._name: str | None = None
        self._pixels: np.ndarray | None = None

    def get(self, photo: Photo) -> np.ndarray:
        with self._lock:
            if self._name == photo.original.name and self._pixels is not None:
                return self._pixels
        pixels = source(photo, "original")
        pixels.flags.writeable = False
        with self._lock:
            self._name, self._pixels = photo.original.name, pixels
        return pixels


_last_original = _LastOriginal()


def render_crop(photo: Photo, params: dict, box: tuple[int, int, int, int], *, harmonization: bool = False) -> np.ndarray:
    """The edit's result on the region ``box = (x, y, width, height)`` of the full-resolution
    original: equal to ``render(photo, params, size="original")[y:y + height, x:x + width]``.

    Per-pixel sliders render the crop alone. The neighbourhood sliders (texture, clarity, dehaze)
    look past the crop's edges and their radii follow the whole image's short side, so while one is
    in use the whole original is rendered and then cropped (slower, but the 1:1 view must show what
    the export will hold)."""
    x, y, w, h = box
    src = _last_original.get(photo)
    p = renderer.normalize_params(params)
    region = (slice(y, y + h), slice(x, x + w))
    if any(p[k] for k in renderer.LOCAL_PARAMS):
        out = renderer.apply_adjustments(src, p)[region]
    else:
        out = renderer.apply_adjustments(src[region], p)
    if harmonization:
        fg = mask_array(latest_mask(photo, Mask.Kind.FOREGROUND), *src.shape[:2])
        if fg is not None:
            out = src[region] + fg[region][..., None] * (out - src[region])
    return out
