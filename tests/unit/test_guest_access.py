"""Guests of "Try it online" (issue 12, item 2): one click in, their own photos and the samples only,
per-address and per-guest limits answered 429 with Retry-After, and everything deleted after the
stated time (``purge_guests``, the worker heartbeat, signing out)."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from tests.conftest import png_bytes


def start_guest(address: str = "203.0.113.7") -> tuple[Client, object]:
    from webapp.accounts.models import User

    client = Client(REMOTE_ADDR=address)
    response = client.post("/api/auth/guest/")
    assert response.status_code == 201, response.content[:300]
    return client, User.objects.get(username=response.json()["username"])


def upload(client, name="mine.png", payload=None):
    return client.post("/api/photos/", {"file": SimpleUploadedFile(name, payload or png_bytes())})


@pytest.fixture
def sample_photo(researcher):
    """A photo of the library marked as a sample (what ensure_samples does, without decoding seven)."""
    from webapp.photos.services import ingest_photo
    from webapp.samples.models import Sample

    photo = ingest_photo(upload=SimpleUploadedFile("sample.png", png_bytes(size=(64, 48))), owner=researcher)
    Sample.objects.create(key="s", photo=photo, title="A sample", credit="test", licence="CC0")
    return photo


@pytest.fixture
def library_photo(researcher):
    from webapp.photos.services import ingest_photo

    return ingest_photo(upload=SimpleUploadedFile("private.png", png_bytes()), owner=researcher)


# ---------------------------------------------------------------- getting in

@pytest.mark.django_db
def test_continue_as_guest_needs_the_csrf_token_and_signs_in_by_cookie():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/try/")
    assert b'id="try-guest"' in page.content and b"deleted after 24 hours" in page.content
    refused = client.post("/api/auth/guest/")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    token = client.cookies["csrftoken"].value
    made = client.post("/api/auth/guest/", HTTP_X_CSRFTOKEN=token)
    assert made.status_code == 201
    body = made.json()
    assert body["role"] == "guest" and body["username"].startswith("guest-")
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs((expires - timezone.now()) - timedelta(hours=24)) < timedelta(minutes=1)
    assert body["limits"]["retention_hours"] == 24
    assert client.post("/api/auth/password/", {"old_password": "", "new_password": "x"},
                       HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value).status_code == 403  # no password
    me = client.get("/api/me/").json()
    assert me["role"] == "guest" and me["guest"]["expires_at"] == body["expires_at"]
    again = client.post("/api/auth/guest/", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert again.status_code == 200 and again.json()["username"] == body["username"]


@pytest.mark.django_db
def test_the_form_signs_in_and_goes_back_to_a_local_page_only():
    client = Client()
    response = client.post("/try/guest/", {"next": "/try/harmonize/"})
    assert response.status_code == 302 and response["Location"] == "/try/harmonize/"
    page = client.get("/try/harmonize/")
    assert page.status_code == 200 and b'id="guest-note"' in page.content
    assert b"Your uploads are deleted after 24 hours" in page.content
    evil = Client().post("/try/guest/", {"next": "https://evil.example/"})
    assert evil["Location"] == "/try/"


@pytest.mark.django_db
def test_a_member_is_not_turned_into_a_guest(client_for, researcher):
    client = Client()
    client.force_login(researcher)
    response = client.post("/api/auth/guest/")
    assert response.status_code == 409 and "sign out first" in response.json()["detail"]


@pytest.mark.django_db
def test_guest_access_can_be_turned_off(settings):
    settings.GUEST_ACCESS = False
    assert Client().post("/api/auth/guest/").status_code == 403
    assert b'id="try-guest"' not in Client().get("/try/").content


@pytest.mark.django_db
def test_guests_per_address_are_limited_with_retry_after(settings):
    settings.GUEST_CREATION_RATE_PER_IP = "2/h"
    for _ in range(2):
        start_guest("198.51.100.1")
    refused = Client(REMOTE_ADDR="198.51.100.1").post("/api/auth/guest/")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert refused.json()["retry_after"] == int(refused["Retry-After"])
    assert "Too many guest sessions" in refused.json()["detail"]
    form = Client(REMOTE_ADDR="198.51.100.1").post("/try/guest/", {"next": "/try/"})
    assert form.status_code == 429 and int(form["Retry-After"]) > 0
    assert b"Too many guest sessions" in form.content and b'id="guest-refused"' in form.content
    start_guest("198.51.100.2")  # another address is not affected


@pytest.mark.django_db
def test_at_most_so_many_guests_alive_at_once(settings):
    settings.GUEST_MAX_ACTIVE = 1
    start_guest("198.51.100.3")
    refused = Client(REMOTE_ADDR="198.51.100.4").post("/api/auth/guest/")
    assert refused.status_code == 429 and refused["Retry-After"] == "300"


# ---------------------------------------------------------------- what a guest sees and does

@pytest.mark.django_db
def test_a_guest_sees_its_own_photos_and_the_samples_only(sample_photo, library_photo, client_for, researcher):
    client, guest = start_guest()
    mine = upload(client)
    assert mine.status_code == 201
    listed = {p["id"] for p in client.get("/api/photos/").json()["results"]}
    assert listed == {mine.json()["id"], sample_photo.pk}
    sample = client.get(f"/api/photos/{sample_photo.pk}/").json()
    assert sample["sample"]["title"] == "A sample" and sample["sample"]["licence"] == "CC0"
    assert client.get(f"/api/photos/{library_photo.pk}/").status_code == 404
    assert client.get(library_photo.display.url).status_code == 404
    assert client.get(sample_photo.display.url).status_code == 200
    assert client.get(mine.json()["urls"]["original"]).status_code == 200
    # members never see a guest's upload, nor its files
    staff = client_for(researcher)
    assert mine.json()["id"] not in {p["id"] for p in staff.get("/api/photos/?page_size=100").json()["results"]}
    assert staff.get(f"/api/photos/{mine.json()['id']}/").status_code == 404
    other, _ = start_guest("203.0.113.8")
    assert other.get(f"/api/photos/{mine.json()['id']}/").status_code == 404
    assert other.get(mine.json()["urls"]["display"]).status_code == 404


@pytest.mark.django_db
def test_a_guest_runs_the_try_engines_on_its_photos_and_samples(sample_photo, library_photo):
    import io

    import numpy as np
    from PIL import Image

    client, _ = start_guest()
    job = client.post("/api/jobs/", {"engine": "retouch.interactive", "inputs": {"photo": sample_photo.pk,
                                     "clicks": []}}, content_type="application/json")
    assert job.status_code == 201, job.content
    assert client.get(f"/api/jobs/{job.json()['id']}/").status_code == 200
    session = client.post("/api/sessions/", {"photo": sample_photo.pk, "engine": "retouch.interactive"},
                          content_type="application/json")
    assert session.status_code == 201
    assert client.get(f"/api/sessions/{session.json()['id']}/").status_code == 200
    adjust = client.post("/api/jobs/", {"engine": "adjust", "inputs": {"photo": sample_photo.pk}},
                         content_type="application/json")
    assert adjust.status_code == 403 and "Guests may run" in adjust.json()["detail"]
    theirs = client.post("/api/jobs/", {"engine": "retouch.blemish", "inputs": {"photo": library_photo.pk}},
                         content_type="application/json")
    assert theirs.status_code == 400 and "not visible to you" in theirs.json()["detail"]
    cutout = np.zeros((40, 30, 4), np.uint8)
    cutout[..., :3] = 180
    cutout[5:35, 5:25, 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(cutout, "RGBA").save(buffer, format="PNG")
    person = upload(client, "cut.png", buffer.getvalue()).json()
    composite = client.post("/api/composites/", {"person": person["id"], "background": sample_photo.pk,
                                                 "x": 20, "y": 20, "scale": 1.0}, content_type="application/json")
    assert composite.status_code == 201, composite.content
    assert composite.json()["photo"]["id"] in {p["id"] for p in client.get("/api/photos/").json()["results"]}


@pytest.mark.django_db
def test_a_guest_adds_masks_to_its_own_photos_only(sample_photo):
    import numpy as np

    client, _ = start_guest()
    mine = upload(client, payload=png_bytes(size=(64, 48))).json()
    mask = np.zeros((48, 64, 3), np.uint8)
    mask[8:30, 8:30] = 255

    def send(photo_id):
        return client.post(f"/api/photos/{photo_id}/masks/", {"file": SimpleUploadedFile("m.png", png_bytes(mask)),
                                                               "kind": "foreground"})

    refused = send(sample_photo.pk)
    assert refused.status_code == 403 and "photos they uploaded" in refused.json()["detail"]
    assert sample_photo.masks.count() == 0
    assert send(mine["id"]).status_code == 201


@pytest.mark.django_db
def test_a_guest_cannot_put_photos_into_groups(researcher):
    from webapp.photos.services import create_group

    group = create_group(name="g", created_by=researcher)
    client, _ = start_guest()
    response = client.post("/api/photos/", {"file": SimpleUploadedFile("p.png", png_bytes()), "group": group.pk})
    assert response.status_code == 403


# ---------------------------------------------------------------- quotas

@pytest.mark.django_db
def test_uploads_per_hour_are_limited(settings):
    from webapp.photos.models import Photo

    settings.GUEST_UPLOAD_RATE = "2/h"
    client, guest = start_guest()
    assert [upload(client).status_code for _ in range(2)] == [201, 201]
    refused = upload(client)
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 3600
    assert "upload 2 per h" in refused.json()["detail"]
    assert Photo.objects.filter(owner=guest).count() == 2


@pytest.mark.django_db
def test_storage_per_guest_is_limited_and_nothing_is_stored_beyond_it(settings):
    from webapp.accounts.models import GuestPass
    from webapp.photos.models import Photo

    payload = png_bytes(size=(200, 150))
    settings.GUEST_STORAGE_MB = 1.5 * len(payload) / 2**20
    client, guest = start_guest()
    assert upload(client, payload=payload).status_code == 201
    assert GuestPass.objects.get(user=guest).stored_bytes == len(payload)
    refused = upload(client, payload=payload)
    assert refused.status_code == 429 and "Guests may keep" in refused.json()["detail"]
    assert int(refused["Retry-After"]) > 23 * 3600  # when the guest's uploads go
    assert Photo.objects.filter(owner=guest).count() == 1


@pytest.mark.django_db
def test_jobs_waiting_at_once_and_per_hour_are_limited(settings, sample_photo):
    settings.GUEST_MAX_ACTIVE_JOBS = 1
    client, _ = start_guest()
    body = {"engine": "retouch.blemish", "inputs": {"photo": sample_photo.pk}}
    assert client.post("/api/jobs/", body, content_type="application/json").status_code == 201
    busy = client.post("/api/jobs/", body, content_type="application/json")
    assert busy.status_code == 429 and busy["Retry-After"] == "10" and "at once" in busy.json()["detail"]

    settings.GUEST_MAX_ACTIVE_JOBS = 0
    settings.GUEST_JOB_RATE = "2/h"
    other, _ = start_guest("203.0.113.9")
    assert other.post("/api/jobs/", body, content_type="application/json").status_code == 201
    assert other.post("/api/sessions/", {"photo": sample_photo.pk, "engine": "retouch.interactive"},
                      content_type="application/json").status_code == 201
    refused = other.post("/api/sessions/", {"photo": sample_photo.pk, "engine": "retouch.interactive"},
                         content_type="application/json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


@pytest.mark.django_db(transaction=True)
def test_clicks_per_guest_are_limited_on_the_socket(settings, sample_photo, monkeypatch):
    from asgiref.testing import ApplicationCommunicator
    from channels.routing import URLRouter

    from webapp.interactive import services
    from webapp.interactive.seqstore import LocalSeqStore, reset_store
    from webapp.routing import websocket_urlpatterns

    settings.GUEST_CLICK_RATE = "2/min"
    sent = []
    monkeypatch.setattr(services, "dispatch_click", lambda sid, seq, clicks, params, queue: sent.append(seq))
    reset_store(LocalSeqStore())
    _, guest = start_guest()
    session = services.create_session(owner=guest, photo_id=sample_photo.pk, engine="retouch.interactive")

    async def run():
        scope = {"type": "websocket", "path": f"/ws/sessions/{session.pk}/", "query_string": b"", "headers": [],
                 "subprotocols": [], "user": guest}
        socket = ApplicationCommunicator(URLRouter(websocket_urlpatterns), scope)
        await socket.send_input({"type": "websocket.connect"})
        assert (await socket.receive_output(10))["type"] == "websocket.accept"
        for seq in (1, 2, 3):
            await socket.send_input({"type": "websocket.receive", "text": json.dumps({"clicks": [], "seq": seq})})
        replies = [json.loads((await socket.receive_output(10))["text"]) for _ in range(2)]
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(10)
        return replies

    try:
        replies = asyncio.run(run())
    finally:
        reset_store(None)
    assert replies[0] == {"type": "superseded", "seq": 1}
    assert replies[1]["type"] == "error" and replies[1]["seq"] == 3 and "Too many clicks" in replies[1]["detail"]
    assert sent == [1, 2]


# ---------------------------------------------------------------- sockets

@pytest.mark.django_db(transaction=True)
def test_guest_sockets_reach_their_own_things_only(sample_photo, researcher):
    from studies.setup import create_study
    from tests.unit.test_socket_security import handshake
    from webapp.accounts.services import token_for
    from webapp.interactive.services import create_session

    _, guest = start_guest()
    own = create_session(owner=guest, photo_id=sample_photo.pk, engine="retouch.interactive")
    theirs = create_session(owner=researcher, photo_id=sample_photo.pk, engine="retouch.interactive")
    study = create_study(owner=researcher, title="s")
    key = f"Token {token_for(guest)}"
    assert handshake("/ws/jobs/", authorization=key) == "open"
    assert handshake(f"/ws/sessions/{own.pk}/", authorization=key) == "open"
    assert handshake(f"/ws/sessions/{theirs.pk}/", authorization=key) == "4403"
    assert handshake(f"/ws/studies/{study.pk}/", authorization=key) == "4403"
    assert handshake("/ws/annotation/projects/1/", authorization=key) == "4403"


# ---------------------------------------------------------------- pages

@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/try/", "/try/harmonize/", "/try/background/"])
def test_the_try_pages_open_for_guests_with_upload_and_the_stated_time(path):
    client, _ = start_guest()
    page = client.get(path)
    assert page.status_code == 200
    assert b'data-can-upload="1"' in page.content and b"deleted after 24 hours" in page.content
    assert b'href="/photos/"' not in page.content and b'href="/annotation/"' not in page.content  # not in the nav


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/photos/", "/annotation/", "/studies/", "/admin/"])
def test_member_pages_stay_closed_to_guests(path):
    client, _ = start_guest()
    response = client.get(path)
    assert response.status_code in (302, 403), (path, response.status_code)
    if response.status_code == 302:
        assert "login" in response["Location"] or "signin" in response["Location"]


# ---------------------------------------------------------------- deletion

def _guest_with_everything(sample_photo):
    """A guest with an upload, a mask, a finished job with an output file and a session result file."""
    import numpy as np

    from webapp.interactive.services import create_session
    from webapp.jobs.models import Job

    client, guest = start_guest()
    photo = upload(client, payload=png_bytes(size=(64, 48))).json()
    mask = np.zeros((48, 64, 3), np.uint8)
    mask[4:20, 4:20] = 255
    assert client.post(f"/api/photos/{photo['id']}/masks/", {"file": SimpleUploadedFile("m.png", png_bytes(mask))}
                       ).status_code == 201
    job = Job.objects.create(owner=guest, engine="retouch.blemish", engine_version="1", queue="cpu",
                             inputs={"photo": sample_photo.pk}, status=Job.Status.SUCCEEDED)
    output = default_storage.save(f"jobs/{job.pk}/abc-image.png", ContentFile(png_bytes()))
    job.outputs = [{"name": "image", "path": output}]
    job.save(update_fields=["outputs"])
    session = create_session(owner=guest, photo_id=sample_photo.pk, engine="retouch.interactive")
    result = default_storage.save(f"sessions/{session.pk}/1-result.png", ContentFile(png_bytes()))
    from webapp.photos.models import Photo

    stored = Photo.objects.get(pk=photo["id"])
    files = [stored.original.name, stored.working.name, stored.display.name, stored.masks.get().file.name,
             output, result]
    assert all(default_storage.exists(name) for name in files)
    return client, guest, files


@pytest.mark.django_db
def test_purge_deletes_expired_guests_with_every_file_and_keeps_the_rest(sample_photo, library_photo):
    from django.core.management import call_command

    from webapp.accounts.models import GuestPass, User
    from webapp.interactive.models import InteractiveSession
    from webapp.jobs.models import Job
    from webapp.photos.models import Photo

    client, guest, files = _guest_with_everything(sample_photo)
    _, fresh = start_guest("203.0.113.20")
    GuestPass.objects.filter(user=guest).update(expires_at=timezone.now() - timedelta(minutes=1))
    from io import StringIO

    out = StringIO()
    call_command("purge_guests", stdout=out)
    assert "purged 1 guest(s) older than 24 hours" in out.getvalue()
    assert not User.objects.filter(pk=guest.pk).exists()
    assert not any(default_storage.exists(name) for name in files)
    assert not Photo.objects.filter(owner_id=guest.pk).exists()
    assert not Job.objects.filter(owner_id=guest.pk).exists()
    assert not InteractiveSession.objects.filter(owner_id=guest.pk).exists()
    assert User.objects.filter(pk=fresh.pk).exists()  # not expired yet
    assert Photo.objects.filter(pk__in=[sample_photo.pk, library_photo.pk]).count() == 2
    assert default_storage.exists(sample_photo.original.name)
    assert client.get("/api/me/").status_code in (401, 403)  # the cookie is worth nothing now


@pytest.mark.django_db
def test_a_guest_with_a_running_job_is_purged_once_the_job_ends(sample_photo):
    from webapp.accounts import guests
    from webapp.accounts.models import GuestPass, User
    from webapp.jobs.models import Job

    _, guest = start_guest()
    job = Job.objects.create(owner=guest, engine="retouch.blemish", engine_version="1", queue="cpu",
                             inputs={"photo": sample_photo.pk}, status=Job.Status.RUNNING)
    GuestPass.objects.filter(user=guest).update(expires_at=timezone.now() - timedelta(minutes=1))
    report = guests.purge_expired()
    assert report.guests == 0 and "still running" in report.skipped[0]
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    assert guests.purge_expired().guests == 1 and not User.objects.filter(pk=guest.pk).exists()


@pytest.mark.django_db
def test_signing_out_deletes_a_guest_at_once(sample_photo):
    from webapp.accounts.models import User

    client, guest, files = _guest_with_everything(sample_photo)
    assert client.post("/signout/").status_code == 302
    assert not User.objects.filter(pk=guest.pk).exists()
    assert not any(default_storage.exists(name) for name in files)


@pytest.mark.django_db
def test_purge_runs_at_most_once_per_interval(settings):
    from webapp.accounts import guests

    settings.GUEST_PURGE_INTERVAL_SECONDS = 600
    assert guests.purge_if_due() is not None
    assert guests.purge_if_due() is None
    settings.GUEST_PURGE_INTERVAL_SECONDS = 0
    assert guests.purge_if_due() is None


@pytest.mark.django_db(transaction=True)
def test_every_worker_heartbeat_purges_expired_guests(monkeypatch):
    from webapp.jobs import worker_signals

    called = threading.Event()
    monkeypatch.setattr(worker_signals, "purge_guests_if_due", called.set)
    monkeypatch.setattr(worker_signals, "detect_device", lambda: "cpu")
    stop = worker_signals.start_worker_heartbeat("test-purge@host", ["cpu"])
    try:
        assert called.wait(20)
    finally:
        stop.set()


# ---------------------------------------------------------------- samples

@pytest.mark.django_db
def test_the_sample_set_is_stored_once_labelled_and_reuses_an_earlier_copy(researcher):
    from webapp.photos.models import Photo
    from webapp.photos.services import ingest_photo
    from webapp.samples.catalogue import SAMPLES, encode
    from webapp.samples.models import Sample
    from webapp.samples.services import ensure_samples

    camera = next(s for s in SAMPLES if s.key == "camera")
    earlier = ingest_photo(upload=SimpleUploadedFile("camera.png", encode(camera)), owner=researcher)
    assert ensure_samples() == len(SAMPLES) >= 7
    assert ensure_samples() == 0
    assert Sample.objects.get(key="camera").photo_id == earlier.pk  # linked, not stored twice
    assert Photo.objects.filter(original_name="camera.png").count() == 1
    for sample in Sample.objects.all():
        assert sample.credit and sample.licence
        assert sample.photo.original_name.startswith("derived ") == bool(sample.derived), sample.key
        assert ("(derived" in sample.title) == bool(sample.derived), sample.key
    group = Sample.objects.get(key="group-of-three").photo
    assert group.width > 2 * group.height  # three people side by side
    client, _ = start_guest()
    names = [p["original_name"] for p in client.get("/api/photos/?page_size=50").json()["results"]]
    assert names[0] == "derived group of three.png" and len(names) == len(SAMPLES)
