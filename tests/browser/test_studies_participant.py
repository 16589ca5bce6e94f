"""A whole participant session in real Chromium: consent → screen check → instructions → keyboard
trials (practice, then real) → completion code; and the researcher dashboard updating live."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import manage

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def demo(embedded_platform):
    out = manage(embedded_platform.env, "demo_study", "--participants", "3", "--seed", "2", "--open", "2",
                 "--owner", "study-owner")
    _, sid, public_id = out.strip().splitlines()[-1].split()
    manage(embedded_platform.env, "adduser", "study-owner", "--role", "researcher", "--password", "pw-123456")
    return int(sid), public_id


def test_participant_session_with_keyboard(embedded_platform, demo, page):
    sid, public_id = demo
    base = embedded_platform.base
    page.goto(f"{base}/s/{public_id}/?PROLIFIC_PID=pp1&STUDY_ID=st&SESSION_ID=se")
    page.wait_for_selector("#consent")
    page.check("#consent-box")
    page.click("#consent-continue")
    page.wait_for_selector("#screen-check")
    page.click("#screen-continue")
    page.wait_for_selector("#instructions")
    page.click("#start")
    page.wait_for_selector("#trial")
    html = page.content()
    for name in ("HDRNet", "CSRNet", "3D LUT", "Ours"):
        assert name not in html
    answered = 0
    for _ in range(12):  # practice (2), then a few real trials; reload once midway to resume
        if page.query_selector("#practice-done"):
            page.click("#begin")
            page.wait_for_selector("#trial")
        trial = page.get_attribute("#trial", "data-trial")
        page.keyboard.press("ArrowLeft" if answered % 2 else "ArrowRight")
        page.keyboard.press("ArrowLeft")  # a second key press must not answer twice
        page.wait_for_function("(t) => !document.querySelector('#trial') || document.querySelector('#trial')"
                               ".dataset.trial !== t", arg=trial)
        answered += 1
        if answered == 5:
            page.reload()
            page.wait_for_selector("#trial")
    text = page.text_content("#progress-text")
    assert text.startswith(f"{answered} /")
    assert not page.js_errors


def test_completion_code_and_dashboard_updates_live(embedded_platform, demo, page, chromium):
    sid, public_id = demo
    base = embedded_platform.base
    # The researcher opens the dashboard first.
    dash = chromium.new_context(viewport={"width": 1360, "height": 1000}).new_page()
    dash.goto(f"{base}/signin/")
    dash.fill("input[name=username]", "study-owner")
    dash.fill("input[name=password]", "pw-123456")
    dash.click("button[type=submit]")
    dash.goto(f"{base}/studies/{sid}/results/")
    dash.wait_for_selector("#score-table tbody")
    dash.wait_for_function("() => document.getElementById('live-dot').classList.contains('on')")
    before = int(dash.evaluate("document.body.dataset.participants"))

    # A participant answers every trial through the API, then the browser shows the completion page.
    client = httpx.Client(base_url=base)
    token = client.post(f"/api/participate/{public_id}/join/", json={"consent": True, "params": {}}).json()[
        "participant_token"]
    h = {"X-Participant-Token": token}
    regular = 0
    while True:
        t = client.get("/api/participate/next/", headers=h).json()
        if t.get("done"):
            break
        r = client.post(f"/api/participate/trials/{t['trial_id']}/response/", headers=h,
                        json={"choice": "left", "idempotency_key": t["trial_id"], "elapsed_ms": 800})
        assert r.status_code == 201
        regular += not t["practice"]
    dash.wait_for_function("(n) => Number(document.body.dataset.participants) > n", arg=before, timeout=20000)
    dash.screenshot(path=str(__import__("pathlib").Path(__file__).resolve().parents[2] / "test-artifacts"
                             / "studies-dashboard-live.png"), full_page=True)
    page.goto(f"{base}/s/{public_id}/")
    page.evaluate(f"localStorage.setItem('plab.study.{public_id}.token', '{token}')")
    page.reload()
    page.wait_for_selector("#completion")
    assert re.fullmatch(r"[0-9A-F]{8}", page.text_content("#completion-code").strip())
    dash.context.close()
