"""``retouch.params``: parameter regression, after PPR10K's parameter-regression baseline (paper 002).

A small CNN looks at the image resized to 256² and the human mask and predicts the adjustment
renderer's global sliders (exposure, white balance, tone, vibrance, saturation). It is trained
*through* a differentiable twin of the renderer (:mod:`inference.render_torch`), so the loss is on
the rendered image, not on slider values an expert may not have used:

* HRP: L1 between the rendering and the expert's image, human pixels weighted 5×;
* GLC: the rendering of a second, re-exposed and re-balanced crop of the same photo must match the
  first rendering on the shared region (PPR10K's group-level consistency);
* a small prior pulling the (normalised) sliders towards zero.

Full resolution costs one renderer pass: the predicted sliders go through
:func:`inference.render.apply_adjustments`, and an expert can open them in the editor.
"""

from __future__ import annotations

import numpy as np
import torch

from inference import render_torch
from inference.models.backbone import GlobalRegressor
from inference.models.common import (
    Model,
    crop_resize,
    glc_loss,
    glc_view,
    half,
    hrp_weights,
    inference_context,
    square,
    to_tensor,
)
from inference.render import FLOAT_PARAMS, apply_adjustments

# The network's tanh outputs are scaled to these ranges (the renderer's, except exposure: ±3 EV).
SLIDER_LIMITS = {k: (3.0 if k == "exposure" else 100.0) for k in FLOAT_PARAMS}


class ParamsNet(Model):
    NAME = "retouch.params"
    PAPER = "PPR10K (Liang et al., CVPR 2021), parameter-regression baseline"
    INPUTS = ("image: sRGB float32 in [0, 1], resized to size² for the CNN; mask: human-region "
              "mask in [0, 1] (people detector when absent); output: renderer sliders")
    LOSSES = {"hrp_l1": 1.0, "glc": 5.0, "param_prior": 1e-3}
    TRAIN_SIZE = 256
    DEFAULT_STEPS = 2000
    BATCH_SIZE = 8
    LEARNING_RATE = 2e-3

    def __init__(self, size: int = 256, widths: tuple[int, ...] = (16, 24, 32, 64, 96),
                 sliders: tuple[str, ...] = FLOAT_PARAMS):
        super().__init__(size=size, widths=list(widths), sliders=list(sliders))
        self.slider_names = tuple(sliders)
        self.regressor = GlobalRegressor(len(sliders), use_mask=True, widths=tuple(widths))
        self.register_buffer("limits", torch.tensor([SLIDER_LIMITS[k] for k in sliders]), persistent=False)

    def forward(self, image: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Normalised sliders in (−1, 1), B×K."""
        return torch.tanh(self.regressor(image, mask))

    def sliders(self, u: torch.Tensor) -> dict[str, torch.Tensor]:
        scaled = u.float() * self.limits
        return {k: scaled[:, i] for i, k in enumerate(self.slider_names)}

    def forward_batch(self, batch):
        """The rendering at half size (the CNN sees the full training size)."""
        u = self(batch["source"], batch["mask"])
        return {"out": render_torch.render(half(batch["source"]), self.sliders(u)), "u": u}

    def training_loss(self, batch, rng):
        src, tgt, mask = batch["source"], half(batch["target"]), half(batch["mask"])
        res = self.forward_batch(batch)
        out, u = res["out"], res["u"]
        hrp = (hrp_weights(mask) * (out - tgt).abs()).mean()
        view, boxes = glc_view(src, rng)
        u2 = self(view, crop_resize(batch["mask"], boxes))
        glc = glc_loss(out, render_torch.render(half(view), self.sliders(u2)), boxes)
        prior = (u ** 2).mean()
        w = self.LOSSES
        loss = w["hrp_l1"] * hrp + w["glc"] * glc + w["param_prior"] * prior
        return loss, {"hrp_l1": hrp.item(), "glc": glc.item(), "prior": prior.item()}

    def predict_sliders(self, image: np.ndarray, mask: np.ndarray | None) -> dict[str, float]:
        x = to_tensor(square(image, self.size)).to(self.device)
        m = to_tensor(np.clip(square(mask, self.size), 0, 1)).to(self.device) if mask is not None else None
        with inference_context(self.device):
            u = self(x, m)
        return {k: round(float(v), 4) for k, v in zip(self.slider_names, (u.float() * self.limits)[0],
                                                      strict=True)}

    def predict(self, image, mask=None):
        sliders = self.predict_sliders(image, mask)
        return apply_adjustments(image, sliders), {"params": sliders}
