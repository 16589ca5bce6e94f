"""The Content-Security-Policy in real Chromium (issue 11, item 10): every page a signed-in researcher
opens runs without a single policy violation, and its live-update socket opens with a ticket."""

import pytest

pytestmark = pytest.mark.browser

PAGES = ["/", "/photos/", "/try/", "/try/harmonize/", "/studies/", "/signin/"]


def test_pages_run_under_the_policy_and_sockets_use_tickets(embedded_platform, page):
    base = embedded_platform.base
    embedded_platform.add_user("csp-res", "researcher", "pw-csp-3141")
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))

    page.goto(f"{base}/signin/")
    page.fill("input[name=username]", "csp-res")
    page.fill("input[name=password]", "pw-csp-3141")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/photos/")
    page.locator(".photo-card").first.wait_for(timeout=20_000)  # the demo portraits
    page.locator(".photo-card").first.click()
    page.wait_for_selector("#editor[data-socket=open]", timeout=15_000)
    for path in PAGES:
        response = page.goto(f"{base}{path}")
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
    assert violations == [] and page.js_errors == []
    assert sockets and all("?ticket=" in url for url in sockets), sockets
