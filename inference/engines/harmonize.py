"""``harmonize``: match a composited foreground's look to a user-chosen reference region.

Classical counterpart of interactive portrait harmonization (paper 001 in ``shared/papers``):

1. the user picks the *reference region* (a box or a mask — e.g. another person in the photo)
   instead of the whole background guiding the result;
2. *luminance matching* as professional editors do it: the foreground's shadow, mid-tone and
   highlight points — the 10th, 50th and 90th percentiles of CIE L* (the paper uses the same
   percentiles for stability) — are mapped onto the reference's by a monotone piecewise-cubic
   (PCHIP) tone curve, extended past the outer points with the neighbouring slopes;
3. colour: the foreground's a*/b* means and spreads are moved to the reference's (Reinhard-style
   statistics transfer, spread ratio limited to [0.5, 2]);
4. steps 2–3 run at low resolution (long side ``LOW_LONG``); the result is carried to full
   resolution the way the paper does it (after Afifi et al. 2019): a cubic polynomial colour
   mapping (all 20 monomials of R, G, B up to degree 3, one set of coefficients per output channel)
   is fitted by ridge least squares on the low-res foreground pixels and applied to the full-res
   foreground, which is blended back with a lightly feathered mask.

Speed (24 MP, 2 cores; figures in ``docs/engines.md``): nothing float64 and nothing per pixel is
done at full size but what the output needs. The image and mask are checked by a min/max pass, not
copied; a reference box is turned into its low-resolution coverage directly (no full-size map); the
polynomial, blend and clip run fused over row bands of the foreground's bounding box on the tile
pool (OpenCV's ``scaleAdd`` on cache-sized planes: no BLAS threads, no N×20 features at full size),
the rest of each band is copied in the same pass.
"""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
from scipy.interpolate import PchipInterpolator

from inference.colour import lab_to_srgb, srgb_to_lab
from inference.interface import EngineInputError, EngineSpec, validate_params
from inference.render import tile_pool
from inference.segmentation import check_image, check_mask, resize_image

LOW_LONG = 512
PERCENTILES = (10.0, 50.0, 90.0)

SPEC = EngineSpec(
    name="harmonize",
    version="1",
    queue="cpu",
    inputs=("image", "mask", "reference"),
    outputs=("image",),
    params={
        "strength": {"type": "float", "default": 1.0, "min": 0.0, "max": 1.0},
        "colour": {"type": "bool", "default": True},
    },
    description="Match the composited foreground (mask) to a reference region (box or mask): "
                "shadow/mid-tone/highlight luminance matching plus a*/b* statistics, computed at "
                "low resolution and carried to full resolution by a fitted cubic colour polynomial.",
)


# ---------------------------------------------------------------- colour polynomial

