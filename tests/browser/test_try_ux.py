"""What people trying the /try/ pages hit (issue 12, items 1 and 3–6), in real Chromium against a
real embedded server: the harmonized result in full view, the compare control, a server outage said
in words with clicks held, phones (390×844) and desktop (1440×900), shortcuts after a slider,
download names, the upload limit checked before sending, and zoom."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser.test_interactive_try import sign_in
from tests.browser.test_try_background import sized  # noqa: F401 — the viewport-sized page fixture
from tests.support import harmonize_composite

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SEQ = "document.getElementById('try').dataset.resultSeq"


def shot(page, name: str, **kw):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"try-ux-{name}.png"), **kw)


def pixels(page, clip: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB"), dtype=np.float32)


def open_retouch(page, platform) -> str:
    """Sign in, open /try/ on the first library photo, wait for its first result; the photo's name."""
    sign_in(page, platform)
    page.goto(f"{platform.base}/try/")
    sample = page.locator(".try-sample").first
    name = sample.get_attribute("title")
    sample.click()
    page.wait_for_function(f"() => {SEQ} === '1'", timeout=60_000)
    return name


def click_at(page, fx: float, fy: float, **kw):
    box = page.locator("#canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, **kw)


def no_horizontal_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


# ---------------------------------------------------------------- 1 (and 6: harmonize download, brush, info line)
def test_harmonize_result_compare_download_and_brush(embedded_platform, sized):  # noqa: F811
    page = sized(1440, 900)
    sign_in(page, embedded_platform)
    box = harmonize_composite(page, embedded_platform.base, drag_to=(0.4, 0.35))
    page.wait_for_function("() => document.getElementById('img-result').complete && document.getElementById('img-result').naturalWidth > 0")
    assert page.locator("#harm-info").inner_text().startswith("Matched the person to box")

    # the pasted person straddles the middle: the left half of the view shows the harmonized pixels
    page.click("#view-regions")  # overlays off, so only the photo is compared
    left = {"x": box["x"], "y": box["y"], "width": box["width"] / 2, "height": box["height"]}
    after = pixels(page, left)
    page.keyboard.down("b")  # hold: the composite
    before = pixels(page, left)
    shown_while_held = page.locator("#canvas").get_attribute("data-compare")
    page.keyboard.up("b")
    changed = np.abs(after - before).mean()
    assert changed > 0.5, "the left half does not show the harmonized result"
    assert np.abs(pixels(page, left) - after).mean() < changed / 10  # released: the result again
    assert shown_while_held == "before" and page.locator("#canvas").get_attribute("data-compare") == "after"
    shot(page, "harmonize-result-1440x900")

    # the download is named after the photo, with the format's extension
    with page.expect_download() as info:
        page.click("#download")
    assert info.value.suggested_filename.endswith("-harmonized.png")
    assert info.value.suggested_filename.startswith("composite")

    # the brush paints visibly even though Regions was off, and the info line follows the tool
    page.click("#tool-brush")
    assert not page.locator("#harm-info").inner_text().startswith("Matched the person to box")
    spot = {"x": box["x"] + box["width"] * 0.75, "y": box["y"] + box["height"] * 0.2, "width": 40, "height": 40}
    unpainted = pixels(page, spot)
    page.mouse.move(spot["x"] + 20, spot["y"] + 5)
    page.mouse.down()
    page.mouse.move(spot["x"] + 20, spot["y"] + 35, steps=6)
    page.mouse.up()
    assert np.abs(pixels(page, spot) - unpainted).mean() > 5, "brush strokes are invisible"
    assert page.locator("#view-regions").get_attribute("aria-pressed") == "true"
    info_text = page.locator("#harm-info").inner_text()
    assert "painted region" in info_text and "Matched the person to box" not in info_text
    assert page.js_errors == []


# ---------------------------------------------------------------- 4
def test_compare_defaults_to_after_and_the_divider_adds_no_point(embedded_platform, sized):  # noqa: F811
    page = sized(1440, 900)
    open_retouch(page, embedded_platform)
    canvas = page.locator("#canvas")
    assert canvas.get_attribute("data-compare") == "after"
    assert page.evaluate("getComputedStyle(document.getElementById('canvas')).getPropertyValue('--split').trim()") == "0%"
    assert not page.locator("#split-line").is_visible()

    page.click("[data-compare=split]")
    line = page.locator("#split-line")
    assert line.is_visible() and canvas.get_attribute("data-compare") == "split"
    assert page.locator(".compare-label.left").is_visible() and page.locator(".compare-label.right").is_visible()
    handle = page.locator(".split-handle").bounding_box()
    box = canvas.bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, handle["y"], steps=8)
    page.mouse.up()
    page.wait_for_timeout(800)
    assert page.locator(".marker").count() == 0, "dragging the divider added a point"
    assert page.evaluate(SEQ) == "1"
    # the natural way: dragged right, more of the original (left of the divider) shows
    split = float(page.evaluate("document.getElementById('canvas').style.getPropertyValue('--split')").rstrip("%"))
    assert 75 < split < 85
    assert page.locator(".compare-label.left").inner_text() == "BEFORE"
    shot(page, "compare-split-1440x900")

    hold = page.locator("[data-hold]").bounding_box()
    page.mouse.move(hold["x"] + 5, hold["y"] + 5)
    page.mouse.down()
    assert canvas.get_attribute("data-compare") == "before"
    assert not page.locator("#img-result").is_visible()
    page.mouse.up()
    assert canvas.get_attribute("data-compare") == "split"
    page.keyboard.down("\\")
    assert canvas.get_attribute("data-compare") == "before"
    page.keyboard.up("\\")
    page.click("[data-compare=after]")
    assert canvas.get_attribute("data-compare") == "after"
    click_at(page, 0.3, 0.3)  # a click on the photo still adds a point
    page.wait_for_function(f"() => {SEQ} === '2'", timeout=15_000)
    assert page.locator(".marker.pos").count() == 1
    assert page.js_errors == []


