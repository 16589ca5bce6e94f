"""Building blocks shared by the networks: a tiny ResNet, partial convolutions, AdaIN, image statistics.

Written for CPU inference in a few milliseconds: every stage halves the resolution and widths stay
small (16…96 channels). No torchvision, no pretrained weights: everything trains from scratch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(cin: int, cout: int, stride: int = 1, kernel: int = 3, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel // 2)
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3×3 conv-BN layers and a (projected) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, stride)
        self.conv2 = conv_bn(cout, cout)
        self.short = conv_bn(cin, cout, stride, kernel=1) if (stride != 1 or cin != cout) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))) + self.short(x))


class TinyResNet(nn.Module):
    """A 3×3 stride-2 stem (followed, like ResNet's, by a 2×2 max-pool when ``stem_pool``) and one
    stride-2 basic block per further width.

    ``forward`` returns the feature maps of every stage (highest resolution first).
    """

    def __init__(self, in_channels: int = 3, widths: tuple[int, ...] = (16, 24, 32, 64, 96),
                 stem_pool: bool = False):
        super().__init__()
        layers: list[nn.Module] = [conv_bn(in_channels, widths[0], stride=2), nn.ReLU()]
        if stem_pool:
            layers.append(nn.MaxPool2d(2))
        self.stem = nn.Sequential(*layers)
        self.stages = nn.ModuleList(BasicBlock(a, b, stride=2) for a, b in zip(widths[:-1], widths[1:],
                                                                                strict=True))
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        return feats


def masked_mean(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Weighted spatial mean: B×C×H×W and B×1×H×W → B×C."""
    return (x * weight).sum(dim=(2, 3)) / (weight.sum(dim=(2, 3)) + eps)


def image_statistics(image: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Global colour statistics as extra classifier features (PPR10K's meta-feature idea):
    per-channel mean and standard deviation over the whole image and over the human region,
    and the human fraction → B×13 (B×6 without a mask). Computed on a 4× smaller copy (the
    statistics are global; this keeps them cheap at 256²)."""
    if min(image.shape[-2:]) >= 64:
        image = F.avg_pool2d(image, 4)
        mask = F.avg_pool2d(mask, 4) if mask is not None else None
    mean = image.mean(dim=(2, 3))
    std = image.std(dim=(2, 3))
    if mask is None:
        return torch.cat([mean, std], dim=1)
    hmean = masked_mean(image, mask)
    hstd = (masked_mean((image - hmean[:, :, None, None]) ** 2, mask) + 1e-6).sqrt()
    return torch.cat([mean, std, hmean, hstd, mask.mean(dim=(2, 3))], dim=1)


class PartialConv2d(nn.Conv2d):
    """Partial convolution (Liu et al., 2018): convolve only the valid (masked-in) pixels and
    re-normalise by how many were valid; returns the features and the updated validity mask."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        ones = torch.ones(1, 1, *self.kernel_size, device=x.device, dtype=x.dtype)
        with torch.no_grad():
            valid = F.conv2d(mask, ones, stride=self.stride, padding=self.padding, dilation=self.dilation)
        out = F.conv2d(x * mask, self.weight, None, self.stride, self.padding, self.dilation)
        scale = (self.kernel_size[0] * self.kernel_size[1]) / valid.clamp_min(1.0)
        new_mask = (valid > 0).to(x.dtype)
        out = out * scale * new_mask
        if self.bias is not None:
            out = (out + self.bias[None, :, None, None]) * new_mask
        return out, new_mask


class AdaIN(nn.Module):
    """Adaptive instance normalisation: instance-normalise, then scale and shift by a style code."""

    def __init__(self, channels: int, style_dim: int):
        super().__init__()
        self.affine = nn.Linear(style_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(style).chunk(2, dim=1)
        return F.instance_norm(x) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class GlobalRegressor(nn.Module):
    """Image (+ optional human mask) → a vector: tiny ResNet (ResNet's stride-4 stem: a 256² input
    is worked on at 64² after the first convolution), global average pooling, the image statistics, and a two-layer head whose last layer starts at zero (the first prediction is the
    neutral one: identity sliders, or the identity LUT)."""

    def __init__(self, out_dim: int, use_mask: bool, widths: tuple[int, ...] = (16, 24, 32, 64, 96),
                 hidden: int = 64):
        super().__init__()
        self.use_mask = use_mask
        self.backbone = TinyResNet(4 if use_mask else 3, widths, stem_pool=True)
        n_stats = 13 if use_mask else 6
        self.head = nn.Sequential(nn.Linear(widths[-1] + n_stats, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, image: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = image - 0.5
        if self.use_mask:
            if mask is None:
                mask = image.new_zeros(image.shape[0], 1, *image.shape[2:])
            x = torch.cat([x, mask - 0.5], dim=1)
        pooled = self.backbone(x)[-1].mean(dim=(2, 3))
        stats = image_statistics(image, mask if self.use_mask else None)
        return self.head(torch.cat([pooled, stats], dim=1))


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a B×C×H×W tensor (antialiased when shrinking)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
