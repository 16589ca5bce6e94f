"""``harmonize.net``: interactive portrait harmonization in small form (paper 001).

* a **style encoder** of partial convolutions (Liu et al., 2018) sees only the user's reference
  region (box or mask) and pools it into a style code (with the region's colour statistics);
* an encoder–decoder over the composite and its foreground mask, whose decoder layers are
  **AdaIN**-modulated by the style code, predicts a per-pixel colour residual for the foreground
  only, on top of a global 3×4 colour transform predicted from the style code and the foreground's
  statistics (both start at zero: the first output is the composite).

Losses: L1 against the ground truth on the foreground, and the paper's **luminance matching**: the
foreground's highlight, mid-tone and shadow points — the 90th percentile, mean and 10th percentile
of luma (``torch.quantile``) — matched to the reference region's (L1, weight 0.02: the synthetic
references are random regions, so the term is a mild prior, not a target).

The network runs at low resolution (long side 256); full resolution follows the paper (after Afifi
et al.) as the classical ``harmonize`` engine does: a cubic colour polynomial is fitted from the
low-resolution composite foreground to the network's output and applied to the full-size
foreground (:func:`inference.engines.harmonize.apply_to_foreground`).

Training pairs are synthetic (IntHarmony's recipe): one person of an expert's image (or a random
region) is restyled by random sliders to make the composite; the reference is another person or a
random background box; the untouched image is the ground truth.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inference import render_torch
from inference.engines.harmonize import apply_to_foreground, fit_colour_polynomial
from inference.models.backbone import AdaIN, BasicBlock, PartialConv2d, conv_bn, masked_mean
from inference.models.common import (
    Model,
    inference_context,
    person_region,
    random_sliders,
    to_tensor,
    with_components,
)
from inference.segmentation import resize_image

LOW_LONG = 256
QUANTILES = (0.1, 0.9)


def luminance_points(image: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """B×3: (p10, mean, p90) of the luma of each image's region (region > 0.5; whole image if empty)."""
    y = render_torch.luma(image)[:, 0]
    rows = []
    q = torch.tensor(QUANTILES, dtype=y.dtype, device=y.device)
    for i in range(y.shape[0]):
        values = y[i][region[i, 0] > 0.5]
        if values.numel() < 4:
            values = y[i].flatten()
        lo, hi = torch.quantile(values, q)
        rows.append(torch.stack([lo, values.mean(), hi]))
    return torch.stack(rows)


