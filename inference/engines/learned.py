"""Learned engines: the networks of :mod:`inference.models` served like any other engine.

Each engine here wraps one network by name; jobs, sessions and studies use them like the classical
engines. Weights come from the model directory (:mod:`inference.modelstore`):
``MODEL_DIR/<engine>/<version>/weights.safetensors`` + ``card.json``. An engine instance serves one
version — the one it was created with (``cfg["version"]``), else the newest found — and loads it on
first use (so a worker without weights still starts and reports the engine; a job on it is refused
before it is queued, by :func:`inference.engines.resolve_version`).

Device: CUDA when the worker has it (convolutions in half precision under autocast; the renderer,
the LUT lookup and the colour fit stay in float32), else the CPU with ``torch.set_num_threads`` set
from the worker's concurrency (``cfg["threads"]``). Full resolution never runs a network at full
size: sliders go through the renderer, a fused 3-D LUT through :func:`inference.lut.apply_lut`, a
low-resolution mask is upsampled, a harmonisation is carried by a fitted colour polynomial.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inference import modelstore
from inference.clicks import parse_clicks, scale_clicks
from inference.engines.harmonize import reference_mask
from inference.interface import EngineInputError, EngineSpec, ProgressFn, run_clicks_as_job, validate_params
from inference.people import people_mask
from inference.render import apply_adjustments
from inference.segmentation import check_image, check_mask, resize_image, upsample_mask, working_size

LEARNED_VERSION = "latest"  # the spec's version; a job records the model version it ran
_STRENGTH = {"strength": {"type": "float", "default": 1.0, "min": 0.0, "max": 1.0,
                          "description": "How much of the model's change to apply (0 = none)."}}


class LearnedEngine:
    """Base of the engines that wrap a trained network (loaded lazily, once per instance)."""

    spec: EngineSpec
    learned = True

    def __init__(self, model_dir: str | Path | None = None, version: str | None = None,
                 device: str = "auto", threads: int | None = None, **cfg: Any):
        """``cfg`` is the worker's engine configuration: ``model_dir`` (default ``$MODEL_DIR``),
        ``version`` (default: newest), ``device`` (auto/cpu/cuda), ``threads`` (CPU threads)."""
        self.model_dir = Path(model_dir) if model_dir else modelstore.default_model_dir()
        self.requested_version = version if version not in (None, "", LEARNED_VERSION) else None
        self.device_choice = device
        self.threads = threads
        self._lock = threading.Lock()
        self._model = None
        self.card: dict[str, Any] = {}
        self.version: str | None = None
        self.device = "cpu"

    def model(self):
        """The network, loaded on first use; raises EngineInputError when there are no weights."""
        with self._lock:
            if self._model is None:
                self._load()
            return self._model

    def _load(self) -> None:
        import torch  # deferred: torch takes seconds to import and only learned engines need it

        try:
            version = modelstore.resolve(self.model_dir, self.spec.name, self.requested_version)
        except modelstore.ModelNotFound as exc:
            raise EngineInputError(str(exc)) from None
        use_cuda = self.device_choice == "cuda" or (self.device_choice == "auto" and torch.cuda.is_available())
        device = "cuda" if use_cuda and torch.cuda.is_available() else "cpu"
        if device == "cpu" and self.threads:
            torch.set_num_threads(max(1, int(self.threads)))
        folder = modelstore.version_dir(self.model_dir, self.spec.name, version)
        self._model, self.card = modelstore.load_module(folder, device)
        self.version, self.device = version, device

    def about(self) -> dict[str, Any]:
        """What every result's info says about the model that made it."""
        return {"model": self.spec.name, "version": self.version, "device": self.device,
                "trained_on": self.card.get("data", {}).get("expert")}


