"""The browser preview's SIMD fast path (frontend/static/js/preview-kernel.wat, used by
applyAdjustments in adjust-preview.js) against its JS loops, the reference, on a real photo: every
combination of neighbourhood maps with and without the colour stage, the harmonization mask, bands
whose pixel count is not a multiple of four. The kernel computes in f32 where the JS uses f64, so
an output byte may differ by one code value at a rounding tie, and nowhere else. Without
WebAssembly (or when it refuses the module) the JS loops render, giving the reference's bytes."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from skimage import data

from tests.browser import test_adjust_preview as shared

static_server, _media_in_tmp = shared.static_server, shared._media_in_tmp

pytestmark = pytest.mark.browser

GLOBAL = {"exposure": 0.35, "contrast": 20, "highlights": -30, "shadows": 25, "temperature": 12, "tint": 3,
          "tone_curve": [[0.25, 0.22], [0.75, 0.8]]}
COLOUR = {**GLOBAL, "vibrance": 40, "saturation": -15}
MAPS = {"texture": 45, "clarity": 35, "dehaze": 30}
# Every non-empty set of maps (T, C, H), each without and with the colour stage.
LOCAL_CASES = [
    (name, {**(COLOUR if colour else GLOBAL), **{k: MAPS[k] for k in keys}})
    for keys, name in [(["texture"], "T"), (["clarity"], "C"), (["dehaze"], "H"), (["texture", "clarity"], "TC"),
                       (["texture", "dehaze"], "TH"), (["clarity", "dehaze"], "CH"),
                       (["texture", "clarity", "dehaze"], "TCH")]
    for colour in (False, True)
    for name in [name + ("+colour" if colour else "")]
]
EXTREME = {"exposure": 2.5, "contrast": 100, "whites": 80, "blacks": -90, "vibrance": -100, "saturation": 100,
           "texture": -100, "clarity": 100, "dehaze": 100}


def _astronaut() -> tuple[np.ndarray, int, int]:
    """skimage's astronaut cropped to an odd size (509 × 383: no band is a whole number of groups of
    four pixels), opaque, with a band of varied alpha that must pass through unchanged."""
    rgb = data.astronaut()[:383, :509]
    h, w = rgb.shape[:2]
    alpha = np.full((h, w, 1), 255, np.uint8)
    alpha[:40] = (np.arange(40 * w).reshape(40, w, 1) * 7 % 256).astype(np.uint8)
    return np.ascontiguousarray(np.concatenate([rgb, alpha], axis=2)), w, h


# Renders `params` through the JS loops and through the kernel (same call, useSimdKernel switched) and
# returns [kernel in use, differing bytes, largest difference, bytes changed from the source,
# differing alpha bytes, pixels compared].
COMPARE_JS = """async ([params, rows, withMask]) => {
  const ap = window.ap; const { img, fg } = window.photo;
  const render = (simd) => {
    ap.useSimdKernel(simd);
    const out = withMask ? window.common.previewPixels(img, params, fg, null, rows)
      : ap.applyAdjustments(img.data, params, { width: img.width, height: img.height }, null, rows);
    return [ap.activeKernel(), out];
  };
  const [jsKernel, ref] = render(false);
  const [simdKernel, got] = render(true);
  const off = rows ? rows[0] * img.width * 4 : 0;
  let n = 0; let worst = 0; let changed = 0; let alpha = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i] - got[i]);
    if (d) { n++; worst = Math.max(worst, d); if (i % 4 === 3) alpha++; }
    if (ref[i] !== img.data[off + i]) changed++;
  }
  return { jsKernel, simdKernel, differing: n, worst, changed, alpha, bytes: ref.length };
}"""


@pytest.fixture(scope="module")
def photo_page(chromium, static_server):
    rgba, w, h = _astronaut()
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(static_server + "/")
    loaded = page.evaluate("""async ([b64, w, h]) => {
      window.ap = await import('/js/adjust-preview.js');
      window.common = await import('/js/annotation-common.js');
      const bytes = Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0));
      const img = new ImageData(bytes, w, h);
      // a soft-edged foreground: 0 on the left, 255 on the right, a ramp between
      const fg = new Uint8Array(w * h).map((_, j) => Math.max(0, Math.min(255, ((j % w) - w / 3) * 2)));
      window.photo = { img, fg };
      return window.ap.loadKernel();
    }""", [base64.b64encode(rgba.tobytes()).decode(), w, h])
    assert loaded is True  # Chromium has WebAssembly SIMD: the fast path must load here
    yield page
    context.close()
    assert not errors, errors


def _check_close(result: dict) -> None:
    assert result["jsKernel"] == "js" and result["simdKernel"] == "simd"
    assert result["changed"] > result["bytes"] // 4  # the settings did something
    assert result["worst"] <= 1, result
    assert result["alpha"] == 0, result
    assert result["differing"] <= 0.001 * result["bytes"], result  # ≥ 99.9 % of the bytes identical


@pytest.mark.parametrize("name,params", LOCAL_CASES + [("colour", COLOUR), ("extreme", EXTREME)],
                         ids=[c[0] for c in LOCAL_CASES] + ["colour", "extreme"])
def test_kernel_matches_the_js_loops(photo_page, name, params):
    _check_close(photo_page.evaluate(COMPARE_JS, [params, None, False]))


def test_stage_one_alone_stays_on_the_exact_tables(photo_page):
    # No colour stage, no maps: the 8-bit table path, the same bytes whichever kernel is loaded.
    result = photo_page.evaluate(COMPARE_JS, [GLOBAL, None, False])
    assert result["differing"] == 0 and result["changed"] > result["bytes"] // 4


@pytest.mark.parametrize("params", [COLOUR, {**COLOUR, **MAPS}], ids=["colour", "local"])
def test_harmonization_mask_blends_the_kernel_output(photo_page, params):
    _check_close(photo_page.evaluate(COMPARE_JS, [params, None, True]))


@pytest.mark.parametrize("rows", [[0, 191], [191, 383], [17, 18], [100, 100]], ids=["top", "bottom", "one-row", "empty"])
def test_bands_match_the_js_loops_and_the_whole_frame(photo_page, rows):
    params = {**COLOUR, **MAPS}
    result = photo_page.evaluate(COMPARE_JS, [params, rows, True])
    assert result["bytes"] == (rows[1] - rows[0]) * 509 * 4
    if result["bytes"]:
        _check_close(result)
    # The band is exactly that part of the kernel's whole frame (no seam, tail pixels included).
    mismatches = photo_page.evaluate("""([params, rows]) => {
      const { img, fg } = window.photo; window.ap.useSimdKernel(true);
      const whole = window.common.previewPixels(img, params, fg);
      const band = window.common.previewPixels(img, params, fg, null, rows);
      let bad = 0;
      for (let i = 0; i < band.length; i++) if (band[i] !== whole[rows[0] * img.width * 4 + i]) bad++;
      return bad;
    }""", [params, rows])
    assert mismatches == 0


# Pages where the kernel cannot run: no WebAssembly at all, or one that refuses to instantiate it.
NO_WASM = {
    "no-webassembly": "globalThis.WebAssembly = undefined;",
    "instantiate-fails": "WebAssembly.instantiate = () => Promise.reject(new Error('refused'));",
}


@pytest.mark.parametrize("init", list(NO_WASM.values()), ids=list(NO_WASM))
def test_without_the_kernel_the_js_loops_render(chromium, static_server, photo_page, init):
    rgba, w, h = _astronaut()
    params = {**COLOUR, **MAPS}
    checksum = """([params]) => {
      const { img, fg } = window.photo;
      const out = window.common.previewPixels(img, params, fg);
      let s = 0; for (let i = 0; i < out.length; i++) s = (s * 31 + out[i]) >>> 0;
      return [s, window.ap.activeKernel()];
    }"""
    photo_page.evaluate("() => window.ap.useSimdKernel(false)")
    reference, kernel = photo_page.evaluate(checksum, [params])
    photo_page.evaluate("() => window.ap.useSimdKernel(true)")
    assert kernel == "js"
    context = chromium.new_context()
    context.add_init_script(init)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(static_server + "/")
        loaded = page.evaluate("""async ([b64, w, h]) => {
          window.ap = await import('/js/adjust-preview.js');
          window.common = await import('/js/annotation-common.js');
          const img = new ImageData(Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0)), w, h);
          const fg = new Uint8Array(w * h).map((_, j) => Math.max(0, Math.min(255, ((j % w) - w / 3) * 2)));
          window.photo = { img, fg };
          return window.ap.loadKernel();
        }""", [base64.b64encode(rgba.tobytes()).decode(), w, h])
        assert loaded is False
        assert page.evaluate(checksum, [params]) == [reference, "js"]
        # The editor's LivePreview still draws (its page path renders with the JS loops).
        drawn = page.evaluate("""async (params) => {
          // opaque (a canvas keeps exact bytes only there)
          const img = new ImageData(window.photo.img.data.map((v, i) => (i % 4 === 3 ? 255 : v)), window.photo.img.width);
          const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
          const live = new window.common.LivePreview(c.getContext('2d', { willReadFrequently: true }), { sync: true });
          live.setSource(img, null);
          const ok = await live.render(params);
          const want = window.common.previewPixels(img, params, null);
          const got = live.pixels();
          let bad = 0; for (let i = 0; i < want.length; i++) if (want[i] !== got[i]) bad++;
          return [ok, bad];
        }""", params)
        assert drawn == [True, 0]
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def policy_server():
    """The static files behind an HTML page that carries a given Content-Security-Policy
    (``/?policy=<name>``), as the platform's pages do (webapp/security.py)."""
    import functools
    import http.server
    import threading
    from urllib.parse import parse_qs, urlparse

    from webapp.security import content_security_policy

    app = content_security_policy()
    policies = {"app": app, "without-wasm": app.replace(" 'wasm-unsafe-eval'", "")}

    class Handler(shared._QuietHandler):
        def do_GET(self):
            query = parse_qs(urlparse(self.path).query)
            if urlparse(self.path).path == "/page.html":
                body = b"<!doctype html><title>preview</title>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Security-Policy", policies[query["policy"][0]])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(shared.STATIC)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", policies
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("policy,loads", [("app", True), ("without-wasm", False)])
def test_the_pages_policy_lets_the_kernel_load(chromium, policy_server, policy, loads):
    base, policies = policy_server
    assert ("'wasm-unsafe-eval'" in policies[policy]) is loads
    context = chromium.new_context()
    page = context.new_page()
    try:
        page.goto(f"{base}/page.html?policy={policy}")
        result = page.evaluate("""async () => {
          const ap = await import('/js/adjust-preview.js');
          const loaded = await ap.loadKernel();
          const out = ap.applyAdjustments(new Uint8ClampedArray(64).fill(128), { vibrance: 30 });
          return [loaded, ap.activeKernel(), out[0]];
        }""")
        assert result[:2] == ([True, "simd"] if loads else [False, "js"])
        assert 0 < result[2] < 255
    finally:
        context.close()
