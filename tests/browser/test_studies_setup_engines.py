"""The study setup page's "Items from engines": choose a photo group, run two engine settings, and
the items appear once the embedded worker has run the jobs."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import png_bytes

pytestmark = pytest.mark.timeout(300)


def test_run_engines_over_a_photo_group_from_the_setup_page(embedded_platform, page):
    import numpy as np

    base = embedded_platform.base
    token = embedded_platform.add_user("engine-owner", "researcher")
    h = {"Authorization": f"Token {token}"}
    group = httpx.post(f"{base}/api/groups/", headers=h, json={"name": "Browser session"}).json()
    rng = np.random.default_rng(5)
    for k in range(2):
        pixels = (rng.random((72, 56, 3)) * 200 + 20).astype(np.uint8)
        r = httpx.post(f"{base}/api/photos/", headers=h, data={"group": group["id"]},
                       files={"file": (f"shot{k}.png", png_bytes(pixels), "image/png")})
        assert r.status_code == 201, r.text
    sid = httpx.post(f"{base}/api/studies/", headers=h, json={"title": "From engines"}).json()["id"]

    page.goto(f"{base}/signin/")
    page.fill("input[name=username]", "engine-owner")
    page.fill("input[name=password]", "pw-123456")
    page.click("button[type=submit]")
    page.goto(f"{base}/studies/{sid}/")
    page.wait_for_selector("#fj-rows .fj-row")
    page.select_option("#fj-group", str(group["id"]))
    assert page.locator("#fj-rows .fj-row").count() == 2  # retouch.auto and adjust +0.5 EV
    page.click("#fj-run")
    page.wait_for_function("() => document.getElementById('fj-status').textContent.includes('2 item(s) added')",
                           timeout=120000)
    page.wait_for_function("() => document.querySelectorAll('#thumbs img').length === 2")
    chips = page.locator("#methods .chip").all_text_contents()
    assert chips == ["retouch.auto", "adjust +0.5 EV"]
    detail = httpx.get(f"{base}/api/studies/{sid}/", headers=h).json()
    assert sorted(i["name"] for i in detail["items"]) == ["shot0", "shot1"]
    assert all(set(i["outputs"]) == {"retouch.auto", "adjust +0.5 EV"} for i in detail["items"])
    assert not page.js_errors
