"""Region-aware portrait retouching without trained weights: ``retouch.auto`` and
``retouch.interactive``.

Both engines follow the structure of region-aware portrait retouching with sparse interactive
guidance (paper 000 in ``shared/papers``): an automatic branch that gives human regions priority
(PPR10K's HRP idea, paper 002) and an interactive branch in which positive / negative clicks pick
the region to emphasise or to leave alone. The learned parts of that paper are replaced by
documented classical steps:

* people: Haar-cascade faces + face-seeded GrabCut (:mod:`inference.people`), or a given mask;
* corrections: exposure, white balance, contrast, vibrance, highlight/shadow recovery estimated
  from image statistics weighted towards people (human pixels weigh 5×, the HRP training weight),
  with faces held in a good luminance band and skin pulled towards a neutral skin chroma;
* rendering: always through ``inference.render.apply_adjustments`` so the server and the
  browser preview share one renderer. The renderer's units (how much Lab b* one step of
  "temperature" moves, etc.) are measured once by probing it (:func:`renderer_gains`), so the
  estimator stays correct if the renderer's curves change;
* interactive regions: clicks become radius-3 disk maps (:mod:`inference.clicks`), seed a
  geodesic segmentation on a cached superpixel graph, and the soft region is feathered with a
  guided filter + Gaussian so region borders show no seam or halo.

The interactive engine exposes an explicit session API for the platform's per-session cache:
``prepare(image) -> state`` does all click-independent work at working resolution (short side
360 px) and ``run_clicks(state, clicks, params, full_image=None)`` does the incremental part.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numexpr as ne
import numpy as np

from inference import statecodec
from inference.clicks import Click, click_maps, parse_clicks, scale_clicks
from inference.colour import lab_to_srgb, srgb_to_lab
from inference.engines.common import image_and_mask
from inference.interface import EngineInputError, EngineSpec, run_clicks_as_job, validate_params
from inference.people import Face, detect_faces, face_core, face_weight_map, person_mask
from inference.render import apply_adjustments, tile_pool
from inference.segmentation import (
    SuperpixelGraph,
    check_image,
    check_mask,
    feather_mask,
    geodesic_click_segmentation,
    resize_image,
    upsample_mask,
    working_size,
)

HUMAN_WEIGHT = 5.0  # HRP: human pixels count 5× background pixels in the statistics
SKIN_AB = (14.0, 17.0)  # typical well-balanced skin chroma in CIE Lab (a*, b*)
_BLEND_TILE_PIXELS = 49152  # full-resolution blend tiles: a few float32 RGB tiles stay in L2


def render(image: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """The shared renderer; sliders missing from ``params`` stay at identity."""
    return apply_adjustments(image, params)


# ---------------------------------------------------------------- statistics helpers

def weighted_percentiles(values: np.ndarray, weights: np.ndarray, qs, lo: float = 0.0,
                         hi: float = 100.0, bins: int = 1024) -> np.ndarray:
    """Weighted percentiles by histogram (O(N), resolution (hi-lo)/bins)."""
    v = values.ravel()
    w = weights.ravel().astype(np.float64)
    idx = np.clip(((v - lo) / (hi - lo) * bins).astype(np.int64), 0, bins - 1)
    hist = np.bincount(idx, w, minlength=bins)
    cdf = np.cumsum(hist)
    total = cdf[-1]
    if total <= 0:
        return np.full(len(qs), np.nan)
    out = []
    for q in qs:
        k = int(np.searchsorted(cdf, total * q / 100.0))
        out.append(lo + (min(k, bins - 1) + 0.5) * (hi - lo) / bins)
    return np.asarray(out)


def _y_of_l(lstar: float) -> float:
    """Relative luminance for a CIE L* value (inverse of the L* curve)."""
    f = (lstar + 16.0) / 116.0
    return f ** 3 if f > 6 / 29 else 3 * (6 / 29) ** 2 * (f - 4 / 29)


def _l_of_y(y: float) -> float:
    return 116.0 * np.cbrt(y) - 16.0 if y > (6 / 29) ** 3 else y * (29 / 3) ** 3


# ---------------------------------------------------------------- renderer calibration

_GAINS: dict[str, float] | None = None
_GAINS_LOCK = threading.Lock()


def renderer_gains() -> dict[str, float]:
    """Per-unit effect of the renderer's sliders, measured on small probe images (cached).

    * ``temperature`` → Δb* on a mid grey, ``tint`` → Δa* on a mid grey;
    * ``contrast`` → Δ(L* p95 − p5) on a grey ramp;
    * ``vibrance`` → Δ mean chroma on moderately coloured patches;
    * ``exposure`` → ΔL* of a mid grey per EV (checks the EV convention).
    Gains too small to be usable (slider missing/inert) come back as 0 and the slider is unused.
    """
    global _GAINS
    with _GAINS_LOCK:
        if _GAINS is not None:
            return _GAINS
        grey = np.full((16, 16, 3), 0.46, np.float32)
        ramp = np.repeat(np.linspace(0.03, 0.97, 64, dtype=np.float32)[None, :, None], 16, 0)
        ramp = np.repeat(ramp, 3, 2)
        rng = np.random.default_rng(0)
        hues = rng.uniform(0, 2 * np.pi, 64)
        lab = np.stack([np.full(64, 55.0), 18 * np.cos(hues), 18 * np.sin(hues)], 1)
        patches = np.clip(lab_to_srgb(lab.astype(np.float32)), 0, 1).reshape(8, 8, 3)
        patches = np.repeat(np.repeat(patches, 4, 0), 4, 1)

        def lab_of(img):
            return srgb_to_lab(np.clip(img, 0, 1))

        def spread(img):
            ell = lab_of(img)[..., 0]
            return float(np.percentile(ell, 95) - np.percentile(ell, 5))

        def chroma(img):
            lb = lab_of(img)
            return float(np.hypot(lb[..., 1], lb[..., 2]).mean())

        base_grey = lab_of(grey).mean(axis=(0, 1))
        step = 40.0
        g = {}
        g["temperature"] = float((lab_of(render(grey, {"temperature": step})).mean(axis=(0, 1))
                                  - base_grey)[2] / step)
        g["tint"] = float((lab_of(render(grey, {"tint": step})).mean(axis=(0, 1)) - base_grey)[1] / step)
        g["contrast"] = (spread(render(ramp, {"contrast": step})) - spread(ramp)) / step
        g["vibrance"] = (chroma(render(patches, {"vibrance": step})) - chroma(patches)) / step
        g["saturation"] = (chroma(render(patches, {"saturation": step})) - chroma(patches)) / step
        g["exposure"] = float((lab_of(render(grey, {"exposure": 0.5})).mean(axis=(0, 1))
                               - base_grey)[0] / 0.5)
        for k in list(g):
            if not math.isfinite(g[k]) or abs(g[k]) < 1e-3:
                g[k] = 0.0
        _GAINS = g
        return g


# ---------------------------------------------------------------- parameter estimation

@dataclass
class Stats:
    """Subsampled Lab pixels of a working image, the raw material of the estimator."""

    lab: np.ndarray  # N×3
    human: np.ndarray  # N, person prior in [0, 1]
    face: np.ndarray  # N, 1 inside face cores

    @classmethod
    def from_image(cls, lab: np.ndarray, human: np.ndarray, face: np.ndarray, step: int = 2) -> Stats:
        return cls(lab[::step, ::step].reshape(-1, 3).copy(), human[::step, ::step].ravel().copy(),
                   face[::step, ::step].ravel().copy())


def estimate_params(stats: Stats, emphasis: np.ndarray | None = None, strength: float = 1.0,
                    ev_correction: float = 0.0) -> tuple[dict[str, float], dict[str, Any]]:
    """Tone and colour corrections for the image (or for the emphasised region) from statistics.

    ``emphasis`` (N, optional) replaces the person prior as the region whose look is optimised.
    Returns the renderer params and a JSON-able explanation (measured values and targets).
    """
    gains = renderer_gains()
    lab = stats.lab
    ell, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    region = stats.human if emphasis is None else emphasis
    has_region = float(region.sum()) >= 30
    # human-region priority weights for global statistics
    w = 1.0 + (HUMAN_WEIGHT - 1.0) * region if has_region else np.ones_like(ell)
    face = stats.face * (region > 0.5) if emphasis is not None else stats.face
    has_face = float(face.sum()) >= 20
    explain: dict[str, Any] = {}

    # exposure: key region median L* into a good band
    if has_face:
        key_w, band, aim, key = face, (56.0, 72.0), 64.0, "faces"
    elif has_region:
        key_w, band, aim, key = region, (45.0, 66.0), 56.0, "region"
    else:
        key_w, band, aim, key = np.ones_like(ell), (42.0, 60.0), 50.0, "global"
    l_key = float(weighted_percentiles(ell, key_w, [50])[0])
    target = min(max(l_key, band[0]), band[1])
    target += 0.3 * (aim - target)
    ev = math.log2(max(_y_of_l(target), 1e-4) / max(_y_of_l(l_key), 1e-4)) + ev_correction
    ev = float(np.clip(ev, -2.0, 2.0))
    explain.update(key_region=key, key_median_l=round(l_key, 2), key_target_l=round(target, 2))

    # predicted L* after exposure (for highlight / shadow protection and contrast)
    y = ((ell + 16.0) / 116.0) ** 3 * 2.0 ** ev
    ell_after = 116.0 * np.cbrt(np.minimum(y, 4.0)) - 16.0
    wsum = float(w.sum())
    # highlight / shadow recovery protects the people (key region) first: a black backdrop is
    # a style, a face sinking into black is not
    prot = region if has_region else np.ones_like(ell)
    psum = float(prot.sum())
    clipped = float((prot * (ell_after > 97.0)).sum() / psum)
    crushed = float((prot * (ell_after < 6.0)).sum() / psum)
    highlights = -min(60.0, 600.0 * max(0.0, clipped - 0.01)) if clipped > 0.01 else 0.0
    shadows = min(50.0, 300.0 * max(0.0, crushed - 0.03)) if crushed > 0.03 else 0.0

    # white balance: near-neutral background pixels should be grey (grey world on "grey-ish"
    # pixels), faces should sit near a typical skin chroma; faces get the larger say (HRP)
    chroma = np.hypot(a, b)
    neutral = (chroma < 20) & (ell > 15) & (ell < 95) & (region < 0.5)
    cast = np.zeros(2)
    votes = 0.0
    if neutral.sum() > 50:
        cast += 0.4 * np.array([a[neutral].mean(), b[neutral].mean()])
        votes += 0.4
    if has_face:
        fa = float((a * face).sum() / face.sum())
        fb = float((b * face).sum() / face.sum())
        cast += 0.6 * np.array([fa - SKIN_AB[0], fb - SKIN_AB[1]])
        votes += 0.6
    if votes > 0:
        cast /= votes
    temperature = -0.7 * cast[1] / gains["temperature"] if gains["temperature"] else 0.0
    tint = -0.7 * cast[0] / gains["tint"] if gains["tint"] else 0.0
    explain.update(colour_cast_ab=[round(float(cast[0]), 2), round(float(cast[1]), 2)])

    # contrast: HRP-weighted L* spread towards a punchy-but-natural target
    p5, p95 = weighted_percentiles(ell_after, w, [5, 95])
    spread = float(p95 - p5)
    contrast_goal = min(max(spread, 60.0), 84.0)  # leave spreads inside the band alone
    contrast = 0.6 * (contrast_goal - spread) / gains["contrast"] if gains["contrast"] else 0.0

    # colourfulness: HRP-weighted mean chroma towards a target, via vibrance (skin-friendly)
    mean_c = float((chroma * w).sum() / wsum)
    vib_gain = gains["vibrance"] or gains["saturation"]
    vib_key = "vibrance" if gains["vibrance"] else "saturation"
    chroma_goal = min(max(mean_c, 16.0), 32.0)
    colour = 0.6 * (chroma_goal - mean_c) / vib_gain if vib_gain else 0.0
    explain.update(l_spread=round(spread, 2), mean_chroma=round(mean_c, 2))

    params = {
        "exposure": ev,
        "contrast": float(np.clip(contrast, -25.0, 35.0)),
        "highlights": float(highlights),
        "shadows": float(shadows),
        "temperature": float(np.clip(temperature, -50.0, 50.0)),
        "tint": float(np.clip(tint, -40.0, 40.0)),
        vib_key: float(np.clip(colour, -30.0, 40.0)),
    }
    s = float(strength)
    params = {k: round(v * s, 3) for k, v in params.items()}
    return params, explain


# ---------------------------------------------------------------- shared preparation

def _scene(image: np.ndarray, mask: np.ndarray | None):
    """Working image, faces, person prior and statistics for one input image."""
    h, w = image.shape[:2]
    wh, ww = working_size(h, w)
    work = resize_image(image, wh, ww)
    s = ww / float(w)
    faces = detect_faces(image)
    if mask is not None:  # with a given people mask, only faces on people count
        faces = [f for f in faces if _mean_in_box(mask, face_core(f)) > 0.5]
    faces_work = [f.scaled(s) for f in faces]
    if mask is not None:
        prior = resize_image(mask, wh, ww)
    else:
        prior = person_mask(work, faces_work)
    lab = srgb_to_lab(work)
    face_map = face_weight_map(faces_work, wh, ww)
    return work, lab, faces, faces_work, prior, face_map


def _mean_in_box(mask: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = box
    patch = mask[max(y0, 0):max(y1, y0 + 1), max(x0, 0):max(x1, x0 + 1)]
    return float(patch.mean()) if patch.size else 0.0


def _round_info(params: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 3) for k, v in params.items()}


# ---------------------------------------------------------------- retouch.auto

AUTO_SPEC = EngineSpec(
    name="retouch.auto",
    version="1",
    queue="cpu",
    inputs=("image",),
    outputs=("image", "mask"),
    params={"strength": {"type": "float", "default": 1.0, "min": 0.0, "max": 1.0}},
    description="Automatic portrait retouching with human-region priority: finds people "
                "(faces + GrabCut, or the optional mask input), estimates exposure, white balance, "
                "contrast and vibrance weighted towards them, renders with the adjust renderer.",
)


class AutoRetouch:
    spec = AUTO_SPEC

    def __init__(self, **cfg: Any):
        """``cfg`` is the worker's engine configuration; this engine needs none."""

    def run(self, inputs, params, progress=None):
        t0 = time.perf_counter()
        params = validate_params(self.spec, params or {})
        image, mask = image_and_mask(inputs)
        h, w = image.shape[:2]
        work, lab, faces, faces_work, prior, face_map = _scene(image, mask)
        if progress:
            progress(0.3)
        stats = Stats.from_image(lab, prior, face_map)
        adj, explain = estimate_params(stats, strength=1.0)
        # one refinement step through the real renderer: re-measure the key region's median L*
        # on a rendered thumbnail and correct the exposure for whatever the other sliders did
        small = Stats.from_image(srgb_to_lab(render(work, adj)), prior, face_map)
        key_w = stats.face if stats.face.sum() >= 20 else (
            stats.human if stats.human.sum() >= 30 else np.ones_like(stats.human))
        l_after = float(weighted_percentiles(small.lab[:, 0], key_w, [50])[0])
        l_goal = explain["key_target_l"]
        corr = math.log2(max(_y_of_l(l_goal), 1e-4) / max(_y_of_l(l_after), 1e-4))
        if abs(corr) > 0.05:
            adj, explain = estimate_params(stats, ev_correction=float(np.clip(corr, -1.0, 1.0)))
        adj = {k: round(v * params["strength"], 3) for k, v in adj.items()}
        if progress:
            progress(0.5)
        out = np.clip(render(image, adj), 0.0, 1.0)
        full_mask = upsample_mask(prior, h, w) if mask is None else mask
        if progress:
            progress(1.0)
        info = {
            "params": _round_info(adj),
            "faces": [f.as_list() for f in faces],
            "faces_found": len(faces),
            "people_fraction": round(float(full_mask.mean()), 4),
            "mask_source": "input" if mask is not None else ("grabcut" if faces else "none"),
            "estimate": explain,
            "seconds": round(time.perf_counter() - t0, 3),
        }
        return {"image": out, "mask": full_mask.astype(np.float32), "info": info}


