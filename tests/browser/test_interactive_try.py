"""The /try/ pages in real Chromium against a real embedded server (``manage.py serve``)."""

from __future__ import annotations

import uuid

import pytest

from tests.support import harmonize_composite

pytestmark = pytest.mark.browser


def sign_in(page, platform, role="researcher"):
    name = f"try-{role}-{uuid.uuid4().hex[:6]}"
    platform.add_user(name, role)
    page.goto(f"{platform.base}/signin/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_url("**/photos/**")


def test_anonymous_visitor_sees_sign_in_prompt(embedded_platform, page):
    page.goto(f"{embedded_platform.base}/try/")
    assert page.locator("#try-signin").is_visible()
    assert page.locator("#try").count() == 0
    page.goto(f"{embedded_platform.base}/try/harmonize/")
    assert page.locator("#try-signin").is_visible()


def test_clicks_results_and_undo(embedded_platform, page):
    sign_in(page, embedded_platform)
    page.goto(f"{embedded_platform.base}/try/")
    root = page.locator("#try")
    page.locator(".try-sample").first.click()
    # the automatic result (no clicks) arrives first
    page.wait_for_function("() => document.getElementById('try').dataset.resultSeq === '1'", timeout=30_000)
    box = page.locator("#canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.3)
    page.wait_for_function("() => document.getElementById('try').dataset.resultSeq === '2'", timeout=15_000)
    url_after_positive = root.get_attribute("data-result-url")
    assert page.locator(".marker.pos").count() == 1
    page.mouse.click(box["x"] + box["width"] * 0.85, box["y"] + box["height"] * 0.85, button="right")
    page.wait_for_function("() => document.getElementById('try').dataset.resultSeq === '3'", timeout=15_000)
    assert page.locator(".marker.neg").count() == 1
    assert root.get_attribute("data-result-url") != url_after_positive
    # the result and residual images really load (media served with the role check)
    page.wait_for_function("() => document.getElementById('img-result').complete && "
                           "document.getElementById('img-result').naturalWidth > 0")
    page.click("#btn-undo")
    page.wait_for_function("() => document.getElementById('try').dataset.resultSeq === '2'", timeout=5_000)
    assert root.get_attribute("data-result-url") == url_after_positive
    assert page.locator(".marker").count() == 1
    page.keyboard.press("Control+Shift+Z")  # redo from the keyboard
    page.wait_for_function("() => document.getElementById('try').dataset.resultSeq === '3'", timeout=5_000)
    page.click("#view-residual")
    page.wait_for_function("() => document.getElementById('img-residual').naturalWidth > 0")
    page.click("#view-result")
    assert "ms" in page.locator("#latency").inner_text()
    assert not page.js_errors


def test_full_resolution_download(embedded_platform, page):
    sign_in(page, embedded_platform)
    page.goto(f"{embedded_platform.base}/try/")
    page.locator(".try-sample").first.click()
    page.wait_for_function("() => document.getElementById('try').dataset.resultSeq === '1'", timeout=30_000)
    page.click("#btn-download")
    page.locator("#download-link").wait_for(state="visible", timeout=60_000)
    assert "/media/jobs/" in page.locator("#download-link").get_attribute("href")
    assert not page.js_errors


def test_harmonize_paste_box_and_result(embedded_platform, page):
    sign_in(page, embedded_platform)
    harmonize_composite(page, embedded_platform.base, drag_to=(0.3, 0.3))
    assert page.locator("#harm-info").inner_text().startswith("Matched the person to box")
    assert page.locator("#box").is_visible()
    assert not page.js_errors
