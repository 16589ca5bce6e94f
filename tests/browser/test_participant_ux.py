"""The participant pages as a person uses them (issue 12, items 7–9), in real Chromium: the trial fits
the study's minimum window with a synchronised zoom; the window check matches the layout; phones are
told before consent, with the way back to their platform; focus moves to the next control after every
step; axe-core finds no serious or critical violation on any page state; a fixation gap between
trials; practice feedback; the end questionnaire is stored; full screen; every error has a page."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import png_bytes

pytestmark = pytest.mark.timeout(300)

READY = "#trial[data-ready]"
GAP_MS = 700
DESKTOP, MINIMUM, PHONE = (1440, 900), (1000, 600), (390, 844)
PROLIFIC = "?PROLIFIC_PID=pp{n}&STUDY_ID=st&SESSION_ID=se{n}"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "participant"


def portrait_archive(items: int = 3) -> bytes:
    """Portrait-shaped items (400 × 512, skimage's astronaut) and three visibly different methods."""
    from skimage import data

    base = data.astronaut()[:, 56:456].astype(int)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k in range(items):
            photo = np.roll(base, 37 * k, axis=1) if k else base
            z.writestr(f"item{k}/input.png", png_bytes(photo.astype(np.uint8)))
            for name, shift in (("Bright", (18, 18, 18)), ("Warm", (22, 6, -16)), ("Cool", (-12, 0, 20))):
                z.writestr(f"item{k}/{name}.png", png_bytes(np.clip(photo + shift, 0, 255).astype(np.uint8)))
    return buf.getvalue()


class Studies:
    def __init__(self, base: str, token: str):
        self.base = base
        self.api = httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=60)
        self.archive = portrait_archive()

    def make(self, status: str = "open", **fields) -> dict:
        defaults = dict(title="Portrait retouching", allow_tie=True, practice_trials=2, trials_per_participant=3,
                        attention_every=0, participants_wanted=60, gap_ms=GAP_MS, questionnaire=True)
        r = self.api.post("/api/studies/", json={**defaults, **fields})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        r = self.api.post(f"/api/studies/{sid}/import/", files={"archive": ("s.zip", self.archive, "application/zip")})
        assert r.status_code == 201, r.text
        if status != "draft":
            assert self.api.post(f"/api/studies/{sid}/status/", json={"status": "open"}).status_code == 200
        if status == "closed":
            assert self.api.post(f"/api/studies/{sid}/status/", json={"status": "closed"}).status_code == 200
        study = self.api.get(f"/api/studies/{sid}/").json()
        return {"id": sid, "public_id": study["public_id"], "url": f"{self.base}/s/{study['public_id']}/"}

    def participants(self, sid: int) -> int:
        return self.api.get(f"/api/studies/{sid}/").json()["summary"]["participants"]


@pytest.fixture(scope="module")
def studies(embedded_platform):
    SHOTS.mkdir(parents=True, exist_ok=True)
    token = embedded_platform.add_user("ux-researcher", "researcher")
    return Studies(embedded_platform.base, token)


@pytest.fixture(scope="module")
def pairwise(studies):
    return studies.make()


def open_page(chromium, size, *, mobile=False, screen=None):
    options = dict(viewport={"width": size[0], "height": size[1]})
    if mobile:
        options.update(is_mobile=True, has_touch=True, device_scale_factor=3)
    if screen:
        options["screen"] = {"width": screen[0], "height": screen[1]}
    context = chromium.new_context(**options)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    return page


def active(page) -> str:
    """The focused element, as "tag#id" (the body when focus was lost)."""
    return page.evaluate("() => { const a = document.activeElement; return a.tagName.toLowerCase() + "
                         "(a.id ? '#' + a.id : ''); }")


def to_first_trial(page, url: str):
    page.goto(url)
    page.click("#welcome-continue")
    page.check("#consent-box")
    page.click("#consent-continue")
    page.click("#start")
    page.wait_for_selector(READY)