# ---------------------------------------------------------------- retouch.interactive

INTERACTIVE_SPEC = EngineSpec(
    name="retouch.interactive",
    version="1",
    queue="cpu",
    inputs=("image", "clicks"),
    outputs=("image", "mask"),
    params={
        "strength": {"type": "float", "default": 0.8, "min": 0.0, "max": 1.0},
        "background": {"type": "float", "default": 0.3, "min": 0.0, "max": 1.0},
    },
    description="Click-guided region-aware retouching: positive clicks pick the region to "
                "emphasise (stronger retouching), negative clicks a region to leave untouched; "
                "everything else gets a weak version of the same correction. Optional mask input "
                "replaces the automatic people prior.",
    interactive=True,
)


@dataclass
class InteractiveState:
    """Click-independent, per-image state cached by the platform between clicks."""

    full_shape: tuple[int, int]
    work: np.ndarray
    grey: np.ndarray
    graph: SuperpixelGraph
    prior: np.ndarray  # working-res person prior
    prior_sp: np.ndarray  # per-superpixel person prior
    stats: Stats
    faces: list[Face]
    scale_px: float
    bg_params: dict[str, float]  # automatic, whole-image correction for the non-emphasised part
    bg_render: np.ndarray
    prepare_ms: float
    # per-process caches, not stored with the photo (statecodec leaves transient fields out)
    renders: dict[tuple, np.ndarray] = statecodec.transient(default_factory=dict)
    lock: threading.Lock = statecodec.transient(default_factory=threading.Lock)

    @property
    def work_shape(self) -> tuple[int, int]:
        return self.work.shape[0], self.work.shape[1]