def _image_and_mask(inputs: dict[str, Any], need_mask: bool) -> tuple[np.ndarray, np.ndarray | None]:
    image = check_image(inputs.get("image"))
    mask = inputs.get("mask")
    if mask is not None:
        mask = check_mask(mask, *image.shape[:2])
    elif need_mask:  # the people detector at working resolution, upsampled
        h, w = image.shape[:2]
        wh, ww = working_size(h, w)
        mask = upsample_mask(people_mask(resize_image(image, wh, ww)).astype(np.float32), h, w)
    return image, mask


def _blend(image: np.ndarray, result: np.ndarray, amount: float | np.ndarray) -> np.ndarray:
    if np.isscalar(amount) and amount == 1.0:
        return result
    a = amount[..., None] if isinstance(amount, np.ndarray) else np.float32(amount)
    out = image + a * (result - image)
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)


# ---------------------------------------------------------------- automatic retouching

class LearnedParams(LearnedEngine):
    spec = EngineSpec(
        name="retouch.params", version=LEARNED_VERSION, queue="gpu", inputs=("image",),
        outputs=("image",), params=_STRENGTH,
        description="Learned automatic retouching (PPR10K parameter regression): a small CNN predicts "
                    "the adjust renderer's sliders from the image and the people mask (optional input; "
                    "detected when absent); the sliders are rendered at full resolution.")

    def run(self, inputs: dict[str, Any], params: dict[str, Any],
            progress: ProgressFn | None = None) -> dict[str, Any]:
        params = validate_params(self.spec, params or {})
        model = self.model()
        image, mask = _image_and_mask(inputs, need_mask=True)
        t0 = time.perf_counter()
        sliders = model.predict_sliders(image, mask)
        if progress:
            progress(0.3)
        scaled = {k: round(v * params["strength"], 4) for k, v in sliders.items()}
        out = apply_adjustments(image, scaled, progress=None)
        if progress:
            progress(1.0)
        return {"image": out, "info": {**self.about(), "params": scaled,
                                       "ms": round((time.perf_counter() - t0) * 1000, 1)}}


class LearnedLut(LearnedEngine):
    spec = EngineSpec(
        name="retouch.lut", version=LEARNED_VERSION, queue="gpu", inputs=("image",),
        outputs=("image",), params=_STRENGTH,
        description="Learned automatic retouching (PPR10K 3D-LUT + HRP + GLC): a classifier fuses "
                    "basis 33³ LUTs for the image; the fused LUT is applied at full resolution.")

    def run(self, inputs, params, progress=None):
        params = validate_params(self.spec, params or {})
        model = self.model()
        image, _ = _image_and_mask(inputs, need_mask=False)
        t0 = time.perf_counter()
        out, info = model.predict(image)
        if progress:
            progress(1.0)
        return {"image": _blend(image, out, params["strength"]),
                "info": {**self.about(), **info, "ms": round((time.perf_counter() - t0) * 1000, 1)}}


# ---------------------------------------------------------------- interactive retouching

@dataclass
class ClickState:
    """One image's click-independent work: working image, people prior and the encoder's output."""

    work: np.ndarray
    prior: np.ndarray
    encoded: Any
    full_shape: tuple[int, int]
    prepare_ms: float
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def work_shape(self) -> tuple[int, int]:
        return self.work.shape[:2]


