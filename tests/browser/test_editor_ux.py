"""The two editors as people use them, in real Chromium:

* the expert annotation editor's tone curve (drag a point → the preview changes, the curve is saved
  in the server's history, survives a reload, undo brings the old curve back; keyboard moves a point)
  and its 1:1 view, which shows the ORIGINAL's pixels (a server render of a crop), also after a pan;
* the photo editor: slider releases start no full-size job, "Render full size" starts one, a newer
  request cancels the older job, the progress pill never says "Done" beside a partial bar, the tone
  curve is there and is rendered, and the page fits a 390 px phone.

Screenshots of both editors at 1440×900 and 390×844 go to test-artifacts/editor-ux-*.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import numpy as np
import pytest

from inference.imageio import to_uint8
from inference.render import apply_adjustments
from tests.browser.signin import open_signed_in
from tests.conftest import png_bytes
from tests.support import wait_for_job

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
PASSWORD = "pw-Editor-UX-2024"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _pattern(width: int, height: int, seed: int) -> np.ndarray:
    """A colour gradient with a one-pixel checkerboard on it: detail that only the original has
    (any downscaled proxy averages the checkerboard away), and it compresses well as PNG."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([60 + 120 * xx / width, 50 + 140 * yy / height, 150 - 60 * xx / width], axis=-1)
    checker = np.where((xx + yy) % 2 == 0, 18.0, -18.0)[..., None]
    rng = np.random.default_rng(seed)
    return np.clip(base + checker + rng.uniform(-4, 4, 3), 0, 255).astype(np.uint8)


def _sign_in(chromium, base: str, username: str, viewport=(1440, 900)):
    return open_signed_in(chromium, base, username, PASSWORD, viewport)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"editor-ux-{name}.png"))


def _fits(page, width: int) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= width, f"the page is {overflow} px wide on a {width} px screen"


def _canvas_mean(page, selector: str) -> float:
    return page.evaluate("""(sel) => {
      const c = document.querySelector(sel);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] + d[i + 1] + d[i + 2];
      return s / (3 * d.length / 4);
    }""", selector)


def _plot(page) -> tuple[float, float, float]:
    """Left, top and side (CSS px) of the tone curve's plot area, scrolled into view."""
    page.locator("#tone-curve .tc-graph").scroll_into_view_if_needed()
    plot = page.locator("#tone-curve .tc-bg").bounding_box()
    return plot["x"], plot["y"], plot["width"]


def _drag(page, x0, y0, x1, y1):
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 6):
        page.mouse.move(x0 + (x1 - x0) * k / 5, y0 + (y1 - y0) * k / 5)
    page.mouse.up()


# ------------------------------------------------------------------------------ annotation editor

def _annotation_setup(platform, original: np.ndarray) -> tuple[str, int, int]:
    """A researcher's one-group project with one big photo; slot a assigned to the expert."""
    base = platform.base
    researcher = {"Authorization": f"Token {platform.add_user('ux-researcher', 'researcher', PASSWORD)}"}
    expert_token = platform.add_user("ux-expert", "expert", PASSWORD)
    group = httpx.post(f"{base}/api/groups/", headers=researcher, json={"name": "UX shoot"}).json()
    for k, image in enumerate([original, _pattern(600, 450, 2)]):
        r = httpx.post(f"{base}/api/photos/", headers=researcher, data={"group": group["id"]},
                       files={"file": (f"ux{k}.png", png_bytes(image), "image/png")}, timeout=60)
        assert r.status_code == 201, r.text
    r = httpx.post(f"{base}/api/annotation/projects/", headers=researcher,
                   json={"title": "Editor UX", "groups": [group["id"]]})
    assert r.status_code == 201, r.text
    project = httpx.get(f"{base}/api/annotation/projects/{r.json()['id']}/", headers=researcher).json()
    expert = next(u for u in project["people"]["expert"] if u["username"] == "ux-expert")
    slot_a = next(a for a in project["assignments"] if a["slot"] == "a")
    r = httpx.post(f"{base}/api/annotation/assignments/{slot_a['id']}/assign/", headers=researcher,
                   json={"expert": expert["id"]})
    assert r.status_code == 200, r.text
    return expert_token, slot_a["id"], project["id"]


def _server_params(base, token, assignment, photo):
    r = httpx.get(f"{base}/api/annotation/assignments/{assignment}/photos/{photo}/params",
                  headers={"Authorization": f"Token {token}"})
    return r.json()["params"]


