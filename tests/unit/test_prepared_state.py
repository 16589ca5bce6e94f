"""Interactive engines' prepared states cached with the photo: made at upload, shared by every
session and by full-resolution jobs, on any worker, and replaced when the engine version changes."""

from __future__ import annotations

import dataclasses
import io
import threading

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from inference import statecodec
from inference.engines.retouch import InteractiveRetouch
from webapp.interactive import click_worker, services
from webapp.interactive.seqstore import LocalSeqStore, reset_store
from webapp.photos import prepared, tasks
from webapp.photos.models import Photo

ENGINE = "retouch.interactive"


def portrait_png() -> bytes:
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(data.astronaut())[::2, ::2]).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch):
    reset_store(LocalSeqStore())
    click_worker.cache.clear()
    prepared.cache.clear()
    monkeypatch.setattr(click_worker.events, "publish", lambda group, message: None)
    yield
    reset_store(None)
    click_worker.cache.clear()
    prepared.cache.clear()


@pytest.fixture
def prepare_calls(monkeypatch):
    """How many times the engine's ``prepare`` really ran."""
    engine = prepared.interactive_engine(ENGINE)
    calls = []
    original = engine.prepare

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "prepare", counting)
    return calls


@pytest.fixture
def sent_tasks(monkeypatch):
    """Tasks sent by name run here at once (as a worker would run them)."""
    sent = []

    def send_task(name, args=(), **options):
        sent.append((name, options.get("queue")))
        if name == prepared.PREPARE_TASK:
            tasks.prepare_interactive(*args)
        elif name == services.WARM_SESSION:
            click_worker.warm_session(*args)

    monkeypatch.setattr(prepared.celery_app, "send_task", send_task)
    monkeypatch.setattr(services.celery_app, "send_task", send_task)
    return sent


