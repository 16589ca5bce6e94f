"""Agreement between expert retouches: intraclass correlation on slider values, colour differences
between the experts' results, and PPR10K's group-level consistency M_GLC.

Plain arrays in, plain numbers out; no Django. ``webapp.annotation`` gathers the numbers from a
project and calls these functions; ``docs/annotation.md`` restates the formulas.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from inference import metrics
from inference.colour import srgb_to_lab
from inference.metrics import delta_e, delta_e_hc


# --- intraclass correlation ---------------------------------------------------------------------
def _mean_squares(ratings) -> tuple[float, float, float, int, int]:
    """Two-way ANOVA mean squares of an n×k table (n targets rated by k raters)."""
    x = np.asarray(ratings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"ratings must be an n×k table with n ≥ 2 and k ≥ 2, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("ratings must be finite (drop targets with a missing rating first)")
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * float(np.sum((x.mean(axis=1) - grand) ** 2))
    ss_cols = n * float(np.sum((x.mean(axis=0) - grand) ** 2))
    ss_err = float(np.sum((x - grand) ** 2)) - ss_rows - ss_cols
    return ss_rows / (n - 1), ss_cols / (k - 1), max(ss_err, 0.0) / ((n - 1) * (k - 1)), n, k


def _ratio(num: float, den: float) -> float:
    if den == 0.0:
        return 1.0 if num == 0.0 else float("nan")
    return num / den


def icc_consistency(ratings) -> float:
    r"""ICC(C,1) of McGraw & Wong (1996) (Shrout & Fleiss's ICC(3,1)): two-way model, consistency,
    single rater.

    For an n×k table (rows = targets, here photos; columns = raters, here slots) with the two-way
    ANOVA mean squares MS_R (rows), MS_C (columns) and MS_E (residual)::

        MS_R = k Σ_i (x̄_i· − x̄)² / (n − 1)
        MS_C = n Σ_j (x̄_·j − x̄)² / (k − 1)
        MS_E = Σ_ij (x_ij − x̄_i· − x̄_·j + x̄)² / ((n − 1)(k − 1))

        ICC(C,1) = (MS_R − MS_E) / (MS_R + (k − 1) MS_E)

    A constant offset between raters (an expert who is always warmer) does not lower it. A table
    with no variance at all gives 1.
    """
    msr, _msc, mse, _n, k = _mean_squares(ratings)
    return _ratio(msr - mse, msr + (k - 1) * mse)


def icc_absolute(ratings) -> float:
    r"""ICC(A,1) of McGraw & Wong (1996) (Shrout & Fleiss's ICC(2,1)): two-way model, absolute
    agreement, single rater::

        ICC(A,1) = (MS_R − MS_E) / (MS_R + (k − 1) MS_E + k (MS_C − MS_E) / n)

    Offsets between raters count against it, so ``ICC(C,1) − ICC(A,1)`` measures how much the
    experts differ by a constant style offset (see :func:`style_offsets`).
    """
    msr, msc, mse, n, k = _mean_squares(ratings)
    return _ratio(msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n)


def style_offsets(ratings) -> np.ndarray:
    """Each rater's constant offset: its column mean minus the grand mean (one value per column)."""
    x = np.asarray(ratings, dtype=np.float64)
    return x.mean(axis=0) - x.mean()


# --- group-level consistency (PPR10K) --------------------------------------------------------
def mean_lab(image, weights=None) -> np.ndarray:
    """Mean CIELAB (L*, a*, b*) of an sRGB image, optionally weighted per pixel (H×W weights)."""
    lab = srgb_to_lab(np.asarray(image, dtype=np.float32)).reshape(-1, 3).astype(np.float64)
    if weights is None:
        return lab.mean(axis=0)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    return (lab * w[:, None]).sum(axis=0) / max(float(w.sum()), 1e-12)


def glc_from_means(ab) -> float:
    r"""M_GLC of one group from its images' mean a* and b* (an m×2 array, or m×3 Lab).

    PPR10K's released definition (``calculate_metrics.m``): the sample variance (ddof = 1) over the
    group's m images of each image's mean a*, and likewise of mean b*, the two averaged::

        M_GLC(group) = ½ [ Var_{N−1}(ā*_1 … ā*_m) + Var_{N−1}(b̄*_1 … b̄*_m) ]

    The paper's Eq. 2 sums the two channels instead (twice this value); the published numbers
    follow the code. A group of one image has no spread: 0. Computed by
    :func:`inference.metrics.glc_from_means` (the one implementation in the project).
    """
    means = np.asarray(ab, dtype=np.float64)
    if means.ndim != 2 or means.shape[1] not in (2, 3):
        raise ValueError(f"expected an m×2 (a*, b*) or m×3 (L*, a*, b*) array, got {means.shape}")
    if len(means) == 0:
        return 0.0
    return metrics.glc_from_means({"group": [tuple(row[-2:]) for row in means]})


def group_glc(images) -> float:
    """M_GLC of one group of result images (:func:`inference.metrics.group_glc`)."""
    return metrics.group_glc({"group": list(images)})


def project_glc(group_values) -> float:
    """The project (dataset) value: the plain mean of the per-group values."""
    values = [float(v) for v in group_values]
    return float(np.mean(values)) if values else 0.0


def glc_outlier(ab) -> int | None:
    """Index of the image whose removal lowers the group's M_GLC the most (None below 3 images)."""
    means = np.asarray(ab, dtype=np.float64)
    if len(means) < 3:
        return None
    without = [glc_from_means(np.delete(means, i, axis=0)) for i in range(len(means))]
    return int(np.argmin(without))


# --- differences between the experts' results --------------------------------------------------
def pairwise_delta_e(results: dict[str, list[np.ndarray]], masks: list[np.ndarray | None] | None = None
                     ) -> list[dict]:
    """Mean ΔE76 and ΔE^HC between every two slots' results of the same photos.

    ``results`` maps a slot to its result images (same photos, same order, same sizes); ``masks``
    gives each photo's human mask (None: ΔE^HC is reported as None for that photo). Per pair the
    mean over photos of the per-photo means (``inference.metrics``: ΔE^HC weights background pixels
    by 0.5, PPR10K's evaluation).
    """
    rows = []
    for s, t in combinations(sorted(results), 2):
        de, de_hc = [], []
        for i, (a, b) in enumerate(zip(results[s], results[t], strict=True)):
            de.append(delta_e(a, b))
            mask = masks[i] if masks is not None else None
            if mask is not None:
                de_hc.append(delta_e_hc(a, b, mask))
        rows.append({"slots": [s, t], "photos": len(de),
                     "delta_e76": float(np.mean(de)) if de else None,
                     "delta_e_hc": float(np.mean(de_hc)) if de_hc else None})
    return rows


__all__ = ["glc_from_means", "glc_outlier", "group_glc", "icc_absolute", "icc_consistency", "mean_lab",
           "pairwise_delta_e", "project_glc", "style_offsets"]
