"""Unit tests for the adjustment renderer (inference/render.py) and the ``adjust`` engine that
wraps it (inference/engines/adjust.py); the specification is docs/adjustments.md."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.interpolate import PchipInterpolator

from inference import engines
from inference import render as R
from inference.colour import LUMA_709, delta_e76, srgb_to_lab, srgb_to_linear
from inference.engines import EngineInputError
from inference.render import IDENTITY_PARAMS, apply_adjustments


@pytest.fixture(autouse=True)
def _media_in_tmp():
    """Overrides the suite-wide autouse fixture (it needs pytest-django's ``settings``): these
    tests use no Django, no media and no database, and must run under ``-p no:django``."""
    yield


def _random_image(h=37, w=53, lo=0.0, hi=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return (lo + (hi - lo) * rng.random((h, w, 3))).astype(np.float32)


def _grey(values):
    v = np.asarray(values, dtype=np.float32)
    return np.repeat(v[None, :, None], 3, axis=2)  # 1×N×3


def _reference(image: np.ndarray, params: dict) -> np.ndarray:
    """Float64, table-free evaluation of the documented formulas (no 16-bit quantisation)."""
    p = R.normalize_params(params)
    x = image.astype(np.float64)
    u = np.stack([R.channel_function(p, c, x[..., c]) for c in range(3)], axis=-1)
    sat, vib = p["saturation"] / 100, p["vibrance"] / 100
    y = (u @ np.array(R.LUMA))[..., None]
    c = np.minimum(u.max(axis=-1) - u.min(axis=-1), 1.0)[..., None]
    f = (1 + sat) * (1 + vib * (1 - c) ** 2)
    return np.clip(y + f * (u - y), 0.0, 1.0)


def _chroma(rgb):
    lab = srgb_to_lab(rgb)
    return np.hypot(lab[..., 1], lab[..., 2])


TYPICAL = {"exposure": 0.4, "contrast": 25, "highlights": -40, "shadows": 30, "whites": 10,
           "blacks": -10, "temperature": 15, "tint": 5, "vibrance": 30, "saturation": 10,
           "tone_curve": [[0.25, 0.22], [0.75, 0.8]]}


# --- identity --------------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [{}, IDENTITY_PARAMS, {"exposure": 0.0, "tone_curve": []}])
def test_identity_params_return_the_same_image(params):
    img = _random_image()
    out = apply_adjustments(img, params)
    assert out.dtype == np.float32 and out.shape == img.shape
    np.testing.assert_array_equal(out, img)
    assert out is not img


def test_identity_through_the_table_path_is_within_16bit_quantisation():
    # A curve through identity points forces the table path unless it is recognised; with a
    # non-trivial curve that is identity *as a function* the table must reproduce the input.
    img = _random_image()
    lut = R.build_lut(R.normalize_params({"tone_curve": [[0.5, 0.5]]}))
    idx = np.rint(np.clip(img, 0, 1) * 65535).astype(np.int64)
    np.testing.assert_allclose(lut[idx], img, atol=1e-5)


# --- exposure ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("ev", [1.0, -1.0, 2.5])
def test_exposure_scales_linear_light_by_two_to_the_ev(ev):
    img = _random_image(lo=0.0, hi=0.6)
    out = apply_adjustments(img, {"exposure": ev})
    lin_in, lin_out = srgb_to_linear(img).astype(np.float64), srgb_to_linear(out).astype(np.float64)
    unclipped = lin_in * 2.0 ** ev < 0.999
    assert unclipped.mean() > 0.2
    # Tolerance = the 16-bit input quantisation of the table: ±0.5/65535 in sRGB, i.e. at most
    # 2^EV × 5.9e-7 in linear light near black and < 2e-4 relative elsewhere.
    np.testing.assert_allclose(lin_out[unclipped], lin_in[unclipped] * 2.0 ** ev, rtol=1e-3,
                               atol=2.0 ** ev * 6e-7)


def test_plus_one_ev_doubles_8bit_sourced_linear_light_to_float_precision():
    # 8-bit code values land exactly on table entries (65535 = 255 × 257): no quantisation error.
    codes = np.arange(0, 186, dtype=np.float32) / 255  # 185/255 → linear 0.49: no clipping
    img = _grey(codes)
    out = apply_adjustments(img, {"exposure": 1.0})
    np.testing.assert_allclose(srgb_to_linear(out), 2 * srgb_to_linear(img), rtol=1e-5, atol=1e-7)


def test_exposure_brightens_and_clips_only_at_the_end():
    img = _random_image()
    out = apply_adjustments(img, {"exposure": 1.5})
    assert (out >= img - 1e-6).all() and out.mean() > img.mean() + 0.1
    assert out.max() == 1.0
    # Nothing is clipped between stages: two tones pushed past 1 by exposure stay distinct when
    # whites −100 brings them back below 1 (highlight recovery).
    back = apply_adjustments(_grey([0.9, 0.95]), {"exposure": 0.5, "whites": -100})[0, :, 0]
    assert back[1] < 1.0 and back[1] - back[0] > 0.02


# --- tone sliders ----------------------------------------------------------------------------------
RAMP = np.linspace(0.02, 0.98, 49)


def _delta(param, amount, values=RAMP):
    img = _grey(values)
    out = apply_adjustments(img, {param: amount})
    return (out - img)[0, :, 0].astype(np.float64)


def _at(values, x):
    return int(np.argmin(np.abs(np.asarray(values) - x)))


def test_contrast_increases_spread_around_mid_grey():
    d = _delta("contrast", 60)
    assert (d[RAMP < 0.48] < 0).all() and (d[RAMP > 0.52] > 0).all()
    assert abs(d[_at(RAMP, 0.5)]) < 1e-3
    out = apply_adjustments(_random_image(), {"contrast": 60})
    assert out.std() > _random_image().std()
    d = _delta("contrast", -60)
    assert (d[RAMP < 0.48] > 0).all() and (d[RAMP > 0.52] < 0).all()


def test_tone_sliders_stay_monotone_at_extremes():
    ramp = np.linspace(0, 1, 501)
    for param in ("contrast", "highlights", "shadows", "whites", "blacks"):
        for amount in (-100, 100):
            out = apply_adjustments(_grey(ramp), {param: amount})[0, :, 0]
            assert (np.diff(out) >= -1e-6).all(), (param, amount)


@pytest.mark.parametrize("amount", [60, -60])
def test_highlights_affect_bright_more_than_dark(amount):
    d = _delta("highlights", amount)
    bright, dark = d[_at(RAMP, 0.75)], d[_at(RAMP, 0.2)]
    assert np.sign(bright) == np.sign(amount)
    assert abs(bright) > 3 * abs(dark)


@pytest.mark.parametrize("amount", [60, -60])
def test_shadows_affect_dark_more_than_bright(amount):
    d = _delta("shadows", amount)
    bright, dark = d[_at(RAMP, 0.8)], d[_at(RAMP, 0.25)]
    assert np.sign(dark) == np.sign(amount)
    assert abs(dark) > 3 * abs(bright)


@pytest.mark.parametrize("amount", [70, -70])
def test_whites_move_the_top_end_most(amount):
    values = np.array([0.1, 0.4, 0.65, 0.85])  # +70 keeps 0.85 below 1
    d = _delta("whites", amount, values)
    assert np.sign(d[3]) == np.sign(amount)
    assert abs(d[3]) > abs(d[2]) > abs(d[1]) > abs(d[0])
    assert abs(d[0]) < 1e-3


@pytest.mark.parametrize("amount", [70, -70])
def test_blacks_move_the_bottom_end_most(amount):
    values = np.array([0.08, 0.3, 0.6, 0.95])
    d = _delta("blacks", amount, values)
    assert np.sign(d[0]) == np.sign(amount)
    assert abs(d[0]) > abs(d[1]) > abs(d[2]) > abs(d[3])
    assert abs(d[3]) < 1e-3


# --- white balance -------------------------------------------------------------------------------
def test_temperature_raises_red_blue_ratio():
    grey = _grey([0.2, 0.4, 0.6])
    warm = apply_adjustments(grey, {"temperature": 50})[0]
    cool = apply_adjustments(grey, {"temperature": -50})[0]
    assert (warm[:, 0] / warm[:, 2] > 1.05).all()
    assert (cool[:, 0] / cool[:, 2] < 0.95).all()
    # White balance is normalised to keep the luminance of neutrals.
    lum = srgb_to_linear(warm) @ LUMA_709
    np.testing.assert_allclose(lum, srgb_to_linear(grey[0]) @ LUMA_709, rtol=2e-3)


def test_tint_positive_is_magenta():
    grey = _grey([0.2, 0.4, 0.6])
    mag = apply_adjustments(grey, {"tint": 50})[0]
    green = apply_adjustments(grey, {"tint": -50})[0]
    assert (mag[:, 1] < (mag[:, 0] + mag[:, 2]) / 2 - 0.01).all()
    assert (green[:, 1] > (green[:, 0] + green[:, 2]) / 2 + 0.01).all()


# --- colour ----------------------------------------------------------------------------------------
def test_saturation_and_vibrance_raise_chroma():
    img = _random_image(lo=0.2, hi=0.8)
    for param in ("saturation", "vibrance"):
        out = apply_adjustments(img, {param: 40})
        assert _chroma(out).mean() > _chroma(img).mean() * 1.1, param
        less = apply_adjustments(img, {param: -40})
        assert _chroma(less).mean() < _chroma(img).mean() * 0.9, param


def test_vibrance_favours_muted_colours():
    muted = np.array([[[0.50, 0.45, 0.42]]], dtype=np.float32)
    vivid = np.array([[[0.85, 0.25, 0.15]]], dtype=np.float32)
    gain_muted = _chroma(apply_adjustments(muted, {"vibrance": 50})) / _chroma(muted)
    gain_vivid = _chroma(apply_adjustments(vivid, {"vibrance": 50})) / _chroma(vivid)
    assert gain_muted > 1.3 and gain_vivid < 1.15
    # Saturation, by contrast, scales both the same way.
    s_muted = apply_adjustments(muted, {"saturation": 50}) - muted.mean()
    assert np.ptp(s_muted) > np.ptp(muted) * 1.4


def test_saturation_minus_100_gives_grey_with_same_luma():
    img = _random_image()
    out = apply_adjustments(img, {"saturation": -100})
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-6)
    np.testing.assert_allclose(out[..., 1], out[..., 2], atol=1e-6)
    np.testing.assert_allclose(out[..., 0], img @ np.array(R.LUMA, dtype=np.float32), atol=1e-5)


# --- tone curve ------------------------------------------------------------------------------------
@pytest.mark.parametrize("points", [[[0.0, 0.0], [1.0, 1.0]], [[0.5, 0.5]],
                                    [[0.1, 0.1], [0.3, 0.3], [0.9, 0.9]]])
def test_curve_through_identity_points_is_identity(points):
    f = R.tone_curve_function(points)
    q = np.linspace(-0.2, 1.2, 1401)
    np.testing.assert_allclose(f(q), q, atol=1e-12)
    img = _random_image()
    np.testing.assert_array_equal(apply_adjustments(img, {"tone_curve": points}), img)
    # Combined with another adjustment the curve goes through the table and changes nothing.
    np.testing.assert_allclose(apply_adjustments(img, {"exposure": 0.3, "tone_curve": points}),
                               apply_adjustments(img, {"exposure": 0.3}), atol=1e-6)


def test_curve_is_pchip_with_implied_endpoints():
    points = [[0.2, 0.1], [0.5, 0.6], [0.8, 0.85]]
    f = R.tone_curve_function(points)
    ref = PchipInterpolator([0, 0.2, 0.5, 0.8, 1], [0, 0.1, 0.6, 0.85, 1])
    q = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(f(q), ref(q), atol=1e-12)
    # An explicit end point replaces the implied one.
    g = R.tone_curve_function([[0.0, 0.2], [1.0, 0.8]])
    np.testing.assert_allclose(g(q), 0.2 + 0.6 * q, atol=1e-12)


def test_curve_matches_scipy_pchip_on_random_points():
    rng = np.random.default_rng(7)
    q = np.linspace(0, 1, 513)
    for _ in range(50):
        n = int(rng.integers(2, 7))
        xs = np.sort(rng.choice(np.arange(101) / 100, n, replace=False))
        ys = rng.random(n)
        pts = [[float(a), float(b)] for a, b in zip(xs, ys, strict=True)]
        fx, fy = R._curve_points(pts)
        np.testing.assert_allclose(R.tone_curve_function(pts)(q), PchipInterpolator(fx, fy)(q),
                                   atol=1e-12)


def test_monotone_points_give_a_monotone_curve_and_brighten():
    pts = [[0.25, 0.4], [0.5, 0.7], [0.6, 0.72]]
    out = apply_adjustments(_grey(np.linspace(0, 1, 300)), {"tone_curve": pts})[0, :, 0]
    assert (np.diff(out) >= 0).all()
    assert out[75] > 0.3


# --- accuracy of the table implementation ------------------------------------------------------------
@pytest.mark.parametrize("params", [
    TYPICAL,
    {"exposure": 5, "whites": -100, "highlights": -100, "contrast": 100},
    {"exposure": -5, "shadows": 100, "blacks": 100, "saturation": -50, "vibrance": 100},
    {"temperature": -100, "tint": 100, "vibrance": -100, "tone_curve": [[0.1, 0.3], [0.9, 0.6]]},
])
def test_fast_path_matches_float64_reference(params):
    img = _random_image(64, 80, seed=3)
    out = apply_adjustments(img, params)
    ref = _reference(img, params)
    assert float(np.abs(out - ref).max()) < 3e-3
    assert float(delta_e76(out, ref.astype(np.float32)).max()) < 0.05


def test_tiles_do_not_change_the_result(monkeypatch):
    img = _random_image(41, 29, seed=5)
    whole = apply_adjustments(img, TYPICAL)
    monkeypatch.setattr(R, "_TILE_PIXELS", 29 * 3)  # 3-row tiles on the thread pool
    calls = []
    tiled = apply_adjustments(img, TYPICAL, progress=calls.append)
    np.testing.assert_array_equal(tiled, whole)
    assert len(calls) == 14 and calls[-1] == 1.0 and calls == sorted(calls)


# --- output contract ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 7, 3), (7, 1, 3), (3, 5, 3), (17, 33, 3)])
@pytest.mark.parametrize("params", [IDENTITY_PARAMS, TYPICAL, {"saturation": 50},
                                    {"exposure": 5, "contrast": 100, "vibrance": 100}])
def test_dtype_shape_and_range(shape, params):
    img = _random_image(*shape[:2], seed=sum(shape))
    out = apply_adjustments(img, params)
    assert out.dtype == np.float32 and out.shape == shape
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


def test_random_extreme_params_stay_in_range():
    img = _random_image(16, 16)
    rng = np.random.default_rng(11)
    for _ in range(20):
        p = {k: float(rng.uniform(-100, 100)) for k in R.FLOAT_PARAMS}
        p["exposure"] = float(rng.uniform(-5, 5))
        p["tone_curve"] = sorted([[float(x), float(rng.random())] for x in rng.choice(
            np.arange(1, 20) / 20, 3, replace=False)])
        out = apply_adjustments(img, p)
        assert out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0


def test_float64_and_out_of_range_input_are_accepted():
    img = _random_image(5, 6).astype(np.float64) * 1.2 - 0.1
    out = apply_adjustments(img, {"exposure": 0.5})
    assert out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0


# --- validation and registry -------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {"exposure": 5.5}, {"exposure": -6}, {"contrast": 101}, {"saturation": -100.5},
    {"temperature": 1e9}, {"tint": float("nan")}, {"vibrance": "10"}, {"shadows": True},
    {"brightness": 10}, {"tone_curve": [[0.5, 1.5]]}, {"tone_curve": [[0.5, 0.2], [0.5, 0.3]]},
    {"tone_curve": [[0.5]]}, {"tone_curve": [[i / 100, i / 100] for i in range(65)]},
])
def test_invalid_params_raise_engine_input_error(params):
    with pytest.raises(EngineInputError):
        apply_adjustments(_random_image(4, 4), params)
    with pytest.raises(EngineInputError):
        engines.create("adjust").run({"image": _random_image(4, 4)}, params)


SLIDER_RANGES = {key: (decl["min"], decl["max"]) for key, decl in R.PARAMS.items()
                 if decl["type"] == "float"}


def test_slider_ranges_are_the_documented_ones():
    assert SLIDER_RANGES == {"exposure": (-5.0, 5.0),
                             **{k: (-100.0, 100.0) for k in (*R.FLOAT_PARAMS, *R.LOCAL_PARAMS) if k != "exposure"}}
    assert engines.spec("adjust").params is R.PARAMS


@pytest.mark.parametrize("key", sorted(SLIDER_RANGES))
def test_boundaries_are_accepted_and_one_step_past_is_refused(key):
    lo, hi = SLIDER_RANGES[key]
    img = _random_image(8, 8)
    for value in (lo, hi):
        assert R.normalize_params({key: value})[key] == value
        out = apply_adjustments(img, {key: value})
        assert out.dtype == np.float32 and out.shape == img.shape
        assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
        assert np.abs(out - img).max() > 0.01  # the end of the range really moves the image
    for value in (lo - 0.01, hi + 0.01):
        message = f"parameter '{key}' must lie in [{lo}, {hi}], got {value}"
        with pytest.raises(EngineInputError, match=re.escape(message)):
            apply_adjustments(img, {key: value})
        with pytest.raises(EngineInputError, match=re.escape(message)):
            engines.create("adjust").run({"image": img}, {key: value})


def test_tone_curve_boundaries():
    img = _random_image(8, 8)
    corners = [[0.0, 0.0], [1.0, 1.0]]
    np.testing.assert_array_equal(apply_adjustments(img, {"tone_curve": corners}), img)
    most = [[i / 63, (i / 63) ** 2] for i in range(R.MAX_CURVE_POINTS)]
    assert len(R.normalize_params({"tone_curve": most})["tone_curve"]) == R.MAX_CURVE_POINTS
    assert np.isfinite(apply_adjustments(img, {"tone_curve": most})).all()
    too_many = most + [[0.999, 0.99]]
    with pytest.raises(EngineInputError, match="'tone_curve' allows at most 64 points"):
        apply_adjustments(img, {"tone_curve": too_many})
    with pytest.raises(EngineInputError, match=re.escape("'tone_curve': control points must lie in [0, 1]")):
        apply_adjustments(img, {"tone_curve": [[1.01, 1.0]]})


@pytest.mark.parametrize("image", [np.zeros((4, 4)), np.zeros((4, 4, 4)), np.zeros((0, 4, 3)),
                                   np.zeros((4, 4, 3), dtype=np.uint8)])
def test_bad_image_shape_raises(image):
    with pytest.raises(EngineInputError):
        apply_adjustments(image, {})


def test_registered_engine_runs_and_reports_progress():
    assert "adjust" in engines.names()
    spec = engines.spec("adjust")
    assert spec.queue == "cpu" and spec.inputs == ("image",) and spec.outputs == ("image",)
    for key, decl in spec.params.items():
        assert decl["default"] == IDENTITY_PARAMS[key]
    engine = engines.create("adjust")
    calls = []
    img = _random_image(9, 11)
    result = engine.run({"image": img}, {"exposure": 1.0}, progress=calls.append)
    assert result["image"].dtype == np.float32 and result["image"].shape == img.shape
    assert calls and calls[-1] == 1.0
    with pytest.raises(EngineInputError):
        engine.run({}, {})


def test_progress_is_throttled_on_many_tiles(monkeypatch):
    monkeypatch.setattr(R, "_TILE_PIXELS", 1)  # one row per tile: 300 tiles
    calls = []
    apply_adjustments(_random_image(300, 4), {"exposure": 0.2}, progress=calls.append)
    assert len(calls) == 100 and calls[-1] == 1.0 and calls == sorted(calls)


def test_thread_pool_is_recreated_after_fork(monkeypatch):
    first = R._pool()
    assert R._pool() is first
    monkeypatch.setattr(R.os, "getpid", lambda: -1)
    assert R._pool() is not first


def test_non_contiguous_input_gives_the_same_result():
    img = _random_image(23, 31, seed=9)
    fortran = np.asfortranarray(img)
    strided = np.ascontiguousarray(np.repeat(img, 2, axis=1))[:, ::2]
    expected = apply_adjustments(img, TYPICAL)
    for variant in (fortran, strided, img.transpose(1, 0, 2).copy().transpose(1, 0, 2)):
        np.testing.assert_array_equal(apply_adjustments(variant, TYPICAL), expected)


# ---- render_codes: the same renderer on 8/16-bit code values (the dataset export's path) ----------

_CODE_CASES = [
    {}, {"exposure": 0.4}, {"exposure": 2.0, "whites": 80},  # stage 1 alone (straight table look-up)
    {"saturation": 30}, {"vibrance": -40, "saturation": 10},  # colour stage
    {"texture": 50}, {"clarity": -30, "exposure": 0.2}, {"dehaze": 40, "vibrance": 30},  # local maps
    {"texture": 20, "clarity": 20, "dehaze": -30, "saturation": -20, "contrast": 30},
    {"tone_curve": [[0.2, 0.3], [0.8, 0.7]], "temperature": 40, "tint": -20},
]


@pytest.mark.parametrize("params", _CODE_CASES, ids=lambda p: ",".join(p) or "identity")
@pytest.mark.parametrize(("dtype", "bits"), [(np.uint8, 8), (np.uint16, 16), (np.uint16, 8)])
def test_render_codes_equals_quantising_the_float_render(params, dtype, bits):
    from inference.imagefiles import quantise

    top = np.iinfo(dtype).max
    codes = quantise(_random_image(41, 67, lo=-0.1, hi=1.1, seed=3), 8 if dtype == np.uint8 else 16)
    assert codes.dtype == dtype
    decoded = np.multiply(codes, np.float32(1 / top), dtype=np.float32)  # as inference.imageio scales codes
    out = R.render_codes(codes, params, bits=bits)
    assert out.dtype == (np.uint8 if bits == 8 else np.uint16)
    assert np.array_equal(out, quantise(apply_adjustments(decoded, params), bits))


def test_render_codes_renders_into_a_given_array_and_refuses_bad_input():
    codes = (_random_image(20, 30) * 255).astype(np.uint8)
    out = np.zeros_like(codes)
    assert R.render_codes(codes, {"exposure": 0.5, "saturation": 20}, out=out) is out
    assert np.array_equal(out, R.render_codes(codes, {"exposure": 0.5, "saturation": 20}))
    with pytest.raises(EngineInputError, match="out must be a C-contiguous 20×30×3 uint8 array"):
        R.render_codes(codes, {}, out=np.zeros((20, 30, 3), np.uint16))
    with pytest.raises(EngineInputError, match="codes must be uint8 or uint16"):
        R.render_codes(codes.astype(np.float32), {})
    with pytest.raises(EngineInputError, match="bits must be 8 or 16"):
        R.render_codes(codes, {}, bits=12)
