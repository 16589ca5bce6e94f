"""Colour-space conversions shared by the engines (float32 arrays, channel-last).

sRGB ↔ linear follows IEC 61966-2-1; XYZ uses the D65 white; Lab is CIE 1976 L*a*b* (D65).
ΔE76 is the Euclidean distance in Lab, the tolerance the browser preview is held to.
"""

from __future__ import annotations

import numpy as np

# Rec. 709 / sRGB primaries, D65 white.
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375],
     [0.2126729, 0.7151522, 0.0721750],
     [0.0193339, 0.1191920, 0.9503041]], dtype=np.float32)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ.astype(np.float64)).astype(np.float32)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
LUMA_709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def srgb_to_linear(x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """sRGB-encoded → linear light, not clipped (values above 1 follow the power segment).

    The one sRGB transfer function of the project (the renderer tabulates it in float64, image
    decoding and Lab conversions use float32): computed and returned in ``dtype``.
    """
    x = np.asarray(x, dtype=dtype)
    return np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0.04045) + 0.055) / 1.055) ** 2.4
                    ).astype(dtype, copy=False)


def linear_to_srgb(x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """Linear light → sRGB-encoded, not clipped: the power segment continues above 1 (the
    renderer relies on that: exposure never clips before the last stage). Computed in ``dtype``."""
    x = np.asarray(x, dtype=dtype)
    return np.where(x <= 0.0031308, x * 12.92,
                    1.055 * np.maximum(x, 0.0031308) ** (1 / 2.4) - 0.055).astype(dtype, copy=False)


def luminance(linear_rgb: np.ndarray) -> np.ndarray:
    """Relative luminance Y of linear RGB (H×W×3 → H×W)."""
    return np.asarray(linear_rgb, dtype=np.float32) @ LUMA_709


def _f(t: np.ndarray) -> np.ndarray:
    delta = 6 / 29
    return np.where(t > delta ** 3, np.cbrt(t), t / (3 * delta ** 2) + 4 / 29)


def _f_inv(t: np.ndarray) -> np.ndarray:
    delta = 6 / 29
    return np.where(t > delta, t ** 3, 3 * delta ** 2 * (t - 4 / 29))


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded [0, 1] → CIE Lab (L in [0, 100])."""
    xyz = srgb_to_linear(rgb) @ _RGB_TO_XYZ.T / _WHITE_D65
    fx, fy, fz = (_f(xyz[..., i]) for i in range(3))
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1).astype(np.float32)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIE Lab → sRGB-encoded, not clipped (out-of-gamut values fall outside [0, 1])."""
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + 16) / 116
    fx = fy + lab[..., 1] / 500
    fz = fy - lab[..., 2] / 200
    xyz = np.stack([_f_inv(fx), _f_inv(fy), _f_inv(fz)], axis=-1) * _WHITE_D65
    return linear_to_srgb(xyz @ _XYZ_TO_RGB.T)


def delta_e76(rgb_a: np.ndarray, rgb_b: np.ndarray) -> np.ndarray:
    """Per-pixel CIE76 colour difference between two sRGB images."""
    return np.linalg.norm(srgb_to_lab(rgb_a) - srgb_to_lab(rgb_b), axis=-1)