def answer_until(page, selector: str, limit: int = 20):
    """Answer trials (left) and click through practice feedback until ``selector`` shows."""
    for _ in range(limit):
        page.wait_for_selector(f"{selector}, {READY}, #practice-feedback, #practice-done")
        if page.query_selector(selector):
            return
        if page.query_selector("#practice-feedback, #practice-done"):
            page.click("#practice-continue, #begin")
            continue
        trial = page.get_attribute("#trial", "data-trial")
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("(t) => document.querySelector('#trial')?.dataset.trial !== t", arg=trial)
    raise AssertionError(f"{selector} never showed")


def fits_without_scrolling(page) -> dict:
    """Every part of the trial inside the window, nothing to scroll, and the images' shown size."""
    return page.evaluate("""() => {
      const inside = (el) => { const r = el.getBoundingClientRect();
        return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight + 0.5 && r.right <= innerWidth + 0.5; };
      const parts = ['.p-original', '#choose-left', '#choose-right', '#choose-tie', '#progress', '#zoom-toggle',
                     '#choose-left .p-choice-label', '#choose-right .p-choice-label', '#candidates', '#submit-rank'];
      const out = {};
      for (const sel of parts) { const el = document.querySelector(sel); if (el) out[sel] = inside(el); }
      const shown = [...document.querySelectorAll('#trial .p-img-box')].map((box) => {
        const img = box.querySelector('img'); const r = box.getBoundingClientRect();
        const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
        return [Math.round(img.naturalWidth * s), Math.round(img.naturalHeight * s)]; });
      const doc = document.scrollingElement;
      return { parts: out, scrolls: doc.scrollHeight > innerHeight || doc.scrollWidth > innerWidth, shown };
    }""")


# ----------------------------------------------------------------------------- item 7: layout and zoom


@pytest.mark.parametrize("size", [DESKTOP, MINIMUM], ids=["1440x900", "1000x600-study-minimum"])
def test_trial_fits_the_window_and_zoom_is_synchronised(chromium, pairwise, size):
    page = open_page(chromium, size)
    to_first_trial(page, pairwise["url"] + PROLIFIC.format(n=f"fit{size[0]}"))
    layout = fits_without_scrolling(page)
    assert not layout["scrolls"], layout
    assert all(layout["parts"].values()) and len(layout["parts"]) >= 8, layout
    # the results are shown as large as the window allows: at the minimum window still > 340 px tall
    results = layout["shown"][1:]
    assert min(h for _, h in results) >= (340 if size == MINIMUM else 600), layout["shown"]
    page.screenshot(path=f"{SHOTS}/trial-{size[0]}x{size[1]}.png")

    # Z: a loupe on every image at the same spot, at native pixels (or more); the pointer moves all of them
    assert page.locator(".p-loupe:visible").count() == 0
    page.keyboard.press("z")
    assert page.locator(".p-loupe:visible").count() == 3
    assert page.get_attribute("#zoom-toggle", "aria-pressed") == "true"
    box = page.locator("#choose-left .p-img-box").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
    spots = page.evaluate("""() => [...document.querySelectorAll('#trial .p-img-box')].map((box) => {
      const img = box.querySelector('img'), loupe = box.querySelector('.p-loupe');
      const r = box.getBoundingClientRect(), l = loupe.getBoundingClientRect();
      const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
      const x0 = r.left + (r.width - img.naturalWidth * s) / 2, y0 = r.top + (r.height - img.naturalHeight * s) / 2;
      const size = parseFloat(getComputedStyle(loupe).backgroundSize);
      return { u: (l.left + l.width / 2 - x0) / (img.naturalWidth * s), v: (l.top + l.height / 2 - y0) / (img.naturalHeight * s),
               perPixel: size / img.naturalWidth, shownPerPixel: s }; })""")
    for spot in spots:
        assert spot["u"] == pytest.approx(0.5, abs=0.02) and spot["v"] == pytest.approx(0.3, abs=0.03), spots
        assert spot["perPixel"] >= 1 and spot["perPixel"] > spot["shownPerPixel"], spots
    position = "() => getComputedStyle(document.querySelector('#choose-right .p-loupe')).backgroundPosition"
    before = page.evaluate(position)
    page.keyboard.press("Shift+ArrowRight")  # the keyboard moves the loupe too (no answer: Shift)
    assert page.evaluate(position) != before and page.get_attribute("#trial", "data-ready") is not None
    page.screenshot(path=f"{SHOTS}/zoom-{size[0]}x{size[1]}.png")
    # while zooming a click on an image only moves the loupe; it does not answer
    trial = page.get_attribute("#trial", "data-trial")
    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4)
    time.sleep(0.3)
    assert page.get_attribute("#trial", "data-trial") == trial and page.query_selector(READY)
    page.keyboard.press("z")
    assert page.locator(".p-loupe:visible").count() == 0
    assert not page.js_errors
    page.context.close()


