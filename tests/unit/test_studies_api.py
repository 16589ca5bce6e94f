"""User-study API: contract shapes, exactly-once answers, permissions per role, blinding."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.unit.studies_support import METHODS, open_study


@pytest.fixture
def study(make_user, client_for):
    owner = make_user("researcher")
    c = client_for(owner)
    opened = open_study(c, practice_trials=1, trials_per_participant=6, attention_every=3, participants_wanted=3,
                        allow_tie=True)
    return {"owner": owner, "client": c, **opened}


def join(client_for, public_id, params=None):
    c = client_for(None)
    r = c.post(f"/api/participate/{public_id}/join/", {"consent": True, "params": params or {}}, format="json")
    assert r.status_code == 201, r.content
    token = r.json()["participant_token"]
    assert set(r.json()) == {"participant_token"}
    c.credentials(HTTP_X_PARTICIPANT_TOKEN=token)
    return c


def _sees(t, choose):
    """A perceptive participant: never prefers the visibly degraded copy of an attention check."""
    from studies.models import Trial

    side = Trial.objects.get(public_id=t["trial_id"]).degraded_side
    if side in ("left", "right"):
        return "right" if side == "left" else "left"
    return choose(t)


def run_session(c, choose=lambda t: "left"):
    seen = []
    while True:
        t = c.get("/api/participate/next/").json()
        if t.get("done"):
            return t, seen
        seen.append(t)
        r = c.post(f"/api/participate/trials/{t['trial_id']}/response/",
                   {"choice": _sees(t, choose), "idempotency_key": "k" + t["trial_id"], "elapsed_ms": 900}, format="json")
        assert r.status_code == 201, r.content


def test_participant_contract_and_exactly_once(study, client_for):
    c = join(client_for, study["public_id"], {"PROLIFIC_PID": "abc", "STUDY_ID": "s", "SESSION_ID": "x"})
    t = c.get("/api/participate/next/").json()
    assert {"trial_id", "kind", "input_url", "left_url", "right_url"} <= set(t) and t["kind"] == "pairwise"
    url = f"/api/participate/trials/{t['trial_id']}/response/"
    body = {"choice": "left", "idempotency_key": "key-1", "elapsed_ms": 1200}
    assert c.post(url, body, format="json").status_code == 201
    assert c.post(url, body, format="json").status_code == 200  # retry: nothing new
    assert c.post(url, {**body, "choice": "right"}, format="json").status_code == 409
    assert c.post(url, {**body, "choice": "right", "idempotency_key": "key-2"}, format="json").status_code == 409
    from studies.models import Response

    assert Response.objects.filter(trial__public_id=t["trial_id"]).count() == 1
    done, seen = run_session(c)
    assert done["done"] is True and done["completion_code"]
    assert done["redirect_url"].endswith(done["completion_code"])
    assert len(seen) == 1 + 6 + 2 - 1  # practice + trials + attention checks, minus the first
    # The votes CSV and results describe what was stored.
    csv = study["client"].get(f"/api/studies/{study['id']}/votes.csv").content.decode()
    assert csv.splitlines()[0] == "participant,item,subset,winner,loser,tie"
    assert len(csv.splitlines()) == 1 + 6
    res = study["client"].get(f"/api/studies/{study['id']}/results/").json()
    for key in ("conditions", "comparisons", "preference_rate", "win_rate", "bradley_terry", "thurstone",
                "thurstone_ls", "regularized", "ci", "subsets"):
        assert key in res
    assert set(res["subsets"]) == {"S1", "S2"}


def test_participant_cannot_touch_another_participants_trial(study, client_for):
    a = join(client_for, study["public_id"])
    b = join(client_for, study["public_id"])
    ta = a.get("/api/participate/next/").json()
    r = b.post(f"/api/participate/trials/{ta['trial_id']}/response/",
               {"choice": "left", "idempotency_key": "x", "elapsed_ms": 1}, format="json")
    assert r.status_code == 404
    anon = client_for(None)
    r = anon.post(f"/api/participate/trials/{ta['trial_id']}/response/",
                  {"choice": "left", "idempotency_key": "x", "elapsed_ms": 1}, format="json")
    assert r.status_code == 401
    assert anon.get("/api/participate/next/").status_code == 401
    bad = client_for(None)
    bad.credentials(HTTP_X_PARTICIPANT_TOKEN="not-a-token")
    assert bad.get("/api/participate/next/").status_code == 401
    assert b.get("/api/participate/next/").json()["trial_id"] != ta["trial_id"]


def test_join_needs_consent_and_open_study(study, client_for):
    c = client_for(None)
    assert c.post(f"/api/participate/{study['public_id']}/join/", {"consent": False}, format="json").status_code == 400
    assert c.post("/api/participate/nope/join/", {"consent": True}, format="json").status_code == 404
    study["client"].post(f"/api/studies/{study['id']}/status/", {"status": "closed"}, format="json")
    closed = c.post(f"/api/participate/{study['public_id']}/join/", {"consent": True}, format="json")
    assert closed.status_code == 409 and "closed" in closed.json()["detail"]


RESEARCHER_ENDPOINTS = [
    ("get", "/api/studies/"), ("get", "/api/studies/{id}/"), ("get", "/api/studies/{id}/results/"),
    ("get", "/api/studies/{id}/votes.csv"), ("get", "/api/studies/{id}/dashboard/"),
    ("get", "/api/studies/{id}/results.tex"), ("post", "/api/studies/{id}/methods/"),
    ("post", "/api/studies/{id}/status/"), ("patch", "/api/studies/{id}/"),
]


@pytest.mark.parametrize("method,path", RESEARCHER_ENDPOINTS)
@pytest.mark.parametrize("who", ["anonymous", "participant", "expert", "reviewer", "other_researcher", "owner"])
def test_researcher_endpoints_by_role(study, client_for, make_user, who, method, path):
    if who == "anonymous":
        c = client_for(None)
    elif who == "participant":
        c = join(client_for, study["public_id"])
    elif who == "owner":
        c = study["client"]
    else:
        c = client_for(make_user("researcher" if who == "other_researcher" else who))
    body = {"name": "Extra"} if path.endswith("methods/") else {"status": "open"} if path.endswith("status/") \
        else {"title": "Renamed"}
    r = getattr(c, method)(path.format(id=study["id"]), body, format="json") if method != "get" \
        else c.get(path.format(id=study["id"]))
    owner = 201 if path.endswith("methods/") else 200
    expected = {"anonymous": 401, "participant": 401, "expert": 403, "reviewer": 403,
                "other_researcher": 404 if "{id}" in path else 200, "owner": owner}[who]
    assert r.status_code == expected, (who, path, r.status_code, r.content[:200])


def test_blinding_nothing_participant_visible_names_a_method(study, client_for):
    from studies.models import Item, Output

    c = join(client_for, study["public_id"])
    html = client_for(None).get(f"/s/{study['public_id']}/").content.decode()
    forbidden = [m.lower() for m in METHODS] + ["method"]
    paths = [o.image.name for o in Output.objects.all()] + [i.input_image.name for i in Item.objects.all()]
    stems = [p.rsplit("/", 1)[-1].split(".")[0] for p in paths]
    blobs = [html, c.get(f"/api/participate/{study['public_id']}/").content.decode()]
    urls_seen = []
    while True:
        t = c.get("/api/participate/next/")
        blobs.append(t.content.decode())
        t = t.json()
        if t.get("done"):
            break
        for key in ("input_url", "left_url", "right_url"):
            img = c.get(t[key])
            assert img.status_code == 200 and img["Content-Type"] == "image/jpeg"
            assert "Content-Disposition" not in img and "ETag" not in img and "Last-Modified" not in img
            data = img.content
            assert b"Exif" not in data and b"ICC_PROFILE" not in data and b"tEXt" not in data
            assert not any(name.encode().lower() in data.lower() for name in forbidden)
            urls_seen.append(t[key])
        r = c.post(f"/api/participate/trials/{t['trial_id']}/response/",
                   {"choice": "left", "idempotency_key": t["trial_id"], "elapsed_ms": 5}, format="json")
        blobs.append(r.content.decode())
    text = "\n".join(blobs).lower()
    for word in forbidden:
        assert not re.search(rf"\b{word}", text), word
    for stem in stems:  # no stored file name (stable per output) leaks
        assert stem.lower() not in text
    assert len(set(urls_seen)) == len(urls_seen)  # every image URL is fresh: no cross-trial identifier
    assert all(re.fullmatch(r"/api/participate/img/[A-Za-z0-9_-]{20,}/", u) for u in urls_seen)
    assert client_for(None).get("/media/" + paths[0]).status_code in (302, 403)


def test_results_api_equals_cli_on_exported_csv(study, client_for, tmp_path):
    import json
    import subprocess
    import sys

    rng = np.random.default_rng(3)
    for _ in range(3):
        run_session(join(client_for, study["public_id"]), choose=lambda t: "left" if rng.random() < .6 else "right")
    csv_text = study["client"].get(f"/api/studies/{study['id']}/votes.csv").content
    (tmp_path / "v.csv").write_bytes(csv_text)
    api = study["client"].get(f"/api/studies/{study['id']}/results/?bootstrap=50&seed=2").json()
    out = subprocess.run([sys.executable, "-m", "studies.analysis", str(tmp_path / "v.csv"), "--json",
                          "--bootstrap", "50", "--seed", "2"], capture_output=True, text=True, check=True)
    assert api == json.loads(out.stdout)
    tex = study["client"].get(f"/api/studies/{study['id']}/results.tex").content.decode()
    assert "\\begin{tabular}" in tex and "AlphaNet" in tex


def test_exclusion_recomputes_and_dashboard(study, client_for):
    for _ in range(2):
        run_session(join(client_for, study["public_id"]))
    c = study["client"]
    dash = c.get(f"/api/studies/{study['id']}/dashboard/?bootstrap=20").json()
    assert dash["votes"] == 12 and len(dash["participants"]) == 2
    pid = dash["participants"][0]["id"]
    assert c.patch(f"/api/studies/{study['id']}/participants/{pid}/", {"excluded": True},
                   format="json").status_code == 200
    assert c.get(f"/api/studies/{study['id']}/dashboard/?bootstrap=20").json()["votes"] == 6
    assert len(c.get(f"/api/studies/{study['id']}/votes.csv").content.decode().splitlines()) == 7


def test_ranking_study(make_user, client_for):
    c = client_for(make_user("researcher"))
    opened = open_study(c, kind="ranking", rank_k=3, practice_trials=0, trials_per_participant=4, attention_every=2)
    p = join(client_for, opened["public_id"])
    while True:
        t = p.get("/api/participate/next/").json()
        if t.get("done"):
            break
        assert len(t["candidates"]) == 3
        url = f"/api/participate/trials/{t['trial_id']}/response/"
        assert p.post(url, {"order": [0, 0, 1], "idempotency_key": "a" + t["trial_id"]},
                      format="json").status_code == 400
        assert p.post(url, {"order": [2, 0, 1], "idempotency_key": "a" + t["trial_id"]},
                      format="json").status_code == 201
    csv = c.get(f"/api/studies/{opened['id']}/votes.csv?all=1").content.decode().splitlines()
    assert len(csv) == 1 + 4 * 3  # each ranking of 3 gives 3 pairwise votes; attention checks are not votes
    assert "conditions" in c.get(f"/api/studies/{opened['id']}/results/?all=1").json()


def test_adaptive_schedule(make_user, client_for):
    """Adaptive: no trial exists before it is asked for, and each one goes to a least-judged item
    (a balanced schedule deals every trial at join)."""
    from studies.models import Trial

    c = client_for(make_user("researcher"))
    opened = open_study(c, schedule="adaptive", practice_trials=0, trials_per_participant=5, attention_every=0)
    p = join(client_for, opened["public_id"])
    judged: dict[str, int] = {}
    answered = 0
    while True:
        assert Trial.objects.filter(study_id=opened["id"]).count() == answered  # nothing made in advance
        t = p.get("/api/participate/next/").json()
        if t.get("done"):
            break
        assert t["progress"] == {"done": answered, "total": 5}
        item = Trial.objects.get(public_id=t["trial_id"]).item.name
        assert judged.get(item, 0) == min([judged.get(f"item{k}", 0) for k in range(4)]), (item, judged)
        judged[item] = judged.get(item, 0) + 1
        r = p.post(f"/api/participate/trials/{t['trial_id']}/response/",
                   {"choice": "left", "idempotency_key": t["trial_id"]}, format="json")
        assert r.status_code == 201
        answered += 1
    assert answered == 5 and sorted(judged.values()) == [1, 1, 1, 2]


def test_schema_describes_participant_endpoints_and_every_request_body(client_for):
    from studies.hot_path import ROUTES

    paths = client_for(None).get("/api/schema/?format=json").json()["paths"]
    for route in ROUTES:  # the hot routes as the fast path and the Django views serve them
        assert route.method.lower() in paths["/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route.pattern)]
    participant = {("/api/participate/{public_id}/", "get"): None,
                   ("/api/participate/{public_id}/join/", "post"): {"consent", "params", "screen", "client_key"},
                   ("/api/participate/screen/", "post"): set(),
                   ("/api/participate/next/", "get"): None,
                   ("/api/participate/trials/{trial_id}/response/", "post"): {"choice", "order", "idempotency_key",
                                                                            "elapsed_ms"},
                   ("/api/participate/questionnaire/", "post"): {"age_band", "gender", "vision_correction",
                                                                 "colour_vision", "comment"},
                   ("/api/participate/img/{token}/", "get"): None}
    for (path, method), fields in participant.items():
        operation = paths[path][method]
        if fields is None:
            assert "requestBody" not in operation
        else:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert set(schema.get("properties", {})) == fields, path
    writes = [(p, m, op) for p, ops in paths.items() if p.startswith("/api/studies/")
              for m, op in ops.items() if m in ("post", "patch")]
    assert len(writes) == 8  # studies, study, methods, items, import, from-jobs, status, participant
    for path, method, operation in writes:
        assert operation["requestBody"]["content"], (method, path)
