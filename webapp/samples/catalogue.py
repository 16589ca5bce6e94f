"""The sample portraits of "Try it online": what each one is, where it comes from, its licence.

Only photos the platform may ship: two from scikit-image's bundled data (public domain, CC0) and one
from Matplotlib's bundled sample data (a U.S. Navy photo, public domain), kept in
``webapp/samples/portraits/`` (61 KB). No package available here ships a legally usable portrait
of a person with a darker skin tone or a real group photo (docs/deployment.md, "Sample
portraits"), so the set is completed with *derived* samples made from those three photos by the
recipes below — other light (warm, cool, dim side light) and a group made by placing the three
people side by side — and each says so in its name (which starts "derived", the part of it the
pickers' small captions always show), its title and its ``derived`` text. No recipe changes a
person's skin colour except as the light of the whole photo does.

Everything is deterministic: the same recipe always gives the same pixels (so the same sha256),
and ``ensure_samples`` finds an existing photo by its sha256 instead of storing it twice.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

PORTRAITS = Path(__file__).resolve().parent / "portraits"


@dataclass(frozen=True)
class SampleSpec:
    key: str
    file_name: str  # the photo's original_name, which the try pages' picker shows: "derived …" first
    title: str
    credit: str
    licence: str
    derived: str  # empty for an original
    pixels: Callable[[], np.ndarray]  # uint8 H×W×3


# ---------------------------------------------------------------- sources

def _astronaut() -> np.ndarray:
    from skimage import data  # deferred: scikit-image takes a moment to import

    return np.asarray(data.astronaut())[..., :3]


def _camera() -> np.ndarray:
    from skimage import data

    grey = np.asarray(data.camera())
    return np.repeat(grey[..., None], 3, axis=2)


def _grace_hopper() -> np.ndarray:
    with Image.open(PORTRAITS / "grace_hopper.jpg") as image:
        return np.asarray(image.convert("RGB"))


# ---------------------------------------------------------------- recipes (other light, a group)

def _to_linear(rgb_u8: np.ndarray) -> np.ndarray:
    c = rgb_u8.astype(np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _to_u8(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    srgb = np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)
    return np.round(srgb * 255.0).astype(np.uint8)


def relight(rgb_u8: np.ndarray, *, gains=(1.0, 1.0, 1.0), stops: float = 0.0,
            falloff: tuple[float, float] | None = None) -> np.ndarray:
    """Light of another colour and strength, in linear light: each channel × its gain × 2^stops,
    optionally × a left-to-right ramp from ``falloff[0]`` to ``falloff[1]`` (a light from one side)."""
    linear = _to_linear(rgb_u8) * np.asarray(gains, np.float64) * 2.0 ** stops
    if falloff is not None:
        ramp = np.linspace(falloff[0], falloff[1], rgb_u8.shape[1])
        linear = linear * ramp[None, :, None]
    return _to_u8(linear)


def _fit(rgb_u8: np.ndarray, height: int, width: int, left: float) -> np.ndarray:
    """Scale to ``height`` and crop ``width`` columns starting at ``left`` (a fraction of the spare width)."""
    h, w = rgb_u8.shape[:2]
    scaled = np.asarray(Image.fromarray(rgb_u8).resize((round(w * height / h), height), Image.LANCZOS))
    x0 = round((scaled.shape[1] - width) * left)
    return scaled[:, x0:x0 + width]


def side_by_side(portraits: list[tuple[np.ndarray, float]], *, height: int = 480, width: int = 400,
                 gap: int = 16, backdrop: int = 132) -> np.ndarray:
    """People placed side by side on one backdrop: a group to click one person in."""
    canvas = np.full((height + 2 * gap, len(portraits) * (width + gap) + gap, 3), backdrop, np.uint8)
    for i, (rgb, left) in enumerate(portraits):
        x = gap + i * (width + gap)
        canvas[gap:gap + height, x:x + width] = _fit(rgb, height, width, left)
    return canvas


# ---------------------------------------------------------------- the catalogue

NASA = "NASA photo of astronaut Eileen Collins, shipped with scikit-image (skimage.data.astronaut)"
VARSHNEY = "“Man with a camera” by Lav Varshney, shipped with scikit-image (skimage.data.camera)"
NAVY = ("U.S. Navy photo of Commodore Grace M. Hopper (1984), shipped with Matplotlib's sample data "
        "(mpl-data/sample_data/grace_hopper.jpg)")
PD = "Public domain"

SAMPLES: tuple[SampleSpec, ...] = (
    SampleSpec("group-of-three", "derived group of three.png",
               "Three people side by side (derived group)", f"{NASA}; {NAVY}; {VARSHNEY}", "Public domain and CC0",
               "Eileen Collins, Grace Hopper and the man with a camera placed side by side on one grey backdrop",
               lambda: side_by_side([(_astronaut(), 0.0), (_grace_hopper(), 0.5), (_camera(), 0.0)])),
    SampleSpec("astronaut-side-light", "derived dim side light.png",
               "Eileen Collins in dim side light (derived)", NASA, PD,
               "1.3 stops darker, and light falling off from the left to a fifth at the right (linear light)",
               lambda: relight(_astronaut(), stops=-1.3, falloff=(1.0, 0.2))),
    SampleSpec("hopper-shade", "derived cool shade.png",
               "Grace Hopper in cool shade light (derived)", NAVY, PD,
               "white balance moved towards blue open shade (linear gains 0.80, 0.92, 1.12), 0.3 stops darker",
               lambda: relight(_grace_hopper(), gains=(0.80, 0.92, 1.12), stops=-0.3)),
    SampleSpec("astronaut-tungsten", "derived warm tungsten.png",
               "Eileen Collins in warm tungsten light (derived)", NASA, PD,
               "white balance moved towards 3000 K tungsten light (linear gains 1.0, 0.80, 0.55), 0.3 stops brighter",
               lambda: relight(_astronaut(), gains=(1.0, 0.80, 0.55), stops=0.3)),
    SampleSpec("grace-hopper", "grace-hopper.jpg", "Grace Hopper", NAVY,
               "Public domain (work of the U.S. federal government)", "", _grace_hopper),
    SampleSpec("astronaut", "astronaut.png", "Eileen Collins", NASA, PD, "", _astronaut),
    SampleSpec("camera", "camera.png", "Man with a camera", VARSHNEY, "CC0", "", _camera),
)


def encode(spec: SampleSpec) -> bytes:
    """The file a sample is stored as: the shipped JPEG itself, else a lossless PNG of its pixels."""
    if spec.file_name.endswith(".jpg"):
        return (PORTRAITS / "grace_hopper.jpg").read_bytes()
    buffer = io.BytesIO()
    Image.fromarray(spec.pixels()).save(buffer, format="PNG")
    return buffer.getvalue()