def _until(read, ok, timeout=20.0):
    """Poll ``read()`` until ``ok(value)``; the last value (asserted) after ``timeout`` seconds."""
    import time

    end = time.monotonic() + timeout
    while True:
        value = read()
        if ok(value) or time.monotonic() > end:
            assert ok(value), value
            return value
        time.sleep(0.2)


def _png_pixels(data_url: str) -> np.ndarray:
    """A canvas's PNG data URL → H×W×3 int16 (canvas pixels in bulk: far faster than a JS array)."""
    import base64
    import io

    from PIL import Image

    png = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def _detail_matches_the_original(page, original: np.ndarray, params: dict) -> tuple[list[int], float]:
    """The 1:1 overlay's pixels against the renderer run here on the original, cut to its box;
    returns the box and the overlay's mean difference from the stretched proxy under it."""
    page.wait_for_selector("#ann-editor[data-detail=ready]", timeout=30_000)
    box = [int(v) for v in page.locator("#ann-editor").get_attribute("data-detail-box").split(",")]
    x, y, w, h = box
    got = _png_pixels(page.evaluate("() => document.getElementById('detail-canvas').toDataURL('image/png')"))
    expected = to_uint8(apply_adjustments(original.astype(np.float32) / 255.0, params))[y:y + h, x:x + w]
    assert got.shape == (h, w, 3)
    assert np.abs(got - expected).max() <= 1
    # The proxy (1600 px) under it, stretched to the original's size, lacks the checkerboard.
    proxy = _png_pixels(page.evaluate("""([x, y, w, h, W, H]) => {
      const src = document.getElementById('main-canvas');
      const c = document.createElement('canvas'); c.width = w; c.height = h;
      const ctx = c.getContext('2d');
      ctx.drawImage(src, x * src.width / W, y * src.height / H, w * src.width / W, h * src.height / H, 0, 0, w, h);
      return c.toDataURL('image/png');
    }""", [x, y, w, h, original.shape[1], original.shape[0]]))
    return box, float(np.abs(got - proxy).mean())


