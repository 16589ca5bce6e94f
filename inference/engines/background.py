"""``background.replace``: put the person of a portrait on another photo — placement search,
harmonisation, feathered matte, full resolution out.

After Auto-Retoucher (paper 003 in ``shared/papers``): candidate positions and scales are scored
by explicit verifier terms and refined by numerical-gradient steps (:mod:`inference.placement`);
the best one (or a placement given by hand) is rendered, and the pasted person is harmonised to the
background around it with the existing harmoniser (:mod:`inference.engines.harmonize`: its
low-resolution statistics matching and its colour polynomial, reference = the background around the
placement).
"""

from __future__ import annotations

import math
import time
from typing import Any

import cv2
import numexpr as ne
import numpy as np

from inference import placement
from inference.engines.common import image_and_mask
from inference.engines.harmonize import (
    LOW_LONG,
    HarmonizeEngine,
    apply_colour_polynomial,
    fit_colour_polynomial,
)
from inference.interface import EngineInputError, EngineSpec, validate_params
from inference.people import detect_faces, person_mask
from inference.segmentation import check_image, feather_mask, resize_image

MIN_BACKGROUND = 128  # px on the background's short side
MIN_PERSON = 16  # px: the person's box height in the portrait
FEATHER_LONG = 640  # the matte is refined at this long side of the placed person, then upsampled
# The harmoniser's reference here is the scene around the person — sky, grass, walls — not skin: its
# tone is a fair target for the person's shadows/mid-tones/highlights (half-way), its colour is not
# (a meadow's a*, b* statistics would turn skin green).
HARMONIZE = {"strength": 0.5, "colour": False}


