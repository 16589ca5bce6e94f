"""A whole participant session in real Chromium: welcome (screen check) → consent → instructions →
keyboard trials (practice with feedback, then real) → completion code; and the researcher dashboard
updating live. The participant pages' own UX (layout, zoom, focus, axe) is test_participant_ux.py."""

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


READY = "#trial[data-ready]"
MIN_VIEW_MS = 400  # study-participate.js's default minimum viewing time (the demo study sets none)


def answers_counted(page) -> int:
    return int(page.text_content("#progress-text").split("/")[0])


def test_participant_session_with_keyboard(embedded_platform, demo, page):
    sid, public_id = demo
    base = embedded_platform.base
    sent: list[dict] = []
    page.on("request", lambda r: "/response/" in r.url and sent.append(r.post_data_json))
    page.goto(f"{base}/s/{public_id}/?PROLIFIC_PID=pp1&STUDY_ID=st&SESSION_ID=se")
    page.wait_for_selector("#welcome")
    page.click("#welcome-continue")
    page.check("#consent-box")
    page.click("#consent-continue")
    page.wait_for_selector("#instructions")

    # Hold the first trial's images back: a key pressed before they are shown must be ignored.
    held: list | None = []

    def hold(route):
        if held is None:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/participate/img/**", hold)
    page.click("#start")
    page.wait_for_selector("#trial")
    first = page.get_attribute("#trial", "data-trial")
    page.keyboard.press("ArrowLeft")
    page.click("#choose-right", force=True)  # a click on the disabled button is ignored as well
    assert page.is_disabled("#choose-left") and page.is_disabled("#choose-right")
    assert page.get_attribute("#trial", "data-ready") is None
    for route in held:
        route.continue_()
    held = None
    page.wait_for_selector(READY)
    assert page.get_attribute("#trial", "data-trial") == first
    assert answers_counted(page) == 0 and sent == []

    html = page.content()
    for name in ("HDRNet", "CSRNet", "3D LUT", "Ours"):
        assert name not in html
    answered = 0
    for _ in range(12):  # practice (2), then a few real trials; reload once midway to resume
        trial = page.get_attribute("#trial", "data-trial")
        page.keyboard.press("ArrowLeft" if answered % 2 else "ArrowRight")
        page.keyboard.press("ArrowLeft")  # a second key press must not answer twice
        page.wait_for_function("(t) => document.querySelector('#practice-feedback, #practice-done') || "
                               "(document.querySelector('#trial[data-ready]')?.dataset.trial ?? t) !== t", arg=trial)
        if page.query_selector("#practice-feedback, #practice-done"):
            page.click("#practice-continue, #begin")
            page.wait_for_selector(READY)
        answered += 1
        assert answers_counted(page) == answered
        if answered == 5:
            page.reload()
            page.wait_for_selector(READY)
            assert answers_counted(page) == answered
    assert len({body["idempotency_key"] for body in sent}) == answered
    assert all(body["elapsed_ms"] >= MIN_VIEW_MS for body in sent), [body["elapsed_ms"] for body in sent]
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


def test_join_is_sent_once_resumed_after_a_lost_reply_and_a_closed_study_says_so(embedded_platform, demo, page):
    """The consent button is disabled while the join is pending (more clicks send nothing); a join
    whose reply is lost is retried with the same client key and resumes the participant it made
    (200); once the study closes, the page shows why instead of a trial. Runs last: it closes the
    study."""
    sid, public_id = demo
    base = embedded_platform.base
    joins: list[int] = []

    def lose_first_reply(route):
        response = route.fetch()
        joins.append(response.status)
        if len(joins) == 1:
            page.wait_for_timeout(300)  # pending: the page must not send another join meanwhile
            route.abort()  # the participant was made, but the page never hears of it
        else:
            route.fulfill(response=response)

    page.route("**/join/", lose_first_reply)
    page.goto(f"{base}/s/{public_id}/")
    page.click("#welcome-continue")
    page.check("#consent-box")
    page.click("#consent-continue")
    assert page.is_disabled("#consent-continue")
    page.click("#consent-continue", force=True)
    page.wait_for_selector("#instructions", timeout=20000)
    assert joins == [201, 200]
    manage(embedded_platform.env, "shell", "-c",
           f"from studies.models import Study; Study.objects.filter(pk={sid}).update(status='closed')")
    page.click("#start")
    page.wait_for_selector("#closed")
    assert "closed" in page.text_content("#closed")
    assert not page.js_errors