def poly_features(rgb: np.ndarray) -> np.ndarray:
    """N×3 → N×20: 1, r, g, b, and all products of degree 2 and 3."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    one = np.ones_like(r)
    return np.stack([one, r, g, b, r * r, g * g, b * b, r * g, r * b, g * b,
                     r ** 3, g ** 3, b ** 3, r * r * g, r * r * b, g * g * r, g * g * b,
                     b * b * r, b * b * g, r * g * b], axis=1)


def fit_colour_polynomial(src: np.ndarray, dst: np.ndarray, ridge: float = 1e-4,
                          max_samples: int = 40000, seed: int = 0) -> np.ndarray:
    """Least-squares 20×3 coefficients mapping src RGB (N×3) to dst RGB (N×3).

    The ridge penalty acts on the *change* (dst − src), so it shrinks towards the identity mapping,
    not towards black: colours outside the fitted range extrapolate gently.
    """
    if len(src) > max_samples:
        idx = np.random.default_rng(seed).choice(len(src), max_samples, replace=False)
        src, dst = src[idx], dst[idx]
    src = src.astype(np.float64)
    x = poly_features(src)
    a = x.T @ x + ridge * len(x) * np.eye(x.shape[1])
    a[0, 0] -= ridge * len(x)  # do not shrink the constant term
    coef = np.linalg.solve(a, x.T @ (dst.astype(np.float64) - src))
    coef[1:4] += np.eye(3)
    return coef


# Monomials 4…19 of poly_features as products of two earlier ones (feature rows 0…19 = 1, r, g, b, …).
_PRODUCTS = ((1, 1), (2, 2), (3, 3), (1, 2), (1, 3), (2, 3), (4, 1), (5, 2), (6, 3), (4, 2), (4, 3),
             (5, 1), (5, 3), (6, 1), (6, 2), (7, 3))
_BAND_PIXELS = 1 << 16  # pixels per band: the 20 feature planes (5 MB) stay in L2/L3, ~100 bands at 24 MP


def _polynomial_planes(src: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rows × w × 3 pixels (rows may be strided) → (3 × n mapped planes clipped to [0, 1], 3 × n
    source planes). float32 throughout: the features as 16 products of planes, each output channel
    as 19 fused multiply-adds (``cv2.scaleAdd``: one pass each over a cache-resident plane)."""
    rows, width = src.shape[:2]
    feats = np.empty((20, rows * width), np.float32)
    cv2.split(src, [feats[k].reshape(rows, width) for k in (1, 2, 3)])
    for j, (a, b) in enumerate(_PRODUCTS, start=4):
        np.multiply(feats[a], feats[b], out=feats[j])
    mapped = np.empty((3, rows * width), np.float32)
    for ch in range(3):
        acc = mapped[ch]
        acc.fill(coef[0, ch])
        for i in range(1, 20):
            cv2.scaleAdd(feats[i], float(coef[i, ch]), acc, dst=acc)
    np.clip(mapped, 0.0, 1.0, out=mapped)
    return mapped, feats[1:4]


def apply_colour_polynomial(rgb: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Apply the fitted mapping to N×3 pixels; returns float32 in [0, 1] (bands on the tile pool)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.float32).reshape(-1, 3)
    c = np.asarray(coef, np.float64)
    out = np.empty(rgb.shape, np.float32)
    n = len(rgb)

    def work(a: int) -> None:
        b = min(n, a + _BAND_PIXELS)
        mapped, _ = _polynomial_planes(rgb[a:b].reshape(1, b - a, 3), c)
        cv2.merge([mapped[k].reshape(1, b - a) for k in range(3)], dst=out[a:b].reshape(1, b - a, 3))

    list(tile_pool().map(work, range(0, n, _BAND_PIXELS)))
    return out


