"""Interactive sessions in-process: the click task called directly, REST permissions, jobs."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from webapp.interactive import click_worker, services
from webapp.interactive.seqstore import LocalSeqStore, reset_store
from webapp.photos import prepared


def portrait_png() -> bytes:
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(data.astronaut())).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def portrait(researcher):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.photos.services import ingest_photo

    return ingest_photo(upload=SimpleUploadedFile("astronaut.png", portrait_png()), owner=researcher)


@pytest.fixture
def published(monkeypatch):
    messages: list[dict] = []
    monkeypatch.setattr(click_worker.events, "publish", lambda group, message: messages.append((group, message)))
    return messages


@pytest.fixture(autouse=True)
def fresh_state():
    store = LocalSeqStore()
    reset_store(store)
    click_worker.cache.clear()
    click_worker._remembered.clear()
    prepared.cache.clear()
    yield store
    reset_store(None)
    click_worker.cache.clear()
    prepared.cache.clear()


def make_session(user, photo):
    return services.create_session(owner=user, photo_id=photo.pk, engine="retouch.interactive")


def test_prepare_runs_once_per_photo_and_results_are_stored(researcher, portrait, published):
    from django.core.files.storage import default_storage

    session = make_session(researcher, portrait)
    sid = str(session.pk)
    clicks = [{"x": 120, "y": 80, "positive": True}]
    assert click_worker.execute_click(sid, 1, [], {}, worker="w1") == "done"
    assert click_worker.execute_click(sid, 2, clicks, {"strength": 0.5}, worker="w1") == "done"
    assert click_worker.execute_click(sid, 3, clicks + [{"x": 10, "y": 500, "positive": False}], {}, worker="w1") == "done"
    assert prepared.cache.computed == 1
    group, message = published[-1]
    assert group == f"isession.{sid}"
    assert message["type"] == "session.result" and message["seq"] == 3
    assert message["url"].startswith(f"/media/sessions/{sid}/3-")
    assert message["worker_queue"] == "interactive.w1"
    assert message["server_ms"] > 0
    path = message["url"].removeprefix("/media/")
    with default_storage.open(path) as fh:
        image = Image.open(fh)
        assert min(image.size) == 360  # working resolution
    session.refresh_from_db()
    assert session.worker_queue == "interactive.w1"


def test_older_seq_is_dropped_when_a_newer_one_is_known(researcher, portrait, published, fresh_state):
    sid = str(make_session(researcher, portrait).pk)
    fresh_state.set(sid, 7)
    assert click_worker.execute_click(sid, 5, [], {}, worker="w1") == "superseded"
    assert published == []
    assert click_worker.execute_click(sid, 7, [], {}, worker="w1") == "done"
    assert [m["seq"] for _, m in published] == [7]


def test_result_overtaken_while_running_is_not_published(researcher, portrait, published, fresh_state,
                                                         monkeypatch):
    sid = str(make_session(researcher, portrait).pk)
    fresh_state.set(sid, 1)
    engine = prepared.interactive_engine("retouch.interactive")
    original = engine.run_clicks

    def slow(*args, **kwargs):
        fresh_state.set(sid, 2)  # a newer click arrives while this one runs
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "run_clicks", slow)
    assert click_worker.execute_click(sid, 1, [], {}, worker="w1") == "superseded"
    assert published == []


def test_bad_clicks_give_an_error_message(researcher, portrait, published):
    sid = str(make_session(researcher, portrait).pk)
    assert click_worker.execute_click(sid, 1, [{"x": 99999, "y": 1, "positive": True}], {}, worker="w1") == "error"
    _, message = published[-1]
    assert message["type"] == "session.error" and message["seq"] == 1
    assert "outside" in message["detail"]


def test_cache_is_lru_bounded(researcher, portrait, published, monkeypatch):
    monkeypatch.setattr(click_worker.cache, "size", 2)
    ids = [str(make_session(researcher, portrait).pk) for _ in range(3)]
    for sid in ids:
        click_worker.execute_click(sid, 1, [], {}, worker="w1")
    assert ids[0] not in click_worker.cache and ids[2] in click_worker.cache


def test_sticky_queue_and_fallback_when_worker_is_gone(db):
    from webapp.jobs.models import WorkerStatus

    WorkerStatus.objects.create(name="a@host", device="cpu", queues=["cpu"], last_seen=timezone.now())
    WorkerStatus.objects.create(name="b@host", device="cpu", queues=["cpu"],
                                last_seen=timezone.now() - timedelta(seconds=60))
    assert services.choose_queue("interactive.a@host") == "interactive.a@host"
    assert services.choose_queue("interactive.b@host") == "cpu"
    assert services.choose_queue("") == "cpu"
    assert services.choose_queue("interactive.nobody@host") == "cpu"


def test_worker_queue_is_added_to_consumed_queues():
    from celery import Celery

    from webapp.interactive.worker_queue import add_worker_queue

    app = Celery("t", set_as_current=False)
    app.conf.task_queues = ()
    app.amqp.queues.select(["cpu"])
    name = add_worker_queue(app, "w9@host")
    assert name == "interactive.w9@host"
    assert name in app.amqp.queues.consume_from and "cpu" in app.amqp.queues.consume_from


# ---------------------------------------------------------------- REST

@pytest.mark.parametrize("role,expected", [("researcher", 201), ("expert", 201), ("reviewer", 403)])
def test_session_create_by_role(make_user, client_for, portrait, role, expected):
    response = client_for(make_user(role)).post("/api/sessions/", {"photo": portrait.pk,
                                                                   "engine": "retouch.interactive"},
                                                format="json")
    assert response.status_code == expected, response.content
    if expected == 201:
        assert set(response.json()) >= {"id"}


def test_session_create_anonymous_refused(client_for, portrait):
    response = client_for(None).post("/api/sessions/", {"photo": portrait.pk, "engine": "retouch.interactive"},
                                     format="json")
    assert response.status_code == 401  # the API's first authenticator (Token) names the scheme
    assert response["WWW-Authenticate"] == "Token"


def test_session_refuses_non_interactive_engine_and_unknown_photo(client_for, researcher, portrait):
    client = client_for(researcher)
    bad = client.post("/api/sessions/", {"photo": portrait.pk, "engine": "harmonize"}, format="json")
    assert bad.status_code == 400 and "interactive" in bad.json()["detail"]
    missing = client.post("/api/sessions/", {"photo": 99999, "engine": "retouch.interactive"}, format="json")
    assert missing.status_code == 404


def test_session_detail_only_for_owner(make_user, client_for, researcher, portrait):
    sid = client_for(researcher).post("/api/sessions/", {"photo": portrait.pk, "engine": "retouch.interactive"},
                                      format="json").json()["id"]
    assert client_for(researcher).get(f"/api/sessions/{sid}/").status_code == 200
    assert client_for(make_user("researcher")).get(f"/api/sessions/{sid}/").status_code == 404


# ---------------------------------------------------------------- WebSocket (in process)

def _talk(path: str, user, frames: tuple[str, ...] = ()) -> tuple[int | None, list[dict]]:
    """Open ``path`` as ``user`` (None: anonymous), send ``frames``; → (close code or None, replies).

    Drives the routed consumers through ASGI messages (asgiref's communicator: channels.testing
    needs daphne); authentication is left out, the user goes straight into the scope."""
    from asgiref.testing import ApplicationCommunicator
    from channels.routing import URLRouter
    from django.contrib.auth.models import AnonymousUser

    from webapp.routing import websocket_urlpatterns

    scope = {"type": "websocket", "path": path, "query_string": b"", "headers": [], "subprotocols": [],
             "user": user or AnonymousUser()}

    async def talk():
        socket = ApplicationCommunicator(URLRouter(websocket_urlpatterns), scope)
        await socket.send_input({"type": "websocket.connect"})
        # refusals too are accepted first, so the client can read the close code
        assert (await socket.receive_output(10))["type"] == "websocket.accept"
        replies = []
        for frame in frames:
            await socket.send_input({"type": "websocket.receive", "text": frame})
            replies.append(json.loads((await socket.receive_output(10))["text"]))
        closed = None
        if not frames:
            output = await socket.receive_output(10)
            closed = output.get("code") if output["type"] == "websocket.close" else None
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(10)
        return closed, replies

    return asyncio.run(talk())


@pytest.mark.django_db(transaction=True)
def test_sockets_refuse_with_the_documented_close_codes(make_user, researcher, portrait):
    path = f"/ws/sessions/{make_session(researcher, portrait).pk}/"
    assert _talk(path, None)[0] == 4401
    assert _talk(path, make_user("reviewer"))[0] == 4403
    assert _talk(path, make_user("expert"))[0] == 4403  # not the owner
    assert _talk("/ws/sessions/00000000-0000-0000-0000-000000000000/", researcher)[0] == 4404
    assert _talk("/ws/jobs/", None)[0] == 4401
    assert _talk("/ws/jobs/", make_user("reviewer"))[0] == 4403


@pytest.mark.django_db(transaction=True)
def test_session_socket_answers_bad_frames_with_error_frames(researcher, portrait):
    path = f"/ws/sessions/{make_session(researcher, portrait).pk}/"
    frames = ("not json", json.dumps({"clicks": [], "seq": "7"}),
              json.dumps({"clicks": [{"x": 99999, "y": 1, "positive": True}], "seq": 4}),
              json.dumps({"clicks": [], "params": {"strength": 9}, "seq": 5}), json.dumps({"type": "ping"}))
    closed, replies = _talk(path, researcher, frames)
    assert replies[:2] == [{"type": "error", "detail": "That frame is not valid JSON."},
                           {"type": "error", "detail": "seq must be an integer", "seq": "7"}]
    assert replies[2] == {"type": "error", "seq": 4, "detail": f"clicks[0] at (99999, 1) lies outside the "
                                                             f"{portrait.width} × {portrait.height} image"}
    assert replies[3]["type"] == "error" and replies[3]["seq"] == 5 and "strength" in replies[3]["detail"]
    assert replies[4] == {"type": "pong"}


# ---------------------------------------------------------------- pages

@pytest.mark.parametrize("path", ["/try/", "/try/harmonize/"])
def test_pages_by_role(client, make_user, path):
    anonymous = client.get(path)
    assert anonymous.status_code == 200 and b"try-signin" in anonymous.content
    client.force_login(make_user("reviewer"))
    reviewer = client.get(path)
    assert reviewer.status_code == 403 and b"cannot run engines" in reviewer.content
    client.force_login(make_user("expert"))
    expert = client.get(path)
    assert expert.status_code == 200 and b"try.css" in expert.content and b"try-signin" not in expert.content


# ---------------------------------------------------------------- composites

def test_composite_creates_photo_and_foreground_mask(client_for, researcher, portrait):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.photos.services import ingest_photo

    rng = np.random.default_rng(1)
    cutout = np.zeros((40, 30, 4), np.uint8)
    cutout[..., :3] = rng.integers(0, 255, (40, 30, 3))
    cutout[5:35, 5:25, 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(cutout, "RGBA").save(buffer, format="PNG")
    person = ingest_photo(upload=SimpleUploadedFile("cut.png", buffer.getvalue()), owner=researcher)
    response = client_for(researcher).post("/api/composites/", {"person": person.pk, "background": portrait.pk,
                                                                "x": 20, "y": 30, "scale": 2.0}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mask_source"] == "alpha"
    assert (body["photo"]["width"], body["photo"]["height"]) == (portrait.width, portrait.height)
    assert [m["kind"] for m in body["photo"]["masks"]] == ["foreground"]
    off = client_for(researcher).post("/api/composites/", {"person": person.pk, "background": portrait.pk,
                                                           "x": 99999, "y": 0}, format="json")
    assert off.status_code == 400 and "overlap" in off.json()["detail"]
