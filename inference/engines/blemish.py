"""``retouch.blemish``: find small dark or red skin blemishes and remove them, keeping skin texture.

The two stages of blemish-aware face retouching (paper 004 in ``shared/papers``) with classical
parts; the algorithm is described in :mod:`inference.blemishes` and ``docs/engines.md``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from inference import blemishes
from inference.engines.common import image_and_mask
from inference.interface import EngineSpec, validate_params


def _check(params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "spots": blemishes.parse_spots(params.get("spots"))}


SPEC = EngineSpec(
    name="retouch.blemish",
    version="1",
    queue="cpu",
    inputs=("image",),
    outputs=("image", "mask"),
    params={
        "strength": {"type": "float", "default": 1.0, "min": 0.0, "max": 1.0},
        "detail": {"type": "float", "default": 0.7, "min": 0.0, "max": 1.0},
        "spots": {"type": "spots", "default": []},
    },
    description="Blemish-aware skin retouching: finds small dark or red spots on facial skin "
                "(band-pass detector with size, shape and contrast limits; eyes, brows, nose tip, "
                "lips and hair are never touched), fills them from the surrounding skin and puts "
                "the surrounding skin texture back (detail). spots: [{x, y}] adds a spot, "
                "[{x, y, remove: true}] keeps one (a mole). Optional mask input: the skin region.",
    check=_check,
)


class BlemishEngine:
    spec = SPEC

    def __init__(self, **cfg: Any):
        """``cfg`` is the worker's engine configuration; this engine needs none."""

    def run(self, inputs, params, progress=None):
        t0 = time.perf_counter()
        params = validate_params(self.spec, params or {})
        image, skin = image_and_mask(inputs, "mask (the skin region)", allow_empty=False)
        h, w = image.shape[:2]
        regions, faces = blemishes.detect(image, skin)
        t_detect = time.perf_counter()
        if progress:
            progress(0.5)
        default_unit = float(np.median([f.h for f in faces])) if faces else 0.25 * min(h, w)
        regions = blemishes.apply_user_spots(image, regions, params["spots"], default_unit)
        out = image.copy()
        mask = np.zeros((h, w), np.float32)
        blemishes.remove(image, regions, params["strength"], params["detail"], out, mask)
        if progress:
            progress(1.0)
        spots = [s for r in regions for s in r.spots]
        info = {
            "spots": [s.as_dict() for s in spots],
            "removed": sum(not s.protected for s in spots),
            "protected": sum(s.protected for s in spots),
            "faces": [f.as_list() for f in faces],
            "faces_found": len(faces),
            "skin_source": "input" if skin is not None else ("faces" if faces else "none"),
            "note": "" if faces or skin is not None else
                    "No face was found: only the spots you add are removed (or give a skin mask).",
            "ms": {"detect": round((t_detect - t0) * 1000, 1),
                   "total": round((time.perf_counter() - t0) * 1000, 1)},
        }
        return {"image": out, "mask": mask, "info": info}
