"""The renderer's neighbourhood sliders (texture, clarity, dehaze; docs/adjustments.md, stage 1b):
the documented formulas, what each does to a picture, scale independence, and that no 3-D LUT
stands in for them."""

import numpy as np
import pytest

from inference import render as R
from inference.interface import EngineInputError


def _reference_box(x: np.ndarray, r: int) -> np.ndarray:
    """Box mean by reflect-101 padding and a plain window sum (float64), independent of OpenCV."""
    if r == 0:
        return x.astype(np.float64)
    padded = np.pad(x.astype(np.float64), r, mode="reflect")  # NumPy's "reflect" = BORDER_REFLECT_101
    c = np.cumsum(np.cumsum(np.pad(padded, ((1, 0), (1, 0))), axis=0), axis=1)
    k = 2 * r + 1
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def _reference_render(img: np.ndarray, params: dict) -> np.ndarray:
    """docs/adjustments.md written out in float64: stage 1 (the renderer's own 1-D function), 1b, 2, 3."""
    p = R.normalize_params(params)
    x = np.clip(img.astype(np.float64), 0, 1)
    u = np.stack([R.channel_function(p, c, x[..., c]) for c in range(3)], axis=-1)
    luma = np.asarray(R.LUMA)
    y0 = x @ luma
    rt, rc = R.local_radii(*x.shape[:2])
    add = R.TEXTURE_GAIN * p["texture"] / 100 * (y0 - _reference_box(y0, rt))
    y1 = np.clip(u @ luma, 0, 1)
    add = add + R.CLARITY_GAIN * p["clarity"] / 100 * (y0 - _reference_box(y0, rc)) * 4 * y1 * (1 - y1)
    u = u + add[..., None]
    s = R.DEHAZE_STRENGTH * p["dehaze"] / 100 * _reference_box(x.min(axis=2), rc)
    u = (u - s[..., None]) / (1 - s[..., None])
    y = u @ luma
    c = np.minimum(u.max(axis=2) - u.min(axis=2), 1)
    f = (1 + p["saturation"] / 100) * (1 + p["vibrance"] / 100 * (1 - c) ** 2)
    return np.clip(y[..., None] + f[..., None] * (u - y[..., None]), 0, 1)


def _photo(h=90, w=120, seed=3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    base = np.stack([0.3 + 0.5 * xx, 0.25 + 0.5 * yy, 0.6 - 0.3 * xx], axis=-1)
    base[(yy - 0.5) ** 2 + (xx - 0.5) ** 2 < 0.05] *= 0.6  # a darker "person"
    return np.clip(base + 0.04 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


@pytest.mark.parametrize("params", [{"texture": 60}, {"clarity": -80, "exposure": 0.4}, {"dehaze": 70},
                                    {"dehaze": -100, "vibrance": 40}, {"texture": -100, "clarity": 100,
                                                                        "dehaze": 30, "saturation": 20,
                                                                        "contrast": 25}])
def test_local_sliders_follow_the_documented_formulas(params):
    img = _photo()
    np.testing.assert_allclose(R.apply_adjustments(img, params), _reference_render(img, params), atol=2e-4)


def test_box_mean_matches_a_reflect_101_window_sum():
    x = np.random.default_rng(1).random((17, 23)).astype(np.float32)
    for r in (1, 3, 8):
        np.testing.assert_allclose(R.box_mean(x, r), _reference_box(x, r), atol=1e-6)
    assert R.local_radii(360, 480) == (1, 11) and R.local_radii(4000, 6000) == (16, 120)
    assert R.local_radii(3, 3) == (1, 1) and R.local_radii(1, 5) == (0, 0)


def _local_variance(img: np.ndarray) -> float:
    y = img @ np.asarray(R.LUMA, np.float32)
    return float(np.var(y - R.box_mean(y.astype(np.float32), 2)))


def test_texture_and_clarity_change_local_contrast_and_keep_flat_areas():
    img = _photo()
    assert _local_variance(R.apply_adjustments(img, {"texture": 80})) > 1.5 * _local_variance(img)
    assert _local_variance(R.apply_adjustments(img, {"texture": -80})) < 0.7 * _local_variance(img)
    flat = np.full((40, 40, 3), 0.42, np.float32)
    for params in ({"texture": 100}, {"clarity": -100}):
        np.testing.assert_allclose(R.apply_adjustments(flat, params), flat, atol=1e-6)
    # Clarity leaves black and white alone (its mid-tone weight is 0 there).
    bw = np.zeros((30, 30, 3), np.float32)
    bw[:, 15:] = 1.0
    np.testing.assert_array_equal(R.apply_adjustments(bw, {"clarity": 100}), bw)


def test_dehaze_stretches_hazy_areas_and_keeps_white():
    hazy = 0.55 + 0.3 * _photo()  # a grey veil over the picture
    out = R.apply_adjustments(hazy, {"dehaze": 100})
    assert out.std() > 1.3 * hazy.std() and out.mean() < hazy.mean()
    white = np.ones((20, 20, 3), np.float32)
    np.testing.assert_allclose(R.apply_adjustments(white, {"dehaze": 100}), white, atol=1e-6)
    assert R.apply_adjustments(hazy, {"dehaze": -100}).std() < hazy.std()  # adds a veil


def test_radii_follow_the_image_size_so_a_proxy_looks_like_the_original():
    import cv2

    big = cv2.resize(_photo(90, 120), (480, 360), interpolation=cv2.INTER_CUBIC)
    params = {"clarity": 80, "dehaze": 40, "texture": 20}
    small = cv2.resize(big, (120, 90), interpolation=cv2.INTER_AREA)
    rendered_then_shrunk = cv2.resize(R.apply_adjustments(big, params), (120, 90), interpolation=cv2.INTER_AREA)
    from inference.metrics import delta_e

    assert delta_e(R.apply_adjustments(small, params), rendered_then_shrunk) < 2.0
    assert delta_e(R.apply_adjustments(small, params), small) > 2.0  # and the sliders did something


def test_local_sliders_are_not_lut_safe():
    from inference import lut

    assert set(R.LOCAL_PARAMS).isdisjoint(R.LUT_SAFE_PARAMS) and set(R.LOCAL_PARAMS) <= set(R.PARAMS)
    assert set(R.LOCAL_PARAMS).isdisjoint(R.FLOAT_PARAMS)
    assert not R.lut_safe(R.normalize_params({"clarity": 10}))
    assert R.lut_safe(R.normalize_params({"clarity": 0, "exposure": 1}))
    with pytest.raises(EngineInputError, match="neighbouring pixels"):
        lut.build_lut({"texture": 5})


def test_tiles_do_not_change_the_local_result(monkeypatch):
    img = _photo(200, 150)
    params = {"clarity": 50, "dehaze": 30, "texture": 40, "vibrance": 20}
    whole = R.apply_adjustments(img, params)
    monkeypatch.setattr(R, "_TILE_PIXELS", 150 * 7)
    np.testing.assert_array_equal(R.apply_adjustments(img, params), whole)
