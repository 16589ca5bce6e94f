"""The annotation workspace around the editor, in real Chromium: a reviewer pins an issue to a
brushed region (paint, erase, clear, undo) and the expert sees it on their photo and in their issue
list; QA thresholds typed into the project form (with its validation) decide a submission, and a
looser threshold saved on the project page lets the same work through; a composite built on the
composite page becomes a harmonization task (sliders on the pasted person only) whose export holds
the composite, its masks and every slot's target. Screenshots of the three pages at 1440 × 900 and
390 × 844 go to ``test-artifacts/annotation-ux/``."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from tests.browser.signin import open_signed_in
from tests.conftest import png_bytes
from tests.unit.annotation_support import person_mask, portrait

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
PASSWORD = "pw-Annotate-2024"
SIZE = (160, 120)
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "annotation-ux"


def _h(token: str) -> dict:
    return {"Authorization": f"Token {token}"}


def _users(platform, prefix: str) -> dict:
    tokens = {"prefix": prefix, "researcher": platform.add_user(f"{prefix}-researcher", "researcher", PASSWORD),
              "reviewer": platform.add_user(f"{prefix}-reviewer", "reviewer", PASSWORD)}
    for slot in "abc":
        tokens[slot] = platform.add_user(f"{prefix}-expert-{slot}", "expert", PASSWORD)
    return tokens


def _people(base, tokens, project_id) -> dict:
    """Role → user id, from the project's assignable people (the owner's view): slots a–c, reviewer."""
    people = httpx.get(f"{base}/api/annotation/projects/{project_id}/", headers=_h(tokens["researcher"])).json()["people"]
    ids = {p["username"]: p["id"] for role in ("expert", "reviewer") for p in people[role]}
    prefix = tokens["prefix"]
    return {**{slot: ids[f"{prefix}-expert-{slot}"] for slot in "abc"}, "reviewer": ids[f"{prefix}-reviewer"]}


def _upload(base, token, name, image, group=None, mask=None) -> dict:
    data = {"group": group} if group else {}
    r = httpx.post(f"{base}/api/photos/", headers=_h(token), data=data,
                   files={"file": (name, png_bytes(image), "image/png")})
    assert r.status_code == 201, r.text
    if mask is not None:
        m = httpx.post(f"{base}/api/photos/{r.json()['id']}/masks/", headers=_h(token), data={"kind": "human"},
                       files={"file": ("m.png", png_bytes(mask), "image/png")})
        assert m.status_code == 201, m.text
    return r.json()


def _group(base, token, name: str, photos: int = 3) -> dict:
    group = httpx.post(f"{base}/api/groups/", headers=_h(token), json={"name": name}).json()
    for k in range(photos):
        _upload(base, token, f"{name.split()[0].lower()}{k}.png", portrait(k, SIZE), group["id"], person_mask(SIZE))
    return group


def _sign_in(chromium, base: str, username: str, viewport=(1440, 900)):
    return open_signed_in(chromium, base, username, PASSWORD, viewport)


def _shots(page, name: str, ready_selector: str) -> None:
    """The page at 1440 × 900 (as it is) and at 390 × 844, full length."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-1440.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_selector(ready_selector)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def _assign_and_submit(base, tokens, assignments, params_for=lambda slot, k: {"exposure": 0.2}):
    """Every slot assigned (same reviewer), edited and submitted through the API."""
    ids = _people(base, tokens, assignments[0]["project"])
    for a in assignments:
        r = httpx.post(f"{base}/api/annotation/assignments/{a['id']}/assign/", headers=_h(tokens["researcher"]),
                       json={"expert": ids[a["slot"]], "reviewer": ids["reviewer"]})
        assert r.status_code == 200, r.text
        h = _h(tokens[a["slot"]])
        detail = httpx.get(f"{base}/api/annotation/assignments/{a['id']}/", headers=h).json()
        for k, photo in enumerate(detail["photos"]):
            r = httpx.put(f"{base}/api/annotation/assignments/{a['id']}/photos/{photo['id']}/params", headers=h,
                          json={"params": params_for(a["slot"], k)})
            assert r.status_code == 200, r.text
        r = httpx.post(f"{base}/api/annotation/assignments/{a['id']}/submit/", headers=h, timeout=60)
        assert r.status_code == 200, r.text


