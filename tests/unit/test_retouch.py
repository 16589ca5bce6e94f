"""retouch.auto / retouch.interactive on synthetic scenes with known regions and on a real portrait."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage import data

from inference.colour import srgb_to_lab
from inference.engines import EngineInputError, retouch
from inference.engines.retouch import AutoRetouch, InteractiveRetouch, render
from inference.people import detect_faces

H, W = 480, 640
CENTRE_A, AXES_A = (200, 260), (80, 150)  # (x, y), (rx, ry): left "person"
CENTRE_B, AXES_B = (470, 250), (80, 150)  # right "person"


def ellipse(cx, cy, rx, ry, h=H, w=W):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0


def scene(seed=0):
    """Two dark, low-contrast 'people' on a mid-grey textured, slightly warm background."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (H // 8, W // 8)).astype(np.float32)
    import cv2
    tex = cv2.resize(noise, (W, H), interpolation=cv2.INTER_CUBIC) * 0.04
    img = np.empty((H, W, 3), np.float32)
    img[:] = (0.62, 0.58, 0.52)
    img += tex[..., None]
    a = ellipse(*CENTRE_A, *AXES_A)
    b = ellipse(*CENTRE_B, *AXES_B)
    img[a] = (0.32, 0.2, 0.15)
    img[b] = (0.12, 0.2, 0.34)
    img += rng.normal(0, 0.01, img.shape).astype(np.float32)
    return np.clip(img, 0, 1), a, b


def change(out, inp):
    return np.abs(out - inp).mean(axis=2)


def click(x, y, positive=True):
    return {"x": float(x), "y": float(y), "positive": positive}


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut().astype(np.float32) / 255.0


def test_haar_finds_the_astronauts_face(astronaut):
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    f = faces[0]
    cx, cy = (f.x0 + f.x1) / 2, (f.y0 + f.y1) / 2
    assert 190 < cx < 260 and 80 < cy < 150, f
    assert 60 < f.w < 140


def test_auto_on_portrait_finds_person_and_reports_json(astronaut):
    out = AutoRetouch().run({"image": astronaut}, {})
    assert out["image"].shape == astronaut.shape and out["image"].dtype == np.float32
    assert 0.0 <= out["image"].min() and out["image"].max() <= 1.0
    mask = out["mask"]
    assert mask.shape == astronaut.shape[:2] and mask.dtype == np.float32
    assert out["info"]["faces_found"] == 1
    json.dumps(out["info"])
    # the person region covers the face and not the top-right corner (the rocket backdrop)
    assert mask[100:140, 200:250].mean() > 0.8
    assert mask[:80, 420:].mean() < 0.1
    assert 0.08 < mask.mean() < 0.6


def test_auto_brightens_an_underexposed_person_using_the_mask():
    img, a, _ = scene()
    out = AutoRetouch().run({"image": img, "mask": a.astype(np.float32)}, {})
    assert out["info"]["params"]["exposure"] > 0.3
    l_before = srgb_to_lab(img)[a][:, 0].mean()
    l_after = srgb_to_lab(out["image"])[a][:, 0].mean()
    assert l_after > l_before + 8
    assert out["info"]["mask_source"] == "input"


def test_auto_strength_zero_is_identity(astronaut):
    out = AutoRetouch().run({"image": astronaut}, {"strength": 0.0})
    assert np.abs(out["image"] - astronaut).max() < 2e-4


@pytest.fixture(scope="module")
def engine():
    return InteractiveRetouch()


@pytest.fixture(scope="module")
def prepared(engine):
    img, a, b = scene()
    return img, a, b, engine.prepare(img)


