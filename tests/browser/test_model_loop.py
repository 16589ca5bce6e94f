"""The closed loop in the browser: start training from /models/, watch the loss curve grow from the
job's pushed events, then "Compare in a study" and open the study once its jobs have filled it."""

from __future__ import annotations

import re

import pytest

from tests.support import manage

pytestmark = pytest.mark.timeout(600)


def test_train_from_the_page_watch_the_loss_curve_and_open_the_study(embedded_platform, page):
    base = embedded_platform.base
    embedded_platform.add_user("loop-owner", "researcher")
    manage(embedded_platform.env, "demo_annotation", "--groups", "2", "--photos-per-group", "2", "--seed", "4",
           "--owner", "loop-owner")

    page.goto(f"{base}/signin/")
    page.fill("input[name=username]", "loop-owner")
    page.fill("input[name=password]", "pw-123456")
    page.click("button[type=submit]")
    page.goto(f"{base}/models/")
    page.wait_for_function("() => document.querySelectorAll('#tf-dataset option[value]:not([value=\"\"])').length === 1")
    page.select_option("#tf-model", "retouch.lut")
    page.fill("#tf-steps", "30")
    page.click("#tf-start")
    page.wait_for_url(re.compile(r".*/models/\d+/$"))
    run_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    points = "() => Number(document.getElementById('loss-chart').dataset.points || 0)"
    page.wait_for_function(f"() => ({points})() >= 2", timeout=240000)
    first = page.evaluate(points)
    page.wait_for_function(f"() => ({points})() > {first}", timeout=120000)  # the curve moves
    assert page.locator("#loss-chart polyline.md-smooth").count() == 1
    page.wait_for_function("() => document.getElementById('md-status').textContent === 'ready'", timeout=240000)
    assert page.evaluate(points) == 30
    assert page.locator("#metrics-table tbody tr").count() == 6  # PSNR … M_GLC, measured on the val split
    assert page.locator("#cmp-strip .md-tile").count() == 2  # the val group's two photos

    page.click("#md-study")
    link = page.locator("#study-list li a").first
    link.wait_for()
    page.wait_for_function("() => document.querySelector('#study-list .md-status')?.textContent === 'open'",
                           timeout=240000)  # the jobs finished and the study opened: pushed, not polled
    link.click()
    page.wait_for_url(re.compile(r".*/studies/\d+/results/$"))
    back = page.locator("#study-origin a")
    assert back.get_attribute("href") == f"/models/{run_id}/"
    assert not page.js_errors