def test_reviewer_brushes_a_region_and_the_expert_sees_it(embedded_platform, chromium):
    base = embedded_platform.base
    tokens = _users(embedded_platform, "brush")
    group = _group(base, tokens["researcher"], "Brush shoot")
    project = httpx.post(f"{base}/api/annotation/projects/", headers=_h(tokens["researcher"]),
                         json={"title": "Brush review", "groups": [group["id"]]}).json()
    assignments = httpx.get(f"{base}/api/annotation/projects/{project['id']}/",
                            headers=_h(tokens["researcher"])).json()["assignments"]
    _assign_and_submit(base, tokens, assignments, lambda slot, k: {"exposure": {"a": 0.4, "b": 0.1, "c": -0.1}[slot]})
    a = next(x for x in assignments if x["slot"] == "a")

    reviewer = _sign_in(chromium, base, "brush-reviewer")
    reviewer.goto(f"{base}/annotation/assignments/{a['id']}/review/")
    reviewer.wait_for_selector("#ann-review[data-ready]", timeout=30_000)
    # Item 4 in the UI: the source and three slots, M_GLC per slot, ΔE between slots.
    assert reviewer.locator(".review-cell").count() == 4
    assert reviewer.locator("#rv-summary .de-chip").count() == 3
    reviewer.wait_for_function("() => document.querySelector('#cells').textContent.includes('ΔE b')")

    reviewer.click("[data-tool-button=brush]")
    assert reviewer.locator("#brush-size-row").is_visible()
    target = reviewer.locator(".review-cell.pinning canvas").bounding_box()
    x0, y0, w, h = target["x"], target["y"], target["width"], target["height"]
    reviewer.mouse.move(x0 + 0.2 * w, y0 + 0.5 * h)
    reviewer.mouse.down()
    reviewer.mouse.move(x0 + 0.8 * w, y0 + 0.5 * h, steps=25)
    reviewer.mouse.up()
    assert reviewer.locator("#ann-review").get_attribute("data-region") == "brush"
    painted = reviewer.locator(".pin-layer .region-brush").get_attribute("data-dabs")
    assert int(painted) >= 4
    # Erase the right end: fewer dabs, the rest stays.
    reviewer.keyboard.press("e")
    reviewer.mouse.move(x0 + 0.8 * w, y0 + 0.5 * h)
    reviewer.mouse.down()
    reviewer.mouse.move(x0 + 0.7 * w, y0 + 0.5 * h, steps=5)
    reviewer.mouse.up()
    left = int(reviewer.locator(".pin-layer .region-brush").get_attribute("data-dabs"))
    assert 0 < left < int(painted)
    # Clear, then undo the clear.
    reviewer.click("#region-clear")
    assert reviewer.locator(".pin-layer .region-brush").count() == 0
    assert reviewer.locator("#issue-region").text_content() == ""
    reviewer.keyboard.press("Control+z")
    assert int(reviewer.locator(".pin-layer .region-brush").get_attribute("data-dabs")) == left
    assert "Region pinned: brushed area" in reviewer.locator("#issue-region").text_content()
    reviewer.fill("#issue-comment", "The shadow across the cheek is too cold.")
    reviewer.click("#issue-form button[type=submit]")
    assert reviewer.locator("#pending .region-thumb[data-region=brush]").count() == 1
    _shots(reviewer, "review", "#ann-review[data-ready]")
    reviewer.click("#request-changes")
    reviewer.wait_for_selector("#rv-state[data-state=changes_requested]", timeout=20_000)
    assert reviewer.js_errors == []

    issue = httpx.get(f"{base}/api/annotation/assignments/{a['id']}/", headers=_h(tokens["a"])).json()["issues"][0]
    assert len(issue["region"]["brush"]) == left and "box" not in issue["region"]

    expert = _sign_in(chromium, base, "brush-expert-a")
    expert.goto(f"{base}/annotation/assignments/{a['id']}/")
    expert.wait_for_selector("#ann-editor[data-ready='1']", timeout=30_000)
    assert expert.locator(".issue.open .region-thumb[data-region=brush]").count() == 1
    assert expert.locator(".issue.open .region-thumb circle").count() == 2 * left  # fill + outline per dab
    expert.wait_for_function("n => document.querySelectorAll('#issue-layer circle').length === n", arg=left)
    assert expert.js_errors == []
    expert.context.close()
    reviewer.context.close()


