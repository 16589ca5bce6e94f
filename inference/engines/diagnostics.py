"""``diagnostics.sleep``: a trivial engine for health checks and failure drills.

It holds a worker busy for a chosen time while reporting progress, which is how operators
(and the integration tests) check that a job whose worker dies is retried, not left running.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from inference.interface import EngineSpec

SPEC = EngineSpec(
    name="diagnostics.sleep",
    version="1",
    queue="cpu",
    inputs=("image",),
    outputs=("image",),
    params={"seconds": {"type": "float", "default": 1.0, "min": 0.0, "max": 600.0}},
    description="Returns the input unchanged after a wait, reporting progress; for drills.",
)


class SleepEngine:
    spec = SPEC

    def __init__(self, **cfg: Any):
        """``cfg`` is the worker's engine configuration; this engine needs none."""

    def run(self, inputs, params, progress=None):
        seconds = float(params.get("seconds", 1.0))
        steps = max(1, int(seconds * 10))
        for i in range(steps):
            time.sleep(seconds / steps)
            if progress:
                progress((i + 1) / steps)
        return {"image": np.asarray(inputs["image"], dtype=np.float32)}
