"""What the networks share: training data in memory, batches, the HRP weights, the group-level
consistency (GLC) views and loss, and numpy ↔ tensor conversion.

Training data are pairs (source, expert target) with the human-region mask, resized to a square
``size × size`` (aspect ignored, as PPR10K's loader does: the models are global or pointwise, so the
distortion does not matter) and kept in memory as float32 tensors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from inference import render_torch
from inference.segmentation import resize_image

HUMAN_WEIGHT = 5.0  # HRP: human pixels weigh 5× in the training losses (PPR10K)


@dataclass
class TrainData:
    source: torch.Tensor  # N×3×S×S
    target: torch.Tensor  # N×3×S×S
    mask: torch.Tensor  # N×1×S×S
    groups: list[str]
    names: list[str]
    extra: dict = field(default_factory=dict)  # per-model precomputed data (e.g. person components)

    def __len__(self) -> int:
        return len(self.names)

    def batch(self, index: np.ndarray, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(index, dtype=torch.long)
        return {"source": self.source[idx].to(device), "target": self.target[idx].to(device),
                "mask": self.mask[idx].to(device)}


def square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize H×W(×C) float32 to size×size (area when shrinking, linear when growing). A photo many
    times larger is first subsampled by a stride that keeps it ≥ 4× the target (what a classifier
    sees barely changes; a 24 MP image takes a fifth of the time)."""
    step = max(1, min(image.shape[:2]) // (4 * size))
    return resize_image(image[::step, ::step] if step > 1 else image, size, size)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """H×W×3 → 1×3×H×W, or H×W → 1×1×H×W (float32)."""
    arr = np.ascontiguousarray(image, dtype=np.float32)
    t = torch.from_numpy(arr)
    return t.permute(2, 0, 1)[None] if t.ndim == 3 else t[None, None]


def to_image(t: torch.Tensor) -> np.ndarray:
    """1×3×H×W → H×W×3 float32 numpy."""
    return t[0].detach().float().permute(1, 2, 0).contiguous().cpu().numpy()


def load_train_data(samples: Iterable[Mapping], size: int) -> TrainData:
    """Samples ``{"name", "group", "source", "target", "mask"}`` (float32 arrays) → TrainData."""
    src, tgt, msk, groups, names = [], [], [], [], []
    for s in samples:
        src.append(to_tensor(square(s["source"], size))[0])
        tgt.append(to_tensor(square(s["target"], size))[0])
        mask = s.get("mask")
        if mask is None:
            mask = np.zeros(s["source"].shape[:2], np.float32)
        msk.append(to_tensor(np.clip(square(mask, size), 0.0, 1.0))[0])
        groups.append(str(s["group"]))
        names.append(str(s["name"]))
    if not names:
        raise ValueError("no training samples")
    return TrainData(torch.stack(src), torch.stack(tgt), torch.stack(msk), groups, names)


def hrp_weights(mask: torch.Tensor) -> torch.Tensor:
    """Per-pixel loss weights: 1 on the background, HUMAN_WEIGHT on people (soft masks linearly)."""
    return 1.0 + (HUMAN_WEIGHT - 1.0) * mask


def random_boxes(rng: np.random.Generator, n: int, lo: float = 0.55, hi: float = 0.9) -> np.ndarray:
    """n crop boxes (x0, y0, x1, y1) in normalised [0, 1] coordinates, side fractions in [lo, hi]."""
    side = rng.uniform(lo, hi, size=(n, 2))
    start = rng.uniform(0.0, 1.0, size=(n, 2)) * (1.0 - side)
    return np.concatenate([start, start + side], axis=1).astype(np.float32)


def crop_resize(x: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Differentiable crop of each image to its normalised box, resized to ``size`` (default: same)."""
    b, c, h, w = x.shape
    size = size or (h, w)
    x0, y0, x1, y1 = boxes.unbind(1)
    theta = torch.zeros(b, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = x1 - x0
    theta[:, 0, 2] = x0 + x1 - 1.0
    theta[:, 1, 1] = y1 - y0
    theta[:, 1, 2] = y0 + y1 - 1.0
    grid = F.affine_grid(theta, [b, c, *size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def glc_view(source: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A second shot of the same scene for the group-consistency term: a random crop of the source
    re-exposed (±0.4 EV) and re-balanced (temperature/tint ±20) like another photo of the shoot.

    Returns (view, boxes); PPR10K's GLC compares the outputs of the two views on their common region.
    """
    n = source.shape[0]
    boxes = torch.from_numpy(random_boxes(rng, n)).to(source.device)
    jitter = {
        "exposure": torch.from_numpy(rng.uniform(-0.4, 0.4, n).astype(np.float32)),
        "temperature": torch.from_numpy(rng.uniform(-20, 20, n).astype(np.float32)),
        "tint": torch.from_numpy(rng.uniform(-20, 20, n).astype(np.float32)),
    }
    view = render_torch.render(crop_resize(source, boxes), {k: v.to(source.device) for k, v in jitter.items()})
    return view, boxes


def half(x: torch.Tensor) -> torch.Tensor:
    """2× box downscale: the pointwise models' losses are computed at half the classifier's size
    (the same gradient signal at a quarter of the renderer's cost)."""
    return F.avg_pool2d(x, 2) if min(x.shape[-2:]) >= 64 else x


def glc_loss(output: torch.Tensor, view_output: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """MSE between the first view's output on the crop and the second view's output (PPR10K's GLC)."""
    return F.mse_loss(crop_resize(output, boxes, tuple(view_output.shape[-2:])), view_output)


# Degradations for the interactive models' synthetic training pairs: ranges of the random sliders.
DEGRADE_RANGES = {"exposure": 1.0, "temperature": 40.0, "tint": 30.0, "contrast": 40.0,
                  "saturation": 40.0, "highlights": 30.0, "shadows": 30.0}


def random_sliders(rng: np.random.Generator, n: int, scale: float = 1.0) -> dict[str, torch.Tensor]:
    """Uniform random sliders within ``DEGRADE_RANGES`` (× scale), each a float32 tensor of n."""
    return {k: torch.from_numpy(rng.uniform(-r * scale, r * scale, n).astype(np.float32))
            for k, r in DEGRADE_RANGES.items()}


def components(mask: np.ndarray, min_fraction: float = 0.01) -> list[np.ndarray]:
    """The people of a (soft) mask one at a time: its connected components covering at least
    ``min_fraction`` of the image, each as a soft float32 mask (largest first)."""
    binary = (mask > 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    order = sorted(range(1, n), key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    keep = [i for i in order if stats[i, cv2.CC_STAT_AREA] >= min_fraction * mask.size]
    grown = [cv2.dilate((labels == i).astype(np.uint8), np.ones((5, 5), np.uint8)) for i in keep]
    return [np.minimum(g.astype(np.float32), np.clip(mask, 0, 1) + 0.0) for g in grown]


def random_ellipse(rng: np.random.Generator, size: int) -> np.ndarray:
    """A soft random ellipse covering roughly 5–30 % of a size×size image (a region with no person)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    cx, cy = rng.uniform(0.25, 0.75, 2)
    ax, ay = rng.uniform(0.12, 0.3, 2)
    d = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2
    return np.clip((1.15 - d) / 0.3, 0.0, 1.0).astype(np.float32)


def person_region(data: TrainData, index: int, rng: np.random.Generator, p_ellipse: float = 0.25) -> np.ndarray:
    """One person of sample ``index`` (precomputed components), or a random ellipse when it has
    none or with probability ``p_ellipse`` (so the models also learn regions that are not people)."""
    comps = data.extra["components"][index]
    if comps and rng.random() >= p_ellipse:
        return comps[int(rng.integers(len(comps)))]
    return random_ellipse(rng, data.source.shape[-1])


def with_components(data: TrainData) -> TrainData:
    data.extra["components"] = [components(m[0].numpy()) for m in data.mask]
    return data


def psnr_per_image(output: torch.Tensor, target: torch.Tensor) -> list[float]:
    mse = ((output.float() - target.float()) ** 2).flatten(1).mean(dim=1).clamp_min(1e-10)
    return (10.0 * torch.log10(1.0 / mse)).tolist()


def validation(model: Model, data: TrainData, seed: int = 0, device="cpu", rounds: int = 1) -> dict[str, float]:
    """Mean PSNR of the model's output and of its input against the target over every sample of
    ``data`` (at training size). What a model draws (degradations, clicks) comes from fixed
    generators; ``rounds`` > 1 draws that many per sample (a steadier figure on a small split)."""
    model.eval()
    ours, inputs = [], []
    size = model.BATCH_SIZE
    starts = [(r, s) for r in range(rounds) for s in range(0, len(data), size)]
    with torch.inference_mode():
        for k, (_, start) in enumerate(starts):
            index = np.arange(start, min(start + size, len(data)))
            batch = model.sample_batch(data, seeded(seed, 10 ** 9 + k), device, index=index)
            out = model.forward_batch(batch)["out"].clamp(0, 1)
            target, source = batch["target"], batch["source"]
            if out.shape[-2:] != target.shape[-2:]:  # a loss computed at half size
                target, source = half(target), half(source)
            ours += psnr_per_image(out, target)
            inputs += psnr_per_image(source, target)
    model.train()
    return {"psnr": float(np.mean(ours)), "input_psnr": float(np.mean(inputs)), "n": len(ours)}


def seeded(seed: int, step: int) -> np.random.Generator:
    """The batch generator of one training step: a function of (seed, step) only, so a resumed run
    draws exactly the batches an uninterrupted one would."""
    return np.random.default_rng([int(seed), int(step)])


class Model(torch.nn.Module):
    """What the training and evaluation commands and the learned engines need from a network.

    Subclasses set the class attributes, build their layers in ``__init__`` from keyword arguments
    (recorded in ``self.arguments`` for the card), and implement :meth:`training_loss` and
    :meth:`predict`.
    """

    NAME = ""  # the engine name, e.g. "retouch.params"
    PAPER = ""
    INPUTS = ""  # input conventions, written on the card
    LOSSES: dict[str, float] = {}  # loss terms and their weights, written on the card
    TRAIN_SIZE = 256  # default of the ``size`` argument: training images are resized to size²
    DEFAULT_STEPS = 1000
    BATCH_SIZE = 8
    LEARNING_RATE = 1e-3

    def __init__(self, **arguments):
        super().__init__()
        self.arguments = dict(arguments)
        self.size = int(arguments.get("size", self.TRAIN_SIZE))

    def train_data(self, samples: Iterable[Mapping]) -> TrainData:
        return load_train_data(samples, self.size)

    def sample_batch(self, data: TrainData, rng: np.random.Generator, device,
                     index: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """A training batch: ``index`` (or BATCH_SIZE random samples) with whatever the model draws."""
        if index is None:
            index = rng.choice(len(data), size=min(self.BATCH_SIZE, len(data)), replace=False)
        return data.batch(index, device)

    def forward_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The model's output image for a batch (``"out"``) and what the losses need besides."""
        raise NotImplementedError

    def training_loss(self, batch: dict[str, torch.Tensor],
                      rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def predict(self, image: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
        """Full-resolution output for an H×W×3 float32 sRGB image (engine convention) and info."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


def inference_context(device: torch.device):
    """No autograd; on CUDA, half-precision autocast for the convolutions (the renderer and LUT
    lookups stay in float32: their outputs are cast back before use)."""
    from contextlib import ExitStack

    stack = ExitStack()
    stack.enter_context(torch.inference_mode())
    if device.type == "cuda":
        stack.enter_context(torch.autocast("cuda", dtype=torch.float16))
    return stack
