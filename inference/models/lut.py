"""``retouch.lut``: PPR10K's 3-D LUT baseline (paper 002; image-adaptive 3-D LUTs, Zeng et al.).

``n`` basis LUTs of ``dim``³ lattice points (the first starts as the identity, the others at zero)
are fused per image by the weights a small classifier predicts from the image resized to 256²; the
fused LUT maps every pixel by trilinear interpolation. Training follows PPR10K's released script:

* HRP: MSE between ``w·output`` and ``w·target`` with ``w = 5`` on people, 1 elsewhere (so human
  pixels weigh 25× on the squared error);
* GLC: a second, re-exposed and re-balanced crop of the same photo must give the same output on the
  shared region (MSE);
* regularisers: smoothness (total variation of every basis LUT along each input axis, end cells
  counted twice, plus the mean squared fusion weight) × 1e-4 and monotonicity (ReLU of every
  decrease along an input axis) × 10.

The lookup is plain ``torch.nn.functional.grid_sample`` on a 5-D LUT tensor (no CUDA extension).
Full resolution never runs the network at full size: the classifier sees 256², and the fused LUT is
applied by :func:`inference.lut.apply_lut` (NumPy / Pillow, 16-bit and float precision kept). The
fused LUT can be exported as a ``.cube`` file (:func:`write_cube`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from inference.lut import apply_lut
from inference.models.backbone import GlobalRegressor
from inference.models.common import (
    Model,
    glc_loss,
    glc_view,
    half,
    hrp_weights,
    inference_context,
    square,
    to_tensor,
)


def identity_lut(dim: int) -> torch.Tensor:
    """3×dim×dim×dim, indexed [channel, b, g, r] (grid_sample's depth, height, width)."""
    axis = torch.linspace(0.0, 1.0, dim)
    b, g, r = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([r, g, b])


def trilinear(lut: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Look ``image`` (B×3×H×W in [0, 1]) up in per-image LUTs (B×3×D×D×D) → B×3×H×W."""
    grid = (image.clamp(0.0, 1.0) * 2.0 - 1.0).permute(0, 2, 3, 1)[:, None]  # B×1×H×W×(r, g, b)
    out = F.grid_sample(lut, grid.to(lut.dtype), mode="bilinear", padding_mode="border", align_corners=True)
    return out[:, :, 0]


def lut_regularisers(luts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(smoothness, monotonicity) of n×3×D×D×D basis LUTs, summed over the LUTs (PPR10K's TV_3D)."""
    dim = luts.shape[-1]
    tv = luts.new_zeros(())
    mono = luts.new_zeros(())
    for axis in (-1, -2, -3):  # r, g, b
        diff = luts.narrow(axis, 0, dim - 1) - luts.narrow(axis, 1, dim - 1)
        weight = torch.ones(dim - 1, dtype=luts.dtype, device=luts.device)
        weight[[0, dim - 2]] = 2.0
        shape = [1] * luts.ndim
        shape[axis] = dim - 1
        per_lut = (diff ** 2 * weight.view(shape)).flatten(1).mean(dim=1)
        tv = tv + per_lut.sum()
        mono = mono + F.relu(diff).flatten(1).mean(dim=1).sum()
    return tv, mono


def write_cube(path: str | Path, lut: np.ndarray, title: str = "Portrait Lab 3D LUT") -> None:
    """Write a D×D×D×3 LUT indexed [r, g, b] as an Adobe/Resolve ``.cube`` file (red fastest)."""
    dim = lut.shape[0]
    lines = [f'TITLE "{title}"', f"LUT_3D_SIZE {dim}", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    flat = np.clip(lut, 0.0, 1.0).transpose(2, 1, 0, 3).reshape(-1, 3)  # b slowest, r fastest
    lines += [f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in flat]
    Path(path).write_text("\n".join(lines) + "\n")


def read_cube(path: str | Path) -> np.ndarray:
    """Read a ``.cube`` 3-D LUT back as D×D×D×3 indexed [r, g, b]."""
    dim, rows = None, []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#") or parts[0] in ("TITLE", "DOMAIN_MIN", "DOMAIN_MAX"):
            continue
        if parts[0] == "LUT_3D_SIZE":
            dim = int(parts[1])
        else:
            rows.append([float(v) for v in parts[:3]])
    if dim is None or len(rows) != dim ** 3:
        raise ValueError(f"{path}: not a 3-D .cube file")
    return np.asarray(rows, np.float32).reshape(dim, dim, dim, 3).transpose(2, 1, 0, 3)


class LutNet(Model):
    NAME = "retouch.lut"
    PAPER = "PPR10K (Liang et al., CVPR 2021) 3D-LUT + HRP + GLC; image-adaptive 3D LUT (Zeng et al., TPAMI 2020)"
    INPUTS = ("image: sRGB float32 in [0, 1], resized to size² for the classifier; mask: human-region "
              "mask, used by the training loss only; output: one fused dim³ LUT per image")
    LOSSES = {"hrp_mse": 1.0, "glc": 1.0, "smoothness": 1e-4, "monotonicity": 10.0}
    TRAIN_SIZE = 256
    DEFAULT_STEPS = 2000
    BATCH_SIZE = 8
    LEARNING_RATE = 1e-3

    def __init__(self, n_luts: int = 3, dim: int = 33, size: int = 256,
                 widths: tuple[int, ...] = (16, 24, 32, 64, 96)):
        super().__init__(n_luts=n_luts, dim=dim, size=size, widths=list(widths))
        luts = torch.zeros(n_luts, 3, dim, dim, dim)
        luts[0] = identity_lut(dim)
        self.luts = torch.nn.Parameter(luts)
        self.classifier = GlobalRegressor(n_luts, use_mask=False, widths=tuple(widths))
        with torch.no_grad():
            self.classifier.head[-1].bias[0] = 1.0  # start as the identity LUT

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Fusion weights, B×n."""
        return self.classifier(image)

    def fuse(self, weights: torch.Tensor) -> torch.Tensor:
        """B×3×D×D×D fused LUTs, always in float32 (no half-precision autocast on GPU workers)."""
        with torch.autocast(device_type=self.luts.device.type, enabled=False):
            return torch.einsum("bk,kcdhw->bcdhw", weights.float(), self.luts.float())

    def forward_batch(self, batch):
        """The lookup at half size (the classifier sees the full training size)."""
        weights = self(batch["source"])
        return {"out": trilinear(self.fuse(weights), half(batch["source"])), "weights": weights}

    def training_loss(self, batch, rng):
        src, tgt, mask = batch["source"], half(batch["target"]), half(batch["mask"])
        res = self.forward_batch(batch)
        out, weights = res["out"], res["weights"]
        w = hrp_weights(mask)
        hrp = torch.nn.functional.mse_loss(out * w, tgt * w)
        view, boxes = glc_view(src, rng)
        glc = glc_loss(out, trilinear(self.fuse(self(view)), half(view)), boxes)
        tv, mono = lut_regularisers(self.luts)
        k = self.LOSSES
        loss = (k["hrp_mse"] * hrp + k["glc"] * glc + k["smoothness"] * (tv + (weights ** 2).mean())
                + k["monotonicity"] * mono)
        return loss, {"hrp_mse": hrp.item(), "glc": glc.item(), "tv": tv.item(), "mono": mono.item()}

    def fused_lut(self, image: np.ndarray) -> np.ndarray:
        """The image's fused LUT as a D×D×D×3 float32 array indexed [r, g, b] (``.cube`` layout),
        its entries clipped to [0, 1]: what the engine applies and what ``.cube`` export writes."""
        x = to_tensor(square(image, self.size)).to(self.device)
        with inference_context(self.device):
            lut = self.fuse(self(x))[0]
        return np.ascontiguousarray(lut.float().clamp(0.0, 1.0).permute(3, 2, 1, 0).cpu().numpy())

    def predict(self, image, mask=None):
        lut = self.fused_lut(image)
        return apply_lut(image, lut), {"lut_size": int(lut.shape[0])}