class LearnedClicks(LearnedEngine):
    spec = EngineSpec(
        name="retouch.clicks", version=LEARNED_VERSION, queue="gpu", inputs=("image", "clicks"),
        outputs=("image", "mask"), params=_STRENGTH, interactive=True,
        description="Learned region-aware interactive retouching: positive/negative clicks select a "
                    "region (soft mask) and the network predicts sliders for it; the region is "
                    "rendered with the adjust renderer and blended in. The image encoder runs once per "
                    "image; a click runs only the light head.")

    def prepare(self, image: np.ndarray, mask: np.ndarray | None = None) -> ClickState:
        t0 = time.perf_counter()
        model = self.model()
        image = check_image(image)
        h, w = image.shape[:2]
        wh, ww = working_size(h, w)
        work = resize_image(image, wh, ww)
        if mask is not None:
            prior = np.clip(resize_image(check_mask(mask, h, w), wh, ww), 0, 1)
        else:
            prior = people_mask(work).astype(np.float32)
        encoded = model.encode_image(work, prior)
        return ClickState(work, prior, encoded, (h, w), (time.perf_counter() - t0) * 1000.0)

    def run_clicks(self, state: ClickState, clicks: Any, params: dict[str, Any],
                   full_image: np.ndarray | None = None) -> dict[str, Any]:
        t0 = time.perf_counter()
        params = validate_params(self.spec, params or {})
        h, w = state.full_shape
        wh, ww = state.work_shape
        parsed = parse_clicks(clicks, w, h)
        work_clicks = scale_clicks(parsed, ww / w, wh / h, ww, wh)
        info: dict[str, Any] = {**self.about(), "clicks": {"positive": sum(c.positive for c in parsed),
                                                           "negative": sum(not c.positive for c in parsed)}}
        if any(c.positive for c in parsed):
            m, sliders = self.model().click(state.encoded, work_clicks, (wh, ww))
        else:  # nothing selected yet: the image is returned unchanged
            m, sliders = np.zeros((wh, ww), np.float32), {}
        t_head = time.perf_counter()
        amount = (params["strength"] * m).astype(np.float32)
        if full_image is None:
            out = _blend(state.work, apply_adjustments(state.work, sliders), amount)
            mask_out = m
        else:
            image = check_image(full_image, "full_image")
            if image.shape[:2] != (h, w):
                raise EngineInputError(f"full_image is {image.shape[1]}×{image.shape[0]} but the session "
                                       f"was prepared for {w}×{h}")
            out = _blend(image, apply_adjustments(image, sliders), upsample_mask(amount, h, w))
            mask_out = upsample_mask(m, h, w)
        info.update(params=sliders, region_fraction=round(float(m.mean()), 4), working_size=[wh, ww],
                    ms={"head": round((t_head - t0) * 1000, 1),
                        "total": round((time.perf_counter() - t0) * 1000, 1),
                        "prepare": round(state.prepare_ms, 1)})
        return {"image": out, "mask": mask_out, "info": info}

    def run(self, inputs, params, progress=None):
        return run_clicks_as_job(self, check_image(inputs.get("image")), inputs, params, progress)


# ---------------------------------------------------------------- harmonisation

class LearnedHarmonize(LearnedEngine):
    spec = EngineSpec(
        name="harmonize.net", version=LEARNED_VERSION, queue="gpu", inputs=("image", "mask", "reference"),
        outputs=("image",), params=_STRENGTH,
        description="Learned interactive portrait harmonisation: a partial-convolution style encoder "
                    "reads the reference region, an AdaIN decoder restyles the composited foreground "
                    "(mask) at low resolution; a fitted cubic colour polynomial carries it to full size.")

    def run(self, inputs, params, progress=None):
        params = validate_params(self.spec, params or {})
        model = self.model()
        image = check_image(inputs.get("image"))
        h, w = image.shape[:2]
        if inputs.get("mask") is None:
            raise EngineInputError("mask (the composited foreground) is required")
        mask = check_mask(inputs["mask"], h, w, allow_empty=False)
        if inputs.get("reference") is None:
            raise EngineInputError("reference is required")
        ref = reference_mask(inputs["reference"], h, w) & (mask < 0.5)
        if ref.sum() < 16:
            raise EngineInputError("the reference region has fewer than 16 pixels outside the foreground")
        t0 = time.perf_counter()
        out, info = model.predict(image, mask, ref)
        if progress:
            progress(1.0)
        return {"image": _blend(image, out, params["strength"]),
                "info": {**self.about(), **info, "ms": round((time.perf_counter() - t0) * 1000, 1)}}


LEARNED_ENGINES = (LearnedParams, LearnedLut, LearnedClicks, LearnedHarmonize)
