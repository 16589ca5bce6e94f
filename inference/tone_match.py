"""Match a photo group's tone: solve exposure, temperature and tint per photo so that every photo's
human-region-weighted mean colour (CIELAB L*, a*, b*) reaches a common target.

PPR10K asks experts for a consistent tone across a group (its M_GLC measures the spread of the
photos' mean a*/b*); this gives them a starting point. Each photo keeps all its other sliders; only
the three global light/colour sliders move, so the expert's look is kept and only the drift
between photos is removed.

Method: per photo, Gauss–Newton on the three residuals ``m(u) − T`` (weighted mean Lab after the
edit ``u`` = (exposure, temperature, tint), minus the target), with a forward-difference Jacobian
and a damped 3×3 solve, on a ≤ 96 px proxy. The target ``T`` is the reference photo's weighted
mean Lab, or (no reference) the mean of the group's. Weights are 1 on the person and
``background`` elsewhere, so faces' tone converges first.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inference.agreement import glc_from_means, mean_lab
from inference.render import PARAMS, apply_adjustments

UNKNOWNS = ("exposure", "temperature", "tint")
STEPS = {"exposure": 0.05, "temperature": 2.0, "tint": 2.0}
MAX_MOVE = {"exposure": 1.0, "temperature": 30.0, "tint": 30.0}  # per iteration
PROXY_LONG = 96


@dataclass
class ToneMatch:
    params: list[dict]  # one parameter set per photo (the reference's unchanged)
    glc_before: float
    glc_after: float
    target_lab: list[float]


def _proxy(image: np.ndarray, long_side: int = PROXY_LONG) -> np.ndarray:
    h, w = image.shape[:2]
    s = min(1.0, long_side / max(h, w))
    if s >= 1.0:
        return np.ascontiguousarray(image, dtype=np.float32)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(np.ascontiguousarray(image, dtype=np.float32), size, interpolation=cv2.INTER_AREA)


def _clamp(key: str, value: float) -> float:
    return float(min(max(value, PARAMS[key]["min"]), PARAMS[key]["max"]))


def _weighted_mean(image: np.ndarray, params: dict, weights: np.ndarray) -> np.ndarray:
    return mean_lab(apply_adjustments(image, params), weights)


def _solve_one(image: np.ndarray, params: dict, weights: np.ndarray, target: np.ndarray,
               iterations: int) -> dict:
    p = dict(params)
    for _ in range(iterations):
        base = _weighted_mean(image, p, weights)
        residual = base - target
        if np.linalg.norm(residual) < 0.25:
            break
        jac = np.zeros((3, 3))
        for j, key in enumerate(UNKNOWNS):
            q = dict(p)
            step = STEPS[key] if p[key] + STEPS[key] <= PARAMS[key]["max"] else -STEPS[key]
            q[key] = p[key] + step
            jac[:, j] = (_weighted_mean(image, q, weights) - base) / step
        # Damped least squares (Levenberg): well defined even when a slider has hit its limit.
        scale = np.array([1.0, 0.02, 0.02])  # brings EV and ±100 sliders to comparable sizes
        js = jac / scale
        delta = np.linalg.solve(js.T @ js + 1e-3 * np.eye(3), -js.T @ residual) / scale
        for j, key in enumerate(UNKNOWNS):
            move = float(np.clip(delta[j], -MAX_MOVE[key], MAX_MOVE[key]))
            p[key] = _clamp(key, p[key] + move)
    p["exposure"] = round(p["exposure"], 2)
    p["temperature"] = round(p["temperature"], 1)
    p["tint"] = round(p["tint"], 1)
    return p


def match_group_tone(images: list[np.ndarray], params: list[dict], masks: list[np.ndarray | None],
                     *, reference: int | None = None, background: float = 0.2,
                     iterations: int = 5) -> ToneMatch:
    """New parameter sets for a group; ``params`` must be complete (``render.normalize_params``).

    ``masks`` are human masks in [0, 1] at each image's size (None: the whole photo counts).
    """
    if not images or len(images) != len(params) or len(images) != len(masks):
        raise ValueError("images, params and masks must be non-empty lists of the same length")
    proxies = [_proxy(im) for im in images]
    weights = []
    for proxy, mask in zip(proxies, masks, strict=True):
        if mask is None:
            weights.append(np.ones(proxy.shape[:2]))
        else:
            m = cv2.resize(np.asarray(mask, dtype=np.float32), (proxy.shape[1], proxy.shape[0]),
                           interpolation=cv2.INTER_AREA)
            weights.append(background + (1.0 - background) * np.clip(m, 0.0, 1.0))
    means = np.array([_weighted_mean(im, p, w) for im, p, w in zip(proxies, params, weights, strict=True)])
    target = means[reference] if reference is not None else means.mean(axis=0)
    out = []
    for i, (im, p, w) in enumerate(zip(proxies, params, weights, strict=True)):
        out.append(dict(p) if i == reference else _solve_one(im, p, w, target, iterations))
    plain_before = [mean_lab(apply_adjustments(im, p)) for im, p in zip(proxies, params, strict=True)]
    plain_after = [mean_lab(apply_adjustments(im, p)) for im, p in zip(proxies, out, strict=True)]
    return ToneMatch(out, glc_from_means(np.array(plain_before)), glc_from_means(np.array(plain_after)),
                     [float(v) for v in target])


__all__ = ["ToneMatch", "match_group_tone"]
