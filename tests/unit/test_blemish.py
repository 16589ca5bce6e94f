"""``retouch.blemish`` on the astronaut with painted spots of known place, size and colour."""

from __future__ import annotations

import numpy as np
import pytest

from devtools.bench.engines import SPOTS
from devtools.bench.engines import paint_spots as paint
from inference import engines
from inference.colour import delta_e76
from inference.engines.blemish import BlemishEngine
from inference.interface import EngineInputError

SMALL = SPOTS  # ten spots of 3–5 px
LARGE = [(192, 122, 8, "red"), (246, 122, 7, "dark"), (222, 164, 6, "dark")]
LARGE_SWAPPED = [(192, 122, 7, "dark"), (244, 121, 8, "red"), (222, 164, 6, "red")]
LAYOUTS = [SMALL, LARGE, LARGE_SWAPPED]
FACE = (177, 67, 270, 160)  # the sample's Haar face box


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    from skimage import data

    return data.astronaut().astype(np.float32) / 255.0


def disk(shape, x, y, r) -> np.ndarray:
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return np.hypot(xx - x, yy - y) <= r


@pytest.fixture(scope="module")
def runs(clean):
    engine = BlemishEngine()
    out = []
    for layout in LAYOUTS:
        painted = paint(clean, layout)
        out.append((layout, painted, engine.run({"image": painted}, {})))
    return out


def test_painted_spots_are_found(runs):
    matched = detected = hits = total = 0
    for layout, _, result in runs:
        spots = result["info"]["spots"]
        assert all(s["source"] == "detected" and not s["protected"] for s in spots)
        found = {i for s in spots for i, (x, y, r, _) in enumerate(layout) if np.hypot(s["x"] - x, s["y"] - y) <= max(r, 3)}
        hits += sum(any(np.hypot(s["x"] - x, s["y"] - y) <= max(r, 3) for x, y, r, _ in layout) for s in spots)
        matched, detected, total = matched + len(found), detected + len(spots), total + len(layout)
    assert matched / total >= 0.9, f"recall {matched}/{total}"
    assert hits / detected >= 0.8, f"precision {hits}/{detected}"


def test_spots_are_removed_and_nothing_outside_the_face_changes(runs, clean):
    before = after = 0.0
    for _, painted, result in runs:
        spotted = delta_e76(painted, clean) > 2  # the painted pixels
        before += float(delta_e76(painted, clean)[spotted].sum())
        after += float(delta_e76(result["image"], clean)[spotted].sum())
        x0, y0, x1, y1 = FACE
        face = np.zeros(clean.shape[:2], bool)
        face[y0 - 47:y1 + 47, x0 - 47:x1 + 47] = True  # the face box and half its size around it
        assert float(delta_e76(result["image"], painted)[~face].max()) < 1.0
        assert result["mask"].shape == clean.shape[:2] and result["mask"][~face].max() == 0.0
    assert 1.0 - after / before >= 0.6, f"mean ΔE76 inside the spots fell by only {1 - after / before:.0%}"


def test_a_protected_spot_is_kept_and_the_others_removed(clean):
    painted = paint(clean, SMALL)
    x, y, r, _ = SMALL[2]
    result = BlemishEngine().run({"image": painted}, {"spots": [{"x": x + 1, "y": y, "remove": True}]})
    kept = disk(clean.shape, x, y, r)
    assert float(delta_e76(result["image"], painted)[kept].max()) < 0.5
    protected = [s for s in result["info"]["spots"] if s["protected"]]
    assert len(protected) == 1 and np.hypot(protected[0]["x"] - x, protected[0]["y"] - y) <= r
    others = disk(clean.shape, *SMALL[0][:3])
    assert delta_e76(result["image"], clean)[others].mean() < 0.5 * delta_e76(painted, clean)[others].mean()


