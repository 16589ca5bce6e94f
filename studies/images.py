"""Study images: decoded safely, resized to the input's size, re-encoded as baseline JPEG without
any metadata (one encoder and quality for every method, so neither bytes nor sizes tell methods
apart), plus a visibly degraded copy for attention checks."""

from __future__ import annotations

import uuid

import cv2
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile

from inference import imageio

STUDY_LONG_SIDE = 1024
JPEG_QUALITY = 90


class ImageProblem(ValueError):
    pass


def decode(data: bytes) -> np.ndarray:
    try:
        return imageio.decode(data, max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS,
                              max_memory=settings.DECODE_MEMORY_BUDGET_BYTES).rgb
    except imageio.ImageRejected as exc:
        raise ImageProblem(str(exc)) from exc


def fit_long_side(rgb: np.ndarray, long_side: int = STUDY_LONG_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(1.0, long_side / max(h, w))
    if scale >= 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def match_size(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if rgb.shape[:2] == (h, w):
        return rgb
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)


def degrade(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """A visibly worse copy: strong blur, heavy noise, posterised and colour-cast."""
    h, w = rgb.shape[:2]
    k = max(3, (min(h, w) // 20) | 1)
    out = cv2.GaussianBlur(rgb, (k, k), 0)
    rng = np.random.default_rng(seed)
    out = out + rng.normal(0, 0.08, out.shape).astype(np.float32)
    out = np.round(out * 5) / 5
    out = out * np.array([1.15, 0.9, 0.8], dtype=np.float32)
    return np.clip(out, 0, 1).astype(np.float32)


def encode(rgb: np.ndarray) -> bytes:
    return imageio.encode_jpeg(np.clip(rgb, 0, 1).astype(np.float32), quality=JPEG_QUALITY)


def content(rgb: np.ndarray) -> ContentFile:
    return ContentFile(encode(rgb), name=f"{uuid.uuid4().hex}.jpg")
