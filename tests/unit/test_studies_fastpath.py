"""The ASGI fast path for the participant vote and next/: same answers as the Django views, the
checks Django's middleware would have made, and everything else passed through untouched."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.unit.studies_support import open_study

pytestmark = pytest.mark.django_db(transaction=True)  # the fast path uses its own (pooled) connections


class Inner:
    """The wrapped application: records what reached it."""

    def __init__(self):
        self.paths = []

    async def __call__(self, scope, receive, send):
        self.paths.append((scope["method"], scope["path"]))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


def call(app, method: str, path: str, *, body: bytes | dict = b"", token: str | None = None,
         host: str = "localhost") -> httpx.Response:
    headers = {"Host": host, "Content-Type": "application/json"}
    if token:
        headers["X-Participant-Token"] = token
    content = json.dumps(body).encode() if isinstance(body, dict) else body

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}") as c:
            return await c.request(method, path, content=content, headers=headers)

    return asyncio.run(go())


@pytest.fixture
def study(make_user, client_for):
    opened = open_study(client_for(make_user("researcher")), title="F", practice_trials=0, trials_per_participant=4,
                        attention_every=0, participants_wanted=2)
    tokens = []
    for _ in range(2):
        r = client_for(None).post(f"/api/participate/{opened['public_id']}/join/", {"consent": True}, format="json")
        tokens.append(r.json()["participant_token"])
    return {"id": opened["id"], "tokens": tokens}


def test_vote_contract_through_the_fast_path(study):
    from studies.fastpath import ParticipantFastPath
    from studies.models import Response

    inner = Inner()
    app = ParticipantFastPath(inner)
    a, b = study["tokens"]
    nxt = call(app, "GET", "/api/participate/next/", token=a)
    assert nxt.status_code == 200 and nxt.headers["cache-control"] == "no-store"
    trial = nxt.json()["trial_id"]
    url = f"/api/participate/trials/{trial}/response/"
    vote = {"choice": "left", "idempotency_key": "k1", "elapsed_ms": 800}
    first = call(app, "POST", url, body=vote, token=a)
    assert (first.status_code, first.json()) == (201, {"stored": True})
    for header, value in (("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"),
                          ("referrer-policy", "same-origin"), ("content-type", "application/json")):
        assert first.headers[header] == value
    assert (call(app, "POST", url, body=vote, token=a).status_code, Response.objects.count()) == (200, 1)
    assert call(app, "POST", url, body={**vote, "choice": "right"}, token=a).status_code == 409
    assert call(app, "POST", url, body={**vote, "choice": "right", "idempotency_key": "k2"},
                token=a).status_code == 409
    assert call(app, "POST", url, body=vote, token=b).status_code == 404
    assert call(app, "POST", url, body=vote).status_code == 401
    assert call(app, "POST", url, body=vote, token="nope").status_code == 401
    assert call(app, "GET", "/api/participate/next/", token="nope").status_code == 401
    bad = call(app, "POST", url, body=b"{not json", token=a)
    assert bad.status_code == 400 and bad.json()["detail"]
    assert call(app, "POST", url, body={"choice": "up", "idempotency_key": "k3"}, token=a).status_code == 400
    nxt2 = call(app, "GET", "/api/participate/next/", token=a).json()["trial_id"]
    url2 = f"/api/participate/trials/{nxt2}/response/"
    assert call(app, "POST", url2, body={"choice": "up", "idempotency_key": "k3"}, token=a).status_code == 400
    assert call(app, "POST", url2, body={"choice": "left", "idempotency_key": ""}, token=a).status_code == 400
    assert call(app, "POST", url2, body={"choice": "left", "idempotency_key": "k1"}, token=a).status_code == 409
    assert call(app, "POST", url2, body={"choice": "left", "idempotency_key": "k4", "elapsed_ms": "x"},
                token=a).status_code == 400
    assert call(app, "POST", url2, body=b"x" * 70000, token=a).status_code == 413
    assert call(app, "POST", url2, body=vote, token=a, host="evil.example").status_code == 400
    assert Response.objects.count() == 1
    assert inner.paths == []  # all of it served by the fast path


def test_other_requests_pass_through():
    from studies.fastpath import ParticipantFastPath

    inner = Inner()
    app = ParticipantFastPath(inner)
    for method, path in (("GET", "/api/participate/trials/abc/response/"), ("POST", "/api/participate/next/"),
                         ("POST", "/api/participate/screen/"), ("GET", "/api/studies/"),
                         ("POST", "/api/participate/trials/a/b/response/"), ("GET", "/static/css/app.css")):
        r = call(app, method, path)
        assert (r.status_code, r.content) == (299, b"inner"), path
    assert len(inner.paths) == 6


def test_fast_path_and_django_views_agree(study, client_for):
    """The production ASGI application (webapp.asgi) serves the hot paths through the fast path; the
    Django views (in-process test client) give the same answers."""
    from webapp.asgi import application

    a, _ = study["tokens"]
    django = client_for(None)
    django.credentials(HTTP_X_PARTICIPANT_TOKEN=a)
    while True:
        via_fast = call(application, "GET", "/api/participate/next/", token=a)
        via_django = django.get("/api/participate/next/")
        assert via_fast.status_code == via_django.status_code == 200
        fast, slow = via_fast.json(), via_django.json()
        if fast.get("done"):
            assert fast == slow
            break
        assert fast["trial_id"] == slow["trial_id"] and fast["progress"] == slow["progress"]
        url = f"/api/participate/trials/{fast['trial_id']}/response/"
        vote = {"choice": "right", "idempotency_key": "x" + fast["trial_id"]}
        first = call(application, "POST", url, body=vote, token=a)
        second = django.post(url, vote, format="json")
        assert (first.status_code, first.json()) == (201, {"stored": True})
        assert (second.status_code, second.json()) == (200, {"stored": False})
        changed = {**vote, "choice": "left"}
        assert call(application, "POST", url, body=changed, token=a).json() == \
            django.post(url, changed, format="json").json()
