"""/try/background/ in real Chromium against a real embedded server: choose a portrait and a
background, find placements, pick one, drag the person (live score), see each render arrive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from devtools.bench.engines import meadow
from tests.browser.test_interactive_try import sign_in
from tests.conftest import png_bytes

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def scene_png() -> bytes:
    return png_bytes((meadow(960, 640, 250) * 255).astype(np.uint8))


@pytest.fixture
def sized(chromium, request):
    """Pages of a given viewport size, under the platform's Content-Security-Policy; each is closed
    (with its context) at the end."""
    contexts = []

    def make(width, height):
        context = chromium.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.js_errors = []  # uncaught errors, and any Content-Security-Policy violation the console reports
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        page.on("console", lambda msg: page.js_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
        return page

    yield make
    for context in contexts:
        context.close()


def choose(page, slot: str, name: str):
    # Other browser tests share the platform and upload the same sample: any copy will do.
    page.locator(f"#strip-{slot} .bgr-thumb[title='{name}']").first.click()


def wait_state(page, state: str, timeout=120_000):
    page.wait_for_function(f"() => document.getElementById('bgr').dataset.state === '{state}'", timeout=timeout)


def test_anonymous_visitor_sees_the_sign_in_prompt(embedded_platform, page):
    page.goto(f"{embedded_platform.base}/try/background/")
    assert page.locator("#try-signin").is_visible() and page.locator("#bgr").count() == 0


def test_find_pick_drag_and_download(embedded_platform, sized, tmp_path):
    page = sized(1440, 900)
    sign_in(page, embedded_platform)
    page.goto(f"{embedded_platform.base}/try/background/")
    assert page.locator("nav a.active").inner_text() == "New background"
    page.wait_for_selector("#strip-person .bgr-thumb[title='astronaut.png']", timeout=20_000)
    choose(page, "person", "astronaut.png")
    scene = tmp_path / "meadow.png"
    scene.write_bytes(scene_png())
    page.set_input_files("#upload", str(scene))  # a portrait is chosen: the upload becomes the background
    page.wait_for_selector("#strip-background .bgr-thumb.selected[title='meadow.png']", timeout=20_000)
    assert page.locator("#btn-find").is_enabled()
    page.click("#btn-find")
    wait_state(page, "placed")

    root = page.locator("#bgr")
    first_url = root.get_attribute("data-result-url")
    assert "/media/jobs/" in first_url and page.locator("#download").get_attribute("href").split("?")[0] == first_url
    assert page.locator(".bgr-cand").count() == 5
    assert page.locator(".bgr-cand.selected").count() == 1
    assert page.locator(".bgr-term").count() >= 6 and page.locator("#box").is_visible()
    page.wait_for_function("() => document.getElementById('img-result').naturalWidth === 960")
    page.screenshot(path=str(ARTIFACTS / "try-background-1440x900.png"))

    # another candidate: rendered as a forced placement
    job = root.get_attribute("data-job")
    page.locator(".bgr-cand").nth(2).click()
    page.wait_for_function(f"() => document.getElementById('bgr').dataset.job !== '{job}'", timeout=120_000)
    wait_state(page, "placed")
    assert page.locator(".bgr-cand").nth(2).get_attribute("class").endswith("selected")

    # drag by hand: the score follows during the drag, the render comes when the mouse is released
    job = root.get_attribute("data-job")
    box = page.locator("#box").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 120, box["y"] + box["height"] / 2 - 60, steps=8)
    assert page.locator("#live").is_visible() and "drag" in page.locator("#score-where").inner_text()
    page.screenshot(path=str(ARTIFACTS / "try-background-dragging-1440x900.png"))
    page.mouse.up()
    page.wait_for_function(f"() => document.getElementById('bgr').dataset.job !== '{job}'", timeout=120_000)
    wait_state(page, "placed")
    page.wait_for_function("() => document.getElementById('bgr').dataset.shown === document.getElementById('bgr').dataset.resultUrl")
    assert page.locator("#img-result").is_visible() and not page.locator("#live").is_visible()
    moved = page.locator("#box").bounding_box()
    assert moved["x"] < box["x"] - 60
    assert page.locator("#score-where").inner_text() == "this placement"
    page.click("#view-hints")
    assert page.locator("#hints").is_visible()
    page.screenshot(path=str(ARTIFACTS / "try-background-hand-placed-1440x900.png"))
    assert page.js_errors == []


def test_small_screen(embedded_platform, sized):
    page = sized(390, 844)
    sign_in(page, embedded_platform)
    page.goto(f"{embedded_platform.base}/try/background/")
    page.wait_for_selector("#strip-person .bgr-thumb[title='astronaut.png']", timeout=20_000)
    choose(page, "person", "astronaut.png")
    choose(page, "background", "camera.png")
    page.click("#btn-find")
    wait_state(page, "placed")
    assert page.locator(".bgr-cand").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "try-background-390x844.png"), full_page=True)
    assert page.js_errors == []