def _row_bands(height: int, width: int) -> list[tuple[int, int]]:
    rows = max(1, _BAND_PIXELS // max(1, width))
    return [(r, min(height, r + rows)) for r in range(0, height, rows)]


def _bounding_box(mask: np.ndarray, threshold: float = 1e-3) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the pixels above ``threshold`` (half-open), None if there are none:
    row and column maxima in one pass over row bands on the tile pool (no full-size boolean map)."""
    h, w = mask.shape
    bands = _row_bands(h, w)

    def work(band: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        rows = mask[band[0]:band[1]]
        return rows.max(axis=1), rows.max(axis=0)

    parts = list(tile_pool().map(work, bands))
    ys = np.flatnonzero(np.concatenate([p[0] for p in parts]) > threshold)
    if not len(ys):
        return None
    xs = np.flatnonzero(np.max([p[1] for p in parts], axis=0) > threshold)
    return int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1


def apply_to_foreground(image: np.ndarray, mask: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Full resolution: the colour polynomial on the foreground's bounding box, blended back with a
    lightly feathered mask (also how the learned ``harmonize.net`` reaches full size).

    out = image + α (clip(P(image)) − image), α = max(Gaussian(mask, σ), mask where mask ≥ 0.999),
    σ = max(0.8, min(H, W) / 800); outside the box (padded by 3σ) out = image. One pass over row
    bands on the tile pool computes P, the blend and the clip (and copies the rest of the band)."""
    h, w = image.shape[:2]
    sigma = max(0.8, min(h, w) / 800.0)
    pad = int(3 * sigma) + 1
    out = np.empty_like(image, dtype=np.float32)
    box = _bounding_box(mask)
    if box is None:
        np.copyto(out, image)
        return out
    y0, y1 = max(0, box[0] - pad), min(h, box[1] + pad)
    x0, x1 = max(0, box[2] - pad), min(w, box[3] + pad)
    # the feathered weight over the box (OpenCV's blur runs on both cores by itself)
    alpha = cv2.GaussianBlur(np.ascontiguousarray(mask[y0:y1, x0:x1]), (0, 0), sigma)
    c = np.asarray(coef, np.float64)

    def work(band: tuple[int, int]) -> None:
        # Not recursive, and no closure over itself: a self-referencing closure is a reference cycle
        # that kept image, mask and output (670 MB at 24 MP) alive until the cyclic GC ran, so the
        # next job's arrays took fresh memory and page-faulted it (docs/engines.md).
        a, b = band
        if b <= y0 or a >= y1:
            np.copyto(out[a:b], image[a:b])
            return
        np.copyto(out[a:b, :x0], image[a:b, :x0])
        np.copyto(out[a:b, x1:], image[a:b, x1:])
        mapped, src = _polynomial_planes(image[a:b, x0:x1], c)
        m = mask[a:b, x0:x1]
        weight = np.maximum(alpha[a - y0:b - y0], np.where(m >= 0.999, m, np.float32(0.0))).ravel()
        mapped -= src  # src + α (mapped − src), clipped (rounding may step an ulp past 1)
        mapped *= weight
        mapped += src
        np.clip(mapped, 0.0, 1.0, out=mapped)
        rows = b - a
        cv2.merge([mapped[k].reshape(rows, x1 - x0) for k in range(3)], dst=out[a:b, x0:x1])

    # bands across the box's top or bottom edge are split there, so each lies inside or outside it
    bands = []
    for a, b in _row_bands(h, w):
        c0, c1 = min(max(a, y0), b), min(max(a, y1), b)
        bands += [part for part in ((a, c0), (c0, c1), (c1, b)) if part[1] > part[0]]
    list(tile_pool().map(work, bands))
    return out


# ---------------------------------------------------------------- statistics matching

def luminance_curve(src_pts, ref_pts, strength: float = 1.0):
    """Monotone L* → L* curve sending the src 10/50/90 points onto the ref points (by ``strength``)."""
    f = np.maximum.accumulate(np.asarray(src_pts, np.float64))
    r = np.maximum.accumulate(np.asarray(ref_pts, np.float64))
    f = f + np.arange(3) * 1e-3  # strictly increasing knots
    r = f + strength * (r - f)
    r = np.maximum.accumulate(r + np.arange(3) * 1e-3)
    s_lo = np.clip((r[1] - r[0]) / max(f[1] - f[0], 1e-3), 0.25, 4.0)
    s_hi = np.clip((r[2] - r[1]) / max(f[2] - f[1], 1e-3), 0.25, 4.0)
    xs = [0.0, *f, 100.0]
    ys = [r[0] - s_lo * f[0], *r, r[2] + s_hi * (100.0 - f[2])]
    if xs[1] <= 0:
        xs, ys = xs[1:], ys[1:]
    if xs[-2] >= 100:
        xs, ys = xs[:-1], ys[:-1]
    interp = PchipInterpolator(np.asarray(xs), np.asarray(ys), extrapolate=True)
    return lambda v: np.clip(interp(v), 0.0, 100.0), (xs, ys)


def match_statistics(fg_lab: np.ndarray, ref_lab: np.ndarray, strength: float = 1.0,
                     colour: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Foreground Lab pixels (N×3) restyled towards the reference pixels (M×3)."""
    fp = np.percentile(fg_lab[:, 0], PERCENTILES)
    rp = np.percentile(ref_lab[:, 0], PERCENTILES)
    curve, (xs, ys) = luminance_curve(fp, rp, strength)
    out = fg_lab.astype(np.float64).copy()
    out[:, 0] = curve(out[:, 0])
    ab = {}
    if colour:
        for c, name in ((1, "a"), (2, "b")):
            mf, sf = fg_lab[:, c].mean(), fg_lab[:, c].std()
            mr, sr = ref_lab[:, c].mean(), ref_lab[:, c].std()
            k = float(np.clip(sr / sf, 0.5, 2.0)) if sf > 1e-3 else 1.0
            k = 1.0 + strength * (k - 1.0)
            out[:, c] = (fg_lab[:, c] - mf) * k + mf + strength * (mr - mf)
            ab[name] = {"fg_mean": round(float(mf), 3), "fg_std": round(float(sf), 3),
                        "ref_mean": round(float(mr), 3), "ref_std": round(float(sr), 3),
                        "scale": round(k, 4)}
    info = {"curve_knots": [[round(float(x), 3), round(float(y), 3)] for x, y in zip(xs, ys, strict=True)],
            "ab": ab}
    return out.astype(np.float32), info


# ---------------------------------------------------------------- inputs

def _reference_box(reference: Any, height: int, width: int) -> tuple[int, int, int, int] | None:
    """Validate the reference spec; a box's pixel rows and columns (y0, y1, x0, x1), None for a mask."""
    if not isinstance(reference, dict) or not ({"box", "mask"} & set(reference)):
        raise EngineInputError('reference must be {"box": [x0, y0, x1, y1]} or {"mask": H×W array}')
    if "box" not in reference:
        return None
    box = reference["box"]
    if not isinstance(box, list | tuple) or len(box) != 4 or any(
            isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) for v in box):
        raise EngineInputError("reference box must be four numbers [x0, y0, x1, y1]")
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 <= x0 or y1 <= y0:
        raise EngineInputError(
            f"reference box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] has zero area (need x1 > x0 and y1 > y0)")
    cx0, cy0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    cx1, cy1 = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
    if cx1 <= cx0 or cy1 <= cy0:
        raise EngineInputError(
            f"reference box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] lies outside the {width}×{height} image")
    return cy0, cy1, cx0, cx1


def reference_mask(reference: Any, height: int, width: int) -> np.ndarray:
    """Validate the reference spec and return it as a boolean H×W map."""
    box = _reference_box(reference, height, width)
    if box is None:
        return check_mask(reference["mask"], height, width, "reference mask", allow_empty=False) > 0.5
    out = np.zeros((height, width), bool)
    out[box[0]:box[1], box[2]:box[3]] = True
    return out


def _box_coverage(lo: int, hi: int, size: int, cells: int) -> np.ndarray:
    """The share of each of ``cells`` equal cells along an axis of ``size`` pixels that lies in the
    pixels [lo, hi): what an area-averaging resize (OpenCV's INTER_AREA) makes of the box's edge."""
    step = size / cells
    edges = np.arange(cells + 1) * step
    return np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, None) / step


