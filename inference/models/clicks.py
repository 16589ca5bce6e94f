"""``retouch.clicks``: region-aware interactive retouching in small form (paper 000).

Inputs: the image and a people prior (the human-region mask) at working resolution, and the user's
positive / negative clicks encoded as radius-3 disk maps (:func:`inference.clicks.click_maps`, the
paper's released encoding) plus wide Gaussians around the same clicks (so a click reaches the whole
person). Outputs: a soft region mask and the region's slider values; the region is rendered with the
adjustment renderer and blended in like the classical interactive engine's:
``out = image + strength · mask · (render(image, sliders) − image)``.

* The **encoder** (tiny ResNet on RGB + prior, features at 1/4 and 1/8 fused at 1/4) depends on the
  image only: it runs once per image (``encode``) and its features are cached by the session.
* The **head** (dilated convolutions over features + click maps → mask logits at 1/4, upsampled;
  masked pooling → sliders) is all a click costs.

Training uses synthetic degradations, one person at a time: a person of an expert's image (a
connected component of the people mask, or a random ellipse) is degraded by random sliders; positive
clicks fall inside it, negative ones outside (on other people when there are some). Losses: L1 of
the blended result against the clean image (the region weighted 5×), BCE of the mask against the
degraded region, and a small slider prior.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inference import render_torch
from inference.clicks import Click, click_maps
from inference.models.backbone import TinyResNet, masked_mean
from inference.models.common import (
    DEGRADE_RANGES,
    Model,
    hrp_weights,
    inference_context,
    person_region,
    random_sliders,
    to_tensor,
    with_components,
)
from inference.render import FLOAT_PARAMS

# The region sliders' ranges: a little wider than the training degradations (the others ±30).
REGION_LIMITS = {k: 1.5 * DEGRADE_RANGES.get(k, 20.0) for k in FLOAT_PARAMS}
GAUSS_FRACTION = 0.12  # σ of the wide click maps, as a fraction of the working image's short side
CLICK_CHANNELS = 4  # positive disk, negative disk, positive Gaussian, negative Gaussian


def click_features(clicks: list[Click], height: int, width: int) -> torch.Tensor:
    """1×4×⌈H/4⌉×⌈W/4⌉: the disk maps max-pooled to the features' resolution and the wide Gaussians."""
    pos, neg = click_maps(clicks, height, width)
    disks = F.max_pool2d(torch.from_numpy(np.stack([pos, neg]))[None], 4, 4, ceil_mode=True)
    h4, w4 = disks.shape[-2:]
    sigma = GAUSS_FRACTION * min(height, width) / 4.0
    yy = (torch.arange(h4, dtype=torch.float32) + 0.5) * 4.0
    xx = (torch.arange(w4, dtype=torch.float32) + 0.5) * 4.0
    gauss = torch.zeros(2, h4, w4)
    for c in clicks:
        d2 = ((yy[:, None] - c.y) ** 2 + (xx[None, :] - c.x) ** 2) / 16.0
        g = torch.exp(-d2 / (2 * sigma * sigma))
        k = 0 if c.positive else 1
        gauss[k] = torch.maximum(gauss[k], g)
    return torch.cat([disks, gauss[None]], dim=1)


