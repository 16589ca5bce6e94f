"""harmonize: luminance percentiles and colour matched to a reference region; compositing helper."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from inference.colour import srgb_to_lab
from inference.compose import make_composite
from inference.engines import EngineInputError
from inference.engines.harmonize import HarmonizeEngine, fit_colour_polynomial, poly_features
from inference.segmentation import resize_image

H, W = 600, 800
REF_BOX = [480, 100, 760, 500]


def _textured(h, w, base, amp, seed):
    rng = np.random.default_rng(seed)
    n = cv2.resize(rng.normal(0, 1, (h // 10, w // 10)).astype(np.float32), (w, h),
                   interpolation=cv2.INTER_CUBIC)
    return np.clip(np.asarray(base, np.float32) + amp * n[..., None] * np.array([1.0, 0.9, 0.8], np.float32),
                   0, 1)


def composite_scene():
    """Dim warm background with a warm reference 'person'; a bright, cold foreground person pasted in."""
    bg = _textured(H, W, (0.35, 0.28, 0.22), 0.05, 0)
    bg[REF_BOX[1]:REF_BOX[3], REF_BOX[0]:REF_BOX[2]] = _textured(
        REF_BOX[3] - REF_BOX[1], REF_BOX[2] - REF_BOX[0], (0.45, 0.32, 0.25), 0.12, 1)
    person = _textured(400, 240, (0.7, 0.75, 0.85), 0.15, 2)
    yy, xx = np.mgrid[0:400, 0:240]
    pmask = (((xx - 120) / 110) ** 2 + ((yy - 200) / 190) ** 2 <= 1).astype(np.float32)
    comp, mask = make_composite(person, pmask, bg, 100, 120, 1.0)
    return comp, mask


@pytest.fixture(scope="module")
def result():
    comp, mask = composite_scene()
    out = HarmonizeEngine().run({"image": comp, "mask": mask, "reference": {"box": REF_BOX}}, {})
    return comp, mask, out


def _interior(mask, px=6):
    return cv2.erode((mask > 0.5).astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def test_foreground_percentiles_match_the_reference(result):
    comp, mask, out = result
    lab_out = srgb_to_lab(out["image"])
    fg = lab_out[_interior(mask)]
    x0, y0, x1, y1 = REF_BOX
    ref = srgb_to_lab(comp)[y0:y1, x0:x1].reshape(-1, 3)
    got = np.percentile(fg[:, 0], [10, 50, 90])
    want = np.percentile(ref[:, 0], [10, 50, 90])
    before = np.percentile(srgb_to_lab(comp)[_interior(mask)][:, 0], [10, 50, 90])
    assert np.abs(before - want).max() > 15  # the test scene really starts mismatched
    np.testing.assert_allclose(got, want, atol=2.5)
    # colour statistics follow the reference too
    np.testing.assert_allclose(fg[:, 1:].mean(0), ref[:, 1:].mean(0), atol=2.5)
    info = out["info"]
    json.dumps(info)
    np.testing.assert_allclose(info["foreground_percentiles_after"], info["reference_percentiles"], atol=2.5)
    assert len(info["coefficients"]) == 3 and len(info["coefficients"][0]) == 20


def test_background_is_untouched(result):
    comp, mask, out = result
    far = cv2.dilate((mask > 0).astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    assert np.abs(out["image"] - comp)[far].max() == 0


def test_full_resolution_polynomial_matches_the_low_resolution_result(result):
    comp, mask, out = result
    eng = HarmonizeEngine()
    from inference.engines.harmonize import reference_mask
    low, fg, target, _ = eng.lowres(comp, mask, reference_mask({"box": REF_BOX}, H, W),
                                    {"strength": 1.0, "colour": True})
    lh, lw = low.shape[:2]
    down = resize_image(out["image"], lh, lw)
    inner = cv2.erode(fg.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    err = np.abs(down[inner] - target[inner])
    assert err.mean() < 0.01 and np.percentile(err, 99) < 0.05, (err.mean(), np.percentile(err, 99))


def test_polynomial_fit_recovers_a_known_cubic_mapping():
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 1, (5000, 3)).astype(np.float32)
    coef = rng.normal(0, 0.2, (20, 3))
    coef[1:4] += np.eye(3)
    dst = poly_features(src.astype(np.float64)) @ coef
    fitted = fit_colour_polynomial(src, dst, ridge=0.0)
    np.testing.assert_allclose(fitted, coef, atol=1e-6)


def test_reference_mask_form_and_strength_zero():
    comp, mask = composite_scene()
    ref = np.zeros((H, W), np.float32)
    ref[REF_BOX[1]:REF_BOX[3], REF_BOX[0]:REF_BOX[2]] = 1
    eng = HarmonizeEngine()
    a = eng.run({"image": comp, "mask": mask, "reference": {"box": REF_BOX}}, {})
    b = eng.run({"image": comp, "mask": mask, "reference": {"mask": ref}}, {})
    assert np.abs(a["image"] - b["image"]).max() < 1e-3
    same = eng.run({"image": comp, "mask": mask, "reference": {"mask": ref}}, {"strength": 0.0})
    assert np.abs(same["image"] - comp).max() < 0.01


@pytest.mark.parametrize("inputs, message", [
    ({"reference": {"box": [10, 10, 10, 50]}}, "zero area"),
    ({"reference": {"box": [900, 700, 950, 750]}}, "outside"),
    ({"reference": {"box": [1, 2, 3]}}, "four numbers"),
    ({"reference": {"mask": np.zeros((H, W), np.float32)}}, "empty"),
    ({"reference": "left"}, "reference must be"),
    ({"mask": np.zeros((H, W), np.float32)}, "empty"),
    ({"mask": np.ones((10, 10), np.float32)}, "match the image"),
    ({"reference": {"box": [100, 120, 340, 520]}, "mask": None}, "mask"),
])
def test_invalid_inputs_are_rejected(inputs, message):
    comp, mask = composite_scene()
    full = {"image": comp, "mask": mask, "reference": {"box": REF_BOX}}
    full.update(inputs)
    with pytest.raises(EngineInputError, match=message):
        HarmonizeEngine().run(full, {})


def test_reference_inside_the_foreground_is_rejected():
    comp, mask = composite_scene()
    with pytest.raises(EngineInputError, match="outside the foreground"):
        HarmonizeEngine().run({"image": comp, "mask": mask, "reference": {"box": [200, 300, 240, 340]}}, {})


def test_make_composite_places_and_scales():
    bg = np.zeros((100, 200, 3), np.float32)
    person = np.ones((40, 20, 3), np.float32)
    pmask = np.ones((40, 20), np.float32)
    comp, m = make_composite(person, pmask, bg, 50, 10, 0.5)
    assert m.sum() == pytest.approx(20 * 10)
    assert comp[10:30, 50:60].min() == 1.0 and comp[:, :50].max() == 0.0
    comp, m = make_composite(person, pmask, bg, 190, 90, 1.0)  # cropped at the corner
    assert m.sum() == pytest.approx(10 * 10)
    with pytest.raises(EngineInputError, match="does not overlap"):
        make_composite(person, pmask, bg, 500, 10, 1.0)
    with pytest.raises(EngineInputError, match="scale"):
        make_composite(person, pmask, bg, 0, 0, 0.0)
    with pytest.raises(EngineInputError, match="empty"):
        make_composite(person, pmask * 0, bg, 0, 0, 1.0)


def test_full_size_arrays_are_freed_as_soon_as_the_caller_drops_them():
    """No reference cycle holds the image, the mask or the output after a run and its PNG encode
    (a self-referencing band worker once kept 670 MB per 24 MP job alive until the cyclic GC ran,
    and the next job page-faulted fresh memory): with the cyclic GC off, dropping them frees them."""
    import gc
    import weakref

    from inference import encoding

    comp, mask = composite_scene()
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        out = HarmonizeEngine().run({"image": comp, "mask": mask, "reference": {"box": REF_BOX}}, {})
        assert encoding.encode(out["image"], "png").startswith(b"\x89PNG")
        arrays = {"image": weakref.ref(comp), "mask": weakref.ref(mask), "output": weakref.ref(out["image"])}
        del comp, mask, out
        assert [name for name, ref in arrays.items() if ref() is not None] == []
    finally:
        if was_enabled:
            gc.enable()
