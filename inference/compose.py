"""Compositing helper: place a (cut-out) person on a background at a chosen position and scale.

Produces the composite + foreground mask pair that ``harmonize`` takes as input (paper 001's
setting: a person edited into another photo whose look must then be matched to a reference region).
"""

from __future__ import annotations

import cv2
import numpy as np

from inference.interface import EngineInputError
from inference.segmentation import check_image, check_mask


def make_composite(person_rgb, person_mask, background_rgb, x: float, y: float,
                   scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Alpha-composite ``person_rgb`` (scaled by ``scale``) with its top-left corner at (x, y).

    ``x``, ``y`` are background pixels and may be negative or run past the edge (the person is
    cropped). Returns ``(composite, mask)``: float32 H×W×3 and H×W, both the background's size.
    """
    person = check_image(person_rgb, "person_rgb")
    bg = check_image(background_rgb, "background_rgb")
    ph, pw = person.shape[:2]
    mask = check_mask(person_mask, ph, pw, "person_mask", allow_empty=False)
    for name, v in (("x", x), ("y", y), ("scale", scale)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise EngineInputError(f"{name} must be a finite number")
    if not 0.01 <= scale <= 20:
        raise EngineInputError(f"scale must lie in [0.01, 20], got {scale}")
    nw, nh = max(1, int(round(pw * scale))), max(1, int(round(ph * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    if (nw, nh) != (pw, ph):
        person = cv2.resize(person, (nw, nh), interpolation=interp)
        mask = np.clip(cv2.resize(mask, (nw, nh), interpolation=interp), 0, 1)
    bh, bw = bg.shape[:2]
    x0, y0 = int(round(x)), int(round(y))
    bx0, by0 = max(x0, 0), max(y0, 0)
    bx1, by1 = min(x0 + nw, bw), min(y0 + nh, bh)
    if bx1 <= bx0 or by1 <= by0:
        raise EngineInputError(
            f"the placed person ({nw}×{nh} at {x0}, {y0}) does not overlap the {bw}×{bh} background")
    px0, py0 = bx0 - x0, by0 - y0
    px1, py1 = px0 + (bx1 - bx0), py0 + (by1 - by0)
    out_mask = np.zeros((bh, bw), np.float32)
    out_mask[by0:by1, bx0:bx1] = mask[py0:py1, px0:px1]
    comp = bg.copy()
    a = out_mask[by0:by1, bx0:bx1, None]
    comp[by0:by1, bx0:bx1] = a * person[py0:py1, px0:px1] + (1 - a) * bg[by0:by1, bx0:bx1]
    return comp.astype(np.float32), out_mask