class ClickNet(Model):
    NAME = "retouch.clicks"
    PAPER = "Region-Aware Portrait Retouching with Sparse Interactive Guidance (small variant)"
    INPUTS = ("image: sRGB float32 in [0, 1] at working resolution (short side 360); prior: people "
              "mask in [0, 1]; clicks: radius-3 positive/negative disks + Gaussians; output: soft "
              "region mask and renderer sliders for the region")
    LOSSES = {"blend_l1_region5x": 1.0, "mask_bce": 0.5, "param_prior": 1e-3}
    TRAIN_SIZE = 256
    DEFAULT_STEPS = 3000
    BATCH_SIZE = 8
    LEARNING_RATE = 2e-3

    def __init__(self, widths: tuple[int, ...] = (16, 24, 32), feat: int = 16, head: int = 16,
                 sliders: tuple[str, ...] = FLOAT_PARAMS, size: int = 256):
        super().__init__(widths=list(widths), feat=feat, head=head, sliders=list(sliders), size=size)
        self.slider_names = tuple(sliders)
        self.encoder = TinyResNet(4, tuple(widths))
        self.lat4 = nn.Conv2d(widths[1], feat, 1)
        self.lat8 = nn.Conv2d(widths[2], feat, 1)
        layers: list[nn.Module] = []
        cin = feat + CLICK_CHANNELS
        for d in (1, 2, 4, 8):
            layers += [nn.Conv2d(cin, head, 3, padding=d, dilation=d), nn.ReLU()]
            cin = head
        self.mask_head = nn.Sequential(*layers)
        self.mask_out = nn.Conv2d(head, 1, 1)
        self.param_head = nn.Sequential(nn.Linear(2 * feat + head + 6, 64), nn.ReLU(), nn.Linear(64, len(sliders)))
        nn.init.zeros_(self.param_head[-1].weight)
        nn.init.zeros_(self.param_head[-1].bias)
        self.register_buffer("limits", torch.tensor([REGION_LIMITS[k] for k in sliders]), persistent=False)

    # -- the two halves
    def encode(self, image: torch.Tensor, prior: torch.Tensor) -> dict[str, torch.Tensor]:
        """Click-independent features of B×3×H×W images and B×1×H×W priors (cache these)."""
        feats = self.encoder(torch.cat([image - 0.5, prior - 0.5], dim=1))
        f4 = self.lat4(feats[1])
        f = F.relu(f4 + F.interpolate(self.lat8(feats[2]), size=f4.shape[-2:], mode="bilinear",
                                      align_corners=False))
        small = F.adaptive_avg_pool2d(image, f.shape[-2:])
        return {"features": f, "image": small}

    def head(self, enc: dict[str, torch.Tensor], clicks: torch.Tensor,
             size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask logits at ``size``, normalised sliders B×K) for click features B×4×h×w."""
        f = enc["features"]
        h = self.mask_head(torch.cat([f, clicks], dim=1))
        logits4 = self.mask_out(h)
        m4 = torch.sigmoid(logits4)
        region = torch.cat([masked_mean(f, m4), f.mean(dim=(2, 3)), masked_mean(h, m4),
                            masked_mean(enc["image"], m4), masked_mean(enc["image"], 1.0 - m4)], dim=1)
        u = torch.tanh(self.param_head(region))
        logits = F.interpolate(logits4, size=size, mode="bilinear", align_corners=False)
        return logits, u

    def sliders(self, u: torch.Tensor) -> dict[str, torch.Tensor]:
        scaled = u.float() * self.limits
        return {k: scaled[:, i] for i, k in enumerate(self.slider_names)}

    # -- training
    def train_data(self, samples):
        return with_components(super().train_data(samples))

    def sample_batch(self, data, rng, device, index=None):
        idx = index if index is not None else rng.choice(len(data), size=min(self.BATCH_SIZE, len(data)),
                                                         replace=False)
        clean = data.target[idx]
        people = data.mask[idx]
        size = clean.shape[-1]
        regions, feats = [], []
        for k, i in enumerate(idx):
            region = person_region(data, int(i), rng)
            regions.append(torch.from_numpy(region)[None])
            feats.append(click_features(sample_clicks(region, people[k, 0].numpy(), rng), size, size))
        region = torch.stack(regions)
        degraded = render_torch.render(clean, random_sliders(rng, len(idx)))
        source = clean + region * (degraded - clean)
        return {"source": source.to(device), "target": clean.to(device), "mask": people.to(device),
                "region": region.to(device), "clicks": torch.cat(feats).to(device)}

    def forward_batch(self, batch):
        src = batch["source"]
        logits, u = self.head(self.encode(src, batch["mask"]), batch["clicks"], tuple(src.shape[-2:]))
        m = torch.sigmoid(logits)
        return {"out": src + m * (render_torch.render(src, self.sliders(u)) - src), "logits": logits, "u": u}

    def training_loss(self, batch, rng):
        res = self.forward_batch(batch)
        logits, u = res["logits"], res["u"]
        blend = (hrp_weights(batch["region"]) * (res["out"] - batch["target"]).abs()).mean()
        bce = F.binary_cross_entropy_with_logits(logits, batch["region"])
        prior = (u ** 2).mean()
        k = self.LOSSES
        loss = k["blend_l1_region5x"] * blend + k["mask_bce"] * bce + k["param_prior"] * prior
        return loss, {"blend_l1": blend.item(), "mask_bce": bce.item(), "prior": prior.item()}

    # -- inference (the engine caches ``encode_image``'s result per session)
    def encode_image(self, image: np.ndarray, prior: np.ndarray) -> dict[str, torch.Tensor]:
        with inference_context(self.device):
            return self.encode(to_tensor(image).to(self.device), to_tensor(prior).to(self.device))

    def click(self, enc: dict[str, torch.Tensor], clicks: list[Click],
              size: tuple[int, int]) -> tuple[np.ndarray, dict[str, float]]:
        """(soft region mask H×W float32, sliders) for clicks in working-resolution pixels."""
        with inference_context(self.device):
            logits, u = self.head(enc, click_features(clicks, *size).to(self.device), size)
        mask = torch.sigmoid(logits.float())[0, 0].cpu().numpy()
        sliders = {k: round(float(v), 4) for k, v in zip(self.slider_names, (u.float() * self.limits)[0],
                                                         strict=True)}
        return mask, sliders

    def predict(self, image, mask=None):
        raise NotImplementedError("retouch.clicks needs clicks: use the retouch.clicks engine")


def sample_clicks(region: np.ndarray, people: np.ndarray, rng: np.random.Generator) -> list[Click]:
    """1–3 positive clicks inside the region, 0–2 negative ones outside (on other people first)."""
    clicks = []
    inside = np.argwhere(region > 0.9)
    if not len(inside):
        inside = np.argwhere(region >= region.max() * 0.9)
    for y, x in inside[rng.choice(len(inside), size=int(rng.integers(1, 4)))]:
        clicks.append(Click(float(x), float(y), True))
    outside = np.argwhere((region < 0.1) & (people > 0.5))
    if not len(outside) or rng.random() < 0.5:
        outside = np.argwhere(region < 0.1)
    if len(outside):
        for y, x in outside[rng.choice(len(outside), size=int(rng.integers(0, 3)))]:
            clicks.append(Click(float(x), float(y), False))
    return clicks
