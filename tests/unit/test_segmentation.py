"""Click encoding, geodesic click segmentation, feathering and face-seeded person masks."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from inference.clicks import Click, click_maps, disk_map, parse_clicks, scale_clicks
from inference.colour import srgb_to_lab
from inference.engines import EngineInputError
from inference.people import body_box, detect_faces, person_mask
from inference.segmentation import (
    SuperpixelGraph,
    feather_mask,
    geodesic_click_segmentation,
    guided_filter,
    working_size,
)


def test_disk_maps_have_radius_three():
    m = disk_map([Click(10, 10, True)], 21, 21)
    assert m.sum() == 29  # lattice points with dx² + dy² ≤ 9
    assert m[10, 13] == 1 and m[10, 14] == 0 and m[12, 12] == 1 and m[13, 12] == 0
    gp, gn = click_maps([Click(5, 5, True), Click(15, 15, False)], 21, 21)
    assert gp[5, 5] == 1 and gp[15, 15] == 0 and gn[15, 15] == 1
    edge = disk_map([Click(0, 0, True)], 10, 10)  # clipped at the border, no wrap-around
    assert edge.sum() == 11 and edge[9, 9] == 0


def test_parse_and_scale_clicks():
    clicks = parse_clicks([{"x": 0, "y": 0, "positive": True}, {"x": 99.5, "y": 49, "positive": False}], 100, 50)
    assert clicks[1] == Click(99.5, 49.0, False)
    scaled = scale_clicks(clicks, 0.5, 0.5, 50, 25)
    assert scaled[0].x == 0 and scaled[1].x == pytest.approx(49.0) and scaled[1].y == pytest.approx(24.0)
    assert parse_clicks(None, 10, 10) == []
    with pytest.raises(EngineInputError, match="outside"):
        parse_clicks([{"x": 100, "y": 0}], 100, 50)
    with pytest.raises(EngineInputError, match="finite"):
        parse_clicks([{"x": float("nan"), "y": 0}], 100, 50)
    with pytest.raises(EngineInputError, match="too many"):
        parse_clicks([{"x": 1, "y": 1}] * 100, 100, 50)


def test_working_size():
    assert working_size(4000, 6000) == (360, 540)
    assert working_size(200, 300) == (200, 300)


def test_guided_filter_and_feather():
    guide = np.random.default_rng(0).uniform(0, 1, (50, 60)).astype(np.float32)
    const = np.full((50, 60), 0.7, np.float32)
    np.testing.assert_allclose(guided_filter(guide, const, 4, 1e-3), const, atol=1e-4)
    step = np.zeros((50, 60), np.float32)
    step[:, 30:] = 1
    f = feather_mask(step, None, radius=4)
    assert 0 <= f.min() and f.max() <= 1
    assert np.abs(np.diff(f, axis=1)).max() < 0.35  # the step is spread over several pixels
    assert f[:, :20].max() < 0.01 and f[:, 40:].min() > 0.99


def test_geodesic_segmentation_follows_colour_regions():
    img = np.full((120, 160, 3), 0.8, np.float32)
    img[30:90, 20:70] = (0.8, 0.2, 0.2)
    img[30:90, 90:140] = (0.2, 0.2, 0.8)
    graph = SuperpixelGraph.build(img, srgb_to_lab(img), n_segments=200)
    pos = graph.labels_under(disk_map([Click(45, 60, True)], 120, 160))
    neg = graph.labels_under(disk_map([Click(115, 60, False)], 120, 160))
    border = np.flatnonzero(graph.border)
    emph, negm = geodesic_click_segmentation(graph, pos, neg, border, scale_px=100)
    e, n = emph[graph.labels], negm[graph.labels]
    assert e[35:85, 25:65].mean() > 0.95 and e[:, 80:].max() < 0.05 and e[:20].max() < 0.05
    assert n[35:85, 95:135].mean() > 0.95 and n[35:85, 25:65].max() < 0.05


def test_person_mask_on_the_astronaut():
    img = data.astronaut().astype(np.float32) / 255
    faces = detect_faces(img)
    assert len(faces) == 1
    x0, y0, x1, y1 = body_box(faces[0], 512, 512)
    assert x0 < faces[0].x0 and x1 > faces[0].x1 and y1 > faces[0].y1 + 3 * faces[0].h
    m = person_mask(img, faces)
    assert m.shape == (512, 512)
    assert m[100:140, 200:250].mean() > 0.9  # face
    assert m[300:400, 150:300].mean() > 0.6  # suit below the face
    assert m[:100, 400:].mean() < 0.05  # background top right
    assert person_mask(img, []).max() == 0


def test_no_false_faces_on_plain_texture():
    rng = np.random.default_rng(0)
    img = np.clip(0.5 + 0.05 * rng.normal(size=(300, 400, 3)), 0, 1).astype(np.float32)
    assert detect_faces(img) == []
