"""Photos and jobs through the REST API, as a client program uses them."""

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.conftest import png_bytes


def _upload(client, name, payload):
    return client.post("/api/photos/", {"file": SimpleUploadedFile(name, payload)}, format="multipart")


@pytest.fixture
def api(client_for, researcher):
    return client_for(researcher)


@pytest.mark.django_db
def test_token_login_and_photo_upload(client, make_user, client_for):
    make_user("researcher", username="ana", password="s3cret-pw")
    assert client.post("/api/auth/token/", {"username": "ana", "password": "wrong"},
                       content_type="application/json").status_code == 400
    token = client.post("/api/auth/token/", {"username": "ana", "password": "s3cret-pw"},
                        content_type="application/json").json()["token"]
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = _upload(api, "portrait.png", png_bytes(size=(640, 480)))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["width"], body["height"]) == (640, 480)
    listing = api.get("/api/photos/").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]


@pytest.mark.django_db
def test_working_proxy_has_a_360_pixel_short_side(api):
    body = _upload(api, "wide.png", png_bytes(size=(1200, 800))).json()
    from webapp.photos.models import Photo

    photo = Photo.objects.get(pk=body["id"])
    with photo.working.open("rb") as fh:
        assert min(Image.open(fh).size) == 360


@pytest.mark.django_db
@pytest.mark.parametrize("name,payload,status,words", [
    ("notes.jpg", b"hello, this is text and not a photo\n" * 20, 400, "not"),
    ("empty.png", b"", 400, "empty"),
    ("truncated.png", png_bytes(size=(200, 200))[:400], 400, "truncated"),
])
def test_bad_uploads_are_refused_clearly_and_store_nothing(api, settings, name, payload, status, words):
    from webapp.photos.models import Photo

    response = _upload(api, name, payload)
    assert response.status_code == status
    assert words in response.json()["detail"].lower()
    assert Photo.objects.count() == 0
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


@pytest.mark.django_db
def test_a_header_claiming_40000_squared_pixels_is_refused(api):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    response = _upload(api, "bomb.png", bomb)
    assert response.status_code == 413
    assert "megapixel" in response.json()["detail"].lower() or "pixels" in response.json()["detail"].lower()


@pytest.mark.django_db
def test_upload_without_file_field(api):
    response = api.post("/api/photos/", {"image": "x"}, format="multipart")
    assert response.status_code == 400
    assert "'file'" in response.json()["detail"]


@pytest.mark.django_db
def test_exif_rotated_jpeg_is_stored_upright(api):
    array = np.zeros((30, 60, 3), np.uint8)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    body = _upload(api, "rotated.jpg", buffer.getvalue()).json()
    assert (body["width"], body["height"]) == (30, 60)


@pytest.mark.django_db
def test_job_creation_validates_everything_before_storing(api, uploaded_photo):
    from webapp.jobs.models import Job

    cases = [
        ({"engine": "nope", "inputs": {"photo": uploaded_photo.pk}}, "unknown engine"),
        ({"engine": "adjust", "inputs": {}}, "inputs.photo"),
        ({"engine": "adjust", "inputs": {"photo": 99999}}, "does not exist"),
        ({"engine": "adjust", "inputs": {"photo": uploaded_photo.pk}, "params": {"exposure": 9}}, "exposure"),
        ({"engine": "adjust", "inputs": {"photo": uploaded_photo.pk}, "params": {"glow": 1}}, "unknown parameter"),
        ({"engine": "adjust", "inputs": {"photo": "1"}}, "photo"),
        ({"engine": "adjust"}, "inputs"),
    ]
    for body, words in cases:
        response = api.post("/api/jobs/", body, format="json")
        assert response.status_code == 400, body
        assert words in response.json()["detail"].lower(), (body, response.json())
    assert Job.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_job_runs_through_the_worker_code_and_reports_outputs(api, uploaded_photo):
    from webapp.jobs.execution import execute_job

    created = api.post("/api/jobs/", {"engine": "adjust", "inputs": {"photo": uploaded_photo.pk},
                                      "params": {"exposure": 1.0}}, format="json").json()
    assert created["status"] == "queued"
    assert execute_job(created["id"], worker="test-worker") == "succeeded"
    job = api.get(f"/api/jobs/{created['id']}/").json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    assert job["timings"]["run_s"] is not None and job["timings"]["queue_wait_s"] >= 0
    [output] = job["outputs"]
    assert output["name"] == "image"
    raw = b"".join(api.get(output["url"]).streaming_content)
    result = np.asarray(Image.open(io.BytesIO(raw)), dtype=np.float32)
    from webapp.photos.selectors import load_photo_rgb

    original = load_photo_rgb(uploaded_photo) * 255
    assert result.shape == original.shape
    assert result.mean() > original.mean() + 10  # +1 EV brightens