class InteractiveRetouch:
    spec = INTERACTIVE_SPEC

    def __init__(self, **cfg: Any):
        """``cfg`` is the worker's engine configuration; this engine needs none."""

    # -- session API
    def prepare(self, image: np.ndarray, mask: np.ndarray | None = None) -> InteractiveState:
        t0 = time.perf_counter()
        image = check_image(image)
        h, w = image.shape[:2]
        if mask is not None:
            mask = check_mask(mask, h, w)
        work, lab, faces, faces_work, prior, face_map = _scene(image, mask)
        graph = SuperpixelGraph.build(work, lab)
        wh, ww = work.shape[:2]
        if faces_work:
            scale_px = 3.0 * float(np.median([f.h for f in faces_work]))
        else:
            scale_px = 0.3 * min(wh, ww)
        grey = (lab[..., 0] / 100.0).astype(np.float32)
        stats = Stats.from_image(lab, prior, face_map)
        # the non-emphasised part gets a weak dose of a plain global correction (no region focus)
        bg_params, _ = estimate_params(stats, emphasis=np.zeros_like(stats.human))
        return InteractiveState((h, w), work, grey, graph, prior, graph.region_mean(prior),
                                stats, faces, scale_px, bg_params, render(work, bg_params),
                                (time.perf_counter() - t0) * 1000.0)

    def dump_state(self, state: InteractiveState) -> bytes:
        """The prepared state as bytes, to store with the photo (see :mod:`inference.statecodec`)."""
        return statecodec.dumps(state)

    def load_state(self, data: bytes) -> InteractiveState:
        return statecodec.loads(data, STATE_TYPES)

    def run_clicks(self, state: InteractiveState, clicks, params: dict[str, Any],
                   full_image: np.ndarray | None = None) -> dict[str, Any]:
        """One round of clicks, in the pixels of the image ``prepare`` saw.

        ``full_image`` (optional) is the picture to render at its own resolution: the prepared
        image itself or a larger version of it (the original behind a display proxy; same aspect
        ratio within 1 %).
        """
        t0 = time.perf_counter()
        params = validate_params(self.spec, params or {})
        h, w = state.full_shape
        parsed = parse_clicks(clicks, w, h)
        wh, ww = state.work_shape
        work_clicks = scale_clicks(parsed, ww / w, wh / h, ww, wh)
        m, n = self._region(state, work_clicks)
        t_seg = time.perf_counter()
        emph_stats = m[::2, ::2].ravel()
        adj, explain = estimate_params(state.stats, emphasis=emph_stats)
        strength, bg = params["strength"], params["background"]
        amount = (strength * m).astype(np.float32)
        amount_bg = (strength * bg * (1.0 - m) * (1.0 - n)).astype(np.float32)
        info = {
            "params": _round_info(adj),
            "background_params": _round_info(state.bg_params),
            "faces": [f.as_list() for f in state.faces],
            "faces_found": len(state.faces),
            "clicks": {"positive": sum(c.positive for c in parsed),
                       "negative": sum(not c.positive for c in parsed)},
            "emphasis_fraction": round(float(m.mean()), 4),
            "working_size": [wh, ww],
            "estimate": explain,
        }
        if full_image is None:
            key = tuple(sorted(adj.items()))
            with state.lock:
                rendered = state.renders.get(key)
            if rendered is None:
                rendered = render(state.work, adj)
                with state.lock:
                    if len(state.renders) > 8:
                        state.renders.clear()
                    state.renders[key] = rendered
            out = _blend(state.work, rendered, amount, state.bg_render, amount_bg)
            mask_out = m
        else:
            image = check_image(full_image, "full_image")
            fh, fw = image.shape[:2]
            if abs(fw / fh - w / h) > 0.01 * (w / h):
                raise EngineInputError(
                    f"full_image is {fw}×{fh} but the session was prepared for {w}×{h} "
                    "(a different aspect ratio)")
            mask_out = upsample_mask(m, fh, fw)
            out = _render_full(image, adj, mask_out, n, strength, state.bg_params if bg > 0 else None, bg)
        info["ms"] = {"segment": round((t_seg - t0) * 1000.0, 1),
                      "total": round((time.perf_counter() - t0) * 1000.0, 1),
                      "prepare": round(state.prepare_ms, 1)}
        return {"image": out, "mask": mask_out, "info": info}

    def run(self, inputs, params, progress=None):
        return run_clicks_as_job(self, check_image(inputs.get("image")), inputs, params, progress)

    # -- internals
    def _region(self, state: InteractiveState, clicks: list[Click]) -> tuple[np.ndarray, np.ndarray]:
        """Feathered soft (emphasis, negative) masks at working resolution."""
        wh, ww = state.work_shape
        graph = state.graph
        g_pos, g_neg = click_maps(clicks, wh, ww)
        pos_seeds = graph.labels_under(g_pos)
        neg_seeds = graph.labels_under(g_neg)
        if len(pos_seeds):
            border = np.flatnonzero(graph.border & (state.prior_sp < 0.5))
            border = np.setdiff1d(border, pos_seeds)
            emph_sp, neg_sp = geodesic_click_segmentation(
                graph, pos_seeds, neg_seeds, border, scale_px=state.scale_px, prior=state.prior_sp)
            emph = emph_sp[graph.labels]
        else:
            # no positive click: the automatic branch's people region is the emphasised one
            emph = state.prior
            neg_sp = np.zeros(graph.n, np.float32)
            if len(neg_seeds):
                border = np.flatnonzero(graph.border)
                _, neg_sp = geodesic_click_segmentation(
                    graph, np.empty(0, np.int64), neg_seeds, np.setdiff1d(border, neg_seeds),
                    scale_px=state.scale_px, prior=state.prior_sp)
        neg = neg_sp[graph.labels]
        emph = np.maximum(emph, g_pos)  # a clicked disk is always emphasised
        neg = np.maximum(neg, g_neg)
        emph = emph * (1.0 - neg)
        emph_f = feather_mask(emph, state.grey)
        neg_f = feather_mask(neg, state.grey) if neg.any() else neg
        return emph_f, neg_f


