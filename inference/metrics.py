"""Image-quality metrics of the retouching papers: PSNR, ΔE76, their human-centred versions, SSIM,
group-level consistency M_GLC, residual maps, folder evaluation with a CLI, bootstrap intervals.

Every formula is written out in ``docs/metrics.md``. In short (images float sRGB in [0, 1]):

* Human-centred metrics (PPR10K, paper 002 §4.2) weight every pixel by ``w`` from the people mask:
  ``w = 1`` on people, ``w = 0.5`` on the background. PSNR^HC is the PSNR of ``w⊙A`` against
  ``w⊙B`` (the MSE divides by the pixel count, not by Σw); ΔE^HC is the mean of ``w·ΔE76``.
  By default a soft mask interpolates, ``w = 0.5 + 0.5·mask``; ``official=True`` follows PPR10K's
  released MATLAB script (``calculate_metrics.m``) instead: images quantised to 8 bits and
  ``w = 1`` wherever the mask is non-zero.
* M_GLC (group-level consistency): for each image the mean a* and mean b* of the result; per group
  the sample variance (ddof 1) of each over the group's images, the two averaged; then the mean
  over groups. The paper's Eq. 2 *sums* the two variances; the released script (and the paper's
  tables) average them, so Eq. 2 is twice what is reported. We follow the script.

CLI: ``python -m inference.metrics --pred DIR --target DIR [--masks DIR] [--official] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from inference.colour import delta_e76, srgb_to_lab
from inference.imagefiles import list_images, quantise, read_mask, read_rgb

BACKGROUND_WEIGHT = 0.5
HUMAN_WEIGHT = 1.0
SSIM_MIN_SIDE = 11  # the 11×11 Gaussian window (σ = 1.5) must fit
METRIC_KEYS = ("psnr", "delta_e", "psnr_hc", "delta_e_hc", "ssim")
_NAME = re.compile(r"^(?P<group>.+)_(?P<idx>[^_]+)$")


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a, b


def _psnr_from_mse(mse: float, peak: float) -> float:
    return float("inf") if mse <= 0 else float(10.0 * np.log10(peak * peak / mse))


def _weighted_psnr(a: np.ndarray, b: np.ndarray, w: np.ndarray, peak: float = 1.0) -> float:
    if w.shape != a.shape[:2]:
        raise ValueError(f"mask shape {w.shape} does not match image shape {a.shape[:2]}")
    return _psnr_from_mse(float(np.mean((w[..., None] * (a - b)) ** 2)), peak)


def _weighted_mean(de: np.ndarray, w: np.ndarray) -> float:
    if w.shape != de.shape:
        raise ValueError(f"mask shape {w.shape} does not match image shape {de.shape}")
    return float(np.mean(w * de))


def psnr(output, target, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` for identical images)."""
    a, b = _pair(output, target)
    return _psnr_from_mse(float(np.mean((a - b) ** 2)), peak)


def delta_e(output, target) -> float:
    """Mean CIE76 colour difference (Euclidean distance in CIE Lab, D65)."""
    _pair(output, target)
    return float(np.mean(delta_e76(np.asarray(output, np.float32), np.asarray(target, np.float32))))


def hc_weights(mask, background: float = BACKGROUND_WEIGHT, human: float = HUMAN_WEIGHT) -> np.ndarray:
    """Weighting matrix W (H×W) from a human-region mask in [0, 1] (soft masks interpolate)."""
    m = np.clip(np.asarray(mask, dtype=np.float64), 0.0, 1.0)
    if m.ndim != 2:
        raise ValueError(f"mask must be H×W, got shape {m.shape}")
    return background + (human - background) * m


