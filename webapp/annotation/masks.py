"""Refining a photo's human mask by clicks, with the interactive segmentation of
``retouch.interactive`` (SLIC superpixels + geodesic distances, ``inference.segmentation``).

The engine is prepared on the 360p working proxy with the current human mask as its person prior
(or the people detector's when the photo has no mask yet). Positive clicks add the region they
reach, negative clicks take theirs away::

    refined = max(region(all clicks), region(negative clicks only))

where ``region(…)`` is the engine's emphasised region (prior ∖ negatives when no click is
positive). Prepared states are kept per (photo, mask) in a small per-process LRU, so a burst of
clicks prepares once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from inference.segmentation import upsample_mask
from webapp.annotation import rendering
from webapp.engine_pool import warm_engine
from webapp.photos.models import Mask, Photo

ENGINE = "retouch.interactive"
_CACHE_SIZE = 8
_states: OrderedDict[tuple[int, int | None], object] = OrderedDict()
_lock = threading.Lock()


def _prepared(photo: Photo, mask: Mask | None, work: np.ndarray):
    key = (photo.pk, mask.pk if mask else None)
    with _lock:
        if key in _states:
            _states.move_to_end(key)
            return _states[key]
    prior = rendering.mask_array(mask, *work.shape[:2])
    state = warm_engine(ENGINE).prepare(work, prior)
    with _lock:
        _states[key] = state
        while len(_states) > _CACHE_SIZE:
            _states.popitem(last=False)
    return state


def refine(photo: Photo, clicks: list[dict]) -> np.ndarray:
    """The refined soft mask at the photo's full size. ``clicks`` in original pixels."""
    work = rendering.source(photo, "working")
    wh, ww = work.shape[:2]
    sx, sy = ww / photo.width, wh / photo.height
    scaled = [{"x": min(c["x"] * sx, ww - 1), "y": min(c["y"] * sy, wh - 1), "positive": c["positive"]}
              for c in clicks]
    engine = warm_engine(ENGINE)
    state = _prepared(photo, rendering.latest_mask(photo, Mask.Kind.HUMAN), work)
    region = engine.run_clicks(state, scaled, {})["mask"]
    negatives = [c for c in scaled if not c["positive"]]
    if len(negatives) != len(scaled):
        region = np.maximum(region, engine.run_clicks(state, negatives, {})["mask"])
    return upsample_mask(np.asarray(region, np.float32), photo.height, photo.width)