STATE_TYPES = (InteractiveState, SuperpixelGraph, Stats, Face)  # what load_state may build


def _render_full(image: np.ndarray, adj: dict[str, float], m_full: np.ndarray, n: np.ndarray, strength: float,
                 bg_params: dict[str, float] | None, bg: float) -> np.ndarray:
    """Full-resolution output: the two renders (each parallel inside the renderer), then one fused
    pass over row tiles on both cores that forms the blend weights from the upsampled emphasis
    mask ``m_full`` (and the negative mask ``n``, upsampled only if any) and blends and clips,
    written over the first render. The same weights as the preview's, from full-resolution masks."""
    h, w = image.shape[:2]
    out = render(image, adj)
    target2 = render(image, bg_params) if bg_params is not None else None
    n_full = upsample_mask(n, h, w) if target2 is not None and n.any() else None
    rows = max(1, _BLEND_TILE_PIXELS // w)

    def blend(r0: int) -> None:
        r1 = min(h, r0 + rows)
        base, tile, m_t = image[r0:r1], out[r0:r1], m_full[r0:r1]
        tile -= base
        tile *= cv2.merge((m_t * np.float32(strength),) * 3)  # per channel: NumPy multiplies long rows fastest
        if target2 is not None:
            weight = (np.float32(1.0) - m_t) * np.float32(strength * bg)
            if n_full is not None:
                weight *= np.float32(1.0) - n_full[r0:r1]
            extra = target2[r0:r1]
            extra -= base
            extra *= cv2.merge((weight,) * 3)
            tile += extra
        tile += base
        np.clip(tile, 0.0, 1.0, out=tile)

    list(tile_pool().map(blend, range(0, h, rows)))
    return out


def _blend(base: np.ndarray, target: np.ndarray, amount: np.ndarray,
           target2: np.ndarray | None = None, amount2: np.ndarray | None = None) -> np.ndarray:
    """base + amount·(target − base) [+ amount2·(target2 − base)], clipped (numexpr: fast, lean)."""
    if target2 is None or amount2 is None:
        out = ne.evaluate("base + a * (target - base)",
                          local_dict={"base": base, "target": target, "a": amount[..., None]})
    else:
        out = ne.evaluate("base + a * (target - base) + a2 * (target2 - base)",
                          local_dict={"base": base, "target": target, "a": amount[..., None],
                                      "target2": target2, "a2": amount2[..., None]})
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)