def reference_low(reference: Any, height: int, width: int) -> np.ndarray:
    """The reference as a boolean map at the working size (:func:`_low_size`): a box straight from
    its coverage of each low-resolution cell (no full-size map), a mask area-averaged."""
    lh, lw = _low_size(height, width)
    box = _reference_box(reference, height, width)
    if box is None:
        return resize_image(reference_mask(reference, height, width).astype(np.float32), lh, lw) > 0.5
    return np.outer(_box_coverage(box[0], box[1], height, lh), _box_coverage(box[2], box[3], width, lw)) > 0.5


def _unit_range(a: np.ndarray) -> tuple[float, float]:
    """(min, max) over row bands on the tile pool (NaN propagates, so a NaN fails any range test)."""
    bands = _row_bands(a.shape[0], int(np.prod(a.shape[1:])))
    parts = list(tile_pool().map(lambda b: (a[b[0]:b[1]].min(), a[b[0]:b[1]].max()), bands))
    return float(min(p[0] for p in parts)), float(max(p[1] for p in parts))


def _checked_image(image: Any) -> np.ndarray:
    """:func:`check_image` without its full-size copy when the image already is float32 in [0, 1]."""
    arr = np.asarray(image) if image is not None else None
    if arr is not None and arr.dtype == np.float32 and arr.ndim == 3 and arr.shape[2] == 3 \
            and min(arr.shape[:2]) >= 2:
        lo, hi = _unit_range(arr)
        if lo >= 0.0 and hi <= 1.0:
            return arr
    return check_image(image)


