"""``background.replace`` and ``retouch.blemish`` through the jobs API: the second photo
(``inputs.background``), refusals before anything is stored (400), refusals found while running
(a failed job with the engine's message), and study items from a method with a fixed background."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.conftest import png_bytes


def _photo(owner, name: str, array: np.ndarray, group=None):
    from webapp.photos.services import ingest_photo

    return ingest_photo(upload=SimpleUploadedFile(name, png_bytes(array)), owner=owner, group=group)


def _scene(width=480, height=320) -> np.ndarray:
    img = np.zeros((height, width, 3), np.uint8)
    img[: height // 2] = (150, 195, 240)
    rng = np.random.default_rng(0)
    img[height // 2:] = (rng.random((height - height // 2, width, 1)) * 40 + np.array([80, 120, 50])).astype(np.uint8)
    return img


@pytest.fixture
def photos(researcher):
    from skimage import data

    return {"portrait": _photo(researcher, "astronaut.png", data.astronaut()),
            "scene": _photo(researcher, "field.png", _scene()),
            "tiny": _photo(researcher, "tiny.png", _scene(100, 80))}


@pytest.fixture
def api(client_for, researcher):
    return client_for(researcher)


@pytest.mark.django_db
def test_refusals_before_anything_is_stored(api, photos):
    from webapp.jobs.models import Job

    p, s = photos["portrait"].pk, photos["scene"].pk
    cases = [
        ({"engine": "background.replace", "inputs": {"photo": p}}, "needs inputs.background"),
        ({"engine": "background.replace", "inputs": {"photo": p, "background": "2"}}, "inputs.background must be"),
        ({"engine": "background.replace", "inputs": {"photo": p, "background": 99999}}, "does not exist"),
        ({"engine": "background.replace", "inputs": {"photo": p, "background": s},
          "params": {"placement": {"x": 1, "y": 2}}}, 'placement must be "auto" or'),
        ({"engine": "background.replace", "inputs": {"photo": p, "background": s},
          "params": {"placement": {"x": 1, "y": 2, "scale": -1}}}, "placement scale must lie in"),
        ({"engine": "retouch.blemish", "inputs": {"photo": p}, "params": {"spots": [{"x": 3}]}}, "spot 0"),
        ({"engine": "retouch.blemish", "inputs": {"photo": p}, "params": {"detail": 3}}, "detail"),
        ({"engine": "retouch.blemish", "inputs": {"photo": p, "background": s}}, "takes no inputs.background"),
    ]
    for body, words in cases:
        response = api.post("/api/jobs/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert words in response.json()["detail"], (body, response.json())
    assert Job.objects.count() == 0


def _run(api, body) -> dict:
    from webapp.jobs.execution import execute_job

    created = api.post("/api/jobs/", body, format="json")
    assert created.status_code == 201, created.content
    execute_job(created.json()["id"], worker="test-worker")
    return api.get(f"/api/jobs/{created.json()['id']}/").json()


def _image(api, job, name) -> np.ndarray:
    url = next(o["url"] for o in job["outputs"] if o["name"] == name)
    return np.asarray(Image.open(io.BytesIO(b"".join(api.get(url).streaming_content))))


@pytest.mark.django_db(transaction=True)
def test_background_replace_job(api, photos):
    job = _run(api, {"engine": "background.replace",
                     "inputs": {"photo": photos["portrait"].pk, "background": photos["scene"].pk}})
    assert job["status"] == "succeeded", job["error"]
    assert job["inputs"]["background"] == photos["scene"].pk
    assert {o["name"] for o in job["outputs"]} == {"image", "mask"}
    assert _image(api, job, "image").shape == (320, 480, 3)
    info = job["info"]
    assert info["placement"]["mode"] == "auto" and len(info["candidates"]) == 5
    assert info["person"]["mask_source"] == "people segmenter"
    # the same placement forced gives the same box
    best = info["candidates"][0]
    again = _run(api, {"engine": "background.replace", "params": {"placement": {k: best[k] for k in ("x", "y", "scale")}},
                       "inputs": {"photo": photos["portrait"].pk, "background": photos["scene"].pk}})
    assert again["status"] == "succeeded" and again["info"]["placement"]["box"] == pytest.approx(best["box"], abs=0.2)


@pytest.mark.django_db(transaction=True)
def test_problems_found_while_running_fail_the_job_with_the_engines_message(api, photos):
    tiny = _run(api, {"engine": "background.replace",
                      "inputs": {"photo": photos["portrait"].pk, "background": photos["tiny"].pk}})
    assert tiny["status"] == "failed"
    assert tiny["error"] == "The background is too small (100×80); it needs at least 128 px on its short side."
    nobody = _run(api, {"engine": "background.replace",
                        "inputs": {"photo": photos["scene"].pk, "background": photos["scene"].pk}})
    assert nobody["status"] == "failed" and nobody["error"].startswith("No person was found in the portrait.")
    outside = _run(api, {"engine": "retouch.blemish", "inputs": {"photo": photos["portrait"].pk},
                         "params": {"spots": [{"x": 900, "y": 10}]}})
    assert outside["status"] == "failed" and "lies outside the 512×512 image" in outside["error"]


@pytest.mark.django_db(transaction=True)
def test_blemish_job(api, photos):
    job = _run(api, {"engine": "retouch.blemish", "inputs": {"photo": photos["portrait"].pk},
                     "params": {"strength": 0.8, "spots": [{"x": 200, "y": 150}]}})
    assert job["status"] == "succeeded", job["error"]
    assert {o["name"] for o in job["outputs"]} == {"image", "mask"}
    assert job["info"]["faces_found"] == 1 and any(s["source"] == "added" for s in job["info"]["spots"])


@pytest.mark.django_db
def test_study_methods_can_fix_the_background(api, researcher, photos):
    from studies.engine_items import method_specs
    from webapp.refusal import Refusal

    scene = photos["scene"].pk
    [spec] = method_specs([{"engine": "background.replace", "inputs": {"background": scene}, "name": "on a field"}])
    assert spec["inputs"] == {"background": scene}
    with pytest.raises(Refusal, match="needs more than a photo"):
        method_specs([{"engine": "background.replace"}])
    with pytest.raises(Refusal, match='may only name background'):
        method_specs([{"engine": "retouch.blemish", "inputs": {"mask": 3}}])
    assert method_specs(["retouch.blemish"])[0]["inputs"] == {}


@pytest.mark.django_db
def test_the_background_page_is_for_the_roles_that_run_engines(client, make_user):
    anonymous = client.get("/try/background/")
    assert anonymous.status_code == 200 and b'id="try-signin"' in anonymous.content and b'id="bgr"' not in anonymous.content
    for role, status in (("researcher", 200), ("expert", 200), ("reviewer", 403)):
        client.force_login(make_user(role))
        page = client.get("/try/background/")
        assert page.status_code == status, role
        assert (b'id="bgr"' in page.content) == (status == 200)
        assert b'href="/try/background/" class="active"' in page.content
