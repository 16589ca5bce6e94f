"""The Blemishes tool of /try/ in real Chromium against a real embedded server: the spots it finds
are drawn, a click keeps one or adds one, the strength slider re-runs it; clicks while the tool is
on never reach the click-retouching session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from devtools.bench.engines import SPOTS as SMALL
from devtools.bench.engines import paint_spots as paint
from tests.browser.test_interactive_try import sign_in
from tests.browser.test_try_background import sized  # noqa: F401 — the viewport-sized page fixture
from tests.conftest import png_bytes

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def painted_astronaut(tmp_path) -> Path:
    from skimage import data

    image = paint(data.astronaut().astype(np.float32) / 255.0, SMALL)
    path = tmp_path / "spotty-astronaut.png"
    path.write_bytes(png_bytes((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)))
    return path


def wait_run(page, previous_url: str = ""):
    page.wait_for_function(
        "(prev) => { const s = document.getElementById('blemish-tool').dataset;"
        " return s.state === 'ready' && s.resultUrl && s.resultUrl !== prev; }", arg=previous_url, timeout=90_000)
    return page.locator("#blemish-tool").get_attribute("data-result-url")


def click_photo_at(page, x: float, y: float, size: int = 512):
    box = page.locator("#canvas").bounding_box()
    page.mouse.click(box["x"] + (x + 0.5) * box["width"] / size, box["y"] + (y + 0.5) * box["height"] / size)


def open_tool(page, platform, tmp_path):
    sign_in(page, platform)
    page.goto(f"{platform.base}/try/")
    page.set_input_files("#file-input", str(painted_astronaut(tmp_path)))
    page.wait_for_function("() => document.getElementById('try').dataset.resultSeq === '1'", timeout=60_000)
    page.check("#blm-on")
    return wait_run(page)


def test_spots_found_kept_added_and_strength(embedded_platform, sized, tmp_path):  # noqa: F811
    page = sized(1440, 900)
    url = open_tool(page, embedded_platform, tmp_path)
    tool = page.locator("#blemish-tool")
    assert int(tool.get_attribute("data-spots")) >= 9
    assert page.locator(".blm-spot").count() == int(tool.get_attribute("data-spots"))
    assert page.locator("#blm-download").get_attribute("href").split("?")[0] == url
    page.screenshot(path=str(ARTIFACTS / "try-blemishes-1440x900.png"))

    # keep one (a mole): it is drawn as kept and left in the photo
    x, y, _, _ = SMALL[2]
    click_photo_at(page, x, y)
    url = wait_run(page, url)
    assert page.locator(".blm-spot.protected").count() == 1
    assert "1 kept" in page.locator("#blm-counts").inner_text()
    # add one the detector did not report
    click_photo_at(page, 232, 118)
    url = wait_run(page, url)
    assert page.locator(".blm-spot.added").count() == 1
    assert "1 added" in page.locator("#blm-counts").inner_text()
    # the clicks went to the tool, not to the click-retouching session
    assert page.locator("#try").get_attribute("data-result-seq") == "1" and page.locator(".marker").count() == 0

    page.locator("#blm-strength").fill("0.5")
    url = wait_run(page, url)
    assert page.locator("#blm-out-strength").inner_text() == "0.50"
    page.screenshot(path=str(ARTIFACTS / "try-blemishes-kept-and-added-1440x900.png"))

    # off: the click session owns the photo again
    page.uncheck("#blm-on")
    assert not page.locator("#blm-layer").is_visible() and tool.get_attribute("data-state") == "off"
    click_photo_at(page, 220, 300)
    page.wait_for_function("() => document.getElementById('try').dataset.resultSeq === '2'", timeout=30_000)
    assert page.js_errors == []


def test_small_screen(embedded_platform, sized, tmp_path):  # noqa: F811
    page = sized(390, 844)
    open_tool(page, embedded_platform, tmp_path)
    assert page.locator(".blm-spot").count() >= 9
    page.screenshot(path=str(ARTIFACTS / "try-blemishes-390x844.png"), full_page=True)
    assert page.js_errors == []
