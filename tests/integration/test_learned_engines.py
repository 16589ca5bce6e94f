"""Learned engines end to end: weights trained here into a MODEL_DIR, the real ASGI server, a real
``celery worker`` process that finds them, a job and an interactive session on them, and the
refusal of a job that names a version the directory does not have."""

from __future__ import annotations

import json

import httpx
import pytest

from inference.datasets import synth
from inference.train import train
from tests.conftest import png_bytes
from tests.support import REDIS_URL, distributed_stack, wait_for_job

pytestmark = pytest.mark.integration
TINY = {"retouch.lut": {"size": 48, "dim": 9}, "retouch.clicks": {"size": 48}}


@pytest.fixture
def stack(tmp_path):
    models = tmp_path / "models"
    synth(tmp_path / "data", groups=3, per_group=2, seed=0)
    for name, arguments in TINY.items():
        train(name, tmp_path / "data", "a", models, steps=3, arguments=arguments, quiet=True)
    with distributed_stack(tmp_path, f"{REDIS_URL}/7", users={"ana": "researcher"},
                           MODEL_DIR=str(models), DATA_DIR=str(tmp_path / "var")) as platform:
        worker = platform.worker("learned@test", queues="gpu,cpu")
        yield platform.base, platform.headers("ana"), worker


def test_learned_engine_job_session_and_missing_version(stack):
    from websockets.sync.client import connect

    base, headers, worker = stack
    [reported] = [w for w in httpx.get(f"{base}/api/health/").json()["workers"] if w["name"] == "learned@test"]
    assert reported["engines"]["retouch.lut"] == ["1"] and reported["engines"]["retouch.clicks"] == ["1"]
    assert reported["device"] == "cpu"

    upload = httpx.post(f"{base}/api/photos/", headers=headers,
                        files={"file": ("p.png", png_bytes(size=(320, 240)), "image/png")})
    assert upload.status_code == 201, upload.text
    photo = upload.json()["id"]

    # a job on the learned engine runs on the worker and records the model version
    created = httpx.post(f"{base}/api/jobs/", headers=headers,
                         json={"engine": "retouch.lut", "inputs": {"photo": photo}}).json()
    assert created["engine_version"] == "1"
    job = wait_for_job(base, headers, created["id"], {"succeeded", "failed"})
    assert job["status"] == "succeeded", (job, worker.output())
    assert job["info"]["version"] == "1" and job["info"]["device"] == "cpu"
    image = httpx.get(base + job["outputs"][0]["url"], headers=headers)
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"

    # a version the model directory lacks is refused before anything is queued
    missing = httpx.post(f"{base}/api/jobs/", headers=headers,
                         json={"engine": "retouch.lut", "version": "7", "inputs": {"photo": photo}})
    assert missing.status_code == 400
    assert "has no version '7'" in missing.json()["detail"] and "available: 1" in missing.json()["detail"]

    # an interactive session on the learned click engine
    session = httpx.post(f"{base}/api/sessions/", headers=headers, json={"photo": photo, "engine": "retouch.clicks"})
    assert session.status_code == 201, session.text
    sid = session.json()["id"]
    ws_url = base.replace("http://", "ws://") + f"/ws/sessions/{sid}/"
    with connect(ws_url, origin=base, additional_headers=headers, open_timeout=10) as ws:
        ws.send(json.dumps({"clicks": [{"x": 160, "y": 120, "positive": True}], "params": {}, "seq": 1}))
        reply = json.loads(ws.recv(timeout=90))
    assert reply["type"] == "result" and reply["seq"] == 1, (reply, worker.output())
    preview = httpx.get(base + reply["url"], headers=headers)
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
