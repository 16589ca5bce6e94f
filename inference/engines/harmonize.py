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
"""

from __future__ import annotations

import time
from typing import Any

import cv2
import numexpr as ne
import numpy as np
from scipy.interpolate import PchipInterpolator

from inference.colour import lab_to_srgb, srgb_to_lab
from inference.interface import EngineInputError, EngineSpec, validate_params
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


# The 20 monomials of poly_features times their coefficients k0..k19, nested (Horner style): one
# numexpr pass per output channel, float32, in cache-sized blocks on every core, no N×20 temporary.
_POLYNOMIAL = ("k0 + r*(k1 + r*(k4 + r*k10 + g*k13 + b*k14) + g*k7 + b*k8)"
               " + g*(k2 + g*(k5 + g*k11 + r*k15 + b*k16) + b*k9)"
               " + b*(k3 + b*(k6 + b*k12 + r*k17 + g*k18)) + r*g*b*k19")


def apply_colour_polynomial(rgb: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Apply the fitted mapping to N×3 pixels; returns float32 in [0, 1]."""
    rgb = np.asarray(rgb, dtype=np.float32)
    c = coef.astype(np.float32)
    out = np.empty(rgb.shape, np.float32)
    channels = {"r": rgb[:, 0], "g": rgb[:, 1], "b": rgb[:, 2]}
    for ch in range(3):
        out[:, ch] = ne.evaluate(_POLYNOMIAL, local_dict={**channels, **{f"k{i}": c[i, ch] for i in range(20)}})
    return np.clip(out, 0.0, 1.0, out=out)


def apply_to_foreground(image: np.ndarray, mask: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Full resolution: the colour polynomial on the foreground's bounding box, blended back with a
    lightly feathered mask (also how the learned ``harmonize.net`` reaches full size)."""
    h, w = image.shape[:2]
    sigma = max(0.8, min(h, w) / 800.0)
    pad = int(3 * sigma) + 1
    covered = mask > 1e-3
    ys, xs = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))  # bounding box
    out = image.copy()
    if not len(ys):
        return out
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + pad + 1)
    alpha = cv2.GaussianBlur(np.ascontiguousarray(mask[y0:y1, x0:x1]), (0, 0), sigma)
    alpha = np.maximum(alpha, mask[y0:y1, x0:x1] * (mask[y0:y1, x0:x1] >= 0.999))
    crop = image[y0:y1, x0:x1]
    mapped = apply_colour_polynomial(crop.reshape(-1, 3), coef).reshape(crop.shape)
    mapped -= crop  # crop + alpha (mapped - crop), in place; alpha per channel (long-row multiply)
    mapped *= cv2.merge((alpha,) * 3)
    mapped += crop
    out[y0:y1, x0:x1] = mapped
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

def reference_mask(reference: Any, height: int, width: int) -> np.ndarray:
    """Validate the reference spec and return it as a boolean H×W map."""
    if not isinstance(reference, dict) or not ({"box", "mask"} & set(reference)):
        raise EngineInputError('reference must be {"box": [x0, y0, x1, y1]} or {"mask": H×W array}')
    if "box" in reference:
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
        out = np.zeros((height, width), bool)
        out[cy0:cy1, cx0:cx1] = True
        return out
    return check_mask(reference["mask"], height, width, "reference mask", allow_empty=False) > 0.5


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
        """Low-resolution harmonisation: (low image, low fg map, low target image, info)."""
        h, w = image.shape[:2]
        lh, lw = _low_size(h, w)
        low = resize_image(image, lh, lw)
        fg = resize_image(mask, lh, lw) > 0.5
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
        image = check_image(inputs.get("image"))
        h, w = image.shape[:2]
        if inputs.get("mask") is None:
            raise EngineInputError("mask (the composited foreground) is required")
        mask = check_mask(inputs["mask"], h, w, allow_empty=False)
        if inputs.get("reference") is None:
            raise EngineInputError("reference is required")
        ref = reference_mask(inputs["reference"], h, w)
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
        return {"image": np.clip(out, 0.0, 1.0, out=out), "info": info}
