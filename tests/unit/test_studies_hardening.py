"""Participation under attack and under a crowd (issue 11, items 1-6 and 15): joins close at the quota,
cost the same however many joined before, are rate-limited and JSON-only; one participant per
platform id and per page retry; closed studies refuse; the protocol freezes; every participant field
is checked; speeders are refused and flagged; Prolific gets one completion code; exports escape
formulas and TeX."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from django.test import override_settings

from tests.unit.studies_support import open_study

NO_LIMITS = {"STUDY_JOIN_RATE_PER_IP": "0", "STUDY_JOIN_RATE_GLOBAL": "0"}


@pytest.fixture
def study(make_user, client_for):
    owner = make_user("researcher")
    c = client_for(owner)
    opened = open_study(c, practice_trials=0, trials_per_participant=3, attention_every=0, participants_wanted=3,
                        recruit_margin=1)
    return {"client": c, **opened}


def post_join(client_for, public_id, body=None, **extra):
    c = client_for(None)
    r = c.post(f"/api/participate/{public_id}/join/", {"consent": True} if body is None else body, format="json",
               **extra)
    return c, r


def joined(client_for, public_id, **body):
    c, r = post_join(client_for, public_id, {"consent": True, **body})
    assert r.status_code in (200, 201), r.content
    c.credentials(HTTP_X_PARTICIPANT_TOKEN=r.json()["participant_token"])
    return c


def answer_all(c, choice="left", elapsed=900):
    while True:
        t = c.get("/api/participate/next/").json()
        if t.get("done"):
            return t
        r = c.post(f"/api/participate/trials/{t['trial_id']}/response/",
                   {"choice": choice, "idempotency_key": "k" + t["trial_id"], "elapsed_ms": elapsed}, format="json")
        assert r.status_code == 201, r.content


# ----------------------------------------------------------------------------- 1. quota, cost, rates, JSON


def test_joins_close_at_the_quota_plus_margin(study, client_for):
    from studies.models import Participant

    codes = [post_join(client_for, study["public_id"])[1].status_code for _ in range(6)]
    assert codes == [201, 201, 201, 201, 409, 409]  # 3 wanted + 1 for drop-outs
    refused = post_join(client_for, study["public_id"])[1]
    assert "all the participants it needs" in refused.json()["detail"]
    assert Participant.objects.filter(study_id=study["id"]).count() == 4
    # Raising the margin (allowed after joins) reopens recruitment.
    assert study["client"].patch(f"/api/studies/{study['id']}/", {"recruit_margin": 2},
                                 format="json").status_code == 200
    assert post_join(client_for, study["public_id"])[1].status_code == 201


def test_joins_close_once_the_quota_completed(make_user, client_for):
    c = client_for(make_user("researcher"))
    opened = open_study(c, practice_trials=0, trials_per_participant=2, attention_every=0, participants_wanted=2,
                        recruit_margin=10)
    for _ in range(2):
        answer_all(joined(client_for, opened["public_id"]))
    assert post_join(client_for, opened["public_id"])[1].status_code == 409


@pytest.mark.parametrize("kind", ["pairwise", "ranking"])
def test_join_cost_does_not_grow_with_earlier_joins(make_user, client_for, monkeypatch, kind):
    """Join #6 and join #2001 run the same queries, and dealing their trials takes as long: the schedule
    is never computed for more than the wanted participants."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from studies import kinds, scheduling
    from studies.models import Study

    c = client_for(make_user("researcher"))
    opened = open_study(c, kind=kind, practice_trials=1, trials_per_participant=6, attention_every=3,
                        participants_wanted=4, recruit_margin=100000)
    sizes = []
    real = scheduling.balanced_schedule
    monkeypatch.setattr(scheduling, "balanced_schedule",
                        lambda *a, **k: sizes.append(a[2]) or real(*a, **k))

    def one_join():
        with CaptureQueriesContext(connection) as queries:
            assert post_join(client_for, opened["public_id"])[1].status_code == 201
        return len(queries)

    Study.objects.filter(pk=opened["id"]).update(joined=5)  # past the quota's count of completions
    sixth = one_join()
    Study.objects.filter(pk=opened["id"]).update(joined=2000)
    assert one_join() == sixth
    assert all(n == 4 for n in sizes)  # pairwise: one round of the wanted participants, whatever the slot

    study = Study.objects.get(pk=opened["id"])
    methods = list(study.methods.values_list("id", flat=True))
    items = list(study.items.values_list("id", flat=True))

    def seconds(slot):
        best = 1e9
        for _ in range(5):
            t0 = time.perf_counter()
            kinds.of(study).block(study, methods, items, slot)
            best = min(best, time.perf_counter() - t0)
        return best

    seconds(1), seconds(200_000)  # warm (the pairwise round is cached per process)
    assert seconds(200_000) < 5 * seconds(1) + 0.002