@pytest.mark.django_db(transaction=True)
def test_cancel_a_queued_job_and_the_worker_skips_it(api, uploaded_photo):
    from webapp.jobs.execution import execute_job

    created = api.post("/api/jobs/", {"engine": "adjust", "inputs": {"photo": uploaded_photo.pk}},
                       format="json").json()
    assert api.post(f"/api/jobs/{created['id']}/cancel/").json()["status"] == "cancelled"
    assert execute_job(created["id"], worker="w") is None
    assert api.get(f"/api/jobs/{created['id']}/").json()["status"] == "cancelled"
    again = api.post(f"/api/jobs/{created['id']}/cancel/")
    assert again.status_code == 409


@pytest.mark.django_db(transaction=True)
def test_engine_input_errors_fail_the_job_with_the_message(api, uploaded_photo, monkeypatch):
    import inference.engines as engines
    from webapp import engine_pool
    from webapp.jobs import execution

    class Refusing:
        def run(self, inputs, params, progress=None):
            raise engines.EngineInputError("the photo shows nobody to retouch")

    monkeypatch.setitem(engine_pool._warm, "adjust", Refusing())
    created = api.post("/api/jobs/", {"engine": "adjust", "inputs": {"photo": uploaded_photo.pk}},
                       format="json").json()
    assert execution.execute_job(created["id"], worker="w") == "failed"
    assert api.get(f"/api/jobs/{created['id']}/").json()["error"] == "the photo shows nobody to retouch"


@pytest.mark.django_db(transaction=True)
def test_job_finished_is_sent_once_a_job_has_finished(api, uploaded_photo):
    from webapp.jobs.execution import execute_job
    from webapp.jobs.signals import job_finished

    heard = []

    def broken(sender, job, **kwargs):
        raise RuntimeError("a receiver's bug")

    def listener(sender, job, **kwargs):
        heard.append((job.pk, job.status))

    job_finished.connect(broken, weak=False)  # runs before the listener; must stop neither it nor the job
    job_finished.connect(listener, weak=False)
    try:
        body = {"engine": "adjust", "inputs": {"photo": uploaded_photo.pk}}
        done, cancelled = (api.post("/api/jobs/", body, format="json").json() for _ in range(2))
        assert heard == []
        assert execute_job(done["id"], worker="w") == "succeeded"
        assert api.post(f"/api/jobs/{cancelled['id']}/cancel/").status_code == 200
    finally:
        job_finished.disconnect(broken)
        job_finished.disconnect(listener)
    assert heard == [(done["id"], "succeeded"), (cancelled["id"], "cancelled")]


@pytest.mark.django_db(transaction=True)
def test_a_stale_running_job_is_retried_once_then_failed(uploaded_photo, settings):
    from datetime import timedelta

    from django.utils import timezone

    from webapp.jobs import services
    from webapp.jobs.models import Job

    job = services.create_job(owner=uploaded_photo.owner, engine="adjust", inputs={"photo": uploaded_photo.pk})
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS + 5)

    services.claim_job(job.pk, worker="dead-1")
    Job.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    assert services.reap_stale_jobs(requeue=False) == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("queued", 1)

    services.claim_job(job.pk, worker="dead-2")
    Job.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    services.reap_stale_jobs(requeue=False)
    job.refresh_from_db()
    assert job.status == "failed"
    assert "stopped 2 times" in job.error


@pytest.mark.django_db(transaction=True)
def test_a_live_worker_keeps_its_job_when_the_message_arrives_twice(uploaded_photo):
    from webapp.jobs import services

    job = services.create_job(owner=uploaded_photo.owner, engine="adjust", inputs={"photo": uploaded_photo.pk})
    assert services.claim_job(job.pk, worker="a") is not None
    assert services.claim_job(job.pk, worker="b") is None  # heartbeat is fresh
    job.refresh_from_db()
    assert job.worker == "a" and job.attempts == 1


@pytest.mark.django_db
def test_openapi_schema_lists_the_public_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/photos/", "/api/jobs/", "/api/jobs/{id}/cancel/", "/api/auth/token/", "/api/health/"):
        assert path in text


@pytest.mark.django_db
def test_adduser_command(capsys):
    from django.core.management import call_command

    from webapp.accounts.models import User

    call_command("adduser", "rita", "--role", "reviewer", "--password", "pw-abc-123")
    user = User.objects.get(username="rita")
    assert user.role == "reviewer" and user.check_password("pw-abc-123")
