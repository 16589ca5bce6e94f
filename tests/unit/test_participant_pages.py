"""The participant page's server side (issue 12, items 8 and 9): every error has a page (JSON under
/api/), a closed study answers 410, the page's settings, practice checks with an expected answer, and
the end questionnaire (checked, stored once, refused when not asked or before the trials are done)."""

from __future__ import annotations

import pytest

from tests.unit.studies_support import open_study

pytestmark = pytest.mark.django_db


def _join(client_for, public_id):
    c = client_for(None)
    r = c.post(f"/api/participate/{public_id}/join/", {"consent": True, "params": {}}, format="json")
    assert r.status_code == 201, r.content
    c.credentials(HTTP_X_PARTICIPANT_TOKEN=r.json()["participant_token"])
    return c


def _finish(c):
    from studies.models import Trial

    while True:
        t = c.get("/api/participate/next/").json()
        if t.get("done"):
            return t
        side = Trial.objects.get(public_id=t["trial_id"]).degraded_side
        choice = "right" if side == "left" else "left"
        r = c.post(f"/api/participate/trials/{t['trial_id']}/response/",
                   {"choice": choice, "idempotency_key": "k" + t["trial_id"], "elapsed_ms": 900}, format="json")
        assert r.status_code == 201, r.content


def test_a_bad_study_link_gets_the_participant_error_page(client):
    r = client.get("/s/no-such-study/")
    assert r.status_code == 404 and r["Content-Type"].startswith("text/html")
    html = r.content.decode()
    assert 'id="error-page"' in html and "Study not found" in html and "participate.css" in html
    assert 'class="topbar"' not in html  # no researcher navigation for participants


def test_site_errors_get_a_page_in_the_sites_style_and_api_errors_stay_json(client, make_user):
    r = client.get("/no/such/page/")
    assert r.status_code == 404 and 'id="error-page"' in r.content.decode() and 'class="topbar"' in r.content.decode()
    client.force_login(make_user("expert"))
    r = client.get("/studies/")  # researchers only
    assert r.status_code == 403 and 'data-status="403"' in r.content.decode()
    r = client.get("/api/participate/img/nope/")
    assert r.status_code == 404 and r.json() == {"detail": "There is nothing at this address. Check the link you "
                                                             "were given; it may be incomplete or out of date."}
    assert client.get("/api/no-such-endpoint/").json()["detail"]


def test_server_errors_and_bad_requests_get_pages(rf):
    from webapp import errors

    r = errors.server_error(rf.get("/photos/"))
    assert r.status_code == 500 and b"Something went wrong" in r.content
    r = errors.bad_request(rf.get("/api/x/"))
    assert r.status_code == 400 and r["Content-Type"] == "application/json"


def test_a_closed_study_answers_410_with_its_message_and_the_page_still_runs(client_for, make_user):
    c = client_for(make_user("researcher"))
    opened = open_study(c, practice_trials=0, trials_per_participant=2, attention_every=0)
    assert c.post(f"/api/studies/{opened['id']}/status/", {"status": "closed"}, format="json").status_code == 200
    r = client_for(None).get(f"/s/{opened['public_id']}/")
    assert r.status_code == 410
    html = r.content.decode()
    assert "This study is closed" in html and "study-participate.js" in html


def test_page_settings_window_never_below_the_layout(client_for, make_user):
    from studies.participation import LAYOUT_MIN_WIDTH

    c = client_for(make_user("researcher"))
    opened = open_study(c, min_width=640, min_height=700, gap_ms=450, fullscreen=True, questionnaire=True)
    info = client_for(None).get(f"/api/participate/{opened['public_id']}/").json()
    assert info["window"] == {"width": LAYOUT_MIN_WIDTH, "height": 700}
    assert info["gap_ms"] == 450 and info["fullscreen"] is True
    assert set(info["questionnaire"]) == {"age_band", "gender", "vision_correction", "colour_vision"}
    r = c.patch(f"/api/studies/{opened['id']}/", {"gap_ms": 60000}, format="json")
    assert r.status_code == 400


@pytest.mark.parametrize("kind", ["pairwise", "ranking"])
def test_the_first_practice_trial_has_an_expected_answer(client_for, make_user, kind):
    from studies.models import Trial

    c = client_for(make_user("researcher"))
    opened = open_study(c, kind=kind, practice_trials=2, trials_per_participant=2, attention_every=0)
    p = _join(client_for, opened["public_id"])
    first = p.get("/api/participate/next/").json()
    trial = Trial.objects.get(public_id=first["trial_id"])
    assert first["practice"] and trial.degraded_side
    if kind == "pairwise":
        assert first["expected"] == {"choice": "right" if trial.degraded_side == "left" else "left"}
        answer = {"choice": first["expected"]["choice"]}
    else:
        assert first["expected"] == {"worst": int(trial.degraded_side)}
        n = len(first["candidates"])
        answer = {"order": [k for k in range(n) if k != first["expected"]["worst"]] + [first["expected"]["worst"]]}
    r = p.post(f"/api/participate/trials/{first['trial_id']}/response/",
               {**answer, "idempotency_key": "a", "elapsed_ms": 900}, format="json")
    assert r.status_code == 201
    second = p.get("/api/participate/next/").json()
    assert second["practice"] and second["expected"] is None  # an ordinary comparison: no right answer


def test_questionnaire_is_checked_stored_once_and_exported(client_for, make_user):
    from studies.models import Participant

    c = client_for(make_user("researcher"))
    opened = open_study(c, practice_trials=0, trials_per_participant=2, attention_every=0, questionnaire=True)
    p = _join(client_for, opened["public_id"])
    url = "/api/participate/questionnaire/"
    answers = {"age_band": "25-34", "gender": "no_answer", "vision_correction": "glasses", "comment": " fine "}
    r = p.post(url, answers, format="json")
    assert r.status_code == 409 and "Finish the trials" in r.json()["detail"]  # not before the trials
    done = _finish(p)
    assert done["questionnaire"] is True
    r = p.post(url, {"age_band": "12", "shoe_size": 44}, format="json")
    assert r.status_code == 400 and set(r.json()["errors"]) == {"age_band", "shoe_size"}
    assert Participant.objects.get().questionnaire is None  # nothing half-valid stored
    assert p.post(url, answers, format="json").status_code == 201
    assert p.post(url, answers, format="json").status_code == 200  # a retry: nothing new
    assert p.post(url, {}, format="json").status_code == 409
    stored = Participant.objects.get()
    assert stored.questionnaire == {"age_band": "25-34", "gender": "no_answer", "vision_correction": "glasses",
                                    "comment": "fine"}
    assert stored.questionnaire_at is not None
    assert p.get("/api/participate/next/").json()["questionnaire"] is False
    assert client_for(None).post(url, {}, format="json").status_code == 401
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(c.get(f"/api/studies/{opened['id']}/responses.csv").content.decode())))
    assert rows and all(r["q_age_band"] == "25-34" and r["q_vision_correction"] == "glasses"
                        and r["q_comment"] == "fine" and r["q_colour_vision"] == "" for r in rows)


def test_a_study_without_questionnaire_refuses_answers(client_for, make_user):
    c = client_for(make_user("researcher"))
    opened = open_study(c, practice_trials=0, trials_per_participant=2, attention_every=0)
    p = _join(client_for, opened["public_id"])
    assert _finish(p)["questionnaire"] is False
    assert p.post("/api/participate/questionnaire/", {}, format="json").status_code == 409