def test_annotation_tone_curve_persists_and_undoes_and_1to1_shows_original_pixels(embedded_platform, chromium):
    base = embedded_platform.base
    original = _pattern(2400, 1800, 1)  # larger than the 1600 px display proxy
    token, assignment, _project = _annotation_setup(embedded_platform, original)
    page = _sign_in(chromium, base, "ux-expert")
    page.goto(f"{base}/annotation/assignments/{assignment}/")
    page.wait_for_selector("#ann-editor[data-ready='1']", timeout=30_000)
    photo = int(page.locator("#ann-editor").get_attribute("data-current"))
    widget = page.locator("#tone-curve .tone-curve")
    assert widget.get_attribute("data-points") == "0"
    _shot(page, "annotation-1440")

    # Drag the middle of the curve up: the preview brightens, the curve is autosaved.
    before = _canvas_mean(page, "#main-canvas")
    left, top, inner = _plot(page)
    _drag(page, left + inner * 0.5, top + inner * 0.5, left + inner * 0.5, top + inner * 0.25)
    page.wait_for_selector("#save-state[data-state=saved]", timeout=20_000)
    assert widget.get_attribute("data-points") == "1"
    after = _canvas_mean(page, "#main-canvas")
    assert after > before + 8, (before, after)
    saved = _server_params(base, token, assignment, photo)["tone_curve"]
    assert len(saved) == 1 and abs(saved[0][0] - 0.5) < 0.03 and saved[0][1] > 0.68

    # Keyboard: Tab to the point, arrows move it, and the move is saved too.
    page.locator("#tone-curve .tc-point:not(.end)").focus()
    for _ in range(5):
        page.keyboard.press("ArrowDown")
    moved = _until(lambda: _server_params(base, token, assignment, photo)["tone_curve"],
                   lambda curve: abs(curve[0][1] - (saved[0][1] - 5 / 255)) < 0.002)
    assert moved[0][0] == saved[0][0]
    page.wait_for_selector("#save-state[data-state=saved]", timeout=20_000)
    page.wait_for_timeout(200)
    after_keys = _canvas_mean(page, "#main-canvas")
    assert after_keys < after

    # A reload shows the saved curve (server history); undo (across the reload) restores the previous one.
    page.reload()
    page.wait_for_selector("#ann-editor[data-ready='1']", timeout=30_000)
    assert page.locator("#tone-curve .tone-curve").get_attribute("data-points") == "1"
    assert abs(_canvas_mean(page, "#main-canvas") - after_keys) < 0.5
    page.click("#undo")
    page.wait_for_selector("#save-state[data-state=saved]", timeout=20_000)
    assert _server_params(base, token, assignment, photo)["tone_curve"] == saved
    page.click("#undo")
    page.wait_for_selector("#save-state[data-state=saved]", timeout=20_000)
    assert _server_params(base, token, assignment, photo)["tone_curve"] == []
    assert page.locator("#tone-curve .tone-curve").get_attribute("data-points") == "0"
    assert abs(_canvas_mean(page, "#main-canvas") - before) < 3
    page.click("#redo")
    page.wait_for_selector("#save-state[data-state=saved]", timeout=20_000)
    assert _server_params(base, token, assignment, photo)["tone_curve"] == saved

    # 1:1 shows the original's pixels, rendered by the server with the current settings.
    params = _server_params(base, token, assignment, photo)
    page.click("#zoom-100")
    box, off_proxy = _detail_matches_the_original(page, original, params)
    assert off_proxy > 5  # the checkerboard: detail the proxy does not have
    assert page.locator("#detail-status").inner_text() == "100 % · original pixels"
    _shot(page, "annotation-1440-1to1")
    # Pan: a drag moves the view; the crop follows the newly visible region.
    vp = page.locator("#viewport").bounding_box()
    _drag(page, vp["x"] + vp["width"] * 0.5, vp["y"] + vp["height"] * 0.5,
          vp["x"] + vp["width"] * 0.5 - 500, vp["y"] + vp["height"] * 0.5 - 350)
    page.wait_for_function("b => document.getElementById('ann-editor').dataset.detailBox !== b", arg=",".join(map(str, box)),
                           timeout=30_000)
    panned, _ = _detail_matches_the_original(page, original, params)
    assert panned[0] > box[0] and panned[1] > box[1]
    page.click("#zoom-fit")
    assert page.locator("#detail-canvas").is_hidden()

    # Full size on demand: when the job is done the pill links to the result beside a full bar.
    page.click("#render-full")
    page.wait_for_selector("#full-status[data-status=succeeded]", timeout=60_000)
    assert page.locator("#full-bar").evaluate("b => b.style.width") == "100%"
    assert page.locator("#full-text").inner_text() == "Open full size"

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    _shot(page, "annotation-390")
    page.locator("#tone-curve").scroll_into_view_if_needed()
    _shot(page, "annotation-390-curve")
    _fits(page, 390)
    assert page.js_errors == []
    page.context.close()


# ----------------------------------------------------------------------------------- photo editor

def _jobs(base, token, photo_id):
    rows = httpx.get(f"{base}/api/jobs/", headers={"Authorization": f"Token {token}"}, params={"page_size": 100}).json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    return sorted((j for j in rows if j["inputs"].get("photo") == photo_id), key=lambda j: j["id"])


