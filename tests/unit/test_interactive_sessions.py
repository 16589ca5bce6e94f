"""Interactive sessions in-process: the click task called directly, REST permissions, jobs."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from webapp.interactive import click_worker, services
from webapp.interactive.seqstore import LocalSeqStore, reset_store


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
    yield store
    reset_store(None)
    click_worker.cache.clear()


def make_session(user, photo):
    return services.create_session(owner=user, photo_id=photo.pk, engine="retouch.interactive")


def test_prepare_runs_once_per_session_and_results_are_stored(researcher, portrait, published):
    from django.core.files.storage import default_storage

    session = make_session(researcher, portrait)
    sid = str(session.pk)
    clicks = [{"x": 120, "y": 80, "positive": True}]
    assert click_worker.execute_click(sid, 1, [], {}, worker="w1") == "done"
    assert click_worker.execute_click(sid, 2, clicks, {"strength": 0.5}, worker="w1") == "done"
    assert click_worker.execute_click(sid, 3, clicks + [{"x": 10, "y": 500, "positive": False}], {}, worker="w1") == "done"
    assert click_worker.cache.prepares == 1
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
    engine = click_worker._engine("retouch.interactive")
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
    assert response.status_code in (401, 403)


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
