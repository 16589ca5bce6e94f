"""The researcher's study pages as a person uses them: the live dashboard keeps moving while votes flow,
each rate is labelled for what it is, items are added one at a time, previewed by method and deleted
until the study opens, and the setup and results pages fit a phone."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from tests.conftest import png_bytes
from tests.unit.studies_support import METHODS, items_archive

pytestmark = pytest.mark.timeout(300)

OWNER, PASSWORD = "ux-researcher", "pw-123456"


@pytest.fixture(scope="module")
def researcher_token(embedded_platform):
    return embedded_platform.add_user(OWNER, "researcher", PASSWORD)


def _headers(token: str) -> dict:
    return {"Authorization": f"Token {token}"}


def _study(base: str, token: str, *, items: int = 12, open_it: bool = True, **fields) -> dict:
    h = _headers(token)
    study = httpx.post(f"{base}/api/studies/", headers=h, json={"title": "UX study", **fields}).json()
    r = httpx.post(f"{base}/api/studies/{study['id']}/import/", headers=h,
                   files={"archive": ("items.zip", items_archive(items), "application/zip")}, timeout=60)
    assert r.status_code == 201, r.text
    if not open_it:
        return r.json()["study"]
    r = httpx.post(f"{base}/api/studies/{study['id']}/status/", headers=h, json={"status": "open"})
    assert r.status_code == 200, r.text
    return r.json()


class Voter:
    """One participant answering through the participant API (as the participant page does)."""

    def __init__(self, base: str, public_id: str):
        self.client = httpx.Client(base_url=base, timeout=20)
        r = self.client.post(f"/api/participate/{public_id}/join/", json={"consent": True, "params": {}})
        assert r.status_code == 201, r.text
        self.client.headers["X-Participant-Token"] = r.json()["participant_token"]
        self.answered = 0

    def vote(self, choice: str | None = None) -> bool:
        t = self.client.get("/api/participate/next/").json()
        if t.get("done"):
            return False
        r = self.client.post(f"/api/participate/trials/{t['trial_id']}/response/",
                             json={"choice": choice or ("left" if self.answered % 3 else "right"),
                                   "idempotency_key": t["trial_id"], "elapsed_ms": 900})
        assert r.status_code == 201, r.text
        self.answered += 1
        return True


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/signin/")
    page.fill("input[name=username]", OWNER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_live_dashboard_moves_while_votes_flow(embedded_platform, researcher_token, page):
    """About 10 votes a second for 8 s: the server pushes an event every 0.4 s or so. A debounced page
    (wait 0.6 s after the last event) never refreshed until voting stopped; a throttled one keeps moving."""
    base = embedded_platform.base
    study = _study(base, researcher_token, practice_trials=0, attention_every=0, trials_per_participant=120,
                   participants_wanted=2)
    _sign_in(page, base)
    page.goto(f"{base}/studies/{study['id']}/results/")
    page.wait_for_function("() => document.getElementById('live-dot').classList.contains('on')")
    page.wait_for_function("() => document.body.dataset.votes === '0'")

    voter = Voter(base, study["public_id"])
    seen = []  # the vote count the page shows, read between votes, while votes are still flowing
    start = time.monotonic()
    while time.monotonic() - start < 8:
        assert voter.vote()
        seen.append(int(page.evaluate("document.body.dataset.votes")))
        time.sleep(max(0.0, 0.1 - (time.monotonic() - start) % 0.1))
    during = sorted(set(seen))
    print(f"the page showed vote counts {during} while {voter.answered} votes arrived in 8 s")
    assert len(during) >= 3, f"the page showed {during} while {voter.answered} votes arrived"
    assert during[-1] >= voter.answered // 2, (during, voter.answered)
    page.wait_for_function("(n) => Number(document.body.dataset.votes) === n", arg=voter.answered, timeout=10000)
    assert not page.js_errors


def _shown_percent(locator) -> str:
    return locator.evaluate("td => td.firstChild.textContent")


def test_scores_say_win_rate_and_share_of_selections_as_the_json_has_them(embedded_platform, researcher_token,
                                                                          page):
    base = embedded_platform.base
    study = _study(base, researcher_token, practice_trials=0, attention_every=0, trials_per_participant=24,
                   participants_wanted=2, allow_tie=True)
    for k in range(2):
        voter = Voter(base, study["public_id"])
        while voter.vote("tie" if voter.answered % 5 == 4 else "left" if (voter.answered + k) % 3 else "right"):
            pass
    _sign_in(page, base)
    page.goto(f"{base}/studies/{study['id']}/results/")
    page.wait_for_function("() => document.body.dataset.votes === '48'")
    res = httpx.get(f"{base}/api/studies/{study['id']}/dashboard/", headers=_headers(researcher_token)).json()["results"]

    assert page.text_content("#score-table th[data-measure=win_rate]") == "Win rate"
    assert page.text_content("#score-table th[data-measure=preference_rate]") == "Share of selections"
    assert "Preference rate" not in page.text_content("#score-table")
    legend = page.text_content("#score-legend")
    assert "comparisons a method took part in that it won (ties count half)" in legend
    assert "share of all selections" in legend
    shares = 0.0
    for method in METHODS:
        row = page.locator(f"#score-table tr[data-method='{method}']")
        win = _shown_percent(row.locator("td[data-measure=win_rate]"))
        share = _shown_percent(row.locator("td[data-measure=preference_rate]"))
        assert win == f"{100 * res['win_rate'][method]:.1f}%", (method, win, res["win_rate"])
        assert share == f"{100 * res['preference_rate'][method]:.1f}%", (method, share, res["preference_rate"])
        shares += float(share.rstrip("%"))
    assert abs(shares - 100) < 0.2  # shares of all selections add up; win rates need not
    assert abs(sum(res["win_rate"].values()) - 1) > 0.05

    # the raw responses export sits beside the others: one row per answer
    href = page.get_attribute("#responses-export", "href")
    assert href == f"/api/studies/{study['id']}/responses.csv"
    rows = page.evaluate("async (u) => (await (await fetch(u)).text()).trim().split('\\n').length", href)
    assert rows == 1 + 48
    assert not page.js_errors


def _image(shade: int) -> bytes:
    return png_bytes(np.full((40, 32, 3), shade, np.uint8))


def test_one_item_is_added_previewed_by_method_and_deleted_until_the_study_opens(embedded_platform,
                                                                                 researcher_token, page):
    base = embedded_platform.base
    h = _headers(researcher_token)
    study = _study(base, researcher_token, items=2, open_it=False)
    sid = study["id"]
    _sign_in(page, base)
    page.goto(f"{base}/studies/{sid}/")
    page.wait_for_selector("#thumbs .thumb")
    assert page.locator("#thumbs .thumb").count() == 2

    page.click("#item-add summary")
    page.fill("#item-form input[name=name]", "hand-made")
    page.fill("#item-form input[name=subset]", "S7")
    page.set_input_files("#item-form input[name=input]",
                         files=[{"name": "in.png", "mimeType": "image/png", "buffer": _image(80)}])
    for k, method in enumerate(METHODS):
        page.set_input_files(f"#item-form input[data-method='{method}']",
                             files=[{"name": f"{method}.png", "mimeType": "image/png", "buffer": _image(120 + 30 * k)}])
    page.click("#item-submit")
    page.wait_for_selector("#item-preview[open]")
    assert page.text_content("#preview-title") == "hand-made"
    assert page.locator("#thumbs .thumb").count() == 3
    figures = page.locator("#preview-grid figure")
    assert figures.all_text_contents() == ["Input", *METHODS]
    page.wait_for_function("() => [...document.querySelectorAll('#preview-grid img')].every(i => i.complete && i.naturalWidth > 0)")
    item = next(i for i in httpx.get(f"{base}/api/studies/{sid}/", headers=h).json()["items"] if i["name"] == "hand-made")
    assert item["subset"] == "S7" and set(item["outputs"]) == set(METHODS)

    page.keyboard.press("ArrowLeft")  # the previous item, by keyboard
    page.wait_for_function("() => document.getElementById('preview-title').textContent !== 'hand-made'")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.getElementById('preview-title').textContent === 'hand-made'")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#preview-delete")
    page.wait_for_function("() => document.querySelectorAll('#thumbs .thumb').length === 2")
    names = [i["name"] for i in httpx.get(f"{base}/api/studies/{sid}/", headers=h).json()["items"]]
    assert "hand-made" not in names and len(names) == 2

    assert httpx.post(f"{base}/api/studies/{sid}/status/", headers=h, json={"status": "open"}).status_code == 200
    page.reload()
    page.wait_for_selector("#thumbs .thumb")
    page.click("#thumbs .thumb >> nth=0")
    page.wait_for_selector("#item-preview[open]")
    assert page.is_disabled("#preview-delete")
    assert "open" in page.text_content("#preview-frozen")
    first = httpx.get(f"{base}/api/studies/{sid}/", headers=h).json()["items"][0]["id"]
    refused = httpx.delete(f"{base}/api/studies/{sid}/items/{first}/", headers=h)
    assert refused.status_code == 409 and "open" in refused.json()["detail"]
    page.keyboard.press("Escape")
    page.wait_for_selector("#item-preview:not([open])", state="attached")
    assert not page.js_errors


def test_setup_and_results_fit_a_phone_and_the_win_matrix_is_never_scaled_up(embedded_platform, researcher_token,
                                                                             chromium):
    base = embedded_platform.base
    study = _study(base, researcher_token, practice_trials=0, attention_every=0, trials_per_participant=12,
                   participants_wanted=2)
    for _ in range(2):
        voter = Voter(base, study["public_id"])
        while voter.vote():
            pass
    for width, height in ((390, 844), (1440, 900)):
        context = chromium.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        _sign_in(page, base)
        page.goto(f"{base}/studies/{study['id']}/results/")
        page.wait_for_function("() => document.body.dataset.votes === '24'")
        page.wait_for_selector("#heat svg")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        scale = page.evaluate("(() => { const s = document.querySelector('#heat svg'); "
                              "return s.getBoundingClientRect().width / s.viewBox.baseVal.width; })()")
        assert scale <= 1.0 + 1e-6, f"the win matrix is drawn at {scale:.2f}x its size at {width} px"
        page.goto(f"{base}/studies/{study['id']}/")
        page.wait_for_selector("#thumbs .thumb")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.click("#thumbs .thumb >> nth=0")
        page.wait_for_selector("#item-preview[open]")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert not errors
        context.close()