def _checked_mask(mask: Any, height: int, width: int) -> np.ndarray:
    """:func:`check_mask` (not empty) without its full-size copy when the mask already is float32
    in [0, 1]."""
    arr = np.asarray(mask)
    if arr.dtype == np.float32 and arr.shape == (height, width):
        lo, hi = _unit_range(arr)
        if lo >= 0.0 and hi <= 1.0:
            if hi <= 0.5:
                raise EngineInputError("mask is empty: no pixel is above 0.5")
            return arr
    return check_mask(mask, height, width, allow_empty=False)


def _low_size(h: int, w: int) -> tuple[int, int]:
    s = min(1.0, LOW_LONG / float(max(h, w)))
    return max(1, round(h * s)), max(1, round(w * s))


def _percentiles(lab: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in np.percentile(lab[:, 0], PERCENTILES)]


class HarmonizeEngine:
    spec = SPEC

    def __init__(self, **cfg: Any):
        """``cfg`` is the worker's engine configuration; this engine needs none."""

    def lowres(self, image: np.ndarray, mask: np.ndarray, ref: np.ndarray, params: dict[str, Any]):
        """Low-resolution harmonisation: (low image, low fg map, low target image, info).

        ``ref`` is a boolean map at the image's size or at the working size."""
        h, w = image.shape[:2]
        lh, lw = _low_size(h, w)
        low = resize_image(image, lh, lw)
        fg = resize_image(mask, lh, lw) > 0.5
        if ref.shape == (lh, lw):  # already at the working size (reference_low)
            ref_low = np.asarray(ref) > 0.5
        else:
            ref_low = resize_image(ref.astype(np.float32), lh, lw) > 0.5
        ref_low &= ~fg
        if fg.sum() < 16:
            raise EngineInputError("the foreground mask is too small to harmonise (fewer than 16 "
                                   "pixels at working resolution)")
        if ref_low.sum() < 16:
            raise EngineInputError("the reference region has fewer than 16 pixels outside the "
                                   "foreground; choose a larger region")
        lab = srgb_to_lab(low)
        fg_lab, ref_lab = lab[fg], lab[ref_low]
        new_lab, info = match_statistics(fg_lab, ref_lab, params["strength"], params["colour"])
        target = low.copy()
        target[fg] = np.clip(lab_to_srgb(new_lab), 0.0, 1.0)
        info.update(reference_percentiles=_percentiles(ref_lab),
                    foreground_percentiles_before=_percentiles(fg_lab),
                    foreground_percentiles_target=_percentiles(srgb_to_lab(target[fg])))
        return low, fg, target, info

    def run(self, inputs, params, progress=None):
        t0 = time.perf_counter()
        params = validate_params(self.spec, params or {})
        image = _checked_image(inputs.get("image"))
        h, w = image.shape[:2]
        if inputs.get("mask") is None:
            raise EngineInputError("mask (the composited foreground) is required")
        mask = _checked_mask(inputs["mask"], h, w)
        if inputs.get("reference") is None:
            raise EngineInputError("reference is required")
        ref = reference_low(inputs["reference"], h, w)
        if params["strength"] == 0.0:
            return {"image": image.copy(), "info": {"strength": 0.0}}
        low, fg, target, info = self.lowres(image, mask, ref, params)
        coef = fit_colour_polynomial(low[fg], target[fg])
        if progress:
            progress(0.3)

        out = apply_to_foreground(image, mask, coef)
        if progress:
            progress(0.9)
        lh, lw = low.shape[:2]
        after = srgb_to_lab(resize_image(out, lh, lw))[fg]
        info.update(foreground_percentiles_after=_percentiles(after),
                    coefficients=[[round(float(v), 6) for v in row] for row in coef.T],
                    coefficient_terms=["1", "r", "g", "b", "r2", "g2", "b2", "rg", "rb", "gb", "r3",
                                       "g3", "b3", "r2g", "r2b", "g2r", "g2b", "b2r", "b2g", "rgb"],
                    low_resolution=[lh, lw], seconds=round(time.perf_counter() - t0, 3))
        if progress:
            progress(1.0)
        return {"image": out, "info": info}  # in [0, 1]: the blend clips, the rest is the checked image
