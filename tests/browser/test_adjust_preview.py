"""The browser preview (frontend/static/js/adjust-preview.js) matches the server's renderer
(``inference/render.py``, behind the ``adjust`` engine).

Both run on the same 8-bit image; the preview's 8-bit output must be within ΔE76 mean < 0.5 and
99th percentile < 1.0 of the server's float result.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from inference.colour import delta_e76
from inference.render import apply_adjustments, tone_curve_function

STATIC = Path(__file__).resolve().parents[2] / "frontend" / "static"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser

PARAM_SETS = [
    {},
    {"exposure": 0.7, "contrast": 30},
    {"exposure": -1.3, "shadows": 60, "blacks": 25},
    {"highlights": -80, "whites": -40, "exposure": 1.5},
    {"temperature": 45, "tint": -30, "vibrance": 50},
    {"temperature": -80, "tint": 60, "saturation": -60},
    {"saturation": -100},
    {"contrast": -70, "vibrance": -100, "saturation": 40},
    {"exposure": 0.4, "contrast": 25, "highlights": -40, "shadows": 30, "whites": 10, "blacks": -10,
     "temperature": 15, "tint": 5, "vibrance": 30, "saturation": 10,
     "tone_curve": [[0.25, 0.22], [0.75, 0.8]]},
    {"tone_curve": [[0.0, 0.1], [0.3, 0.5], [0.6, 0.55], [1.0, 0.9]], "exposure": 5, "contrast": 100},
    {"tone_curve": [[0.5, 0.2]], "exposure": -5, "whites": 100, "blacks": -100, "vibrance": 100},
]


@pytest.fixture(autouse=True)
def _media_in_tmp():
    """Overrides the suite-wide autouse fixture that needs pytest-django: no Django here."""
    yield


@pytest.fixture(scope="module")
def static_server():
    handler = functools.partial(_QuietHandler, directory=str(STATIC))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


@pytest.fixture(scope="module")
def preview_page(chromium, static_server):
    # the suite's one browser (tests/conftest.py): a second Playwright in one process cannot start
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(static_server + "/")  # same origin as the module: dynamic import needs no CORS
    # With the SIMD kernel loaded (what the editors render with; test_preview_wasm.py holds the JS
    # loops to it), not whichever happened to be ready when a test ran.
    loaded = page.evaluate("async (url) => { window.adjustPreview = await import(url); return window.adjustPreview.loadKernel(); }",
                           static_server + "/js/adjust-preview.js")
    assert loaded is True
    yield page
    assert not errors, errors
    context.close()


def _test_image(h=48, w=64, seed=1234) -> np.ndarray:
    """Random 8-bit colours plus a grey ramp and the extremes, as H×W×4 RGBA uint8."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    rgb[0, :, :] = np.linspace(0, 255, w).round().astype(np.uint8)[:, None]
    rgb[1, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255],
                  [255, 255, 0], [0, 255, 255], [255, 0, 255]]
    alpha = rng.integers(0, 256, size=(h, w, 1), dtype=np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


def _run_preview(page, rgba: np.ndarray, params: dict) -> np.ndarray:
    flat = page.evaluate(
        "([data, params]) => Array.from("
        "window.adjustPreview.applyAdjustments(Uint8ClampedArray.from(data), params))",
        [rgba.reshape(-1).tolist(), params])
    return np.asarray(flat, dtype=np.uint8).reshape(rgba.shape)


@pytest.mark.parametrize("params", PARAM_SETS, ids=[f"set{i}" for i in range(len(PARAM_SETS))])
def test_preview_matches_server_within_delta_e(preview_page, params):
    rgba = _test_image()
    server = apply_adjustments(rgba[..., :3].astype(np.float32) / 255, params)
    preview = _run_preview(preview_page, rgba, params)
    assert preview.dtype == np.uint8 and preview.shape == rgba.shape
    np.testing.assert_array_equal(preview[..., 3], rgba[..., 3])  # alpha passes through
    de = delta_e76(preview[..., :3].astype(np.float32) / 255, server)
    assert float(de.mean()) < 0.5, (params, float(de.mean()))
    assert float(np.percentile(de, 99)) < 1.0, (params, float(np.percentile(de, 99)))
    assert float(de.max()) < 2.0, (params, float(de.max()))
    # Same formulas, so the only difference should be the preview's rounding to 8 bits.
    codes = np.abs(preview[..., :3].astype(np.int16) - np.round(server * 255).astype(np.int16))
    assert int(codes.max()) <= 1, params


def test_preview_moves_pixels_like_the_server(preview_page):
    # Guards against a preview that ignores its parameters (ΔE against a near-identity would pass).
    rgba = _test_image(8, 8, seed=5)
    params = {"exposure": 1.0, "saturation": -100}
    preview = _run_preview(preview_page, rgba, params)[..., :3].astype(np.int16)
    assert (preview[..., 0] == preview[..., 1]).all() and (preview[..., 1] == preview[..., 2]).all()
    assert preview.mean() > rgba[..., :3].mean() + 20


def test_preview_helpers_are_exported(preview_page):
    keys = preview_page.evaluate("Object.keys(window.adjustPreview).sort()")
    for name in ("applyAdjustments", "adjustImageData", "normalizeParams", "pchipSlopes",
                 "toneCurveFunction", "buildChannelLuts", "IDENTITY_PARAMS"):
        assert name in keys
    # The JS curve agrees with the Python one on the same control points.
    pts = [[0.1, 0.3], [0.4, 0.35], [0.8, 0.9]]
    xs = np.linspace(-0.1, 1.1, 61)
    js = preview_page.evaluate(
        "([pts, xs]) => { const f = window.adjustPreview.toneCurveFunction(pts); return xs.map(f); }",
        [pts, xs.tolist()])
    np.testing.assert_allclose(js, tone_curve_function(pts)(xs), atol=1e-12)