def test_ranking_trial_fits_the_minimum_window(chromium, studies):
    study = studies.make(kind="ranking", rank_k=3, allow_tie=False, practice_trials=0)
    page = open_page(chromium, MINIMUM)
    to_first_trial(page, study["url"])
    layout = fits_without_scrolling(page)
    assert not layout["scrolls"] and all(layout["parts"].values()), layout
    assert min(h for _, h in layout["shown"][1:]) >= 250, layout["shown"]
    page.screenshot(path=f"{SHOTS}/ranking-1000x600.png")
    page.context.close()


def test_window_check_matches_the_layout_and_guards_the_trials(chromium, pairwise):
    info = httpx.get(pairwise["url"].replace("/s/", "/api/participate/")).json()
    assert info["window"] == {"width": 1000, "height": 600}
    page = open_page(chromium, (999, 600), screen=(1920, 1080))  # a desktop whose window is 1 px too narrow
    page.goto(pairwise["url"])
    page.wait_for_selector("#welcome")
    assert page.is_disabled("#welcome-continue")
    assert "at least 1000 × 600" in page.text_content("#screen-status")
    page.set_viewport_size({"width": 1000, "height": 600})
    page.wait_for_function("() => !document.querySelector('#welcome-continue').disabled")
    page.click("#welcome-continue")
    page.check("#consent-box")
    page.click("#consent-continue")
    page.click("#start")
    page.wait_for_selector(READY)
    # shrinking the window during trials covers the trial until it is large enough again
    page.set_viewport_size({"width": 900, "height": 560})
    page.wait_for_selector("#window-guard")
    assert page.is_disabled("#choose-left") and page.get_attribute("#trial", "data-ready") is None
    trial = page.get_attribute("#trial", "data-trial")
    page.keyboard.press("ArrowLeft")
    assert page.get_attribute("#trial", "data-trial") == trial
    page.set_viewport_size({"width": 1000, "height": 600})
    page.wait_for_selector(READY)
    assert page.query_selector("#window-guard") is None
    page.context.close()


# ----------------------------------------------------------------------------- item 8


@pytest.mark.parametrize("platform", ["prolific", "mturk-sandbox"])
def test_a_phone_is_told_before_consent_with_the_way_back(chromium, studies, pairwise, platform):
    query, back = {
        "prolific": (PROLIFIC.format(n="phone"), "https://app.prolific.com/submissions"),
        "mturk-sandbox": ("?workerId=W1&assignmentId=A1&hitId=H1&turkSubmitTo=https%3A%2F%2Fworkersandbox.mturk.com",
                          "https://workersandbox.mturk.com/tasks"),
    }[platform]
    before = studies.participants(pairwise["id"])
    page = open_page(chromium, PHONE, mobile=True)
    page.goto(pairwise["url"] + query)
    page.wait_for_selector("#device-check")
    assert page.query_selector("#consent") is None and page.query_selector("#consent-box") is None
    assert page.get_attribute("#platform-return", "href") == back
    assert active(page) == "a#platform-return"
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE[0]
    page.screenshot(path=f"{SHOTS}/phone-{platform}.png", full_page=True)
    assert studies.participants(pairwise["id"]) == before  # nobody joined
    page.context.close()


