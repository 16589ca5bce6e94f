"""/models/ trains on an uploaded PPR10K-layout zip: choose a zip, see the upload's progress, read the
server's own sentence when it refuses one (bad layout, traversal; an over-limit file is refused before
it is sent), and "Train on this upload" starts the job as the form does for a dataset version.
Researchers only: another role gets the 403 page, no upload control."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.signin import open_signed_in
from tests.unit.registry_support import as_zip, ppr10k_files

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
PASSWORD = "pw-Upload-2024"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "model-upload"
STARTED = ("exporting", "training", "evaluating", "ready")


def _refused(page, path: Path, expected: str) -> None:
    """Upload ``path`` with the keyboard; the server's sentence appears and nothing joins the choice."""
    page.set_input_files("#up-file", str(path))
    page.focus("#up-send")
    page.keyboard.press("Enter")
    error = page.locator("#up-error")
    error.wait_for(state="visible")
    assert expected in error.text_content()
    assert page.locator("#up-done").is_hidden()
    assert page.locator("#tf-dataset option[value^='upload:']").count() == 0


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)], ids=["1440", "390"])
def test_upload_a_zip_see_refusals_and_train_on_it(embedded_platform, chromium, tmp_path, viewport):
    base = embedded_platform.base
    user = f"zip-owner-{viewport[0]}"
    embedded_platform.add_user(user, "researcher", PASSWORD)
    good = tmp_path / "shoot.zip"
    good.write_bytes(as_zip(ppr10k_files(prefix="shoot/")))
    no_targets = tmp_path / "no-targets.zip"
    no_targets.write_bytes(as_zip(ppr10k_files(skip={"360p/train/target_a"})))
    traversal = tmp_path / "traversal.zip"
    traversal.write_bytes(as_zip({**ppr10k_files(), "../../evil.tif": b"x"}))

    page = open_signed_in(chromium, base, user, PASSWORD, viewport)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "/api/models/datasets/" in r.url else None)
    page.goto(f"{base}/models/")
    page.wait_for_selector("#tf-dataset option", state="attached")
    assert page.locator("#tf-start").is_disabled()  # no frozen dataset and no upload yet
    assert page.locator("#up-send").is_disabled()  # nothing chosen
    assert page.get_attribute("#up-file", "accept") == ".zip,application/zip"
    assert page.locator("label:has(#up-file)").text_content().strip().startswith("PPR10K-layout zip")

    _refused(page, no_targets, "360p/train/target_a does not exist")
    _refused(page, traversal, "outside its folder")
    assert len(posts) == 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"refused-{viewport[0]}.png"), full_page=True)
    # over the limit: refused in the page with the limit named, not a byte sent
    page.evaluate("document.querySelector('meta[name=upload-max-bytes]').content = '1000'")
    page.set_input_files("#up-file", str(good))
    page.click("#up-send")
    page.wait_for_function("() => document.getElementById('up-error').textContent.includes('the limit is')")
    assert len(posts) == 2
    page.evaluate("document.querySelector('meta[name=upload-max-bytes]').content = String(200 * 2 ** 20)")

    # progress is reported through aria-valuenow as the bytes go out
    page.evaluate("""() => { window.seen = []; new MutationObserver(() => window.seen.push(
        Number(document.getElementById('up-progress').getAttribute('aria-valuenow')))).observe(
        document.getElementById('up-progress'), { attributes: true, attributeFilter: ['aria-valuenow'] }); }""")
    page.click("#up-send")
    page.locator("#up-done").wait_for(state="visible")
    assert len(posts) == 3
    assert page.evaluate("Math.max(...window.seen)") == 100
    assert page.locator("#up-error").is_hidden() and page.locator("#up-progress").is_hidden()
    summary = page.text_content("#up-summary")
    assert "shoot.zip" in summary and "3 train photos" in summary and "2 held out" in summary
    chosen = page.eval_on_selector("#tf-dataset", "s => s.value")
    assert re.fullmatch(r"upload:\d+", chosen)
    assert page.eval_on_selector_all("#tf-expert option", "os => os.map(o => o.value)") == ["a"]
    assert page.locator("#tf-start").is_enabled()
    assert page.evaluate("document.activeElement.id") == "up-train"  # the next step has the focus
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    page.screenshot(path=str(SHOTS / f"uploaded-{viewport[0]}.png"), full_page=True)

    page.select_option("#tf-model", "retouch.lut")
    page.fill("#tf-steps", "5")
    page.focus("#up-train")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/models/\d+/$"))
    assert "Uploaded zip shoot.zip" in page.text_content("#md-subtitle")
    page.wait_for_function(f"() => {list(STARTED) + ['failed']}.includes(document.getElementById('md-status').textContent)",
                           timeout=240000)  # a worker took the job
    assert page.text_content("#md-status") in STARTED
    page.screenshot(path=str(SHOTS / f"started-{viewport[0]}.png"), full_page=True)
    assert not page.js_errors
    page.context.close()


def test_other_roles_get_no_upload_control(embedded_platform, chromium):
    embedded_platform.add_user("zip-expert", "expert", PASSWORD)
    page = open_signed_in(chromium, embedded_platform.base, "zip-expert", PASSWORD)
    response = page.goto(f"{embedded_platform.base}/models/")
    assert response.status == 403
    assert page.locator("#up-file").count() == 0
    page.context.close()