def test_qa_thresholds_from_the_project_form_decide_the_submission(embedded_platform, chromium):
    base = embedded_platform.base
    tokens = _users(embedded_platform, "qa")
    group = _group(base, tokens["researcher"], "QA shoot", photos=2)
    owner = _sign_in(chromium, base, "qa-researcher")
    owner.goto(f"{base}/annotation/")
    owner.fill("#project-form input[name=title]", "Strict tone")
    owner.check(f"#project-form input[name=groups][value='{group['id']}']")
    owner.fill("#project-form input[name=max_glc]", "0.5")
    owner.fill("#project-form input[name=max_clipped_percent]", "150")
    owner.fill("#project-form input[name=max_rounds]", "0")
    owner.click("#project-form button[type=submit]")
    # Both problems are named under their fields and nothing is created.
    assert owner.locator("#project-form label .field-error").count() == 2
    assert "percentage from 0 to 100" in owner.locator("#project-form-error").text_content()
    assert owner.locator("input[name=max_clipped_percent][aria-invalid=true]").count() == 1
    listed = httpx.get(f"{base}/api/annotation/projects/", headers=_h(tokens["researcher"])).json()
    assert listed["count"] == 0
    owner.fill("#project-form input[name=max_clipped_percent]", "3")
    owner.fill("#project-form input[name=max_rounds]", "2")
    owner.click("#project-form button[type=submit]")
    owner.wait_for_selector("#ann-project[data-loaded]", timeout=20_000)
    project_id = owner.locator("#ann-project").get_attribute("data-project")
    project = httpx.get(f"{base}/api/annotation/projects/{project_id}/", headers=_h(tokens["researcher"])).json()
    assert project["qa"] == {"max_glc": 0.5, "max_clipped_fraction": 0.03, "extreme_fraction": 0.95}
    assert project["max_rounds"] == 2
    assert owner.locator("#settings-form input[name=max_glc]").input_value() == "0.5"

    # The expert's group tone is far apart (one photo warm, one cold): the 0.5 limit refuses it.
    a = next(x for x in project["assignments"] if x["slot"] == "a")
    r = httpx.post(f"{base}/api/annotation/assignments/{a['id']}/assign/", headers=_h(tokens["researcher"]),
                   # its own reviewer: unclaimed work in review would show in other tests' reviewer queues
                   json={"expert": _people(base, tokens, project_id)["a"],
                         "reviewer": _people(base, tokens, project_id)["reviewer"]})
    assert r.status_code == 200, r.text
    detail = httpx.get(f"{base}/api/annotation/assignments/{a['id']}/", headers=_h(tokens["a"])).json()
    for photo, temperature in zip(detail["photos"], (35, -35), strict=True):
        httpx.put(f"{base}/api/annotation/assignments/{a['id']}/photos/{photo['id']}/params", headers=_h(tokens["a"]),
                  json={"params": {"temperature": temperature}})
    expert = _sign_in(chromium, base, "qa-expert-a")
    expert.goto(f"{base}/annotation/assignments/{a['id']}/")
    expert.wait_for_selector("#ann-editor[data-ready='1']", timeout=30_000)
    expert.click("#submit")
    expert.wait_for_selector("#qa-box:not([hidden])", timeout=30_000)
    assert "limit 0.5" in expert.locator("#qa-list").text_content()

    # The researcher loosens the threshold on the project page (a bad value first); the same work passes.
    owner.fill("#settings-form input[name=max_glc]", "-3")
    owner.click("#settings-save")
    assert "M_GLC threshold" in owner.locator("#settings-form .field-error").text_content()
    owner.fill("#settings-form input[name=max_glc]", "5000")
    owner.click("#settings-save")
    owner.wait_for_selector("#ann-project[data-settings-saved='1']", timeout=10_000)
    assert "M_GLC ≤ 5000" in owner.locator("#settings-state").text_content()
    _shots(owner, "project", "#ann-project[data-loaded]")
    expert.click("#submit")
    expert.wait_for_selector("#ann-editor[data-state=in_review]", timeout=30_000)
    assert owner.js_errors == [] and expert.js_errors == []
    expert.context.close()
    owner.context.close()