@pytest.mark.parametrize("size", [DESKTOP, MINIMUM], ids=["1440x900", "1000x600-study-minimum"])
def test_focus_moves_to_the_next_control_after_every_step(chromium, studies, pairwise, size):
    page = open_page(chromium, size)
    page.goto(pairwise["url"] + PROLIFIC.format(n=f"focus{size[0]}"))
    page.wait_for_selector("#welcome")
    seen = [active(page)]
    page.keyboard.press("Enter")
    page.wait_for_selector("#consent")
    seen.append(active(page))
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    seen.append(active(page))
    page.keyboard.press("Enter")
    page.wait_for_selector("#instructions")
    seen.append(active(page))
    page.keyboard.press("Enter")
    page.wait_for_selector(READY)
    page.wait_for_function("() => document.activeElement.id === 'choose-left'")
    seen.append(active(page))
    page.keyboard.press("ArrowRight")  # practice 1
    page.wait_for_selector("#practice-feedback")
    seen.append(active(page))
    page.keyboard.press("Enter")
    page.wait_for_selector(READY)
    page.wait_for_function("() => document.activeElement.id === 'choose-left'")
    page.keyboard.press("Space")  # practice 2: no preference, even with focus on the left answer
    page.wait_for_selector("#practice-done")
    seen.append(active(page))
    page.keyboard.press("Enter")
    for _ in range(3):
        page.wait_for_selector(READY)
        page.wait_for_function("() => document.activeElement.id === 'choose-left'")
        seen.append(active(page))
        page.keyboard.press("ArrowLeft")
        page.wait_for_selector("#fixation, #questionnaire")
        if page.query_selector("#fixation"):
            assert active(page) == "section#fixation"
    page.wait_for_selector("#questionnaire")
    seen.append(active(page))
    for _ in range(5):  # through the questions (age, gender, vision, colour vision, comment) to Skip
        page.keyboard.press("Tab")
    seen.append(active(page))
    page.keyboard.press("Enter")
    page.wait_for_selector("#completion")
    seen.append(active(page))
    assert seen == ["button#welcome-continue", "input#consent-box", "button#consent-continue", "button#start",
                    "button#choose-left", "button#practice-continue", "button#begin",
                    "button#choose-left", "button#choose-left", "button#choose-left",
                    "select#q-age_band", "button#questionnaire-skip", "a#prolific-return"], seen
    assert not page.js_errors
    page.context.close()


