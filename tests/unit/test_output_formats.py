"""The download format of a job's image outputs: png (lossless, default), jpeg or webp."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from inference import encoding
from inference.imageio import to_uint8
from tests.conftest import png_bytes

MAGIC = {"png": b"\x89PNG", "jpeg": b"\xff\xd8\xff", "webp": b"RIFF"}


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 7, 3), (257, 1031, 3), (90, 70)])
def test_parallel_png_is_lossless(shape, monkeypatch):
    monkeypatch.setattr(encoding, "_BAND_BYTES", 4096)  # many bands even for small pictures
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    decoded = Image.open(io.BytesIO(encoding.encode(image, "png")))
    assert decoded.mode == ("L" if len(shape) == 2 else "RGB")
    np.testing.assert_array_equal(np.asarray(decoded), to_uint8(image))


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_lossy_formats_are_high_quality(fmt):
    from skimage import data

    image = np.asarray(data.astronaut(), np.float32) / 255
    decoded = np.asarray(Image.open(io.BytesIO(encoding.encode(image, fmt))).convert("RGB"), np.float32) / 255
    assert np.abs(decoded - image).mean() < 0.02


def test_format_limits_are_explained():
    assert encoding.check_format("png", 40000, 30000) is None
    assert "16383" in encoding.check_format("webp", 20000, 100)
    assert "png, jpeg, webp" in encoding.check_format("gif", 10, 10)


@pytest.fixture
def api(client_for, researcher):
    return client_for(researcher)


@pytest.fixture
def photo_id(api):
    response = api.post("/api/photos/", {"file": SimpleUploadedFile("p.png", png_bytes(size=(64, 48)))},
                        format="multipart")
    assert response.status_code == 201
    return response.json()["id"]


@pytest.mark.parametrize("fmt", [None, "png", "jpeg", "webp"])
def test_the_requested_format_is_what_gets_stored(api, photo_id, fmt):
    from webapp.jobs.execution import execute_job

    body = {"engine": "retouch.auto", "inputs": {"photo": photo_id}}
    if fmt is not None:
        body["output_format"] = fmt
    created = api.post("/api/jobs/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["output_format"] == (fmt or "png")
    assert execute_job(created.json()["id"], worker="w") == "succeeded"
    job = api.get(f"/api/jobs/{created.json()['id']}/").json()
    urls = {o["name"]: o["url"] for o in job["outputs"]}
    with default_storage.open(urls["image"].removeprefix("/media/")) as fh:
        assert fh.read(4).startswith(MAGIC[fmt or "png"])
    with default_storage.open(urls["mask"].removeprefix("/media/")) as fh:
        mask = Image.open(fh)
        assert mask.format == "PNG" and mask.mode == "L"  # masks stay lossless greyscale


@pytest.mark.parametrize("value, words", [("gif", "png, jpeg, webp"), (3, "png, jpeg, webp"),
                                          ("PNG", "got 'PNG'")])
def test_a_bad_format_is_refused_with_the_choices(api, photo_id, value, words):
    from webapp.jobs.models import Job

    response = api.post("/api/jobs/", {"engine": "adjust", "inputs": {"photo": photo_id}, "output_format": value},
                        format="json")
    assert response.status_code == 400
    assert "output_format" in response.json()["detail"] and words in response.json()["detail"]
    assert not Job.objects.exists()


def test_webp_is_refused_for_a_photo_it_cannot_hold(api, photo_id):
    from webapp.photos.models import Photo

    Photo.objects.filter(pk=photo_id).update(width=20000)
    response = api.post("/api/jobs/", {"engine": "adjust", "inputs": {"photo": photo_id}, "output_format": "webp"},
                        format="json")
    assert response.status_code == 400 and "16383" in response.json()["detail"]
