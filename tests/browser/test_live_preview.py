"""The editor's live preview (LivePreview in frontend/static/js/annotation-common.js): row bands
rendered on module workers give the same pixels as the synchronous path (one implementation of the
formulas, which test_adjust_preview*.py hold against the server), and a burst of slider values ends
showing the last one, with superseded frames dropped rather than queued."""

from __future__ import annotations

import pytest

from tests.browser import test_adjust_preview as shared

static_server, _media_in_tmp = shared.static_server, shared._media_in_tmp

pytestmark = pytest.mark.browser

GLOBAL = {"exposure": 0.35, "contrast": 20, "highlights": -30, "shadows": 25, "temperature": 12,
          "vibrance": 20, "saturation": 5, "tone_curve": [[0.25, 0.22], [0.75, 0.8]]}
LOCAL = {**GLOBAL, "texture": 40, "clarity": 35, "dehaze": 25}

# A page-side photo (odd height, so the two bands differ in size), an optional foreground mask,
# and helpers that read a canvas and compare it with previewPixels run directly on the page.
SETUP_JS = """async ([width, height]) => {
  const common = await import('/js/annotation-common.js');
  window.common = common;
  const img = new ImageData(width, height);
  let seed = 7; const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const i = 4 * (y * width + x); const t = (x / width + y / height) / 2;
    const dark = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 3) ** 2 ? 0.55 : 1;
    img.data[i] = (40 + 190 * t) * dark + 20 * rnd(); img.data[i + 1] = (70 + 150 * t) * dark + 20 * rnd();
    img.data[i + 2] = (120 + 90 * t) * dark + 20 * rnd(); img.data[i + 3] = 255;  // opaque: a canvas keeps exact bytes
  }
  const fg = new Uint8Array(width * height).map((_, j) => ((j % width) < width / 2 ? 255 : (j * 37) % 256));
  window.photo = { img, fg };
  window.makeLive = (opts) => {
    const c = document.createElement('canvas'); c.width = width; c.height = height;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    return new common.LivePreview(ctx, opts);
  };
  // Differences between the canvas and previewPixels: [differing bytes, largest difference].
  window.compare = (live, params, fg) => {
    const want = common.previewPixels(img, params, fg);
    const got = live.pixels();
    let n = 0; let worst = 0;
    for (let i = 0; i < want.length; i++) { const d = Math.abs(want[i] - got[i]); if (d) { n++; worst = Math.max(worst, d); } }
    return [n, worst];
  };
  // The page renders with the same loops as the workers: each awaits the SIMD kernel before its
  // first frame, so the page does too before comparing (test_preview_wasm.py holds it to the JS).
  return (await import('/js/adjust-preview.js')).loadKernel();
}"""


@pytest.fixture()
def page(chromium, static_server):
    # The session's browser (tests/conftest.py): a second sync Playwright in one session is refused.
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(static_server + "/")  # same origin as the modules and the worker script
    assert page.evaluate(SETUP_JS, [161, 101]) is True  # the kernel loaded: workers and page share it
    yield page
    context.close()
    assert not errors, errors


@pytest.mark.parametrize("params", [GLOBAL, LOCAL, {"exposure": -0.5}], ids=["global", "local", "tables"])
@pytest.mark.parametrize("mask", [False, True], ids=["plain", "fg-mask"])
def test_worker_bands_equal_the_synchronous_preview(page, params, mask):
    result = page.evaluate("""async ([params, mask]) => {
      const fg = mask ? window.photo.fg : null;
      const out = {};
      for (const sync of [false, true]) {
        const live = window.makeLive({ sync });
        live.setSource(window.photo.img, fg);
        const drawn = await live.render(params);
        out[sync ? 'sync' : 'workers'] = { mode: live.mode, count: live.workers, drawn, diff: window.compare(live, params, fg),
          changed: window.compare(live, {}, fg)[0] };
        live.terminate();
      }
      return out;
    }""", [params, mask])
    assert result["workers"]["mode"] == "workers" and result["sync"]["mode"] == "sync"
    assert result["workers"]["count"] >= 1 and result["sync"]["count"] == 0
    for path in ("workers", "sync"):
        assert result[path]["drawn"] is True
        assert result[path]["diff"] == [0, 0], (path, result[path])
        assert result[path]["changed"] > 1000  # the settings did something


