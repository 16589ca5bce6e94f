"""Guest access to "Try it online" (issue 12, item 2) in real Chromium against a real embedded server:
a signed-out visitor continues as a guest, retouches a sample portrait and downloads the full-resolution
file; a network that started too many guests gets a page that says so (429, Retry-After)."""

from __future__ import annotations

import io

import pytest

pytestmark = pytest.mark.browser

CREATIONS_PER_ADDRESS = 2


@pytest.fixture(scope="module")
def guest_platform(tmp_path_factory):
    """``manage.py serve`` with a small per-address guest limit (every visitor here is 127.0.0.1)."""
    from tests.conftest import Platform
    from tests.support import base_env, start_server

    data_dir = tmp_path_factory.mktemp("guest-data")
    env = base_env(DATA_DIR=str(data_dir), GUEST_CREATION_RATE_PER_IP=f"{CREATIONS_PER_ADDRESS}/h")
    proc, base = start_server(env, data_dir, embedded=True)
    yield Platform(base, env, proc)
    proc.stop()


def test_a_visitor_continues_as_guest_retouches_a_sample_and_downloads_it(guest_platform, chromium, tmp_path):
    from pathlib import Path

    from PIL import Image

    base = guest_platform.base
    shots = Path(__file__).resolve().parents[2] / "test-artifacts" / "guest-try"  # like the page fixture's
    shots.mkdir(parents=True, exist_ok=True)
    for viewport, name in (({"width": 1440, "height": 900}, "desktop"), ({"width": 390, "height": 844}, "phone")):
        context = chromium.new_context(viewport=viewport, accept_downloads=True)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.goto(f"{base}/try/")
        assert page.locator("#guest-retention").inner_text().startswith("Your uploads and results are deleted after 24 hours")
        page.screenshot(path=str(shots / f"gate-{name}.png"))
        page.click("#try-guest")
        page.wait_for_url(f"{base}/try/")
        note = page.locator("#guest-note")
        assert "Your uploads are deleted after 24 hours" in note.inner_text()
        assert page.locator(".role-badge").inner_text().lower() == "guest"
        assert page.locator("a[href='/photos/'], a[href='/annotation/']").count() == 0  # members' pages
        assert page.locator("#dropzone").count() == 1  # guests upload their own photos too
        sample = page.locator(".try-sample[title='grace-hopper.jpg']")
        sample.wait_for(timeout=20_000)
        page.screenshot(path=str(shots / f"picker-{name}.png"))
        titles = page.locator(".try-sample").evaluate_all("(els) => els.map((e) => e.title)")
        assert len(titles) >= 7 and "derived group of three.png" in titles, titles
        sample.click()
        page.wait_for_function("() => document.getElementById('try').dataset.resultSeq === '1'", timeout=60_000)
        box = page.locator("#canvas").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)  # her face
        page.wait_for_function("() => document.getElementById('try').dataset.resultSeq === '2'", timeout=30_000)
        assert page.locator(".marker.pos").count() == 1
        page.click("#btn-download")
        link = page.locator("#download-link")
        link.wait_for(state="visible", timeout=90_000)
        assert "/media/jobs/" in link.get_attribute("href")
        with page.expect_download() as download:
            link.click()
        saved = tmp_path / f"{name}.png"
        download.value.save_as(saved)
        with Image.open(io.BytesIO(saved.read_bytes())) as image:
            assert image.size == (512, 600)  # the sample's full resolution
        page.screenshot(path=str(shots / f"guest-{name}.png"))
        assert not errors, errors
        context.close()


def test_too_many_guests_from_one_network_get_a_page_that_says_so(guest_platform, chromium):
    from pathlib import Path

    import httpx

    base = guest_platform.base
    with httpx.Client(base_url=base) as client:  # use up this address's guests
        for _ in range(CREATIONS_PER_ADDRESS + 1):
            client.cookies.clear()
            client.get("/try/")
            answer = client.post("/api/auth/guest/", headers={"X-CSRFToken": client.cookies["csrftoken"]})
            if answer.status_code == 429:
                break
        assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/try/harmonize/")
    with page.expect_response(f"{base}/try/guest/") as response:
        page.click("#try-guest")
    assert response.value.status == 429 and int(response.value.headers["retry-after"]) > 0
    refused = page.locator("#guest-refused")
    assert "Too many guest sessions were started from your network" in refused.inner_text()
    page.screenshot(path=str(Path(__file__).resolve().parents[2] / "test-artifacts" / "guest-try" / "refused.png"))
    page.click("#guest-refused a.button:not(.ghost)")  # Back
    page.wait_for_url(f"{base}/try/harmonize/")
    assert page.locator("#try-signin").is_visible()
    context.close()