def _interior(m, px=12):
    import cv2
    return cv2.erode(m.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def _exterior(m, px=25):
    import cv2
    return cv2.dilate(m.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) == 0


def test_positive_click_emphasises_the_clicked_person(engine, prepared):
    img, a, b, state = prepared
    out = engine.run_clicks(state, [click(*CENTRE_A)], {}, full_image=img)
    d = change(out["image"], img)
    bg = _exterior(a | b)
    in_a, in_b, in_bg = d[_interior(a)].mean(), d[_interior(b)].mean(), d[bg].mean()
    assert in_a > 3 * in_bg and in_a > 3 * in_b, (in_a, in_b, in_bg)
    m = out["mask"]
    assert m.shape == (H, W) and m[_interior(a)].mean() > 0.9 and m[bg].mean() < 0.1
    assert m[_interior(b)].mean() < 0.1


def test_negative_click_reduces_change_there(engine, prepared):
    img, a, b, state = prepared
    pos_only = engine.run_clicks(state, [click(*CENTRE_A)], {}, full_image=img)
    with_neg = engine.run_clicks(state, [click(*CENTRE_A), click(*CENTRE_B, False)], {}, full_image=img)
    d_before = change(pos_only["image"], img)[_interior(b)].mean()
    d_after = change(with_neg["image"], img)[_interior(b)].mean()
    assert d_before > 0.005
    assert d_after < 0.3 * d_before, (d_before, d_after)
    # the emphasised person is still retouched
    assert change(with_neg["image"], img)[_interior(a)].mean() > 0.03


def test_no_seam_at_the_region_border(engine, prepared):
    import cv2
    img, a, b, state = prepared
    params = {"strength": 0.8, "background": 0.0}
    out = engine.run_clicks(state, [click(*CENTRE_A)], params, full_image=img)
    full = render(img, out["info"]["params"])
    hard = img + 0.8 * (out["mask"] > 0.5)[..., None] * (full - img)
    edge = (out["mask"] > 0.5).astype(np.uint8)
    band = (cv2.dilate(edge, np.ones((9, 9), np.uint8)) - cv2.erode(edge, np.ones((9, 9), np.uint8))) > 0

    def grad_energy(x):
        d = (x - img).mean(axis=2)
        gy, gx = np.gradient(d)
        return np.hypot(gx, gy)[band]

    soft_g, hard_g = grad_energy(out["image"]), grad_energy(hard)
    # a step and a ramp have the same total variation; a seam shows up as gradient *energy*
    # (mean squared gradient) and as a large peak gradient
    soft_e, hard_e = (soft_g ** 2).mean(), (hard_g ** 2).mean()
    assert hard_g.max() > 0.02  # the hard blend really does have a visible step
    assert soft_e < 0.2 * hard_e, (soft_e, hard_e)
    assert soft_g.max() < 0.6 * hard_g.max(), (soft_g.max(), hard_g.max())


def test_cached_state_equals_run_from_scratch(engine, prepared):
    img, a, b, state = prepared
    clicks = [click(*CENTRE_A), click(600, 40, False)]
    engine.run_clicks(state, [click(*CENTRE_B)], {})  # another click round on the same state first
    cached = engine.run_clicks(state, clicks, {"strength": 0.6}, full_image=img)
    fresh = engine.run({"image": img, "clicks": clicks}, {"strength": 0.6})
    np.testing.assert_array_equal(cached["image"], fresh["image"])
    np.testing.assert_array_equal(cached["mask"], fresh["mask"])
    assert cached["info"]["params"] == fresh["info"]["params"]


def test_preview_is_at_working_resolution(engine, prepared):
    img, a, b, state = prepared
    out = engine.run_clicks(state, [click(*CENTRE_A)], {})
    assert out["image"].shape == (360, 480, 3) and out["mask"].shape == (360, 480)
    json.dumps(out["info"])


def test_clicks_are_read_in_original_pixels():
    import cv2
    img, a, b = scene(1)
    big = cv2.resize(img, (W * 2, H * 2), interpolation=cv2.INTER_NEAREST)
    eng = InteractiveRetouch()
    state = eng.prepare(big)
    out = eng.run_clicks(state, [click(CENTRE_B[0] * 2, CENTRE_B[1] * 2)], {})
    m = cv2.resize(out["mask"], (W, H))
    assert m[_interior(b)].mean() > 0.9 and m[_interior(a)].mean() < 0.1


def test_no_clicks_emphasises_the_given_people_mask(engine):
    img, a, b = scene(2)
    out = engine.run({"image": img, "clicks": [], "mask": b.astype(np.float32)}, {})
    d = change(out["image"], img)
    assert d[_interior(b)].mean() > 2 * d[_exterior(a | b)].mean()


def test_run_clicks_reuses_the_prepared_state(engine, prepared, monkeypatch):
    """A click round redoes no click-independent work, and a repeated round re-uses its render.

    What makes ``run_clicks`` cheap, asserted by counting work instead of timing it (speed is
    measured by the interactive benchmark, not by unit tests)."""
    img, a, b, state = prepared

    def refuse(*args, **kwargs):
        raise AssertionError("run_clicks redid click-independent work")

    for name in ("detect_faces", "person_mask"):
        monkeypatch.setattr(retouch, name, refuse)
    monkeypatch.setattr(retouch.SuperpixelGraph, "build", refuse)
    renders = []
    real_render = retouch.apply_adjustments

    def counting_render(image, params):
        renders.append(params)
        return real_render(image, params)

    monkeypatch.setattr(retouch, "apply_adjustments", counting_render)
    state.renders.clear()
    clicks = [click(*CENTRE_A), click(*CENTRE_B, False)]
    first = engine.run_clicks(state, clicks, {"strength": 0.5})
    assert len(renders) == 1
    again = engine.run_clicks(state, clicks, {"strength": 0.5})
    assert len(renders) == 1  # same clicks → same correction → the cached render
    np.testing.assert_array_equal(again["image"], first["image"])
    stronger = engine.run_clicks(state, clicks, {"strength": 0.9})
    assert len(renders) == 1  # strength only changes the blend, not the render
    assert change(stronger["image"], first["image"]).mean() > 0
    engine.run_clicks(state, [click(*CENTRE_B)], {})
    assert len(renders) == 2  # another region → another correction → one new render


@pytest.mark.parametrize("clicks, message", [
    ([{"x": 700, "y": 10, "positive": True}], "outside"),
    ([{"x": -1, "y": 10, "positive": True}], "outside"),
    ([{"x": "a", "y": 10}], "numbers"),
    ([{"x": 10, "y": 10, "positive": "yes"}], "positive"),
    ("nope", "list"),
])
def test_invalid_clicks_are_rejected(engine, prepared, clicks, message):
    img, a, b, state = prepared
    with pytest.raises(EngineInputError, match=message):
        engine.run_clicks(state, clicks, {})


def test_invalid_inputs_are_rejected(engine):
    img, a, b = scene()
    with pytest.raises(EngineInputError, match="clicks"):
        engine.run({"image": img}, {})
    with pytest.raises(EngineInputError, match="H×W×3"):
        engine.run({"image": img[..., 0], "clicks": []}, {})
    with pytest.raises(EngineInputError, match="match the image"):
        AutoRetouch().run({"image": img, "mask": a[:10]}, {})
    with pytest.raises(EngineInputError, match="strength"):
        AutoRetouch().run({"image": img}, {"strength": 2.0})