def parse_placement(value: Any) -> str | dict[str, float]:
    """``"auto"`` or ``{"x", "y", "scale"}``: the person's box top-left in background pixels and
    the size factor on the portrait's pixels."""
    if value == "auto":
        return "auto"
    if not isinstance(value, dict) or set(value) != {"x", "y", "scale"}:
        raise EngineInputError('placement must be "auto" or {"x": …, "y": …, "scale": …} (background '
                               "pixels of the person's top-left corner, size factor on the portrait)")
    for key in ("x", "y", "scale"):
        v = value[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise EngineInputError(f"placement {key!r} must be a finite number")
    if not 0.005 <= value["scale"] <= 20:
        raise EngineInputError(f"placement scale must lie in [0.005, 20], got {value['scale']}")
    return {k: float(value[k]) for k in ("x", "y", "scale")}


def _check(params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "placement": parse_placement(params.get("placement", "auto"))}


SPEC = EngineSpec(
    name="background.replace",
    version="1",
    queue="cpu",
    inputs=("image", "background"),
    outputs=("image", "mask"),
    params={
        "placement": {"type": "placement", "default": "auto"},
        "harmonize": {"type": "bool", "default": True},
        "candidates": {"type": "int", "default": 5, "min": 1, "max": 10},
    },
    description="Put the portrait's person on another photo: placement search over position and "
                "scale scored by explicit terms (depth/horizon scale, faces in the background, "
                "support under the feet, overlap with salient things, framing, lighting), best "
                'candidate rendered (or placement {"x", "y", "scale"} by hand), harmonised to the '
                "background around it, feathered matte, full resolution. Optional mask input: the person.",
    check=_check,
)


class BackgroundEngine:
    spec = SPEC

    def __init__(self, **cfg: Any):
        """``cfg`` is the worker's engine configuration; this engine needs none."""
        self._harmonizer = HarmonizeEngine()

    def run(self, inputs, params, progress=None):
        t0 = time.perf_counter()
        params = validate_params(self.spec, params or {})
        image, mask = image_and_mask(inputs, "mask (the person)", allow_empty=False)
        background = check_image(inputs.get("background"), "background")
        bh, bw = background.shape[:2]
        if min(bh, bw) < MIN_BACKGROUND:
            raise EngineInputError(f"The background is too small ({bw}×{bh}); it needs at least "
                                   f"{MIN_BACKGROUND} px on its short side.")
        faces = detect_faces(image)
        if mask is not None:
            source = "input"
        else:
            mask = person_mask(image, faces)
            source = "people segmenter"
            if not (mask > 0.5).any():
                raise EngineInputError("No person was found in the portrait. Give a mask of the person, or "
                                       "use a portrait with a clearly visible face.")
        person = placement.measure_person(image, mask, faces)
        if person.height < MIN_PERSON:
            raise EngineInputError(f"The person is too small ({person.height} px tall); at least "
                                   f"{MIN_PERSON} px are needed.")
        t_person = time.perf_counter()
        scene = placement.analyse_background(background)
        info: dict[str, Any] = {"person": {**person.describe(), "mask_source": source},
                                "background": scene.describe()}
        chosen = params["placement"]
        if chosen == "auto":
            found, surface = placement.search(scene, person, params["candidates"])
            best = found[0]
            info["candidates"] = [placement.describe(scene, person, c, i + 1) for i, c in enumerate(found)]
            info["surface"] = placement.encode_surface(scene, person, surface)
        else:
            best = placement.forced(scene, person, chosen["x"], chosen["y"], chosen["scale"])
            info["candidates"] = [placement.describe(scene, person, best, 1)]
        t_search = time.perf_counter()
        if progress:
            progress(0.4)
        where = placement.describe(scene, person, best)
        if chosen != "auto":  # exactly what was asked for, not rounded through working pixels
            where.update(x=chosen["x"], y=chosen["y"], scale=chosen["scale"])
        out, matte, harmonized = self.render(image, mask, person, background, where["x"], where["y"],
                                             where["scale"], params["harmonize"],
                                             refine=True if source != "input" else None)
        if progress:
            progress(1.0)
        info.update(placement={**where, "mode": "auto" if chosen == "auto" else "forced"},
                    harmonized=harmonized,
                    ms={"person": round((t_person - t0) * 1000, 1), "search": round((t_search - t_person) * 1000, 1),
                        "render": round((time.perf_counter() - t_search) * 1000, 1),
                        "total": round((time.perf_counter() - t0) * 1000, 1)})
        return {"image": out, "mask": matte, "info": info}

    def render(self, image, mask, person: placement.Person, background, x: float, y: float, scale: float,
               harmonize: bool = True, refine: bool | None = None):
        """The person's box (top-left at ``x``, ``y``, scaled by ``scale``) pasted on the background
        with a feathered matte (``refine``: snap a hard mask to the edges; default: when the mask is
        hard), harmonised to the background around it: (image, matte, harmonised?).

        The harmoniser works as in its engine — statistics at low resolution, carried to full
        resolution by its fitted colour polynomial — but on the cut-out alone: the low-resolution
        composite is made from small copies, and the polynomial is applied to the person's pixels
        before the one full-resolution blend."""
        bh, bw = background.shape[:2]
        x0, y0, x1, y1 = person.box
        nw, nh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
        px, py = int(round(x)), int(round(y))
        if px + nw <= 0 or py + nh <= 0 or px >= bw or py >= bh:
            raise EngineInputError(f"The placed person ({nw}×{nh} at {px}, {py}) does not overlap the "
                                   f"{bw}×{bh} background.")
        # only the visible part of the person is resized
        vx0, vy0 = max(0, -px), max(0, -py)
        vx1, vy1 = min(nw, bw - px), min(nh, bh - py)
        refine = float(((mask > 0.02) & (mask < 0.98)).mean()) < 0.01 if refine is None else refine
        rgb, alpha = _cutout(image, mask, person.box, (nw, nh), (vx0, vy0, vx1, vy1), refine)
        if not (alpha > 0.5).any():
            raise EngineInputError("Too little of the person is left inside the background at that placement.")
        bx0, by0 = px + vx0, py + vy0  # where the visible part lands
        harmonized = harmonize and self._harmonize(rgb, alpha, background, (bx0, by0))
        out = background.copy()
        region = out[by0:by0 + rgb.shape[0], bx0:bx0 + rgb.shape[1]]
        ne.evaluate("region + a * (rgb - region)", local_dict={"region": region, "a": alpha[..., None], "rgb": rgb},
                    out=region, casting="same_kind")
        matte = np.zeros((bh, bw), np.float32)
        matte[by0:by0 + rgb.shape[0], bx0:bx0 + rgb.shape[1]] = alpha
        return out, matte, harmonized

    def _harmonize(self, rgb: np.ndarray, alpha: np.ndarray, background: np.ndarray, at) -> bool:
        """Restyle the cut-out in place towards the background around it (a box 50 % wider on each
        side and 25 % taller); False when there is too little of either to compare."""
        bh, bw = background.shape[:2]
        h, w = alpha.shape
        rx0, ry0 = max(0, at[0] - w // 2), max(0, at[1] - h // 4)
        rx1, ry1 = min(bw, at[0] + w + w // 2), min(bh, at[1] + h + h // 4)
        s = min(1.0, LOW_LONG / max(rx1 - rx0, ry1 - ry0))
        size = lambda a, b: (max(1, round(a * s)), max(1, round(b * s)))  # noqa: E731 — (height, width)
        lh, lw = size(ry1 - ry0, rx1 - rx0)  # OpenCV reads the view in place (no full-resolution copy)
        low = cv2.resize(background[ry0:ry1, rx0:rx1], (lw, lh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        ox, oy = round((at[0] - rx0) * s), round((at[1] - ry0) * s)
        ph, pw = size(h, w)
        ph, pw = min(ph, low.shape[0] - oy), min(pw, low.shape[1] - ox)
        if ph < 4 or pw < 4:
            return False
        small_rgb, small_alpha = resize_image(rgb, *size(h, w))[:ph, :pw], resize_image(alpha, *size(h, w))[:ph, :pw]
        fg = np.zeros(low.shape[:2], np.float32)
        fg[oy:oy + ph, ox:ox + pw] = small_alpha
        window = low[oy:oy + ph, ox:ox + pw]
        window += small_alpha[..., None] * (small_rgb - window)
        if (fg > 0.5).sum() < 16 or (fg <= 0.5).sum() < 64:
            return False
        low, on, target, _ = self._harmonizer.lowres(low, fg, np.ones(fg.shape, bool), HARMONIZE)
        coef = fit_colour_polynomial(low[on], target[on], max_samples=4000)
        rgb[:] = apply_colour_polynomial(rgb.reshape(-1, 3), coef).reshape(rgb.shape)  # outside the matte: unseen
        return True


def _cutout(image, mask, box, size, visible, refine: bool):
    """The person's box resized to ``size`` (only its ``visible`` part), with a feathered matte.

    With ``refine`` (a segmenter's hard mask) the matte is snapped to the person's edges by a
    guided filter and tightened a little so no rim of the old background comes along; a soft mask
    (an alpha matte) is kept as it is.
    """
    x0, y0, x1, y1 = box
    nw, nh = size
    vx0, vy0, vx1, vy1 = visible
    sx, sy = (x1 - x0) / nw, (y1 - y0) / nh
    # the source rectangle behind the visible part, with a pixel of margin for interpolation
    ax0, ay0 = max(0, int(math.floor(x0 + vx0 * sx)) - 1), max(0, int(math.floor(y0 + vy0 * sy)) - 1)
    ax1 = min(image.shape[1], int(math.ceil(x0 + vx1 * sx)) + 1)
    ay1 = min(image.shape[0], int(math.ceil(y0 + vy1 * sy)) + 1)
    to_src = np.float32([[sx, 0, x0 + (vx0 + 0.5) * sx - 0.5 - ax0], [0, sy, y0 + (vy0 + 0.5) * sy - 0.5 - ay0]])
    out_size = (vx1 - vx0, vy1 - vy0)
    interp = cv2.INTER_AREA if sx > 1.5 else cv2.INTER_LINEAR
    src, msrc = image[ay0:ay1, ax0:ax1], mask[ay0:ay1, ax0:ax1]  # views: OpenCV reads them in place
    if interp == cv2.INTER_AREA:  # shrink: area-average first so the warp below is a pure shift
        tw, th = max(1, round((ax1 - ax0) / sx)), max(1, round((ay1 - ay0) / sy))
        src, msrc = cv2.resize(src, (tw, th), interpolation=cv2.INTER_AREA), \
            cv2.resize(msrc, (tw, th), interpolation=cv2.INTER_AREA)
        fx, fy = tw / (ax1 - ax0), th / (ay1 - ay0)  # crop px → shrunk px: (X + ½)·f − ½
        to_src = np.float32([[sx * fx, 0, (to_src[0, 2] + 0.5) * fx - 0.5],
                             [0, sy * fy, (to_src[1, 2] + 0.5) * fy - 0.5]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    rgb = cv2.warpAffine(src, to_src, out_size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    alpha = np.clip(cv2.warpAffine(msrc, to_src, out_size, flags=flags, borderMode=cv2.BORDER_CONSTANT), 0, 1)
    if refine and min(out_size) >= 8:
        alpha = _feather(rgb, alpha)
    return rgb, alpha.astype(np.float32)  # bilinear / area resampling of [0, 1] stays in [0, 1]


def _feather(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Guided-filter feathering at a reduced size (long side ``FEATHER_LONG``), upsampled back."""
    h, w = alpha.shape
    s = min(1.0, FEATHER_LONG / max(h, w))
    sh, sw = max(2, round(h * s)), max(2, round(w * s))
    small = resize_image(alpha, sh, sw)
    grey = resize_image(rgb, sh, sw) @ np.float32([0.299, 0.587, 0.114])
    soft = feather_mask(small, grey, radius=max(1, round(max(sh, sw) / 200)))
    soft = np.clip((soft - 0.15) / 0.8, 0.0, 1.0)  # pull the edge in a little: no old-background rim
    return resize_image(soft, h, w) if s < 1 else soft