def test_a_clicked_faint_spot_is_added(clean):
    spot = (200, 150, 4, "dark")
    painted = paint(clean, [spot], contrast=0.35)  # too faint for the detector
    engine = BlemishEngine()
    auto = engine.run({"image": painted}, {})
    assert not any(np.hypot(s["x"] - 200, s["y"] - 150) <= 4 for s in auto["info"]["spots"])
    clicked = engine.run({"image": painted}, {"spots": [{"x": 201, "y": 151}]})
    added = [s for s in clicked["info"]["spots"] if s["source"] == "added"]
    assert len(added) == 1
    inside = disk(clean.shape, 200, 150, 4)
    assert delta_e76(clicked["image"], clean)[inside].mean() < 0.6 * delta_e76(painted, clean)[inside].mean()


def test_strength_and_detail(clean):
    painted = paint(clean, SMALL[:3])
    engine = BlemishEngine()
    assert np.array_equal(engine.run({"image": painted}, {"strength": 0.0})["image"], painted)
    half = engine.run({"image": painted}, {"strength": 0.5})["image"]
    full = engine.run({"image": painted}, {"strength": 1.0})["image"]
    inside = disk(clean.shape, *SMALL[0][:3])
    assert delta_e76(full, clean)[inside].mean() < delta_e76(half, clean)[inside].mean() < \
        delta_e76(painted, clean)[inside].mean()
    smooth = engine.run({"image": painted}, {"detail": 0.0})["image"]
    assert not np.array_equal(smooth, full)  # texture from the surroundings is put back with detail > 0


def test_a_skin_mask_without_a_face_is_the_region(clean):
    patch = clean[100:180, 180:260].copy()  # cheeks and chin, too small for a face to be found
    painted = paint(patch, [(20, 30, 3, "red")])
    mask = np.zeros(patch.shape[:2], np.float32)
    mask[5:75, 5:75] = 1.0
    result = BlemishEngine().run({"image": painted, "mask": mask}, {})
    assert result["info"]["skin_source"] == "input"
    assert any(np.hypot(s["x"] - 20, s["y"] - 30) <= 3 for s in result["info"]["spots"])


def test_no_face_and_no_mask_changes_nothing(clean):
    sky = np.full((120, 160, 3), 0.6, np.float32)
    result = BlemishEngine().run({"image": sky}, {})
    assert np.array_equal(result["image"], sky) and result["info"]["faces_found"] == 0
    assert "No face" in result["info"]["note"]
    # a spot the user points at is still removed
    painted = paint(sky, [(80, 60, 5, "dark")])
    fixed = BlemishEngine().run({"image": painted}, {"spots": [{"x": 80, "y": 60, "r": 6}]})
    assert delta_e76(fixed["image"], sky)[55:66, 75:86].mean() < 0.3 * delta_e76(painted, sky)[55:66, 75:86].mean()


@pytest.mark.parametrize(("params", "message"), [
    ({"spots": {"x": 1}}, "spots must be a list"),
    ({"spots": [{"x": 1}]}, "spot 0 must be an object"),
    ({"spots": [{"x": 1, "y": True}]}, "'y' must be a finite number"),
    ({"spots": [{"x": 1, "y": 2, "remove": "yes"}]}, "'remove' must be true or false"),
    ({"spots": [{"x": 1, "y": 2, "colour": "red"}]}, "unknown key"),
    ({"spots": [{"x": 1, "y": 2, "r": 0}]}, "'r' must lie in"),
    ({"strength": 2}, "must lie in"),
])
def test_bad_params_are_refused_before_running(params, message):
    with pytest.raises(EngineInputError, match=message):
        engines.validate_params(engines.spec("retouch.blemish"), params)


def test_bad_inputs(clean):
    engine = BlemishEngine()
    with pytest.raises(EngineInputError, match="is empty"):
        engine.run({"image": clean, "mask": np.zeros(clean.shape[:2], np.float32)}, {})
    with pytest.raises(EngineInputError, match="lies outside the 512×512 image"):
        engine.run({"image": clean}, {"spots": [{"x": 600, "y": 10}]})
    with pytest.raises(EngineInputError, match="image is required"):
        engine.run({}, {})
