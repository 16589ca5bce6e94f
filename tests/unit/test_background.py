"""``background.replace`` and its placement search on scenes with a known horizon and people of a
known size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from devtools.bench.engines import meadow
from inference import engines, placement
from inference.engines.background import BackgroundEngine
from inference.interface import EngineInputError

HORIZON = 256  # of the 960×640 scene


def scene(width=960, height=640) -> np.ndarray:
    """A light sky over textured grass meeting at row ``HORIZON``."""
    return meadow(width, height, HORIZON)


def figure(width=300, height=600, top=40, feet=570, crop_at=None):
    """A standing person (head, body, legs) with its mask; ``crop_at`` cuts the portrait there."""
    img = np.full((height, width, 3), 0.8, np.float32)
    mask = np.zeros((height, width), np.float32)
    cx, tall = width // 2, feet - top
    head = int(tall * 0.065)
    cv2.circle(mask, (cx, top + head), head, 1, -1)
    cv2.rectangle(mask, (cx - int(tall * 0.12), top + 2 * head), (cx + int(tall * 0.12), top + tall // 2), 1, -1)
    cv2.rectangle(mask, (cx - int(tall * 0.1), top + tall // 2), (cx - 5, feet), 1, -1)
    cv2.rectangle(mask, (cx + 5, top + tall // 2), (cx + int(tall * 0.1), feet), 1, -1)
    img[mask > 0] = (0.75, 0.45, 0.35)
    if crop_at is not None:
        img, mask = img[:crop_at], mask[:crop_at]
    return img, mask


@pytest.fixture(scope="module")
def auto():
    image, mask = figure()
    return BackgroundEngine().run({"image": image, "background": scene(), "mask": mask}, {})


def test_the_horizon_of_the_scene_is_found():
    found = placement.analyse_background(scene())
    assert abs(found.horizon / found.scale - HORIZON) < 0.02 * 640
    assert found.horizon_source == "horizontal boundary" and found.horizon_confidence > 0.9


def test_the_person_stands_on_the_ground_at_a_plausible_size(auto):
    info = auto["info"]
    assert info["placement"]["mode"] == "auto" and len(info["candidates"]) == 5
    scores = [c["score"] for c in info["candidates"]]
    assert scores == sorted(scores, reverse=True) and [c["rank"] for c in info["candidates"]] == [1, 2, 3, 4, 5]
    for c in info["candidates"]:
        assert set(c["terms"]) == set(placement.TERMS) and c["terms"]["people"] is None  # no faces in the scene
        assert all(0.0 <= v <= 1.0 for v in c["terms"].values() if v is not None)
        x0, y0, x1, y1 = c["box"]
        feet = y1
        assert HORIZON + 20 < feet <= 640 + 0.3 * (y1 - y0)  # on the grass (or cut by the frame's bottom)
        # an eye-level camera: standing height ≈ K × (feet − horizon), within 30 %
        assert (y1 - y0) / (placement.K_CAMERA * (feet - HORIZON)) == pytest.approx(1.0, abs=0.3)
        assert c["terms"]["support"] > 0.9 and c["terms"]["scale"] > 0.8
    # the matte is where the best candidate's box says, and the person is visible there
    best = info["candidates"][0]
    ys, xs = np.nonzero(auto["mask"] > 0.5)
    assert abs(xs.min() - best["box"][0]) <= 3 and abs(ys.min() - best["box"][1]) <= 3
    assert auto["image"].shape == (640, 960, 3)


def test_a_forced_placement_lands_exactly_there():
    image, mask = figure()
    bg = scene()
    result = BackgroundEngine().run({"image": image, "background": bg, "mask": mask},
                                    {"placement": {"x": 100, "y": 200, "scale": 0.5}, "harmonize": False})
    box = result["info"]["placement"]
    assert (box["x"], box["y"], box["scale"], box["mode"]) == (100, 200, 0.5, "forced")
    px0, py0, px1, py1 = result["info"]["person"]["box"]
    ys, xs = np.nonzero(result["mask"] > 0.5)
    assert (xs.min(), ys.min()) == (100, 200)
    assert xs.max() + 1 - 100 == pytest.approx((px1 - px0) * 0.5, abs=1)
    assert ys.max() + 1 - 200 == pytest.approx((py1 - py0) * 0.5, abs=1)
    assert len(result["info"]["candidates"]) == 1 and "surface" not in result["info"]
    # untouched outside the person (no harmonisation asked for), the figure's colour inside
    outside = cv2.dilate((result["mask"] > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) == 0
    assert np.array_equal(result["image"][outside], bg[outside])
    core = cv2.erode((result["mask"] > 0.99).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.abs(result["image"][core] - np.array([0.75, 0.45, 0.35])).max() < 0.02


def test_a_person_cut_off_at_the_bottom_reaches_the_bottom_edge():
    image, mask = figure(crop_at=330)  # a half-length portrait
    result = BackgroundEngine().run({"image": image, "background": scene(), "mask": mask}, {"harmonize": False})
    assert result["info"]["person"]["cropped"]["bottom"]
    for c in result["info"]["candidates"]:
        assert c["box"][3] >= 640 - 3, c  # no floating torso
    ys, _ = np.nonzero(result["mask"] > 0.5)
    assert ys.max() == 639


def test_the_search_keeps_off_a_salient_object():
    bg = scene()
    bg[420:600, 380:580] = (0.9, 0.1, 0.1)  # a big red box on the grass
    image, mask = figure()
    result = BackgroundEngine().run({"image": image, "background": bg, "mask": mask}, {"harmonize": False})
    x0, y0, x1, y1 = result["info"]["candidates"][0]["box"]
    assert x1 <= 380 or x0 >= 580 or y1 <= 420, result["info"]["candidates"][0]


def test_harmonisation_moves_the_person_towards_the_scene():
    image, mask = figure()
    bg = scene()
    where = {"placement": {"x": 400, "y": 250, "scale": 0.6}}
    plain = BackgroundEngine().run({"image": image, "background": bg, "mask": mask}, {**where, "harmonize": False})
    tuned = BackgroundEngine().run({"image": image, "background": bg, "mask": mask}, where)
    assert tuned["info"]["harmonized"] and not plain["info"]["harmonized"]
    inside = tuned["mask"] > 0.99
    around = bg[200:640, 300:700].reshape(-1, 3).mean(axis=0)
    assert np.abs(tuned["image"][inside].mean(axis=0) - around).sum() < \
        np.abs(plain["image"][inside].mean(axis=0) - around).sum()


def test_the_score_surface_is_sent_for_the_page(auto):
    import base64

    surface = auto["info"]["surface"]
    data = np.frombuffer(base64.b64decode(surface["data"]), np.uint8).reshape(surface["shape"])
    assert surface["terms"][0] == "total" and data.shape[0] == len(surface["terms"])
    assert data.shape[1:] == (len(surface["heights"]), len(surface["bottoms"]), len(surface["centres"]))
    assert data[0].max() >= 200  # good places exist


@pytest.mark.parametrize(("params", "message"), [
    ({"placement": "centre"}, 'placement must be "auto" or'),
    ({"placement": {"x": 1, "y": 2}}, 'placement must be "auto" or'),
    ({"placement": {"x": 1, "y": "2", "scale": 1}}, "placement 'y' must be a finite number"),
    ({"placement": {"x": 1, "y": 2, "scale": 0}}, "placement scale must lie in"),
    ({"candidates": 11}, "must lie in"),
])
def test_bad_params_are_refused_before_running(params, message):
    with pytest.raises(EngineInputError, match=message):
        engines.validate_params(engines.spec("background.replace"), params)


def test_bad_inputs():
    image, mask = figure()
    engine = BackgroundEngine()
    with pytest.raises(EngineInputError, match="No person was found"):
        engine.run({"image": np.full((200, 200, 3), 0.5, np.float32), "background": scene()}, {})
    with pytest.raises(EngineInputError, match=r"The background is too small \(100×80\)"):
        engine.run({"image": image, "background": scene()[:80, :100], "mask": mask}, {})
    with pytest.raises(EngineInputError, match="is empty"):
        engine.run({"image": image, "background": scene(), "mask": np.zeros_like(mask)}, {})
    with pytest.raises(EngineInputError, match="background is required"):
        engine.run({"image": image, "mask": mask}, {})
    with pytest.raises(EngineInputError, match="does not overlap"):
        engine.run({"image": image, "background": scene(), "mask": mask},
                   {"placement": {"x": 5000, "y": 0, "scale": 1}})
