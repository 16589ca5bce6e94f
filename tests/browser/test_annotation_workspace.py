"""The annotation workspace end to end in real Chromium: a researcher sets up a project and assigns
three experts; each edits with sliders and syncs across the group (one also refines the human mask by
clicks); they submit; the reviewer requests changes on one slot with an issue pinned to a region and
a slider, the expert applies the suggestion and resubmits; everything is accepted, frozen and
exported, and the exported files are checked."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import httpx
import numpy as np
import pytest

from tests.browser.signin import open_signed_in
from tests.conftest import png_bytes
from tests.unit.annotation_support import person_mask, portrait

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
PASSWORD = "pw-Annotate-2024"
SIZE = (160, 120)


def _setup_photos(base: str, token: str) -> dict:
    h = {"Authorization": f"Token {token}"}
    group = httpx.post(f"{base}/api/groups/", headers=h, json={"name": "Browser shoot"}).json()
    for k in range(3):
        r = httpx.post(f"{base}/api/photos/", headers=h, data={"group": group["id"]},
                       files={"file": (f"shot{k}.png", png_bytes(portrait(k, SIZE)), "image/png")})
        assert r.status_code == 201, r.text
        r = httpx.post(f"{base}/api/photos/{r.json()['id']}/masks/", headers=h, data={"kind": "human"},
                       files={"file": ("m.png", png_bytes(person_mask(SIZE)), "image/png")})
        assert r.status_code == 201, r.text
    return group


def _sign_in(chromium, base: str, username: str):
    return open_signed_in(chromium, base, username, PASSWORD)


def _wait_saved(page):
    page.wait_for_selector("#save-state[data-state=saved]", timeout=20_000)


def _expert_session(chromium, base: str, username: str, exposure: str, temperature: str, refine: bool = False):
    page = _sign_in(chromium, base, username)
    page.goto(f"{base}/")
    card = page.locator("#queue .queue-card").first
    card.wait_for(timeout=15_000)  # the home page shows an expert their queue
    card.click()
    page.wait_for_selector("#ann-editor[data-ready='1']", timeout=30_000)
    assert page.locator(".film").count() == 3
    slider = page.locator(".ann-slider[data-name=exposure] input[type=range]")
    slider.fill(exposure)  # a drag that ends: input, then change
    slider.dispatch_event("change")
    _wait_saved(page)
    exact = page.locator(".ann-slider[data-name=temperature] input.exact")
    exact.fill(temperature)
    exact.press("Enter")
    _wait_saved(page)
    # Double-click resets a slider; undo brings the value back (from the server's history).
    page.locator(".ann-slider[data-name=temperature] .slider-name").dblclick()
    _wait_saved(page)
    assert page.locator(".ann-slider[data-name=temperature] input.exact").input_value() == "0"
    page.click("#undo")
    _wait_saved(page)
    assert page.locator(".ann-slider[data-name=temperature] input.exact").input_value() == temperature
    # Sync both settings to the two other photos of the group.
    for box in page.locator(".film .film-select").all()[1:]:
        box.check()
    page.click("#sync")
    page.locator("#sync-keys input").evaluate_all(
        "boxes => boxes.forEach(b => { b.checked = ['exposure', 'temperature'].includes(b.name); })")
    page.click("#sync-go")
    page.wait_for_selector("#ann-editor[data-synced='1']", timeout=20_000)
    assert page.locator(".film[data-state=edited]").count() == 3
    if refine:
        page.click("#mask-refine")
        box = page.locator("#main-canvas").bounding_box()
        page.mouse.click(box["x"] + 6, box["y"] + 6)  # add the corner to the person's mask
        page.wait_for_selector("#ann-editor[data-mask-version]", timeout=30_000)
        page.click("#mask-refine")
    page.click("#submit")
    page.wait_for_selector("#ann-editor[data-state=in_review]", timeout=30_000)
    assert page.locator("#readonly-banner").is_visible()
    assert page.js_errors == []
    page.context.close()


def test_annotation_loop_three_experts_and_a_reviewer(embedded_platform, chromium, tmp_path):
    base = embedded_platform.base
    token = embedded_platform.add_user("ann-researcher", "researcher", PASSWORD)
    experts = ["ann-expert-a", "ann-expert-b", "ann-expert-c"]
    for name in experts:
        embedded_platform.add_user(name, "expert", PASSWORD)
    embedded_platform.add_user("ann-reviewer", "reviewer", PASSWORD)
    group = _setup_photos(base, token)

    # The researcher creates the project and assigns the slots.
    owner = _sign_in(chromium, base, "ann-researcher")
    owner.goto(f"{base}/annotation/")
    owner.fill("#project-form input[name=title]", "Browser loop")
    owner.check(f"#project-form input[name=groups][value='{group['id']}']")
    owner.click("#project-form button[type=submit]")
    owner.wait_for_selector("#ann-project[data-loaded]", timeout=20_000)
    project_id = owner.locator("#ann-project").get_attribute("data-project")
    for done, name in enumerate(experts, start=1):  # slots a, b, c in order
        cell = owner.locator("#assignments td[data-state=queued]").first
        cell.locator("select").first.select_option(label=name)
        cell.locator("select").nth(1).select_option(label="ann-reviewer")
        cell.locator("button").click()
        # The click's own reload and the pushed event's reload both re-render the table.
        owner.wait_for_function("n => document.querySelectorAll('#assignments td[data-state=in_progress]').length === n",
                                arg=done, timeout=20_000)
    assert owner.locator("#assignments td[data-state=in_progress]").count() == 3

    _expert_session(chromium, base, experts[0], "0.6", "25", refine=True)
    _expert_session(chromium, base, experts[1], "0.2", "5")
    _expert_session(chromium, base, experts[2], "-0.1", "-8")

    # The reviewer sends slot a back with an issue pinned to a region and a slider, accepts b and c.
    reviewer = _sign_in(chromium, base, "ann-reviewer")
    reviewer.goto(f"{base}/annotation/")
    reviewer.wait_for_selector("#queue .queue-card")
    assert reviewer.locator("#queue .queue-card").count() == 3
    ids = [c.get_attribute("data-id") for c in reviewer.locator("#queue .queue-card").all()]
    reviewer.goto(f"{base}/annotation/assignments/{ids[0]}/review/")
    reviewer.wait_for_selector("#ann-review[data-ready]", timeout=30_000)
    assert reviewer.locator(".review-cell").count() == 4  # the source and three slots
    target = reviewer.locator(".review-cell.pinning canvas").bounding_box()
    reviewer.mouse.move(target["x"] + 10, target["y"] + 10)
    reviewer.mouse.down()
    reviewer.mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] / 2, steps=4)
    reviewer.mouse.up()
    assert "Region pinned" in reviewer.locator("#issue-region").text_content()
    reviewer.select_option("#issue-slider", "exposure")
    reviewer.fill("#issue-suggest", "0.35")
    reviewer.fill("#issue-comment", "The face is too bright next to the others.")
    reviewer.click("#issue-form button[type=submit]")
    reviewer.click("#request-changes")
    reviewer.wait_for_selector("#rv-state[data-state=changes_requested]", timeout=20_000)
    for other in ids[1:]:
        r = reviewer.request.post(f"{base}/api/annotation/assignments/{other}/review/",
                                  data={"decision": "accept"}, headers=_csrf(reviewer))
        assert r.status == 200, r.text()

    # The expert previews and applies the suggestion, then resubmits.
    expert = _sign_in(chromium, base, experts[0])
    expert.goto(f"{base}/annotation/assignments/{ids[0]}/")
    expert.wait_for_selector("#ann-editor[data-ready='1']", timeout=30_000)
    assert expert.locator(".issue.open").count() == 1
    assert expert.locator("#issue-layer rect").count() == 1  # the pinned region on the photo
    expert.click("text=Apply & resolve")
    expert.wait_for_selector(".issue.resolved", timeout=20_000)
    assert expert.locator(".ann-slider[data-name=exposure] input.exact").input_value() == "0.35"
    expert.click("#submit")
    expert.wait_for_selector("#ann-editor[data-state=in_review]", timeout=30_000)
    assert expert.js_errors == []

    # Round 2 against round 1, then accept.
    reviewer.goto(f"{base}/annotation/assignments/{ids[0]}/review/")
    reviewer.wait_for_selector("#ann-review[data-ready]", timeout=30_000)
    reviewer.click("#mode-rounds")
    reviewer.wait_for_function("() => document.querySelector('#cells').textContent.includes('ΔE to round 1')")
    reviewer.click("#accept")
    reviewer.wait_for_selector("#rv-state[data-state=accepted]", timeout=20_000)
    assert reviewer.js_errors == []

    # Freeze and export from the project page; the job reports progress over the socket.
    owner.goto(f"{base}/annotation/projects/{project_id}/")
    owner.wait_for_selector("#ann-project[data-socket=open]", timeout=20_000)
    owner.click("#freeze")
    owner.wait_for_function("() => document.getElementById('dataset-version').textContent === '1'")
    owner.click("#export")
    owner.wait_for_selector("#ann-project[data-exported]", timeout=180_000)
    url = owner.locator("#ann-project").get_attribute("data-exported")
    archive = owner.request.get(url if url.startswith("http") else f"{base}{url}")
    assert archive.status == 200
    _check_export(zipfile.ZipFile(io.BytesIO(archive.body())), tmp_path)
    assert owner.js_errors == []
    owner.screenshot(path=str(tmp_path / "project.png"))


def _csrf(page) -> dict:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return {"X-CSRFToken": token, "Referer": page.url}


def _check_export(archive: zipfile.ZipFile, tmp_path):
    from inference.imagefiles import read_mask, read_rgb

    archive.extractall(tmp_path / "export")
    (root,) = list((tmp_path / "export").iterdir())
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["dataset_version"] == 1 and manifest["sizes"] == ["360p"]
    assert manifest["slots"] == {"a": ["ann-expert-a"], "b": ["ann-expert-b"], "c": ["ann-expert-c"]}
    assert {a["slot"]: a["rounds"] for a in manifest["assignments"]} == {"a": 2, "b": 1, "c": 1}
    rows = list(csv.DictReader((root / "groups.csv").open()))
    assert [(r["group"], r["idx"]) for r in rows] == [("0", "0"), ("0", "1"), ("0", "2")]
    split = rows[0]["split"]
    assert {r["split"] for r in rows} == {split}
    params = {s: json.loads((root / f"params_{s}" / "0_1.json").read_text())["params"] for s in "abc"}
    assert params["a"]["exposure"] == 0.6 and params["a"]["temperature"] == 25.0  # synced from photo 0
    assert params["b"]["exposure"] == 0.2 and params["c"]["temperature"] == -8.0
    assert json.loads((root / "params_a" / "0_0.json").read_text())["params"]["exposure"] == 0.35  # the fix
    assert 'crs:Exposure2012="+0.35"' in (root / "xmp_target_a" / "0_0.xmp").read_text()
    source = read_rgb(root / "360p" / split / "source" / "0_1.tif")
    bright = read_rgb(root / "360p" / split / "target_a" / "0_1.tif")
    dark = read_rgb(root / "360p" / split / "target_c" / "0_1.tif")
    assert source.shape == (120, 160, 3) and bright.mean() > source.mean() > dark.mean()
    refined = read_mask(root / "masks_360p" / "0_0.png")
    assert set(np.unique(refined)) <= {0.0, 1.0} and refined[1, 1] == 1.0  # the corner added by a click
    assert read_mask(root / "masks_360p" / "0_1.png")[1, 1] == 0.0
    assert {p.name for p in (root / "agreement").iterdir()} >= {"icc.csv", "delta_e.csv", "glc.csv"}
    for path, digest in manifest["checksums"].items():
        assert (root / path).exists() and len(digest) == 64