class HarmonizeNet(Model):
    NAME = "harmonize.net"
    PAPER = "Interactive Portrait Harmonization (Jeya Maria Jose et al., 2022), small variant"
    INPUTS = ("image: composite, sRGB float32 in [0, 1], long side 256 for the network; mask: the "
              "composited foreground; reference: region (box or mask) to match; output: low-res "
              "harmonised foreground, carried to full size by a cubic colour polynomial")
    LOSSES = {"foreground_l1": 1.0, "luminance_matching": 0.02}
    TRAIN_SIZE = 192
    DEFAULT_STEPS = 3000
    BATCH_SIZE = 8
    LEARNING_RATE = 2e-3

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), style: int = 64, size: int = 192):
        super().__init__(widths=list(widths), style=style, size=size)
        a, b, c = widths
        self.style_convs = nn.ModuleList([PartialConv2d(3, a, 3, 2, 1), PartialConv2d(a, b, 3, 2, 1),
                                          PartialConv2d(b, c, 3, 2, 1)])
        self.style_mlp = nn.Sequential(nn.Linear(c + 6, style), nn.ReLU(), nn.Linear(style, style))
        self.enc1 = nn.Sequential(conv_bn(4, a, stride=2), nn.ReLU())
        self.enc2 = BasicBlock(a, b, stride=2)
        self.enc3 = BasicBlock(b, c, stride=2)
        self.dec3 = nn.Conv2d(c + b, b, 3, padding=1)
        self.ada3 = AdaIN(b, style)
        self.dec2 = nn.Conv2d(b + a, a, 3, padding=1)
        self.ada2 = AdaIN(a, style)
        self.dec1 = nn.Conv2d(a + 4, a, 3, padding=1)
        self.out = nn.Conv2d(a, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        # a global 3×4 colour transform of the foreground from the style and the foreground's
        # statistics (starts at the identity), refined per pixel by the decoder's residual
        self.colour = nn.Linear(style + 6, 12)
        nn.init.zeros_(self.colour.weight)
        nn.init.zeros_(self.colour.bias)

    def style_code(self, image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        x, m = image - 0.5, reference
        for conv in self.style_convs:
            x, m = conv(x, m)
            x = F.relu(x)
        ref_mean = masked_mean(image, reference)
        ref_std = (masked_mean((image - ref_mean[:, :, None, None]) ** 2, reference) + 1e-6).sqrt()
        return self.style_mlp(torch.cat([masked_mean(x, m), ref_mean, ref_std], dim=1))

    def forward(self, image: torch.Tensor, fg: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Harmonised composite: only the foreground changes."""
        s = self.style_code(image, reference)
        x0 = torch.cat([image - 0.5, fg], dim=1)
        e1 = self.enc1(x0)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)

        def up(x, like):
            return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)

        d = F.relu(self.ada3(self.dec3(torch.cat([up(e3, e2), e2], 1)), s))
        d = F.relu(self.ada2(self.dec2(torch.cat([up(d, e1), e1], 1)), s))
        d = F.relu(self.dec1(torch.cat([up(d, x0), x0], 1)))
        fg_mean = masked_mean(image, fg)
        fg_std = (masked_mean((image - fg_mean[:, :, None, None]) ** 2, fg) + 1e-6).sqrt()
        m = self.colour(torch.cat([s, fg_mean, fg_std], dim=1)).view(-1, 3, 4)
        change = torch.einsum("bij,bjhw->bihw", m[:, :, :3], image) + m[:, :, 3, None, None]
        return (image + fg * (change + self.out(d))).clamp(0.0, 1.0)

    # -- training
    def train_data(self, samples):
        return with_components(super().train_data(samples))

    def sample_batch(self, data, rng, device, index=None):
        idx = index if index is not None else rng.choice(len(data), size=min(self.BATCH_SIZE, len(data)),
                                                         replace=False)
        clean = data.target[idx]
        size = clean.shape[-1]
        fgs, refs = [], []
        for i in idx:
            fg = person_region(data, int(i), rng)
            others = [c for c in data.extra["components"][int(i)] if float((c * fg).sum()) < 1.0]
            if others and rng.random() < 0.5:
                ref = others[int(rng.integers(len(others)))]
            else:
                ref = background_box(rng, size, np.maximum(fg, data.mask[int(i), 0].numpy()))
            fgs.append(torch.from_numpy(fg)[None])
            refs.append(torch.from_numpy((ref > 0.5).astype(np.float32))[None])
        fg, ref = torch.stack(fgs), torch.stack(refs)
        restyled = render_torch.render(clean, random_sliders(rng, len(idx)))
        composite = clean + fg * (restyled - clean)
        return {"source": composite.to(device), "target": clean.to(device), "mask": fg.to(device),
                "reference": ref.to(device)}

    def forward_batch(self, batch):
        return {"out": self(batch["source"], batch["mask"], batch["reference"])}

    def training_loss(self, batch, rng):
        clean, fg = batch["target"], batch["mask"]
        out = self.forward_batch(batch)["out"]
        l1 = (fg * (out - clean).abs()).sum() / (3 * fg.sum() + 1e-6)
        lum = (luminance_points(out, fg) - luminance_points(clean, batch["reference"])).abs().mean()
        k = self.LOSSES
        loss = k["foreground_l1"] * l1 + k["luminance_matching"] * lum
        return loss, {"fg_l1": l1.item(), "lum": lum.item()}

    # -- inference
    def harmonise_low(self, image: np.ndarray, fg: np.ndarray,
                      reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(low composite, low foreground map, low output) at long side LOW_LONG."""
        h, w = image.shape[:2]
        s = min(1.0, LOW_LONG / float(max(h, w)))
        lh, lw = max(1, round(h * s)), max(1, round(w * s))
        low = resize_image(image, lh, lw)
        fg_low = np.clip(resize_image(fg, lh, lw), 0, 1)
        ref_low = (resize_image(reference.astype(np.float32), lh, lw) > 0.5).astype(np.float32)
        with inference_context(self.device):
            out = self(to_tensor(low).to(self.device), to_tensor(fg_low).to(self.device),
                       to_tensor(ref_low).to(self.device))
        return low, fg_low, out[0].float().permute(1, 2, 0).cpu().numpy()

    def predict(self, image, mask=None, reference=None):
        if mask is None or reference is None:
            raise ValueError("harmonize.net needs the foreground mask and a reference region")
        low, fg_low, out_low = self.harmonise_low(image, mask, reference)
        sel = fg_low > 0.5
        if sel.sum() < 16:
            return image.copy(), {"skipped": "foreground too small"}
        coef = fit_colour_polynomial(low[sel], out_low[sel])
        return apply_to_foreground(image, mask, coef), {"low_resolution": list(low.shape[:2])}


def background_box(rng: np.random.Generator, size: int, people: np.ndarray) -> np.ndarray:
    """A random box (15–45 % of each side) with at least half of it off the people; a float mask."""
    for _ in range(20):
        bw, bh = (rng.uniform(0.15, 0.45, 2) * size).astype(int)
        x0, y0 = int(rng.integers(0, size - bw)), int(rng.integers(0, size - bh))
        box = np.zeros((size, size), np.float32)
        box[y0:y0 + bh, x0:x0 + bw] = 1.0
        box *= (people < 0.5)
        if box.sum() > 0.5 * bw * bh:
            return box
    return (people < 0.5).astype(np.float32)