def official_weights(mask) -> np.ndarray:
    """PPR10K's released script: W = 1 where the mask is non-zero, 0.5 where it is exactly zero."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be H×W, got shape {m.shape}")
    return np.where(m > 0, HUMAN_WEIGHT, BACKGROUND_WEIGHT)


def psnr_hc(output, target, mask, background: float = BACKGROUND_WEIGHT, human: float = HUMAN_WEIGHT,
            peak: float = 1.0) -> float:
    """Human-centred PSNR: PSNR of W⊙output against W⊙target (PPR10K convention)."""
    a, b = _pair(output, target)
    return _weighted_psnr(a, b, hc_weights(mask, background, human), peak)


def delta_e_hc(output, target, mask, background: float = BACKGROUND_WEIGHT,
               human: float = HUMAN_WEIGHT) -> float:
    """Human-centred ΔE: mean over pixels of w·ΔE76 (PPR10K convention)."""
    _pair(output, target)
    de = delta_e76(np.asarray(output, np.float32), np.asarray(target, np.float32))
    return _weighted_mean(de, hc_weights(mask, background, human))


def ssim(output, target) -> float:
    """SSIM (Wang et al. 2004): 11×11 Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03, data range 1,
    computed per channel and averaged. NaN for images under 11 px on a side."""
    a, b = _pair(output, target)
    if min(a.shape[:2]) < SSIM_MIN_SIDE:
        return float("nan")
    # Deferred: scikit-image takes ~0.2 s to import and only SSIM needs it here.
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2 if a.ndim == 3 else None, data_range=1.0,
                                       gaussian_weights=True, sigma=1.5, use_sample_covariance=False))


def to_8bit(image) -> np.ndarray:
    """What the official script sees of a float image: values rounded to k/255 (float64)."""
    return quantise(image, 8).astype(np.float64) / 255.0


def image_metrics(pred, target, mask=None, official: bool = False) -> dict[str, float | None]:
    """All per-image metrics of ``pred`` against ``target`` (float H×W×3 in [0, 1]).

    Returns ``psnr``, ``delta_e``, ``psnr_hc``, ``delta_e_hc`` (``None`` without a mask), ``ssim``
    and the prediction's ``mean_L``, ``mean_a``, ``mean_b`` (CIELAB; M_GLC is computed from them). ``official``:
    PPR10K's script (8-bit images, W = 1 where the mask is non-zero); else soft masks weigh linearly.
    """
    a, b = _pair(pred, target)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"images must be H×W×3, got shape {a.shape}")
    if official:
        a, b = to_8bit(a), to_8bit(b)
    lab_a, lab_b = srgb_to_lab(a), srgb_to_lab(b)
    de = np.linalg.norm(lab_a.astype(np.float64) - lab_b, axis=-1)
    row: dict[str, float | None] = {
        "psnr": _psnr_from_mse(float(np.mean((a - b) ** 2)), 1.0),
        "delta_e": float(np.mean(de)), "psnr_hc": None, "delta_e_hc": None, "ssim": ssim(a, b)}
    if mask is not None:
        w = official_weights(mask) if official else hc_weights(mask)
        row["psnr_hc"] = _weighted_psnr(a, b, w)
        row["delta_e_hc"] = _weighted_mean(de, w)
    row.update(zip(("mean_L", "mean_a", "mean_b"), (float(v) for v in lab_a.reshape(-1, 3).mean(axis=0)), strict=True))
    return row


def _sample_var(values: Sequence[float]) -> float:
    # MATLAB's var normalises by N − 1, and by N when N = 1 (a one-image group contributes 0).
    return float(np.var(values, ddof=1)) if len(values) > 1 else 0.0


def glc_from_means(ab_by_group: Mapping[str, Sequence[tuple[float, float]]]) -> float:
    """M_GLC from each image's (mean a*, mean b*), grouped: mean over groups of
    (var(a*) + var(b*)) / 2 with sample variances. NaN when there is no group."""
    per_group = [(_sample_var([m[0] for m in ab]) + _sample_var([m[1] for m in ab])) / 2.0
                 for ab in ab_by_group.values() if len(ab)]
    return float(np.mean(per_group)) if per_group else float("nan")


def group_glc(images_by_group: Mapping[str, Iterable[np.ndarray]], official: bool = False) -> float:
    """M_GLC of result images grouped by shoot (float H×W×3 in [0, 1]; ``official``: 8-bit first)."""
    def mean_ab(img: np.ndarray) -> tuple[float, float]:
        lab = srgb_to_lab(to_8bit(img) if official else np.asarray(img, np.float32))
        return float(lab[..., 1].mean()), float(lab[..., 2].mean())

    return glc_from_means({g: [mean_ab(i) for i in imgs] for g, imgs in images_by_group.items()})


def split_name(stem: str) -> tuple[str, str]:
    """``{g}_{i}`` → (g, i): the group is the part before the last underscore."""
    m = _NAME.match(stem)
    if not m:
        raise ValueError(f"file name {stem!r} is not of the form {{group}}_{{index}}")
    return m["group"], m["idx"]


def _natural(s: str) -> tuple[int, int | str]:
    return (0, int(s)) if s.isdigit() else (1, s)


def name_order(stem: str) -> tuple:
    """Sort key: numeric groups and indices in numeric order."""
    g, i = split_name(stem)
    return _natural(g), _natural(i)


def _mask_for(masks: dict[str, Path] | None, stem: str, shape: tuple[int, int]) -> np.ndarray | None:
    if masks is None:
        return None
    if stem not in masks:
        raise ValueError(f"no mask for {stem} in the masks folder")
    m = read_mask(masks[stem])
    if m.shape != shape:  # the official script resizes a mask of another size to the image
        m = np.clip(cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
    return m


def _mean(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def summarise(rows: list[dict]) -> dict:
    """The folder summary (mean of every per-image metric, M_GLC, counts) from per-image rows."""
    by_group: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        by_group.setdefault(r["group"], []).append((r["mean_a"], r["mean_b"]))
    out: dict = {k: _mean([r[k] for r in rows]) for k in METRIC_KEYS}
    out.update(glc=glc_from_means(by_group), n_images=len(rows), n_groups=len(by_group), per_image=rows)
    return out


def folder_metrics(pred_dir, target_dir, masks_dir=None, official: bool = False) -> dict:
    """Metrics of every image of ``pred_dir`` against the file of the same stem in ``target_dir``.

    Names are ``{group}_{index}.*`` (any of .png/.tif/.tiff/.jpg/.jpeg, 8 or 16 bit); masks are
    looked up by the same stem. Returns the keys ``psnr``, ``delta_e``, ``psnr_hc``, ``delta_e_hc``,
    ``ssim`` (means over images; ``None`` where undefined, e.g. HC without masks), ``glc``,
    ``n_images``, ``n_groups`` and ``per_image`` (rows with ``name``, ``group`` and the metrics).
    """
    preds, targets = list_images(pred_dir), list_images(target_dir)
    masks = list_images(masks_dir) if masks_dir is not None else None
    if not preds:
        raise ValueError(f"no images in {pred_dir}")
    missing = sorted(set(preds) - set(targets), key=name_order)
    if missing:
        raise ValueError(f"{len(missing)} prediction(s) have no target in {target_dir}: "
                         f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    rows = []
    for stem in sorted(preds, key=name_order):
        group, _ = split_name(stem)
        pred, target = read_rgb(preds[stem]), read_rgb(targets[stem])
        if pred.shape != target.shape:
            raise ValueError(f"{stem}: prediction {pred.shape[:2]} and target {target.shape[:2]} differ in size")
        mask = _mask_for(masks, stem, pred.shape[:2])
        rows.append({"name": stem, "group": group, **image_metrics(pred, target, mask, official)})
    return summarise(rows)


def _group_values(rows: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per group: (sum of ``key`` over its images, image count), or its GLC term for ``glc``."""
    groups: dict[str, list[Mapping]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    if key == "glc":
        vals = [glc_from_means({"g": [(r["mean_a"], r["mean_b"]) for r in rs]}) for rs in groups.values()]
        return np.array(vals, np.float64), np.ones(len(vals))

    def num(v) -> float:
        return float("nan") if v is None else float(v)

    sums = [sum(num(r[key]) for r in rs) for rs in groups.values()]
    return np.array(sums, np.float64), np.array([len(rs) for rs in groups.values()], np.float64)


def bootstrap_over_groups(per_image_rows: Sequence[Mapping], key: str, n: int = 1000,
                          seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of a folder metric, resampling whole groups.

    ``key`` is a per-image metric (its image-weighted mean is resampled) or ``"glc"`` (the mean
    of the resampled groups' GLC terms). Groups, not images, are the independent units: images
    of one shoot are correlated. NaN bounds when a value is missing or there are no rows.
    """
    sums, counts = _group_values(per_image_rows, key)
    if len(sums) == 0:
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, len(sums), size=(n, len(sums)))
    with np.errstate(invalid="ignore"):
        stats = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    if np.isnan(stats).any():
        return float("nan"), float("nan")
    # the empirical quantiles themselves (no interpolation, so an infinite PSNR stays infinite)
    low, high = np.percentile(stats, [2.5, 97.5], method="inverted_cdf")
    return float(low), float(high)


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


# --- CLI --------------------------------------------------------------------------------------
def _finite(value):
    """JSON has no NaN/Infinity: non-finite numbers become null (PSNR of identical images is ∞)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _fmt(v, width: int = 9, digits: int = 3) -> str:
    return f"{'—':>{width}}" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:>{width}.{digits}f}"


_HEADERS = ("PSNR", "ΔE", "PSNR^HC", "ΔE^HC", "SSIM")


def format_table(result: dict, per_image: bool = True) -> str:
    """The result as text: per-image rows, then means with bootstrap 95 % CIs over groups."""
    lines = []
    head = f"{'image':<16}{'group':<10}" + "".join(f"{h:>9}" for h in _HEADERS)
    if per_image:
        lines.append(head)
        for r in result["per_image"]:
            lines.append(f"{r['name']:<16}{r['group']:<10}" + "".join(_fmt(r[k]) for k in METRIC_KEYS))
        lines.append("")
    lines.append(f"{result['n_images']} images in {result['n_groups']} groups")
    for key, label in (*zip(METRIC_KEYS, _HEADERS, strict=True), ("glc", "M_GLC")):
        low, high = bootstrap_over_groups(result["per_image"], key)
        lines.append(f"{label:<9}{_fmt(result[key], 10, 4)}   95% CI over groups [{_fmt(low, 0, 4)}, "
                     f"{_fmt(high, 0, 4)}]")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m inference.metrics", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="PSNR, ΔE76, PSNR^HC, ΔE^HC, SSIM and M_GLC of a folder of results against "
                    "targets, matched by file name {group}_{index}.* (formulas: docs/metrics.md).")
    p.add_argument("--pred", required=True, type=Path, help="folder of results")
    p.add_argument("--target", required=True, type=Path, help="folder of targets (same stems)")
    p.add_argument("--masks", type=Path, default=None,
                   help="folder of people masks (same stems); without it the HC metrics are not computed")
    p.add_argument("--official", action="store_true",
                   help="PPR10K's released script: 8-bit images, weight 1 where the mask is non-zero "
                        "(else soft masks weigh linearly, 0.5 + 0.5·mask)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-per-image", action="store_true", help="table: only the means")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = folder_metrics(args.pred, args.target, args.masks, official=args.official)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_finite(result), indent=1, allow_nan=False))
    else:
        print(format_table(result, per_image=not args.no_per_image))
    return 0


if __name__ == "__main__":
    sys.exit(main())
