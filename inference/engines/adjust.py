"""``adjust``: the adjustment renderer (:mod:`inference.render`) as a registered engine.

The formulas, their order and constants are specified in ``docs/adjustments.md`` and live in
:mod:`inference.render`; this module only declares the engine and hands the image over.
"""

from __future__ import annotations

from typing import Any

from inference.interface import EngineInputError, EngineSpec, ProgressFn
from inference.render import PARAMS, apply_adjustments

SPEC = EngineSpec(
    name="adjust",
    version="1",
    queue="cpu",
    inputs=("image",),
    outputs=("image",),
    params=PARAMS,
    description="Global parametric adjustments: exposure, white balance, tone sliders, tone "
                "curve, vibrance and saturation.",
)


class AdjustEngine:
    """Stateless; safe to call repeatedly and from several threads."""

    spec = SPEC

    def __init__(self, **cfg: Any):
        """``cfg`` is the worker's engine configuration; the renderer needs none."""

    def run(self, inputs: dict[str, Any], params: dict[str, Any],
            progress: ProgressFn | None = None) -> dict[str, Any]:
        if "image" not in inputs:
            raise EngineInputError("adjust needs an 'image' input")
        return {"image": apply_adjustments(inputs["image"], params, progress)}