def _submit(base, auth, engine, photo_id, params):
    r = httpx.post(f"{base}/api/jobs/", headers=auth,
                   json={"engine": engine, "inputs": {"photo": photo_id}, "params": params})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_photo_editor_renders_full_size_only_on_demand_and_cancels_superseded_jobs(embedded_platform, chromium):
    base = embedded_platform.base
    token = embedded_platform.add_user("ux-photographer", "researcher", PASSWORD)
    r = httpx.post(f"{base}/api/photos/", headers={"Authorization": f"Token {token}"},
                   files={"file": ("big-portrait.png", png_bytes(_pattern(4000, 3000, 5)), "image/png")}, timeout=120)
    assert r.status_code == 201, r.text
    photo_id = r.json()["id"]
    page = _sign_in(chromium, base, "ux-photographer")
    posts = []
    page.on("request", lambda req: posts.append(req.url) if req.method == "POST" and req.url.endswith("/api/jobs/") else None)
    page.goto(f"{base}/photos/{photo_id}/")
    page.wait_for_selector("#editor[data-socket=open][data-preview-ready='1']", timeout=30_000)
    _shot(page, "photo-1440")
    # Every change of the pill is recorded with its bar, to check they always agree.
    page.evaluate("""() => {
      window.__pill = [];
      const box = document.getElementById('job-status');
      const record = () => window.__pill.push([document.getElementById('job-status-text').textContent,
                                               document.getElementById('job-progress-bar').style.width, box.hidden]);
      new MutationObserver(record).observe(box, { subtree: true, childList: true, attributes: true, characterData: true });
    }""")

    # Ten quick slider releases: the preview follows, no full-size job starts.
    before = _canvas_mean(page, "#photo-preview")
    slider = page.locator("input[name=exposure]")
    for k in range(1, 11):
        slider.fill(f"{k * 0.1:.1f}")
        slider.dispatch_event("change")
    page.wait_for_timeout(1500)
    assert posts == [] and _jobs(base, token, photo_id) == []
    assert _canvas_mean(page, "#photo-preview") > before + 15
    assert page.locator("#download-result").is_hidden()

    # The tone curve: a point dragged up brightens the preview too.
    mid = _canvas_mean(page, "#photo-preview")
    left, top, inner = _plot(page)
    _drag(page, left + inner * 0.4, top + inner * 0.6, left + inner * 0.4, top + inner * 0.4)
    assert page.locator("#tone-curve .tone-curve").get_attribute("data-points") == "1"
    assert _canvas_mean(page, "#photo-preview") > mid + 5
    assert posts == []

    # Render full size, then — before it has finished — change a slider and ask again: the first job is
    # cancelled. Both worker threads are first held by sleeps, so the first render is still unfinished
    # when it is superseded however fast it would have been (a 12 MP render can beat the browser).
    auth = {"Authorization": f"Token {token}"}
    holds = [_submit(base, auth, "diagnostics.sleep", photo_id, {"seconds": 120}) for _ in range(2)]
    try:
        for hold in holds:
            wait_for_job(base, auth, hold, {"running"})
        page.click("#render-full")
        page.wait_for_selector("#editor[data-latest-job]", state="attached", timeout=20_000)
        first = int(page.locator("#editor").get_attribute("data-latest-job"))
        slider.fill("0.5")
        slider.dispatch_event("change")
        page.click("#render-full")
        page.wait_for_function("f => Number(document.getElementById('editor').dataset.latestJob) !== f", arg=first)
        second = int(page.locator("#editor").get_attribute("data-latest-job"))
        assert wait_for_job(base, auth, first)["status"] == "cancelled"
    finally:  # the shared server's worker threads are freed even when an assertion above fails
        for hold in holds:
            httpx.post(f"{base}/api/jobs/{hold}/cancel/", headers=auth)
    page.wait_for_selector(f"#editor[data-result-job='{second}']", state="attached", timeout=120_000)
    assert len(posts) == 2
    jobs = {j["id"]: j for j in _jobs(base, token, photo_id) if j["engine"] == "adjust"}
    assert sorted(jobs) == [first, second]
    assert jobs[first]["status"] == "cancelled", jobs[first]
    assert jobs[second]["status"] == "succeeded"
    assert jobs[second]["params"]["exposure"] == 0.5 and len(jobs[second]["params"]["tone_curve"]) == 1
    # The result is shown and offered for download under the photo's name.
    assert page.locator("#photo-result").is_visible()
    download = page.locator("#download-result")
    assert download.is_visible() and download.get_attribute("download") == "big-portrait-retouched.png"
    page.wait_for_timeout(300)

    # The pill never said "Done" beside a partial bar, and "Rendering n %" always had an n % bar.
    pill = page.evaluate("() => window.__pill")
    assert any(text == "Done" for text, _w, _h in pill)
    for text, width, _hidden in pill:
        if text == "Done":
            assert width == "100%", pill
        match = re.fullmatch(r"Rendering (\d+) %", text)
        if match:
            assert width == f"{match.group(1)}%", pill
    _shot(page, "photo-1440-rendered")

    # A change makes the result stale: the preview is shown again and the download is withdrawn.
    slider.fill("0.2")
    slider.dispatch_event("change")
    assert download.is_hidden() and page.locator("#photo-preview").is_visible()
    assert "changed" in page.locator("#render-note").inner_text()
    assert len(posts) == 2

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    _fits(page, 390)
    _shot(page, "photo-390")
    page.locator("#tone-curve").scroll_into_view_if_needed()
    _shot(page, "photo-390-curve")
    assert page.js_errors == []
    page.context.close()
