"""A differentiable PyTorch twin of the adjustment renderer (:mod:`inference.render`).

Learned engines that predict the renderer's sliders (``retouch.params``, ``retouch.clicks``) are
trained *through* the renderer: the loss compares the rendered image with the expert's, so the
gradient has to flow through exposure, white balance, the tone sliders, the neighbourhood sliders
(texture, clarity, dehaze) and the colour stage. This module evaluates the formulas of
``docs/adjustments.md`` on tensors, in the same order and with the same constants and box radii
(imported from :mod:`inference.render`, not copied); the tone curve is not part of the twin (no
model predicts one). At inference the predicted sliders go through the real renderer, so a
prediction can be opened in the editor and looks the same there.

The twin evaluates stage 1 directly where the renderer looks it up in a 16-bit table; the two agree
within ΔE76 0.01 (``tests/unit/test_models.py``).

Tensors: images ``B×3×H×W`` sRGB-encoded in [0, 1]; sliders a dict ``name → B`` tensor in the
renderer's units (exposure in EV, the others in −100…100), missing sliders meaning identity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from inference.render import (
    CLARITY_GAIN,
    DEHAZE_STRENGTH,
    FLOAT_PARAMS,
    LOCAL_PARAMS,
    LUMA,
    TEMPERATURE_STOPS,
    TEXTURE_GAIN,
    TINT_STOPS,
    TONE_MASKS,
    local_radii,
)

#: Every slider the twin renders: the per-pixel ones and the neighbourhood ones.
SLIDERS = (*FLOAT_PARAMS, *LOCAL_PARAMS)

__all__ = ["FLOAT_PARAMS", "LOCAL_PARAMS", "SLIDERS", "box_mean", "linear_to_srgb", "luma", "render",
           "srgb_to_linear", "white_balance_gains"]


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded → linear light, not clipped (the power segment continues above 1)."""
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Linear light → sRGB-encoded, not clipped."""
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def luma(x: torch.Tensor) -> torch.Tensor:
    """Rec. 709 luma of sRGB-encoded B×3×H×W values → B×1×H×W (the renderer's stage-2 luma)."""
    return LUMA[0] * x[:, 0:1] + LUMA[1] * x[:, 1:2] + LUMA[2] * x[:, 2:3]


def white_balance_gains(temperature: torch.Tensor, tint: torch.Tensor) -> torch.Tensor:
    """B → B×3 linear-light gains, normalised to keep a neutral grey's luminance."""
    t, u = temperature / 100.0, tint / 100.0
    raw = torch.stack([torch.exp2(TEMPERATURE_STOPS * t), torch.exp2(-TINT_STOPS * u),
                       torch.exp2(-TEMPERATURE_STOPS * t)], dim=1)
    norm = LUMA[0] * raw[:, 0] + LUMA[1] * raw[:, 1] + LUMA[2] * raw[:, 2]
    return raw / norm[:, None]


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r + 1)² window of B×1×H×W values, borders reflected without repeating the
    edge (``reflect`` padding is OpenCV's BORDER_REFLECT_101, which the renderer's ``cv2.blur`` uses).
    Separable: a column pass, then a row pass."""
    if radius <= 0:
        return x
    k = 2 * radius + 1
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    return F.avg_pool2d(F.avg_pool2d(padded, (k, 1), stride=1), (1, k), stride=1)


def _local_stage(e: torch.Tensor, x: torch.Tensor, amount) -> torch.Tensor:
    """Stage 1b (docs/adjustments.md): detail layers of the clipped source ``x`` added to every
    channel of the stage-1 values ``e`` (clarity weighted to their mid-tones), then the dehaze veil
    ``s`` taken away: ``(e − s) / (1 − s)``. Radii follow the image's short side, as in the renderer."""
    texture, clarity, dehaze = (amount(k)[:, None, None, None] / 100.0 for k in LOCAL_PARAMS)
    r_t, r_c = local_radii(x.shape[2], x.shape[3])
    y = luma(x)
    add = TEXTURE_GAIN * texture * (y - box_mean(y, r_t))
    weight = luma(e).clamp(0.0, 1.0)
    add = add + CLARITY_GAIN * clarity * 4.0 * weight * (1.0 - weight) * (y - box_mean(y, r_c))
    e = e + add
    s = DEHAZE_STRENGTH * dehaze * box_mean(x.amin(dim=1, keepdim=True), r_c)
    return (e - s) / (1.0 - s)


def render(image: torch.Tensor, sliders: dict[str, torch.Tensor]) -> torch.Tensor:
    """The renderer's stages 1, 1b, 2 and 3 on ``image`` (B×3×H×W) with per-image ``sliders``
    (each B). Stage 1b is skipped when no neighbourhood slider is given."""
    unknown = set(sliders) - set(SLIDERS)
    if unknown:
        raise ValueError(f"the torch renderer has no slider(s) {sorted(unknown)} (no tone curve)")
    batch = image.shape[0]

    def amount(key: str) -> torch.Tensor:
        value = sliders.get(key)
        if value is None:
            return image.new_zeros(batch)
        return value.to(image.dtype).reshape(batch)

    x = image.clamp(0.0, 1.0)
    gains = torch.exp2(amount("exposure"))[:, None] * white_balance_gains(amount("temperature"),
                                                                           amount("tint"))
    e = linear_to_srgb(srgb_to_linear(x) * gains[:, :, None, None])
    for key, shape in TONE_MASKS:
        e = e + (amount(key) / 100.0)[:, None, None, None] * shape(e.clamp(0.0, 1.0))
    if any(k in sliders for k in LOCAL_PARAMS):
        e = _local_stage(e, x, amount)
    sat = (amount("saturation") / 100.0)[:, None, None, None]
    vib = (amount("vibrance") / 100.0)[:, None, None, None]
    y = luma(e)
    chroma = (e.amax(dim=1, keepdim=True) - e.amin(dim=1, keepdim=True)).clamp_max(1.0)
    f = (1.0 + sat) * (1.0 + vib * (1.0 - chroma) ** 2)
    return (y + f * (e - y)).clamp(0.0, 1.0)