def axe_problems(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1440x900", "390x844"])
def test_axe_finds_no_serious_violation_on_any_participant_page(chromium, studies, embedded_platform, size):
    """axe-core (the axe-playwright-python package's bundled axe.min.js, offline) over every state,
    colour contrast (WCAG AA 4.5:1) included."""
    study = studies.make()
    closed = studies.make(status="closed")
    problems: dict[str, list[str]] = {}
    page = open_page(chromium, size)

    def check(state):
        problems[state] = axe_problems(page)
        shown = page.viewport_size
        page.screenshot(path=f"{SHOTS}/{state}-{shown['width']}x{shown['height']}.png", full_page=True)

    page.goto(f"{embedded_platform.base}/s/no-such-study/")
    check("error-404")
    page.goto(f"{embedded_platform.base}/no/such/page/")
    check("site-error-404")
    page.goto(closed["url"])
    page.wait_for_selector("#closed")
    check("closed-410")
    page.goto(study["url"] + PROLIFIC.format(n=f"axe{size[0]}"))
    if size == PHONE:
        page.wait_for_selector("#device-check")
        check("device-check")
        page.context.close()
        page = open_page(chromium, MINIMUM)
        page.goto(study["url"] + PROLIFIC.format(n=f"axe{size[0]}"))
    page.wait_for_selector("#welcome")
    check("welcome")
    page.click("#welcome-continue")
    check("consent")
    page.check("#consent-box")
    page.click("#consent-continue")
    page.wait_for_selector("#instructions")
    check("instructions")
    page.click("#start")
    page.wait_for_selector(READY)
    check("trial")
    page.keyboard.press("z")
    check("trial-zoom")
    page.keyboard.press("z")
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#practice-feedback")
    check("practice-feedback")
    page.click("#practice-continue")
    page.wait_for_selector(READY)
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#practice-done")
    check("practice-done")
    page.click("#begin")
    page.wait_for_selector(READY)
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#fixation")
    check("fixation")
    answer_until(page, "#questionnaire")
    check("questionnaire")
    page.click("#questionnaire-skip")
    page.wait_for_selector("#completion")
    check("completion")
    assert not any(problems.values()), problems
    page.context.close()


def test_contrast_of_primary_buttons_and_small_labels_meets_aa(chromium, pairwise):
    page = open_page(chromium, DESKTOP)
    page.goto(pairwise["url"])
    page.wait_for_selector("#welcome")
    ratios = page.evaluate("""() => {
      const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
      const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
      const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
      const button = getComputedStyle(document.querySelector('#welcome-continue'));
      const eyebrow = getComputedStyle(document.querySelector('#welcome .eyebrow'));
      const card = getComputedStyle(document.querySelector('#welcome'));
      const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim();
      const probe = document.createElement('span'); probe.style.color = accent; document.body.append(probe);
      const accentRgb = getComputedStyle(probe).color;
      return { button: ratio(button.color, button.backgroundColor), eyebrow: ratio(eyebrow.color, card.backgroundColor),
               accentOnWhite: ratio(accentRgb, 'rgb(255, 255, 255)'), accentOnPage: ratio(accentRgb, 'rgb(246, 245, 243)') };
    }""")
    assert all(v >= 4.5 for v in ratios.values()), ratios
    page.context.close()


def test_every_error_gets_a_page(chromium, studies, embedded_platform):
    page = open_page(chromium, DESKTOP)
    response = page.goto(f"{embedded_platform.base}/s/not-a-study/")
    assert response.status == 404
    assert page.text_content("#error-page h1") == "Study not found"
    assert "Not Found" not in page.content()
    closed = studies.make(status="closed")
    response = page.goto(closed["url"])
    assert response.status == 410
    page.wait_for_selector("#closed")
    assert "closed" in page.text_content("#closed")
    api = httpx.get(f"{embedded_platform.base}/api/participate/img/nope/")
    assert api.status_code == 404 and api.headers["content-type"] == "application/json" and api.json()["detail"]
    page.context.close()


# ----------------------------------------------------------------------------- item 9


def test_a_fixation_gap_separates_trials(chromium, studies):
    study = studies.make(practice_trials=0, questionnaire=False)
    page = open_page(chromium, DESKTOP)
    to_first_trial(page, study["url"])
    page.evaluate("""() => { window.seen = []; new MutationObserver(() => {
        const id = document.querySelector('#app > section')?.id; const last = window.seen.at(-1);
        if (id && (!last || last[0] !== id)) window.seen.push([id, performance.now()]); })
      .observe(document.getElementById('app'), { childList: true }); }""")
    for _ in range(2):
        trial = page.get_attribute("#trial", "data-trial")
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("(t) => (document.querySelector('#trial[data-ready]')?.dataset.trial ?? t) !== t",
                               arg=trial)
    seen = page.evaluate("window.seen")
    names = [name for name, _ in seen]
    assert names == ["fixation", "trial", "fixation", "trial"], seen
    for (shown, at), (_, next_at) in zip(seen[::2], seen[1::2], strict=True):
        assert shown == "fixation" and next_at - at >= GAP_MS - 20, seen
    page.context.close()


def test_practice_feedback_says_whether_the_answer_matched(chromium, studies):
    study = studies.make(practice_trials=2, questionnaire=False)
    page = open_page(chromium, DESKTOP)
    to_first_trial(page, study["url"])
    expected = page.evaluate("(key) => fetch('/api/participate/next/', {headers: {'X-Participant-Token': "
                             "localStorage.getItem(key)}}).then((r) => r.json())", f"plab.study.{study['public_id']}.token")
    assert expected["practice"] and expected["expected"]["choice"] in ("left", "right")
    wrong = "ArrowRight" if expected["expected"]["choice"] == "left" else "ArrowLeft"
    page.keyboard.press(wrong)
    page.wait_for_selector("#practice-feedback")
    verdict = page.text_content("#practice-verdict")
    assert verdict.startswith("✗") and f"the {expected['expected']['choice']} image was the better one" in verdict
    page.click("#practice-continue")
    page.wait_for_selector(READY)
    page.keyboard.press("ArrowLeft")  # the second practice trial has no right answer
    page.wait_for_selector("#practice-done")
    assert "no right answer" in page.text_content("#practice-done")
    assert "the real trials" in page.text_content("#begin")
    page.context.close()


def test_ranking_practice_feedback_names_the_degraded_result(chromium, studies):
    study = studies.make(kind="ranking", rank_k=3, allow_tie=False, practice_trials=1, questionnaire=False)
    page = open_page(chromium, MINIMUM)
    to_first_trial(page, study["url"])
    expected = page.evaluate("(key) => fetch('/api/participate/next/', {headers: {'X-Participant-Token': "
                             "localStorage.getItem(key)}}).then((r) => r.json())", f"plab.study.{study['public_id']}.token")
    worst = expected["expected"]["worst"]
    for k in [worst, *[k for k in range(3) if k != worst]]:  # the degraded one first: not the expected answer
        page.keyboard.press(str(k + 1))
    page.keyboard.press("Enter")
    page.wait_for_selector("#practice-done")
    verdict = page.text_content("#practice-verdict")
    assert verdict.startswith("✗") and f"result {worst + 1} was deliberately degraded" in verdict, verdict
    page.context.close()


def test_end_questionnaire_is_stored_with_the_participant_and_exported(chromium, studies):
    study = studies.make(practice_trials=0)
    page = open_page(chromium, DESKTOP)
    to_first_trial(page, study["url"] + PROLIFIC.format(n="q1"))
    answer_until(page, "#questionnaire")
    page.select_option("#q-age_band", "35-44")
    page.select_option("#q-gender", "woman")
    page.select_option("#q-vision_correction", "contact_lenses")
    page.fill("#q-comment", "The left images often looked too warm.")
    page.click("#questionnaire-submit")
    page.wait_for_selector("#completion")
    rows = list(csv.DictReader(io.StringIO(studies.api.get(f"/api/studies/{study['id']}/responses.csv").text)))
    assert rows and {(r["prolific_pid"], r["q_age_band"], r["q_gender"], r["q_vision_correction"], r["q_colour_vision"],
                      r["q_comment"]) for r in rows} == {
        ("ppq1", "35-44", "woman", "contact_lenses", "", "The left images often looked too warm.")}
    page.reload()  # answered: a reload shows the code, not the questionnaire again
    page.wait_for_selector("#completion")
    page.context.close()


def test_full_screen_is_requested_when_trials_start(chromium, studies):
    study = studies.make(fullscreen=True, practice_trials=0)
    page = open_page(chromium, DESKTOP)
    to_first_trial(page, study["url"])
    page.wait_for_function("() => document.fullscreenElement === document.documentElement")
    assert page.is_visible("#fullscreen-toggle")
    page.click("#fullscreen-toggle")
    page.wait_for_function("() => !document.fullscreenElement")
    # the label follows the fullscreenchange event, which comes after the state changed
    page.wait_for_function("() => document.getElementById('fullscreen-toggle').textContent === 'Full screen'")
    page.context.close()
