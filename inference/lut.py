"""3-D colour lookup tables: the global sliders fused into one table, and its application.

``build_lut(params, size)`` evaluates the reference renderer (:func:`inference.render.apply_adjustments`)
on a size³ lattice of sRGB values, so all the sliders become one lookup; ``apply_lut(image, lut)``
applies a table with trilinear interpolation. The table is a float32 array
``lut[r, g, b] -> (R, G, B)`` on the lattice ``i / (size - 1)``: the layout of a ``.cube`` file and
of a learned 3-D LUT, so the same two functions serve those too.

Only sliders that are per-pixel colour functions can be tabulated: ``build_lut`` refuses
parameters that use any slider outside :data:`inference.render.LUT_SAFE_PARAMS` (a neighbourhood
slider such as texture or clarity only renders through the direct renderer).

* 8-bit input (``uint8``): Pillow's ``Color3DLUT`` (C, 8 bits in and out), two row halves on the
  renderer's thread pool (Pillow releases the GIL); returns ``uint8``, within one code of the direct renderer's
  output rounded to 8 bits (rarely two).
* 16-bit (``uint16``) and float input: trilinear interpolation in float32 (NumPy) over row tiles on
  the renderer's thread pool, so 16-bit precision is kept; returns ``uint16``, or float32.

Accuracy and speed are measured in ``docs/adjustments.md`` (*3-D LUT*). In short: at the default
65³ lattice the float path is within ΔE76 p99 < 0.5 of the direct renderer on photos for everyday
edits, but not at extreme settings (up to p99 ≈ 2: the clip after colour mixing and vibrance's
max − min chroma put kinks inside lattice cells, where trilinear error only falls as 1/size); and
on float data the direct renderer is about three times faster than NumPy's trilinear lookup. So
:func:`~inference.render.apply_adjustments` does not use it; it is the building block for 8-bit
pipelines, ``.cube`` export and 3-D-LUT models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from inference.interface import EngineInputError
from inference.render import apply_adjustments, lut_safe, normalize_params, tile_pool

LUT_SIZE = 65  # lattice points per axis: the largest Pillow takes; accuracy in the docs
_TILE_PIXELS = 16384  # the float path's temporaries (~12 arrays of a tile) stay in L2
_PILLOW_MAX_SIZE = 65  # Color3DLUT's limit; larger tables take the float path


def build_lut(params: dict[str, Any] | None, size: int = LUT_SIZE) -> np.ndarray:
    """The adjustments as a float32 ``size × size × size × 3`` table indexed ``[r, g, b]``.

    Evaluates the direct renderer on the lattice, so the table is exact at its points.
    Raises EngineInputError for parameters outside :data:`inference.render.LUT_SAFE_PARAMS`.
    """
    p = normalize_params(params)
    if not lut_safe(p):
        raise EngineInputError("these adjustments depend on neighbouring pixels: no 3-D LUT")
    if not 2 <= size <= 256:
        raise EngineInputError(f"LUT size must be in 2…256, got {size}")
    axis = np.arange(size, dtype=np.float32) / np.float32(size - 1)
    lattice = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1)
    return apply_adjustments(lattice.reshape(size * size, size, 3), p).reshape(size, size, size, 3)


def _check_lut(lut: np.ndarray) -> int:
    n = lut.shape[0] if lut.ndim == 4 else 0
    if lut.shape != (n, n, n, 3) or n < 2:
        raise EngineInputError(f"a 3-D LUT is n×n×n×3 with n ≥ 2, got shape {lut.shape}")
    return n


def apply_lut(image: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Apply ``lut`` (from :func:`build_lut`) to an H×W×3 image; see the module doc for dtypes."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
        raise EngineInputError(f"image must be an H×W×3 array, got shape {img.shape}")
    n = _check_lut(np.asarray(lut))
    if img.dtype == np.uint8 and n <= _PILLOW_MAX_SIZE:
        return _apply_pillow(img, np.asarray(lut, dtype=np.float32), n)
    if img.dtype in (np.uint8, np.uint16):
        top = np.float32(np.iinfo(img.dtype).max)
        out = _apply_float(img, lut, n, scale=np.float32(1) / top)
        np.clip(out, 0.0, 1.0, out=out)  # tables from elsewhere (.cube, models) may leave [0, 1]
        out *= top
        out += np.float32(0.5)  # round half up
        return out.astype(img.dtype)
    if not np.issubdtype(img.dtype, np.floating):
        raise EngineInputError(f"image must be uint8, uint16 or float, got dtype {img.dtype}")
    return _apply_float(img, lut, n)


# --- 8 bits: Pillow ----------------------------------------------------------------------------
def _apply_pillow(img: np.ndarray, lut: np.ndarray, n: int) -> np.ndarray:
    # Pillow's table is flat with r changing fastest, then g, then b.
    table = ImageFilter.Color3DLUT(n, np.ascontiguousarray(lut.transpose(2, 1, 0, 3)).ravel())
    img = np.ascontiguousarray(img)
    out = np.empty_like(img)
    h = img.shape[0]
    halves = [(0, (h + 1) // 2), ((h + 1) // 2, h)]  # one per core; Pillow releases the GIL

    def work(rows: tuple[int, int]) -> None:
        if rows[1] > rows[0]:
            out[rows[0]:rows[1]] = np.asarray(Image.fromarray(img[rows[0]:rows[1]]).filter(table))

    list(tile_pool().map(work, halves))
    return out


# --- float and 16 bits: NumPy trilinear --------------------------------------------------------
def _apply_float(img: np.ndarray, lut: np.ndarray, n: int,
                 scale: np.float32 | None = None) -> np.ndarray:
    planes = [np.ascontiguousarray(lut[..., c], dtype=np.float32).ravel() for c in range(3)]
    h, w, _ = img.shape
    out = np.empty((h, w, 3), dtype=np.float32)
    rows = max(1, _TILE_PIXELS // w)

    def work(r: int) -> None:
        _trilinear_tile(img[r:r + rows], out[r:r + rows], planes, n, scale)

    list(tile_pool().map(work, range(0, h, rows)))
    return out


_CORNERS = [(dr, dg, db) for dr in (0, 1) for dg in (0, 1) for db in (0, 1)]


def _trilinear_tile(src: np.ndarray, dst: np.ndarray, planes: list[np.ndarray], n: int,
                    scale: np.float32 | None) -> None:
    x = src.reshape(-1, 3).astype(np.float32)  # a copy: worked on in place
    if scale is not None:
        x *= scale
    np.clip(x, 0.0, 1.0, out=x)
    x *= np.float32(n - 1)
    i = x.astype(np.int32)
    np.minimum(i, n - 2, out=i)  # the cell's lower corner; x = n - 1 is the upper end of the last
    x -= i  # fractions within the cell
    fr, fg, fb = (np.ascontiguousarray(x[:, c]) for c in range(3))
    base = i[:, 0] * (n * n)
    base += i[:, 1] * n
    base += i[:, 2]
    offsets = [dr * n * n + dg * n + db for dr, dg, db in _CORNERS]
    out = dst.reshape(-1, 3)
    for c, plane in enumerate(planes):
        c0, c1, c2, c3, c4, c5, c6, c7 = (plane.take(base + o, mode="clip") for o in offsets)
        for lo, hi, f in ((c0, c1, fb), (c2, c3, fb), (c4, c5, fb), (c6, c7, fb),  # along b
                          (c1, c3, fg), (c5, c7, fg), (c3, c7, fr)):  # then g, then r
            hi -= lo
            hi *= f
            hi += lo
        out[:, c] = c7