# ---------------------------------------------------------------- 3
@pytest.fixture
def restartable_platform(tmp_path):
    """An embedded server of our own, stopped and started again on the same port and data."""
    from devtools.processes import PYTHON, free_port, start_http_server
    from tests.support import base_env

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = base_env(DATA_DIR=str(tmp_path / "data"))
    args = [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]
    runs = []

    class Handle:
        def __init__(self):
            self.base, self.env = base, env

        def start(self):
            runs.append(start_http_server(args, env, tmp_path / f"server-{len(runs)}.log", base))

        def stop(self):
            runs[-1].stop()

        def add_user(self, username, role, password="pw-123456"):
            from tests.support import manage
            manage(env, "adduser", username, "--role", role, "--password", password)

    handle = Handle()
    handle.start()
    yield handle
    for run in runs:
        run.stop()


def test_server_outage_banner_held_clicks_and_sentences(restartable_platform, sized):  # noqa: F811
    platform = restartable_platform
    page = sized(1440, 900)
    open_retouch(page, platform)
    banner = page.locator("#offline")
    assert not banner.is_visible()
    assert "ms" in page.locator("#latency").inner_text()
    # a harmonize page in another tab, ready to paste
    harm = page.context.new_page()
    harm.goto(f"{platform.base}/try/harmonize/")
    harm.wait_for_function("() => document.querySelectorAll('#pick-person option').length > 2")
    harm.select_option("#pick-person", index=1)
    harm.select_option("#pick-bg", index=2)

    platform.stop()
    banner.wait_for(state="visible", timeout=15_000)
    assert "connection to the server was lost" in banner.inner_text()
    assert page.locator("#latency").inner_text() == "offline"  # no stale round trip on show
    click_at(page, 0.4, 0.3)
    click_at(page, 0.8, 0.8, button="right")
    assert page.locator(".marker").count() == 2
    assert page.locator(".marker.pending").count() == 2, "held clicks are not drawn as pending"
    assert "2 changes are kept" in banner.inner_text()
    assert page.evaluate(SEQ) == "1"
    shot(page, "offline-1440x900")

    page.click("#btn-download")
    status = page.locator("#download-status")
    page.wait_for_function("() => document.getElementById('download-status').textContent.includes('server')", timeout=10_000)
    assert "Failed to fetch" not in status.inner_text() and "Could not reach the server" in status.inner_text()
    harm.click("#btn-paste")
    harm.locator("#offline").wait_for(state="visible", timeout=10_000)
    assert "cannot be reached, so pasting the person did not happen" in harm.locator("#offline").inner_text()

    platform.start()
    # reconnected: the held clicks are sent and answered, the banner says so and then goes
    page.wait_for_function(f"() => Number({SEQ}) > 1", timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('.marker.pending').length === 0", timeout=30_000)
    assert page.locator(".marker.pos").count() == 1 and page.locator(".marker.neg").count() == 1
    assert banner.inner_text() == "Back online — your 2 waiting changes are in the result."
    assert "ms" in page.locator("#latency").inner_text()
    banner.wait_for(state="hidden", timeout=10_000)
    harm.wait_for_function("() => document.getElementById('offline').textContent.startsWith('Back online')", timeout=20_000)
    assert page.js_errors == []


# ---------------------------------------------------------------- 5
def test_phone_layout_menu_and_negative_points(embedded_platform, chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{embedded_platform.base}/")
        assert no_horizontal_overflow(page) <= 390
        name = f"phone-{uuid.uuid4().hex[:6]}"
        embedded_platform.add_user(name, "researcher")
        page.goto(f"{embedded_platform.base}/signin/")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", "pw-123456")
        page.click("button[type=submit]")
        page.wait_for_url("**/photos/**")
        for path in ["/", "/try/", "/try/harmonize/", "/try/background/"]:
            page.goto(f"{embedded_platform.base}{path}")
            page.wait_for_load_state("networkidle")
            assert no_horizontal_overflow(page) <= 390, f"{path} is wider than the phone"
            shot(page, f"phone{path.strip('/').replace('/', '-') or '-home'}-390x844", full_page=True)
        # the header collapses: Sign out is one tap away and on screen
        page.goto(f"{embedded_platform.base}/")
        assert not page.locator("text=Sign out").is_visible()
        page.click("#nav-toggle")
        sign_out = page.locator("button:has-text('Sign out')")
        assert sign_out.is_visible()
        rect = sign_out.bounding_box()
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= 390
        shot(page, "phone-menu-390x844")

        # negative points without a right button: the toggle, and a long press
        page.goto(f"{embedded_platform.base}/try/")
        page.locator(".try-sample").first.tap()
        page.wait_for_function(f"() => {SEQ} === '1'", timeout=60_000)
        assert no_horizontal_overflow(page) <= 390
        box = page.locator("#canvas").bounding_box()
        page.tap("#mode-neg")
        page.touchscreen.tap(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
        page.wait_for_function(f"() => {SEQ} === '2'", timeout=15_000)
        assert page.locator(".marker.neg").count() == 1
        page.tap("#mode-pos")
        page.touchscreen.tap(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.4)
        page.wait_for_function(f"() => {SEQ} === '3'", timeout=15_000)
        assert page.locator(".marker.pos").count() == 1
        cdp = context.new_cdp_session(page)
        x, y = box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.7
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        page.wait_for_timeout(800)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        page.wait_for_function(f"() => {SEQ} === '4'", timeout=15_000)
        assert page.locator(".marker.neg").count() == 2 and page.locator(".marker.pos").count() == 1
        shot(page, "phone-try-points-390x844", full_page=True)
        assert errors == []
    finally:
        context.close()

    # on a desktop the header stays as it was: every link and Sign out in view, no Menu button
    desktop = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = desktop.new_page()
    try:
        sign_in(page, embedded_platform)
        for path in ["/", "/try/", "/try/harmonize/", "/try/background/"]:
            page.goto(f"{embedded_platform.base}{path}")
            assert no_horizontal_overflow(page) <= 1440
            assert page.locator("button:has-text('Sign out')").is_visible()
            assert page.locator("nav a:has-text('Try retouching')").is_visible()
            assert not page.locator("#nav-toggle").is_visible()
        shot(page, "desktop-background-1440x900")
    finally:
        desktop.close()


# ---------------------------------------------------------------- 6
def test_shortcuts_work_after_touching_a_slider(embedded_platform, sized):  # noqa: F811
    page = sized(1440, 900)
    open_retouch(page, embedded_platform)
    click_at(page, 0.4, 0.3)
    page.wait_for_function(f"() => {SEQ} === '2'", timeout=15_000)
    slider = page.locator("#strength").bounding_box()
    page.mouse.click(slider["x"] + slider["width"] * 0.5, slider["y"] + slider["height"] / 2)
    page.wait_for_function(f"() => Number({SEQ}) >= 3", timeout=15_000)
    page.keyboard.press("v")
    assert "active" in page.locator("#view-residual").get_attribute("class")
    page.keyboard.press("v")
    page.keyboard.press("Control+z")
    page.wait_for_function("() => document.querySelectorAll('.marker').length === 0", timeout=5_000)
    # even with the slider still focused (a keyboard user), the shortcuts work
    page.focus("#background")
    page.keyboard.press("Control+Shift+Z")
    page.wait_for_function("() => document.querySelectorAll('.marker').length === 1", timeout=5_000)
    page.keyboard.press("x")
    assert page.locator("#try").get_attribute("data-point-mode") == "negative"
    assert page.js_errors == []


def test_full_resolution_download_is_named_after_the_photo(embedded_platform, sized):  # noqa: F811
    page = sized(1440, 900)
    name = open_retouch(page, embedded_platform)
    page.select_option("#output-format", "jpeg")
    page.click("#btn-download")
    page.locator("#download-link").wait_for(state="visible", timeout=90_000)
    with page.expect_download() as info:
        page.click("#download-link")
    assert info.value.suggested_filename == f"{Path(name).stem}-retouched.jpg"


def test_oversized_upload_refused_before_sending(embedded_platform, sized, tmp_path):  # noqa: F811
    big = tmp_path / "huge-portrait.jpg"
    with open(big, "wb") as f:
        f.truncate(200 * 2**20 + 5 * 2**20)  # sparse: 205 MiB on paper
    page = sized(1440, 900)
    sign_in(page, embedded_platform)
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if r.method == "POST" and "/api/photos/" in r.url else None)
    message = "The file is 205.0 MB; the limit is 200 MB."
    for path, file_input in (("/try/", "#file-input"), ("/try/background/", "#upload"),
                             ("/try/harmonize/", "#upload-any")):
        page.goto(f"{embedded_platform.base}{path}")
        page.set_input_files(file_input, str(big))
        page.locator("#upload-error").wait_for(state="visible")
        assert page.locator("#upload-error").inner_text() == message, path
    page.goto(f"{embedded_platform.base}/photos/")
    page.set_input_files("#file-input", str(big))
    page.locator(".upload-list li.error").wait_for()
    assert message in page.locator(".upload-list li.error").inner_text()
    page.wait_for_timeout(500)
    assert uploads == [], "the file was sent before its size was checked"


def test_zoom_pan_and_clicks_at_any_zoom(embedded_platform, sized):  # noqa: F811
    page = sized(1440, 900)
    open_retouch(page, embedded_platform)
    canvas = page.locator("#canvas")
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    page.mouse.move(cx, cy)
    for _ in range(4):
        page.mouse.wheel(0, -100)
    page.wait_for_function("() => Number(document.getElementById('canvas').dataset.zoom) > 1.5")
    assert page.locator(".marker").count() == 0
    # a click at this zoom lands under the pointer
    page.mouse.click(cx + 40, cy + 30)
    page.wait_for_function(f"() => {SEQ} === '2'", timeout=15_000)
    marker = page.locator(".marker").bounding_box()
    assert abs(marker["x"] + marker["width"] / 2 - (cx + 40)) < 3 and abs(marker["y"] + marker["height"] / 2 - (cy + 30)) < 3
    assert marker["width"] < 20  # markers keep their size on screen
    # Space + drag pans and adds no point
    before = canvas.bounding_box()
    page.keyboard.down(" ")
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 120, cy + 60, steps=6)
    page.mouse.up()
    page.keyboard.up(" ")
    after = canvas.bounding_box()
    assert after["x"] > before["x"] + 60 and page.locator(".marker").count() == 1
    shot(page, "zoomed-1440x900")
    # double-click beside the photo (or 0) fits it again
    page.keyboard.press("0")
    assert page.locator("#canvas").get_attribute("data-zoom") == "1.000"
    assert abs(canvas.bounding_box()["width"] - box["width"]) < 1
    assert page.locator(".marker").count() == 1 and page.js_errors == []