def test_join_rate_limits_per_address_and_site_wide(study, client_for):
    from studies.models import Study

    Study.objects.filter(pk=study["id"]).update(participants_wanted=100)
    with override_settings(STUDY_JOIN_RATE_PER_IP="2/min", STUDY_JOIN_RATE_GLOBAL="0"):
        codes = [post_join(client_for, study["public_id"], REMOTE_ADDR="10.0.0.1")[1] for _ in range(3)]
        assert [r.status_code for r in codes] == [201, 201, 429]
        assert "try again" in codes[-1].json()["detail"]
        assert post_join(client_for, study["public_id"], REMOTE_ADDR="10.0.0.2")[1].status_code == 201
        # An X-Forwarded-For header is not believed unless NUM_PROXIES says a proxy sets it.
        spoofed = post_join(client_for, study["public_id"], REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
        assert spoofed[1].status_code == 429
    with override_settings(STUDY_JOIN_RATE_PER_IP="0", STUDY_JOIN_RATE_GLOBAL="2/h"):
        from django.core.cache import cache

        cache.clear()
        codes = [post_join(client_for, study["public_id"], REMOTE_ADDR=f"10.0.1.{k}")[1].status_code
                 for k in range(3)]
        assert codes == [201, 201, 429]


def test_join_needs_a_json_body(study, client_for):
    c = client_for(None)
    url = f"/api/participate/{study['public_id']}/join/"
    r = c.generic("POST", url, json.dumps({"consent": True}), content_type="text/plain")
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    r = c.generic("POST", url, "consent=true", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415


# ----------------------------------------------------------------------------- 2. one person, one participant


def test_one_participant_per_platform_id(study, client_for):
    from studies.models import Participant, Study

    Study.objects.filter(pk=study["id"]).update(participants_wanted=20)
    pid = {"PROLIFIC_PID": "5f0c0ffee", "STUDY_ID": "s", "SESSION_ID": "a"}
    first = post_join(client_for, study["public_id"], {"consent": True, "params": pid})[1]
    again = post_join(client_for, study["public_id"], {"consent": True, "params": {**pid, "SESSION_ID": "b"}})[1]
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["participant_token"] == first.json()["participant_token"]
    mturk = [post_join(client_for, study["public_id"], {"consent": True, "params": {"workerId": "A1"}})[1]
             for _ in range(2)]
    assert [r.status_code for r in mturk] == [201, 200]
    other = post_join(client_for, study["public_id"], {"consent": True, "params": {"PROLIFIC_PID": "other"}})[1]
    assert other.status_code == 201
    assert Participant.objects.filter(study_id=study["id"]).count() == 3
    # The resumed token works: the same participant, the same trials.
    c = client_for(None)
    c.credentials(HTTP_X_PARTICIPANT_TOKEN=again.json()["participant_token"])
    assert c.get("/api/participate/next/").status_code == 200


def test_a_retried_join_resumes_the_participant_it_made(study, client_for):
    from studies.models import Participant

    body = {"consent": True, "client_key": "tab-7f3a", "params": {}}
    replies = [post_join(client_for, study["public_id"], body)[1] for _ in range(3)]
    assert [r.status_code for r in replies] == [201, 200, 200]
    assert len({r.json()["participant_token"] for r in replies}) == 1
    assert Participant.objects.filter(study_id=study["id"]).count() == 1


def test_duplicates_from_before_are_flagged_on_the_dashboard(study, client_for):
    """Participants who joined twice with one PROLIFIC_PID before the constraint (rows made here as the
    old code made them) are flagged: the later one names the first."""
    from django.utils import timezone

    from studies.models import Participant

    for slot in range(3):
        Participant.objects.create(study_id=study["id"], token_hash=f"h{slot}", slot=slot, label=f"P00{slot + 1}",
                                   params={"PROLIFIC_PID": "same" if slot < 2 else "else"},
                                   consent_at=timezone.now(), completion_code="X")
    rows = study["client"].get(f"/api/studies/{study['id']}/dashboard/?bootstrap=0").json()["participants"]
    flags = {r["label"]: (r["flags"], r["duplicate_of"]) for r in rows}
    assert flags == {"P001": ([], None), "P002": (["duplicate"], "P001"), "P003": ([], None)}


def test_join_button_waits_and_sends_a_client_key():
    from pathlib import Path

    js = (Path(__file__).resolve().parents[2] / "frontend/static/js/study-participate.js").read_text()
    assert "client_key: joinKey()" in js and "button.disabled = true" in js


# ----------------------------------------------------------------------------- 3. closed studies, frozen protocol


def test_a_closed_study_refuses_trials_votes_and_joins(study, client_for):
    early = joined(client_for, study["public_id"])
    done = joined(client_for, study["public_id"])
    answer_all(done)
    trial = early.get("/api/participate/next/").json()
    study["client"].post(f"/api/studies/{study['id']}/status/", {"status": "closed"}, format="json")
    nxt = early.get("/api/participate/next/")
    vote = early.post(f"/api/participate/trials/{trial['trial_id']}/response/",
                      {"choice": "left", "idempotency_key": "k", "elapsed_ms": 900}, format="json")
    join = post_join(client_for, study["public_id"])[1]
    for r in (nxt, vote, join):
        assert r.status_code == 409 and "closed" in r.json()["detail"], r.content
    assert done.get("/api/participate/next/").json()["done"] is True  # the code stays available
    study["client"].post(f"/api/studies/{study['id']}/status/", {"status": "draft"}, format="json")
    assert "not opened yet" in post_join(client_for, study["public_id"])[1].json()["detail"]


@pytest.mark.parametrize("field,value", [("consent_text", "Other terms."), ("instructions", "Pick the worst."),
                                         ("allow_tie", True), ("min_view_ms", 2000), ("min_width", 100)])
def test_the_protocol_is_frozen_once_someone_joined(study, client_for, field, value):
    url = f"/api/studies/{study['id']}/"
    current = study["client"].get(url).json()
    assert study["client"].patch(url, {field: value}, format="json").status_code == 200  # nobody joined yet
    study["client"].patch(url, {field: current[field]}, format="json")
    joined(client_for, study["public_id"])
    r = study["client"].patch(url, {field: value}, format="json")
    assert r.status_code == 409 and field in r.json()["detail"] and "frozen" in r.json()["detail"]
    assert study["client"].patch(url, {field: current[field], "title": "Renamed"}, format="json").status_code == 200


# ----------------------------------------------------------------------------- 4. participant fields


DEEP = b'{"consent": true, "screen": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"  # under 64 KiB, too deep to parse
BAD_JOINS = [
    ({"consent": True, "screen": {"w": "x" * 15_000_000}}, 413),
    ({"consent": True, "screen": {"w": {"nested": 1}}}, 400),
    ({"consent": True, "screen": {f"k{n}": n for n in range(40)}}, 400),
    ({"consent": True, "screen": {"w": "x" * 300}}, 400),
    ({"consent": True, "screen": [1, 2]}, 400),
    ({"consent": True, "params": {"PROLIFIC_PID": ["a"]}}, 400),
    ({"consent": True, "params": {f"p{n}": "v" for n in range(40)}}, 400),
    ({"consent": True, "params": {"PROLIFIC_PID": "x" * 300}}, 400),
    ({"consent": True, "params": {"PROLIFIC_PID": "a\x00b"}}, 400),
    ({"consent": True, "params": {"PROLIFIC_PID": "a\ud800"}}, 400),
    ({"consent": True, "params": "PROLIFIC_PID=a"}, 400),
    ({"consent": True, "client_key": "k" * 81}, 400),
    ({"consent": True, "client_key": 7}, 400),
    ({"consent": "yes"}, 400),
    (b"[]", 400), (b"1", 400), (b'"s"', 400), (b"{", 400), (DEEP, 400),
    (b'{"consent": true, "screen": {"w": NaN}}', 400),
]


@pytest.mark.parametrize("body,status", BAD_JOINS, ids=range(len(BAD_JOINS)))
def test_join_fields_are_checked(study, client_for, body, status):
    from studies.models import Participant

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = client_for(None).generic("POST", f"/api/participate/{study['public_id']}/join/", raw,
                                 content_type="application/json")
    assert r.status_code == status and r.json()["detail"], r.content[:300]
    assert not Participant.objects.exists()


@pytest.mark.parametrize("body,status", [
    ({"width": 1200, "height": 800, "dpr": 2, "browser": "Firefox/140"}, 200),
    ({"width": {"a": 1}}, 400), ({"ua": "x" * 15_000_000}, 413), (b"[]", 400), (DEEP, 400),
    ({"ua": "a\x00"}, 400), ({"w": float("inf")}, 400),
], ids=range(7))
def test_screen_is_checked(study, client_for, body, status):
    from studies.models import Participant

    c = joined(client_for, study["public_id"])
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = c.generic("POST", "/api/participate/screen/", raw, content_type="application/json")
    assert r.status_code == status, r.content[:300]
    stored = Participant.objects.get().screen
    assert stored == (body if status == 200 else {})


@pytest.mark.parametrize("body,status", [
    (DEEP.replace(b'"consent": true, "screen"', b'"choice": "left", "idempotency_key": "k", "x"'), 400),
    (b"[]", 400), ({"choice": "left", "idempotency_key": "k\x00"}, 400),
    ({"choice": "left", "idempotency_key": "\udc80"}, 400), ({"choice": "left", "idempotency_key": ["k"]}, 400),
], ids=range(5))
def test_vote_fields_are_checked(study, client_for, body, status):
    c = joined(client_for, study["public_id"])
    t = c.get("/api/participate/next/").json()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = c.generic("POST", f"/api/participate/trials/{t['trial_id']}/response/", raw, content_type="application/json")
    assert r.status_code == status, r.content[:300]


# ----------------------------------------------------------------------------- 5. speeders


def test_minimum_viewing_time_refuses_faster_answers(make_user, client_for):
    c = client_for(make_user("researcher"))
    opened = open_study(c, practice_trials=0, trials_per_participant=2, attention_every=0, min_view_ms=1500)
    assert client_for(None).get(f"/api/participate/{opened['public_id']}/").json()["min_view_ms"] == 1500
    p = joined(client_for, opened["public_id"])
    t = p.get("/api/participate/next/").json()
    assert t["min_view_ms"] == 1500
    url = f"/api/participate/trials/{t['trial_id']}/response/"
    fast = p.post(url, {"choice": "left", "idempotency_key": "a", "elapsed_ms": 55}, format="json")
    assert fast.status_code == 400 and "at least 1.5 s" in fast.json()["detail"]
    assert p.post(url, {"choice": "left", "idempotency_key": "a"}, format="json").status_code == 400
    assert p.post(url, {"choice": "left", "idempotency_key": "a", "elapsed_ms": 1600},
                  format="json").status_code == 201


def test_speed_and_straight_lining_flag_and_can_exclude(make_user, client_for):
    """A clicker answering instantly and always "left" is flagged twice; a careful participant is not.
    With exclude_flagged the flags exclude like a failed attention check."""
    from studies.models import Response

    owner = client_for(make_user("researcher"))
    opened = open_study(owner, practice_trials=0, trials_per_participant=12, attention_every=0,
                        participants_wanted=3)
    clicker = joined(client_for, opened["public_id"])
    answer_all(clicker, "left", elapsed=300)
    careful = joined(client_for, opened["public_id"])
    n = 0
    while not (t := careful.get("/api/participate/next/").json()).get("done"):
        n += 1
        careful.post(f"/api/participate/trials/{t['trial_id']}/response/",
                     {"choice": "left" if n % 3 else "right", "idempotency_key": t["trial_id"], "elapsed_ms": 2500},
                     format="json")
    # The server saw the careful participant's answers ~2.5 s apart (their stored times, spread out).
    from datetime import timedelta

    from django.utils import timezone

    start = timezone.now()
    for k, response in enumerate(Response.objects.filter(participant__label="P002").order_by("id")):
        Response.objects.filter(pk=response.pk).update(created_at=start + timedelta(seconds=2.5 * k))
    url = f"/api/studies/{opened['id']}/dashboard/?bootstrap=0"
    rows = {r["label"]: r for r in owner.get(url).json()["participants"]}
    assert sorted(rows["P001"]["flags"]) == ["speeder", "straight_lining"] and rows["P001"]["median_gap_ms"] < 700
    assert rows["P002"]["flags"] == [] and rows["P002"]["median_gap_ms"] == pytest.approx(2500)
    assert not rows["P001"]["excluded"]  # flagged, not excluded: the study does not exclude flagged people
    owner.patch(f"/api/studies/{opened['id']}/", {"exclude_flagged": True}, format="json")
    dash = owner.get(url).json()
    rows = {r["label"]: r for r in dash["participants"]}
    assert rows["P001"]["excluded"] and rows["P001"]["auto_excluded"] and not rows["P002"]["excluded"]
    assert dash["votes"] == 12  # the careful participant's only


# ----------------------------------------------------------------------------- 6. Prolific completion code


def test_prolific_gets_one_study_code(make_user, client_for):
    researcher = make_user("researcher")
    c = client_for(researcher)
    opened = open_study(c, practice_trials=0, trials_per_participant=1, attention_every=0)
    code = c.get(f"/api/studies/{opened['id']}/").json()["completion_code"]
    assert len(code) == 8 and code.isalnum()
    finished = [answer_all(joined(client_for, opened["public_id"], params={"PROLIFIC_PID": f"p{k}"}))
                for k in range(2)]
    assert {f["completion_code"] for f in finished} == {code}
    assert all(f["redirect_url"].endswith("cc=" + code) for f in finished)
    # Blank (one code per participant) cannot stay with the Prolific redirect on.
    r = c.patch(f"/api/studies/{opened['id']}/", {"completion_code": ""}, format="json")
    assert r.status_code == 400 and "Prolific" in r.json()["detail"]
    c.post(f"/api/studies/{opened['id']}/status/", {"status": "closed"}, format="json")
    assert c.patch(f"/api/studies/{opened['id']}/", {"completion_code": ""}, format="json").status_code == 200
    r = c.post(f"/api/studies/{opened['id']}/status/", {"status": "open"}, format="json")
    assert r.status_code == 400 and "Prolific" in r.json()["detail"]
    assert c.patch(f"/api/studies/{opened['id']}/", {"prolific_redirect": False}, format="json").status_code == 200
    assert c.post(f"/api/studies/{opened['id']}/status/", {"status": "open"}, format="json").status_code == 200
    c.force_login(researcher)
    page = c.get(f"/studies/{opened['id']}/")
    assert page.status_code == 200 and b"one completion code for the whole study" in page.content


# ----------------------------------------------------------------------------- 15. exports


HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTab",
           "'=quoted", "^^5cinput^^7b/etc/passwd^^7d", "{}$~&%#_\\ all"]


def _hostile_study(make_user, client_for):
    """A study whose method names are hostile, with votes: returns the researcher's client and the id."""
    import numpy as np

    from studies import setup
    from studies.models import Study

    owner = make_user("researcher")
    study = setup.create_study(owner=owner, title="T $\\input{x}$ ^^5c", practice_trials=0,
                               trials_per_participant=28, attention_every=0, participants_wanted=2)
    rng = np.random.default_rng(0)
    for k in range(2):
        base = rng.random((24, 16, 3)).astype(np.float32)
        setup.add_item_arrays(study, name=f"=item{k}", subset="@sub" if k else "-sub", input_rgb=base,
                              outputs={m: np.clip(base + 0.05 * j, 0, 1) for j, m in enumerate(HOSTILE)})
    setup.set_status(study, Study.Status.OPEN)
    for _ in range(2):
        answer_all(joined(client_for, study.public_id), "left")
    return client_for(owner), study.pk


def test_votes_csv_escapes_formulas_and_reads_back(make_user, client_for, tmp_path):
    import subprocess
    import sys

    c, sid = _hostile_study(make_user, client_for)
    text = c.get(f"/api/studies/{sid}/votes.csv?all=1").content.decode()
    cells = [cell for row in list(csv.reader(io.StringIO(text)))[1:] for cell in row]
    assert cells and not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in cells and "''=quoted" in cells
    (tmp_path / "v.csv").write_text(text)
    api = c.get(f"/api/studies/{sid}/results/?all=1").json()
    out = subprocess.run([sys.executable, "-m", "studies.analysis", str(tmp_path / "v.csv"), "--json"],
                         capture_output=True, text=True, check=True)
    assert api == json.loads(out.stdout)  # the CLI reads every name back as it was
    assert "=HYPERLINK(\"http://evil.example\",\"x\")" in api["conditions"]


def test_latex_table_escapes_everything(make_user, client_for):
    c, sid = _hostile_study(make_user, client_for)
    tex = c.get(f"/api/studies/{sid}/results.tex").content.decode()
    assert "^^" not in tex and "\\input" not in tex
    names = [line.split(" & ")[0] for line in tex.splitlines() if " & " in line and not line.startswith("Method")]
    assert len(names) == 3 * len(HOSTILE)  # all votes, then each of the two subsets
    for name in names:  # nothing TeX would act on is left once the escapes are taken out
        for escape in ("\\textbackslash{}", "\\textasciicircum{}", "\\textasciitilde{}", "\\{", "\\}", "\\$",
                       "\\&", "\\%", "\\#", "\\_"):
            name = name.replace(escape, "")
        assert not set("\\{}$^~&%#_") & set(name), name
    assert "\\textasciicircum{}\\textasciicircum{}5cinput" in tex and "\\{\\}\\$\\textasciitilde{}\\&\\%\\#\\_" in tex
    assert "\\caption{T \\$\\textbackslash{}input\\{x\\}\\$ \\textasciicircum{}\\textasciicircum{}5c}" in tex


# ----------------------------------------------------------------------------- 14 (studies part). researcher bodies


@pytest.mark.parametrize("path,method", [("methods/", "post"), ("status/", "post"), ("items/from-jobs/", "post"),
                                         ("participants/{pid}/", "patch")])
@pytest.mark.parametrize("body", [[], 1, "s"])
def test_researcher_endpoints_refuse_non_object_bodies(study, client_for, path, method, body):
    from studies.models import Participant

    joined(client_for, study["public_id"])
    pid = Participant.objects.get().pk
    r = getattr(study["client"], method)(f"/api/studies/{study['id']}/" + path.format(pid=pid), body, format="json")
    assert r.status_code == 400 and r.json()["detail"], r.content[:300]


def test_researcher_inputs_that_used_to_fail(study, client_for):
    import zipfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import png_bytes

    c = study["client"]
    assert c.get(f"/api/studies/{study['id']}/images/0/?item=abc").status_code == 404
    r = c.post("/api/studies/", {"title": "New"}, format="json")
    new = r.json()["id"]
    assert c.post(f"/api/studies/{new}/methods/", {"name": "a\x00b"}, format="multipart").status_code == 400

    def archive(manifest: bytes) -> SimpleUploadedFile:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("manifest.csv", manifest)
            z.writestr("i.png", png_bytes())
            z.writestr("o.png", png_bytes())
        return SimpleUploadedFile("a.zip", buf.getvalue())

    for manifest, words in ((b"item,path\ni,i.png\n", "missing: method"), (b"item,method,path\n\xff\xfe,x,i.png\n",
                                                                             "UTF-8"),
                            (b"item,method,path\n,input,i.png\n", "needs an item")):
        r = c.post(f"/api/studies/{new}/import/", {"archive": archive(manifest)}, format="multipart")
        assert r.status_code == 400 and words in r.json()["detail"], r.content


def test_participant_paths_with_odd_ids_are_404(client_for):
    c = client_for(None)
    for path in ("/api/participate/%00/", "/api/participate/a%00b/join/", "/api/participate/img/%00/",
                 "/api/participate/" + "x" * 300 + "/"):
        r = c.post(path, {"consent": True}, format="json") if path.endswith("join/") else c.get(path)
        assert r.status_code == 404, path