def test_a_band_of_rows_equals_that_part_of_the_whole_frame(page):
    mismatches = page.evaluate("""(params) => {
      const { img, fg } = window.photo; const w = img.width;
      const whole = window.common.previewPixels(img, params, fg);
      let bad = 0;
      for (const [y0, y1] of [[0, 50], [50, 101], [17, 18], [30, 30]]) {
        const band = window.common.previewPixels(img, params, fg, null, [y0, y1]);
        if (band.length !== (y1 - y0) * w * 4) bad += 1e6;
        for (let i = 0; i < band.length; i++) if (band[i] !== whole[y0 * w * 4 + i]) bad++;
      }
      return bad;
    }""", LOCAL)
    assert mismatches == 0


def test_a_burst_of_slider_values_ends_showing_the_last_one(page):
    result = page.evaluate("""async (params) => {
      const live = window.makeLive({});
      live.setSource(window.photo.img, null);
      await live.render(params);
      const values = Array.from({ length: 30 }, (_, k) => ({ ...params, exposure: -1 + 0.07 * k }));
      const outcomes = await Promise.all(values.map((p) => live.render(p)));  // no await between: a fast drag
      const last = values[values.length - 1];
      const out = { mode: live.mode, outcomes, diff: window.compare(live, last, null),
        diffPrevious: window.compare(live, values[values.length - 2], null)[0] };
      live.terminate();
      return out;
    }""", GLOBAL)
    assert result["mode"] == "workers"
    outcomes = result["outcomes"]
    assert outcomes[-1] is True
    assert result["diff"] == [0, 0]
    assert result["diffPrevious"] > 1000  # the canvas does show the last value, not a neighbour
    # At most one frame was already out when the burst came; the others waited and were replaced.
    assert sum(outcomes) <= 2, outcomes


def test_before_view_is_not_overdrawn_by_a_frame_still_out(page):
    result = page.evaluate("""async (params) => {
      const live = window.makeLive({});
      live.setSource(window.photo.img, null);
      await live.render({});
      const late = live.render(params);
      live.drawSource();
      const drawn = await late;
      await new Promise((r) => setTimeout(r, 200));  // the bands have come back by now
      const out = { drawn, diff: window.compare(live, {}, null) };
      live.terminate();
      return out;
    }""", GLOBAL)
    assert result["drawn"] is False
    assert result["diff"] == [0, 0]


def test_a_worker_that_cannot_start_falls_back_to_the_page(page):
    result = page.evaluate("""async (params) => {
      const live = window.makeLive({ workerUrl: '/js/no-such-worker.js' });
      live.setSource(window.photo.img, window.photo.fg);
      const drawn = await live.render(params);
      return { drawn, mode: live.mode, diff: window.compare(live, params, window.photo.fg) };
    }""", LOCAL)
    assert result == {"drawn": True, "mode": "sync", "diff": [0, 0]}


@pytest.mark.parametrize("workers", [1, 3, 4])
def test_any_number_of_bands_gives_the_same_frame(page, workers):
    result = page.evaluate("""async ([params, workers]) => {
      const live = window.makeLive({ workers });
      live.setSource(window.photo.img, window.photo.fg);
      const drawn = await live.render(params);
      const out = { drawn, count: live.workers, diff: window.compare(live, params, window.photo.fg) };
      live.terminate();
      return out;
    }""", [LOCAL, workers])
    assert result == {"drawn": True, "count": workers, "diff": [0, 0]}
