"""A researcher in real Chromium: sign in, upload a photo, move a slider, see the result arrive."""

import numpy as np
import pytest

from tests.conftest import png_bytes

pytestmark = pytest.mark.browser


def test_sign_in_upload_adjust_and_see_the_result(embedded_platform, page, tmp_path):
    embedded_platform.add_user("bea", "researcher", "pw-bea-123")
    base = embedded_platform.base

    page.goto(f"{base}/signin/")
    page.fill("input[name=username]", "bea")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".alert.error").is_visible()
    page.fill("input[name=password]", "pw-bea-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/photos/")

    gradient = np.tile(np.linspace(40, 200, 320, dtype=np.uint8)[None, :, None], (240, 1, 3))
    upload = tmp_path / "gradient-portrait.png"
    upload.write_bytes(png_bytes(gradient))
    page.set_input_files("#file-input", str(upload))
    card = page.locator(".photo-card", has_text="gradient-portrait.png")
    card.wait_for(timeout=20_000)
    card.click()
    page.wait_for_selector("#editor[data-socket=open]", timeout=15_000)

    slider = page.locator("input[name=exposure]")
    slider.fill("1")  # fires input + change, like a drag that ends
    slider.dispatch_event("change")
    page.click("#render-full")  # full resolution only on demand (tests/browser/test_editor_ux.py)
    page.wait_for_selector("#editor[data-result-job]", state="attached", timeout=30_000)
    result = page.locator("#photo-result")
    assert result.is_visible()
    src = result.get_attribute("src")
    assert src and "/media/jobs/" in src

    # The result is brighter than the original, as +1 EV should be.
    brightness = page.evaluate("""async ([a, b]) => {
      const mean = async (src) => {
        const img = new Image(); img.src = src; await img.decode();
        const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data; let s = 0;
        for (let i = 0; i < d.length; i += 4) s += d[i]; return s / (d.length / 4);
      };
      return [await mean(a), await mean(b)];
    }""", [page.locator("#photo-before").get_attribute("src"), src])
    assert brightness[1] > brightness[0] + 20

    # Before/after: holding B shows the original.
    page.keyboard.down("b")
    assert page.locator("#photo-before").is_visible() and not result.is_visible()
    page.keyboard.up("b")
    assert result.is_visible()
    assert page.js_errors == []