def _wait_export(base, token, project_id, export_id, timeout=240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exports = httpx.get(f"{base}/api/annotation/projects/{project_id}/export/", headers=_h(token)).json()
        record = next(x for x in exports if x["id"] == export_id)
        if record["status"] in ("succeeded", "failed"):
            return record
        time.sleep(1)
    raise TimeoutError("the export did not finish")


def test_a_composite_built_on_the_page_becomes_a_harmonization_task(embedded_platform, chromium, tmp_path):
    from inference.imagefiles import read_mask, read_rgb

    base = embedded_platform.base
    tokens = _users(embedded_platform, "harm")
    person = _upload(base, tokens["researcher"], "model.png", portrait(7, (120, 160)), mask=person_mask((120, 160)))
    scene = np.zeros((150, 240, 3), np.uint8)
    scene[:90] = (95, 150, 215)
    scene[90:] = (150, 125, 85)
    background = _upload(base, tokens["researcher"], "beach.png", scene)

    owner = _sign_in(chromium, base, "harm-researcher")
    owner.goto(f"{base}/annotation/")
    owner.fill("#project-form input[name=title]", "Beach harmonization")
    owner.select_option("#project-form select[name=kind]", "harmonization")
    owner.click("#project-form button[type=submit]")  # no groups: the composites make them
    owner.wait_for_selector("#ann-composites[data-ready]", timeout=20_000)
    project_id = owner.locator("#ann-composites").get_attribute("data-project")
    assert owner.locator("#save").is_disabled()
    owner.click(f"#pick-person [data-photo='{person['id']}']")
    owner.wait_for_function("() => document.getElementById('cutout-state').textContent.startsWith('Cut out')")
    owner.click(f"#pick-background [data-photo='{background['id']}']")
    owner.wait_for_selector("#person:not([hidden])")
    owner.locator("#person").scroll_into_view_if_needed()
    start = owner.locator("#ann-composites").get_attribute("data-place")
    box = owner.locator("#person").bounding_box()
    owner.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    owner.mouse.down()
    owner.mouse.move(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2, steps=5)
    owner.mouse.up()
    moved = owner.locator("#ann-composites").get_attribute("data-place")
    assert float(moved.split(",")[0]) > float(start.split(",")[0])  # dragged to the right
    owner.click("[data-tool-button=box]")
    owner.locator("#ref-target").scroll_into_view_if_needed()
    frame = owner.locator("#ref-target").bounding_box()
    owner.mouse.move(frame["x"] + 4, frame["y"] + 4)
    owner.mouse.down()
    owner.mouse.move(frame["x"] + frame["width"] * 0.35, frame["y"] + frame["height"] * 0.4, steps=5)
    owner.mouse.up()
    assert owner.locator("#ann-composites").get_attribute("data-region") == "box"
    assert owner.locator("#save").is_disabled()  # the new group has no name yet
    owner.fill("#group-name", "Beach")
    owner.click("#save")
    owner.wait_for_selector("#ann-composites[data-saved='1']", timeout=30_000)
    assert owner.locator("#made .region-thumb").count() == 1
    _shots(owner, "composites", "#ann-composites[data-ready]")
    assert owner.js_errors == []

    h = _h(tokens["researcher"])
    project = httpx.get(f"{base}/api/annotation/projects/{project_id}/", headers=h).json()
    assert project["kind"] == "harmonization" and [g["photos"] for g in project["groups"]] == [1]
    assignments = project["assignments"]
    assert sorted(x["slot"] for x in assignments) == ["a", "b", "c"]

    # The expert's task: the sliders change the pasted person only, and the reference is shown.
    a = next(x for x in assignments if x["slot"] == "a")
    ids = _people(base, tokens, project_id)
    httpx.post(f"{base}/api/annotation/assignments/{a['id']}/assign/", headers=h,
               json={"expert": ids["a"], "reviewer": ids["reviewer"]})
    expert = _sign_in(chromium, base, "harm-expert-a")
    expert.goto(f"{base}/annotation/assignments/{a['id']}/")
    expert.wait_for_selector("#ann-editor[data-ready='1']", timeout=30_000)
    detail = httpx.get(f"{base}/api/annotation/assignments/{a['id']}/", headers=_h(tokens["a"])).json()
    assert detail["kind"] == "harmonization"
    photo = detail["photos"][0]
    assert photo["masks"]["foreground"] and photo["masks"]["reference"]
    probe = """() => { const c = document.getElementById('main-canvas'); const d = c.getContext('2d');
      const fg = [Math.round(c.width * 0.5), Math.round(c.height * 0.8)], bg = [2, 2];
      return [fg, bg].map(([x, y]) => Array.from(d.getImageData(x, y, 1, 1).data.slice(0, 3))); }"""
    before = expert.evaluate(probe)
    slider = expert.locator(".ann-slider[data-name=exposure] input.exact")
    slider.fill("1.5")
    slider.press("Enter")
    expert.wait_for_selector("#save-state[data-state=saved]", timeout=20_000)
    expert.wait_for_timeout(300)
    after = expert.evaluate(probe)
    assert sum(after[0]) > sum(before[0]) + 30  # the pasted person brightened
    assert max(abs(x - y) for x, y in zip(after[1], before[1], strict=True)) <= 1  # the background did not
    # The reference region stays outlined with the overlay off: the expert matches the person to it.
    assert expert.get_attribute("#ann-editor", "data-reference-outline") == "1"
    expert.wait_for_function("""() => { const c = document.getElementById('mask-canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 2] === 235 && d[i + 3] === 255) n++;
      return n > 20; }""", timeout=10_000)
    assert expert.locator("#mask-canvas").is_visible()
    expert.click("#mask-toggle")
    assert expert.locator("#mask-canvas").is_visible()
    assert expert.get_attribute("#ann-editor", "data-reference-outline") == ""
    assert expert.js_errors == []
    expert.context.close()

    # The loop closes through the API: every slot edits, submits, is accepted; freeze; export.
    for x in assignments:
        if x["slot"] != "a":
            httpx.post(f"{base}/api/annotation/assignments/{x['id']}/assign/", headers=h,
                       json={"expert": ids[x["slot"]], "reviewer": ids["reviewer"]})
        hx = _h(tokens[x["slot"]])
        httpx.put(f"{base}/api/annotation/assignments/{x['id']}/photos/{photo['id']}/params", headers=hx,
                  json={"params": {"exposure": {"a": 0.5, "b": 0.2, "c": -0.2}[x["slot"]]}})
        r = httpx.post(f"{base}/api/annotation/assignments/{x['id']}/submit/", headers=hx, timeout=60)
        assert r.status_code == 200, r.text
        r = httpx.post(f"{base}/api/annotation/assignments/{x['id']}/review/", headers=_h(tokens["reviewer"]),
                       json={"decision": "accept"})
        assert r.status_code == 200, r.text
    assert httpx.post(f"{base}/api/annotation/projects/{project_id}/freeze/", headers=h).status_code == 200
    started = httpx.post(f"{base}/api/annotation/projects/{project_id}/export/", headers=h, json={"sizes": ["full"]})
    assert started.status_code == 202, started.text
    record = _wait_export(base, tokens["researcher"], project_id, started.json()["id"])
    assert record["status"] == "succeeded", record
    archive = zipfile.ZipFile(io.BytesIO(httpx.get(f"{base}{record['url']}", headers=h, timeout=60).content))
    archive.extractall(tmp_path / "export")
    (root,) = list((tmp_path / "export").iterdir())
    harm = root / "harmonization"
    assert {p.name for p in harm.iterdir()} >= {"composite", "fg_mask", "ref_mask", "target_a", "target_b", "target_c"}
    composite = read_rgb(harm / "composite" / "0_0.tif")
    fg = read_mask(harm / "fg_mask" / "0_0.png")
    ref = read_mask(harm / "ref_mask" / "0_0.png")
    assert composite.shape == (150, 240, 3) and fg.shape == ref.shape == (150, 240)
    assert fg.max() == 1.0 and ref.max() == 1.0 and not ((fg > 0.5) & (ref > 0.5)).any()
    bright, dark = read_rgb(harm / "target_a" / "0_0.tif"), read_rgb(harm / "target_c" / "0_0.tif")
    on = fg > 0.5
    assert bright[on].mean() > composite[on].mean() > dark[on].mean()
    # The exported mask is binary (0.5 threshold); the composite's own mask has a soft edge a pixel or
    # two wide that is partly adjusted (out = src + m·(adjusted − src)): compare beyond it.
    off = cv2.dilate(on.astype(np.uint8), np.ones((7, 7), np.uint8)) == 0
    assert np.abs(bright[off] - composite[off]).max() < 2 / 255  # the background is untouched