@pytest.fixture
def uploaded(client_for, researcher, sent_tasks, prepare_calls, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(researcher).post("/api/photos/", {"file": SimpleUploadedFile("p.png", portrait_png())},
                                               format="multipart")
    assert response.status_code == 201, response.content
    return Photo.objects.get(pk=response.json()["id"])


def test_upload_prepares_in_the_background_and_stores_the_state_with_the_photo(
        uploaded, sent_tasks, prepare_calls, client_for, researcher):
    assert (prepared.PREPARE_TASK, "cpu") in sent_tasks
    assert len(prepare_calls) == 1
    entry = uploaded.prepared[ENGINE]
    assert entry["version"] == InteractiveRetouch.spec.version
    assert entry["size"] == [uploaded.width, uploaded.height]  # ≤ 1600 px: the display proxy's size
    assert default_storage.exists(entry["path"]) and entry["path"].startswith("photos/prepared/")
    body = client_for(researcher).get(f"/api/photos/{uploaded.pk}/").json()
    assert body["prepared"] == [ENGINE]


def test_sessions_on_the_photo_share_the_state_and_another_worker_loads_it(uploaded, researcher, prepare_calls,
                                                                         sent_tasks,
                                                                         django_capture_on_commit_callbacks):
    prepared.cache.clear()  # a worker that did not prepare it: nothing in its memory
    clicks = [{"x": 100, "y": 80, "positive": True}]
    with django_capture_on_commit_callbacks(execute=True):
        first = services.create_session(owner=researcher, photo_id=uploaded.pk, engine=ENGINE)
    assert (services.WARM_SESSION, services.SHARED_QUEUE) in sent_tasks  # loaded before any click
    assert prepared.cache.loaded == 1
    second = services.create_session(owner=researcher, photo_id=uploaded.pk, engine=ENGINE)
    for session in (first, second):
        assert click_worker.execute_click(str(session.pk), 1, clicks, {}, worker="w1") == "done"
    assert len(prepare_calls) == 1  # the upload's, nothing since
    assert prepared.cache.loaded == 1 and prepared.cache.computed == 0


def test_a_stored_state_gives_the_same_results_as_the_one_in_memory(uploaded):
    engine = prepared.interactive_engine(ENGINE)
    state = engine.prepare(prepared.load_display(uploaded))
    loaded = engine.load_state(engine.dump_state(state))
    for clicks in ([], [{"x": 100, "y": 80, "positive": True}, {"x": 20, "y": 200, "positive": False}]):
        a, b = engine.run_clicks(state, clicks, {}), engine.run_clicks(loaded, clicks, {})
        np.testing.assert_array_equal(a["image"], b["image"])
        assert a["info"]["params"] == b["info"]["params"]


def test_a_new_engine_version_prepares_again_and_drops_the_old_state(uploaded, prepare_calls, monkeypatch):
    old_path = uploaded.prepared[ENGINE]["path"]
    monkeypatch.setattr(InteractiveRetouch, "spec", dataclasses.replace(InteractiveRetouch.spec, version="99"))
    prepared.cache.clear()
    item = prepared.prepared_state(uploaded, ENGINE)
    assert item.source == "computed" and len(prepare_calls) == 2
    uploaded.refresh_from_db()
    assert uploaded.prepared[ENGINE]["version"] == "99" and "@99" in uploaded.prepared[ENGINE]["path"]
    assert not default_storage.exists(old_path)
    assert prepared.prepared_engines(uploaded) == [ENGINE]


def test_a_damaged_stored_state_is_prepared_again(uploaded, prepare_calls):
    path = uploaded.prepared[ENGINE]["path"]
    default_storage.delete(path)
    default_storage.save(path, io.BytesIO(b"not a state"))
    prepared.cache.clear()
    assert prepared.prepared_state(uploaded, ENGINE).source == "computed"
    assert len(prepare_calls) == 2


def test_one_preparation_at_a_time_per_photo_in_a_process(researcher, prepare_calls, monkeypatch):
    from webapp.photos.services import ingest_photo

    photo = ingest_photo(upload=SimpleUploadedFile("p.png", portrait_png()), owner=researcher)
    # the threads share no database connection with the test: nothing is stored or looked up here
    monkeypatch.setattr(prepared, "_stored_entry", lambda photo_id, spec: None)
    monkeypatch.setattr(prepared, "_store", lambda *args: None)
    results = []
    threads = [threading.Thread(target=lambda: results.append(prepared.prepared_state(photo, ENGINE)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(prepare_calls) == 1 and len({id(r) for r in results}) == 1


def test_full_resolution_job_starts_from_the_stored_state(uploaded, prepare_calls, researcher):
    from webapp.jobs import services as jobs
    from webapp.jobs.execution import execute_job

    prepared.cache.clear()
    job = jobs.create_job(owner=researcher, engine=ENGINE,
                          inputs={"photo": uploaded.pk, "clicks": [{"x": 100, "y": 80, "positive": True}]})
    assert execute_job(job.pk, worker="w") == "succeeded"
    assert len(prepare_calls) == 1 and prepared.cache.loaded == 1
    job.refresh_from_db()
    image = next(o for o in job.outputs if o["name"] == "image")
    with default_storage.open(image["path"]) as fh:
        assert Image.open(fh).size == (uploaded.width, uploaded.height)


def test_state_codec_stores_only_allowed_types_and_leaves_transient_fields_out():
    @dataclasses.dataclass
    class Inner:
        values: np.ndarray
        label: str

    @dataclasses.dataclass
    class Outer:
        inner: Inner
        pairs: tuple
        table: dict
        cache: dict = statecodec.transient(default_factory=dict)

    state = Outer(Inner(np.arange(6, dtype=np.float32).reshape(2, 3), "x"), (1, 2.5, None), {"k": [True]},
                  cache={"big": np.zeros(3)})
    back = statecodec.loads(statecodec.dumps(state), (Outer, Inner))
    np.testing.assert_array_equal(back.inner.values, state.inner.values)
    assert back.pairs == (1, 2.5, None) and back.table == {"k": [True]} and back.cache == {}
    with pytest.raises(statecodec.StateFormatError, match="not allowed"):
        statecodec.loads(statecodec.dumps(state), (Outer,))
    with pytest.raises(TypeError):
        statecodec.dumps(Outer(Inner(np.array([object()]), "x"), (), {}))
