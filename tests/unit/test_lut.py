"""The 3-D LUT path (inference/lut.py) against the direct renderer (inference/render.py), its
reference: ΔE76 on real photos, identity, 8- and 16-bit paths, and the LUT-safe parameter set."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from inference import render as R
from inference.colour import delta_e76
from inference.engines import EngineInputError
from inference.lut import LUT_SIZE, apply_lut, build_lut
from inference.render import apply_adjustments


@pytest.fixture(autouse=True)
def _media_in_tmp():
    """Overrides the suite-wide autouse fixture (it needs pytest-django): no Django here."""
    yield


def _photos() -> dict[str, np.ndarray]:
    """skimage's astronaut, and chelsea and coffee upscaled ×1.5 (interpolated, smooth colours)."""
    out = {"astronaut": data.astronaut()}
    for name in ("chelsea", "coffee"):
        img = getattr(data, name)()
        h, w = img.shape[:2]
        out[name] = np.asarray(Image.fromarray(img).resize((w * 3 // 2, h * 3 // 2), Image.BICUBIC))
    return out


PHOTOS = _photos()

# Everyday edits (the 3-D LUT is within ΔE76 p99 < 0.5 of the renderer for these; extreme settings
# are not, see docs/adjustments.md), with one extreme exposure that stays smooth.
EDITS = {
    "portrait": {"exposure": 0.3, "contrast": 15, "highlights": -20, "shadows": 15, "temperature": 10,
                 "vibrance": 15},
    "cool matte": {"temperature": -15, "tint": 5, "saturation": -10,
                   "tone_curve": [[0, 0.05], [0.5, 0.5], [1, 0.95]]},
    "darker punchy": {"exposure": -1, "blacks": -20, "whites": 20, "contrast": 20},
    "black and white": {"saturation": -100, "contrast": 30, "tone_curve": [[0.25, 0.2], [0.75, 0.8]]},
    "soft": {"contrast": -30, "highlights": -30, "shadows": 30, "vibrance": -20},
    "ev -5 lifted": {"exposure": -5, "shadows": 100, "blacks": 100, "saturation": -50, "vibrance": 100},
}


@pytest.mark.parametrize("name", EDITS)
def test_lut_matches_the_direct_renderer_on_photos(name):
    lut = build_lut(EDITS[name])
    for photo in PHOTOS.values():
        img = photo.astype(np.float32) / 255
        de = delta_e76(apply_lut(img, lut), apply_adjustments(img, EDITS[name]))
        assert float(np.percentile(de, 99)) < 0.5


@pytest.mark.parametrize("name", ["portrait", "black and white", "ev -5 lifted"])
def test_8bit_path_is_within_a_code_of_the_rounded_renderer(name):
    lut = build_lut(EDITS[name])
    for photo in PHOTOS.values():
        out = apply_lut(photo, lut)
        ref = np.rint(apply_adjustments(photo.astype(np.float32) / 255, EDITS[name]) * 255)
        diff = np.abs(out.astype(np.int16) - ref.astype(np.int16))
        assert out.dtype == np.uint8 and out.shape == photo.shape
        assert diff.max() <= 2 and (diff > 1).mean() < 1e-4


@pytest.mark.parametrize("size", [2, 17, LUT_SIZE])
def test_identity_params_give_back_the_input(size):
    lut = build_lut({}, size)
    photo = PHOTOS["astronaut"]
    np.testing.assert_array_equal(apply_lut(photo, lut), photo)
    wide = photo.astype(np.uint16) * 256 + np.arange(photo.size, dtype=np.uint16).reshape(photo.shape) % 256
    np.testing.assert_array_equal(apply_lut(wide, lut), wide)
    img = np.random.default_rng(size).random((31, 47, 3), dtype=np.float32)
    np.testing.assert_allclose(apply_lut(img, lut), img, atol=1e-6)


def test_16bit_input_keeps_16bit_precision():
    # A smooth 16-bit ramp: an 8-bit path would leave at most 256 levels per channel.
    ramp = np.linspace(0, 65535, 4096).astype(np.uint16)
    img = np.stack([ramp, ramp[::-1], np.full_like(ramp, 30000)], axis=-1)[None].repeat(3, axis=0)
    edit = EDITS["cool matte"]
    out = apply_lut(img, build_lut(edit))
    assert out.dtype == np.uint16 and out.shape == img.shape
    assert len(np.unique(out[..., 0])) > 2000
    ref = apply_adjustments(img.astype(np.float32) / 65535, edit)
    assert float(np.abs(out / 65535 - ref).max()) < 1e-3


def test_float64_and_out_of_range_input():
    img = np.random.default_rng(1).uniform(-0.5, 1.5, (20, 30, 3))
    edit = EDITS["portrait"]
    out = apply_lut(img, build_lut(edit))
    assert out.dtype == np.float32
    ref = apply_adjustments(img, edit)  # the renderer clips its input to [0, 1] first, as does the LUT
    assert float(np.abs(out - ref).max()) < 0.02


def test_tiles_on_the_thread_pool_do_not_change_the_result(monkeypatch):
    import inference.lut as L

    img = np.random.default_rng(2).random((40, 50, 3), dtype=np.float32)
    lut = build_lut(EDITS["soft"], 9)
    whole = apply_lut(img, lut)
    monkeypatch.setattr(L, "_TILE_PIXELS", 50 * 3)
    np.testing.assert_array_equal(apply_lut(img, lut), whole)


def test_only_lut_safe_sliders_can_be_tabulated(monkeypatch):
    # Every slider but the neighbourhood ones (texture, clarity, dehaze) is a per-pixel colour function.
    assert R.LUT_SAFE_PARAMS == set(R.PARAMS) - set(R.LOCAL_PARAMS)
    assert R.lut_safe(R.normalize_params({"contrast": 10}))
    # A slider that reads neighbouring pixels (e.g. a future "clarity") is left out of the set:
    monkeypatch.setattr(R, "LUT_SAFE_PARAMS", R.LUT_SAFE_PARAMS - {"contrast"})
    assert not R.lut_safe(R.normalize_params({"contrast": 10}))
    assert R.lut_safe(R.normalize_params({"contrast": 0, "exposure": 1}))  # identity: not in use
    with pytest.raises(EngineInputError, match="neighbouring pixels"):
        build_lut({"contrast": 10})


@pytest.mark.parametrize("lut", [np.zeros((4, 4, 3, 3)), np.zeros((4, 4, 4)), np.zeros((1, 1, 1, 3)), np.zeros(())])
def test_bad_lut_shape_is_refused(lut):
    with pytest.raises(EngineInputError):
        apply_lut(np.zeros((2, 2, 3), dtype=np.float32), lut)


@pytest.mark.parametrize("image", [np.zeros((4, 4)), np.zeros((4, 4, 4)), np.zeros((4, 4, 3), dtype=np.int32)])
def test_bad_image_is_refused(image):
    with pytest.raises(EngineInputError):
        apply_lut(image, build_lut({}, 2))
