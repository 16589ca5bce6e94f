"""The browser preview's neighbourhood sliders (texture, clarity, dehaze) against the server's
renderer: same 8-bit image, ΔE76 mean < 0.5 and 99th percentile < 1 (docs/adjustments.md, stage 1b)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.colour import delta_e76
from inference.render import apply_adjustments
from tests.browser import test_adjust_preview as shared

# The page with the preview module, the static server behind it and the no-Django override are the
# preview test's fixtures.
static_server, preview_page, _media_in_tmp = shared.static_server, shared.preview_page, shared._media_in_tmp
_test_image = shared._test_image

pytestmark = pytest.mark.browser

LOCAL_SETS = [
    {"texture": 70},
    {"texture": -100, "exposure": 0.3},
    {"clarity": 60, "contrast": 20},
    {"clarity": -100, "saturation": 30},
    {"dehaze": 80},
    {"dehaze": -70, "vibrance": 50},
    {"texture": 40, "clarity": 35, "dehaze": 25, "exposure": 0.4, "temperature": 15, "highlights": -30,
     "shadows": 20, "vibrance": 20, "tone_curve": [[0.25, 0.22], [0.75, 0.8]]},
    {"texture": 100, "clarity": 100, "dehaze": 100, "exposure": 2, "whites": 50},
    # every pair of maps, and texture with the colour stage: each has its own kernel loop
    {"texture": 60, "clarity": -40},
    {"texture": -50, "dehaze": 60},
    {"clarity": 45, "dehaze": -40},
    {"texture": 80, "saturation": -40, "vibrance": 30},
]


def _portrait(h=96, w=128, seed=7) -> np.ndarray:
    """Smooth areas, edges and fine noise (random pixels alone have no 'local' structure)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    rgb = np.stack([0.25 + 0.6 * xx, 0.3 + 0.5 * yy, 0.7 - 0.4 * xx], axis=-1)
    rgb[(yy - 0.5) ** 2 + (xx - 0.45) ** 2 < 0.06] *= 0.55
    rgb = np.clip(rgb + 0.05 * rng.standard_normal((h, w, 3)), 0, 1)
    rgba = np.concatenate([np.round(rgb * 255).astype(np.uint8), np.full((h, w, 1), 255, np.uint8)], axis=2)
    return rgba


def _run(page, rgba: np.ndarray, params: dict) -> np.ndarray:
    h, w = rgba.shape[:2]
    flat = page.evaluate(
        "([data, params, w, h]) => Array.from(window.adjustPreview.applyAdjustments("
        "Uint8ClampedArray.from(data), params, {width: w, height: h}))",
        [rgba.reshape(-1).tolist(), params, w, h])
    return np.asarray(flat, dtype=np.uint8).reshape(rgba.shape)


@pytest.mark.parametrize("image", ["portrait", "random"])
@pytest.mark.parametrize("params", LOCAL_SETS, ids=[f"local{i}" for i in range(len(LOCAL_SETS))])
def test_local_sliders_preview_matches_server(preview_page, params, image):
    rgba = _portrait() if image == "portrait" else _test_image()
    server = apply_adjustments(rgba[..., :3].astype(np.float32) / 255, params)
    preview = _run(preview_page, rgba, params)
    np.testing.assert_array_equal(preview[..., 3], rgba[..., 3])
    de = delta_e76(preview[..., :3].astype(np.float32) / 255, server)
    assert float(de.mean()) < 0.5, (params, float(de.mean()))
    assert float(np.percentile(de, 99)) < 1.0, (params, float(np.percentile(de, 99)))
    # The sliders did something, and the preview followed.
    assert float(delta_e76(server, rgba[..., :3].astype(np.float32) / 255).mean()) > 1.0


def test_local_sliders_need_the_image_size(preview_page):
    message = preview_page.evaluate(
        "() => { try { window.adjustPreview.applyAdjustments(new Uint8ClampedArray(16), {clarity: 10}); }"
        " catch (e) { return e.message; } return 'no error'; }")
    assert "image size" in message
    box = preview_page.evaluate(
        "() => Array.from(window.adjustPreview.boxMean(Float32Array.from([1, 2, 3, 4, 5, 6]), 3, 2, 1))")
    # 3×2 image, radius 1, reflect-101 borders: row means then column means (OpenCV's blur).
    import cv2

    expected = cv2.blur(np.array([[1, 2, 3], [4, 5, 6]], np.float32), (3, 3), borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(box, expected.reshape(-1), atol=1e-6)
