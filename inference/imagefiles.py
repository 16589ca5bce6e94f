"""Reading and writing the image files of dataset folders (PPR10K layout): 8/16-bit TIFF, PNG, JPEG.

Not for uploads (those go through :mod:`inference.imageio`, which guards against hostile files and
converts ICC profiles). Here files are our own or a dataset's: pixel values are taken as stored, as
MATLAB's ``imread`` does (no ICC conversion, no EXIF rotation), so metrics match the papers' scripts.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import tifffile

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
_TOP = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.bool_): 1.0}


def _read_raw(path: str | os.PathLike) -> np.ndarray:
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        return tifffile.imread(path)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f"cannot read image {path}")
    if raw.ndim == 3:  # OpenCV stores BGR(A)
        raw = raw[..., [2, 1, 0, 3][: raw.shape[2]]] if raw.shape[2] >= 3 else raw
    return raw


def _to_unit(raw: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    top = _TOP.get(raw.dtype)
    if top is not None:
        return raw.astype(np.float32) / np.float32(top)
    if np.issubdtype(raw.dtype, np.floating):
        return np.clip(raw.astype(np.float32), 0.0, 1.0)
    raise ValueError(f"{path}: unsupported sample type {raw.dtype}")


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """H×W×3 float32 sRGB in [0, 1] from an 8-bit, 16-bit or float file (grey is repeated, alpha
    dropped)."""
    raw = _read_raw(path)
    if raw.ndim == 2:
        raw = np.repeat(raw[..., None], 3, axis=2)
    if raw.ndim != 3 or raw.shape[2] < 3:
        raise ValueError(f"{path}: expected an RGB image, got shape {raw.shape}")
    return _to_unit(raw[..., :3], path)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """H×W float32 mask in [0, 1] (first channel of a multi-channel file)."""
    raw = _read_raw(path)
    return _to_unit(raw[..., 0] if raw.ndim == 3 else raw, path)


_QUANTISE_BAND_BYTES = 1 << 20  # float32 bytes per band: the band's four steps stay in cache


def quantise(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """[0, 1] floats → uint8 / uint16 with rounding (values outside [0, 1] are clipped).

    ``floor(clip(x, 0, 1) · top + 0.5)`` in float32, fused per band of rows on the renderer's tile
    pool (one read and one small write per pixel instead of four full-size float temporaries)."""
    dtype, top = {8: (np.uint8, 255.0), 16: (np.uint16, 65535.0)}[bits]
    image = np.asarray(image)
    if image.ndim == 0 or image.shape[0] == 0 or image.size == 0:
        return (np.clip(np.asarray(image, np.float32), 0.0, 1.0) * np.float32(top) + 0.5).astype(dtype)
    from inference.render import tile_pool  # deferred: the renderer is not needed to read files

    out = np.empty(image.shape, dtype)
    rows = max(1, _QUANTISE_BAND_BYTES // (4 * (image.size // image.shape[0])))

    def band(r: int) -> None:
        t = np.clip(np.asarray(image[r:r + rows], np.float32), 0.0, 1.0)
        t *= np.float32(top)
        t += np.float32(0.5)
        out[r:r + rows] = t  # the cast truncates, as astype does

    list(tile_pool().map(band, range(0, image.shape[0], rows)))
    return out


def as_codes(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """``bits``-bit code values: floats in [0, 1] are quantised; uint8 / uint16 arrays are code
    values already and pass as they are (their bit depth must be ``bits``)."""
    image = np.asarray(image)
    if image.dtype.kind in "iub":
        want = {8: np.uint8, 16: np.uint16}[bits]
        if image.dtype != want:
            raise ValueError(f"{bits}-bit codes must be {np.dtype(want).name}, got {image.dtype}")
        return image
    return quantise(image, bits)


def write_tiff(path: str | os.PathLike, image: np.ndarray, bits: int = 8) -> None:
    """Uncompressed RGB TIFF, 8- or 16-bit (byte-identical for identical pixels: no date tag), from
    floats in [0, 1] or from code values (:func:`as_codes`)."""
    tifffile.imwrite(path, as_codes(image, bits), photometric="rgb")


def write_mask_png(path: str | os.PathLike, mask: np.ndarray) -> None:
    """Binary mask as an 8-bit grey PNG holding 0 and 255: threshold 0.5 on floats, and on 8-bit codes
    k the same threshold on k / 255 (k ≥ 128)."""
    mask = np.asarray(mask)
    above = mask > 127 if mask.dtype == np.uint8 else mask > 0.5
    binary = np.where(above, np.uint8(255), np.uint8(0))  # uint8 at once (no int64 copy)
    if not cv2.imwrite(str(path), binary):
        raise ValueError(f"cannot write {path}")


def list_images(folder: str | os.PathLike) -> dict[str, Path]:
    """Image files of a folder keyed by stem (file name without extension); duplicates raise."""
    found: dict[str, Path] = {}
    for p in sorted(Path(folder).iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            if p.stem in found:
                raise ValueError(f"{folder}: two files named {p.stem}.* ({found[p.stem].name}, {p.name})")
            found[p.stem] = p
    return found
