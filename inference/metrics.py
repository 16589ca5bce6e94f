"""Image-quality metrics used by the retouching papers: PSNR, ΔE, their human-centred versions,
and residual maps.

Human-centred metrics (PPR10K, paper 002 §4.2; reused by the region-aware retouching paper 000)
weight every pixel by a matrix W built from the human-region mask. We follow PPR10K's published
evaluation exactly:

* ``w = 1`` on human pixels and ``w = α = 0.5`` on background pixels (a soft mask interpolates:
  ``w = α + (1 − α)·mask``). Relative to the background, human pixels therefore weigh 2×.
  (The 5:1 human/background ratio in those papers is a *training* loss weight, not a metric.)
* PSNR^HC is the PSNR of the two weighted images: ``MSE_HC = mean((W⊙(A − B))²)`` over all pixels
  and channels (divided by the pixel count, not by ΣW), ``PSNR_HC = 10·log10(peak² / MSE_HC)``.
* ΔE^HC is the mean over pixels of ``‖W⊙Lab_A − W⊙Lab_B‖₂ = w·ΔE76``.

With ``α = 1`` both reduce to the ordinary metrics. Images follow the engine convention
(float32 sRGB in [0, 1]).
"""

from __future__ import annotations

import numpy as np

from inference.colour import delta_e76

BACKGROUND_WEIGHT = 0.5
HUMAN_WEIGHT = 1.0


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a, b


def _psnr_from_mse(mse: float, peak: float) -> float:
    return float("inf") if mse <= 0 else float(10.0 * np.log10(peak * peak / mse))


def psnr(output, target, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` for identical images)."""
    a, b = _pair(output, target)
    return _psnr_from_mse(float(np.mean((a - b) ** 2)), peak)


def delta_e(output, target) -> float:
    """Mean CIE76 colour difference (Euclidean distance in CIE Lab, D65)."""
    _pair(output, target)
    return float(np.mean(delta_e76(np.asarray(output, np.float32), np.asarray(target, np.float32))))


def hc_weights(mask, background: float = BACKGROUND_WEIGHT, human: float = HUMAN_WEIGHT) -> np.ndarray:
    """Weighting matrix W (H×W) from a human-region mask in [0, 1]."""
    m = np.clip(np.asarray(mask, dtype=np.float64), 0.0, 1.0)
    if m.ndim != 2:
        raise ValueError(f"mask must be H×W, got shape {m.shape}")
    return background + (human - background) * m


def psnr_hc(output, target, mask, background: float = BACKGROUND_WEIGHT, human: float = HUMAN_WEIGHT,
            peak: float = 1.0) -> float:
    """Human-centred PSNR: PSNR of W⊙output against W⊙target (PPR10K convention)."""
    a, b = _pair(output, target)
    w = hc_weights(mask, background, human)
    if w.shape != a.shape[:2]:
        raise ValueError(f"mask shape {w.shape} does not match image shape {a.shape[:2]}")
    return _psnr_from_mse(float(np.mean((w[..., None] * (a - b)) ** 2)), peak)


def delta_e_hc(output, target, mask, background: float = BACKGROUND_WEIGHT,
               human: float = HUMAN_WEIGHT) -> float:
    """Human-centred ΔE: mean over pixels of w·ΔE76 (PPR10K convention)."""
    _pair(output, target)
    w = hc_weights(mask, background, human)
    de = delta_e76(np.asarray(output, np.float32), np.asarray(target, np.float32))
    if w.shape != de.shape:
        raise ValueError(f"mask shape {w.shape} does not match image shape {de.shape}")
    return float(np.mean(w * de))


def residual_map(output, inp, gain: float | None = None) -> np.ndarray:
    """|output − input| (L1 over channels, averaged) scaled for display, H×W float32 in [0, 1].

    As in the papers' residual figures, brighter means more change. ``gain=None`` scales so that
    the 99.5th percentile of the residual maps to 1 (an unchanged image gives all zeros); a number
    multiplies the raw residual instead. Multiply by 255 and cast for an 8-bit picture.
    """
    a, b = _pair(output, inp)
    r = np.abs(a - b)
    r = r.mean(axis=-1) if r.ndim == 3 else r
    if gain is None:
        top = float(np.percentile(r, 99.5))
        gain = 1.0 / top if top > 0 else 1.0
    return np.clip(r * gain, 0.0, 1.0).astype(np.float32)
