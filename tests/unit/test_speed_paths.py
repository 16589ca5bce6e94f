"""The fast full-resolution paths against their references: harmonize's fused band kernel (the
float64 polynomial and blend it replaced), the low-resolution reference box (a resize of the
full-size box), one-channel mask decoding, and the PNG encoder with and without ISA-L."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from inference import encoding, imageio
from inference.colour import delta_e76
from inference.engines import harmonize
from inference.segmentation import resize_image


@pytest.fixture(autouse=True)
def _media_in_tmp():
    """Overrides the suite-wide autouse fixture (it needs pytest-django): no Django here."""
    yield


def _scene(h: int = 900, w: int = 1400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random((h // 40, w // 40, 3), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    image = np.clip(base + rng.normal(0, 0.02, base.shape).astype(np.float32), 0, 1)
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 3, h // 2), (w // 6, h // 3), 0, 0, 360, 1.0, -1)
    mask[h // 2:h // 2 + 40, w // 3 - 100:w // 3 + 100] = 0.6  # a soft part, as a matte has
    return image, mask


def _reference_apply(image: np.ndarray, mask: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """The blend as first written: float64 features (poly_features) times the coefficients over the
    whole image, clipped, blended with max(Gaussian(mask, σ), mask where ≥ 0.999)."""
    h, w = image.shape[:2]
    sigma = max(0.8, min(h, w) / 800.0)
    alpha = np.maximum(cv2.GaussianBlur(mask, (0, 0), sigma), mask * (mask >= 0.999))
    mapped = np.clip(harmonize.poly_features(image.reshape(-1, 3).astype(np.float64)) @ coef, 0, 1)
    out = image + alpha[..., None] * (mapped.reshape(image.shape) - image)
    return np.clip(out, 0, 1).astype(np.float32)


@pytest.mark.parametrize("band_pixels", [harmonize._BAND_PIXELS, 5000])  # 5000: bands cross the box's edges
def test_fused_band_kernel_matches_the_reference_blend(band_pixels, monkeypatch):
    monkeypatch.setattr(harmonize, "_BAND_PIXELS", band_pixels)
    image, mask = _scene()
    coef = np.eye(20, 3, -1) + np.random.default_rng(1).normal(0, 0.08, (20, 3))
    fast = harmonize.apply_to_foreground(image, mask, coef)
    want = _reference_apply(image, mask, coef)
    de = delta_e76(fast, want)
    assert float(np.percentile(de, 99)) < 0.5 and float(np.abs(fast - want).max()) < 5e-4  # float32 vs float64: a tenth of an 8-bit code
    far = cv2.dilate((mask > 0).astype(np.uint8), np.ones((31, 31), np.uint8)) == 0
    assert np.array_equal(fast[far], image[far])  # outside the feathered box: the input, bit for bit
    assert fast.dtype == np.float32 and fast.min() >= 0 and fast.max() <= 1


def test_harmonize_run_matches_the_reference_pipeline():
    """The whole engine against the same maths with full-size maps: ΔE76 p99 < 0.5."""
    image, mask = _scene(seed=2)
    box = [1000, 100, 1350, 800]
    engine = harmonize.HarmonizeEngine()
    out = engine.run({"image": image, "mask": mask, "reference": {"box": box}}, {})
    params = {"strength": 1.0, "colour": True}
    low, fg, target, _ = engine.lowres(image, mask, harmonize.reference_mask({"box": box}, *mask.shape), params)
    coef = harmonize.fit_colour_polynomial(low[fg], target[fg])
    assert np.allclose(np.array(out["info"]["coefficients"]).T, coef, atol=1e-5)
    de = delta_e76(out["image"], _reference_apply(image, mask, coef))
    assert float(np.percentile(de, 99)) < 0.5


@pytest.mark.parametrize("h, w", [(4000, 6000), (3456, 5184), (1001, 777), (400, 300)])
def test_low_resolution_box_is_the_resized_full_size_box(h, w):
    rng = np.random.default_rng(h)
    lh, lw = harmonize._low_size(h, w)
    for _ in range(20):
        x0, x1 = sorted(rng.uniform(-50, w + 50, 2))
        y0, y1 = sorted(rng.uniform(-50, h + 50, 2))
        spec = {"box": [x0, y0, x1 + 2, y1 + 2]}
        try:
            full = harmonize.reference_mask(spec, h, w)
        except harmonize.EngineInputError:
            continue
        want = resize_image(full.astype(np.float32), lh, lw) > 0.5
        got = harmonize.reference_low(spec, h, w)
        assert got.shape == (lh, lw) and np.count_nonzero(got != want) == 0


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_greyscale_mask_decodes_to_one_channel_like_decode():
    grey = (np.random.default_rng(0).random((50, 70)) * 255).astype(np.uint8)
    for data in (_png(grey), _png(np.repeat(grey[..., None], 3, axis=2)), encoding.encode_png(grey / 255.0)):
        got = imageio.decode_grey(data)
        assert got.shape == (50, 70) and got.dtype == np.float32 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, imageio.decode(data).rgb[..., 0])
    with pytest.raises(imageio.ImageRejected):
        imageio.decode_grey(_png(grey)[:-30])  # truncated: refused like decode() refuses it


@pytest.mark.parametrize("deflater", ["isal", "zlib"])
def test_png_is_lossless_with_either_deflater(deflater, monkeypatch):
    if deflater == "zlib":
        monkeypatch.setattr(encoding, "_isal", None)
    else:
        assert encoding._isal is not None, "isal is a dependency (pyproject.toml)"
    monkeypatch.setattr(encoding, "_BAND_BYTES", 8192)
    image = np.random.default_rng(3).random((123, 301, 3)).astype(np.float32)
    decoded = np.asarray(Image.open(io.BytesIO(encoding.encode_png(image))))
    np.testing.assert_array_equal(decoded, imageio.to_uint8(image))
