"""Learned engines through the platform (in process): a job names an engine and optionally a model
version, missing weights are a clear 400, the worker runs the version the job recorded, and workers
report every version they find."""

from __future__ import annotations

import pytest

from inference import modelstore
from inference.models import create


@pytest.fixture
def api(client_for, researcher):
    return client_for(researcher)


@pytest.fixture
def model_dir(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    return settings.MODEL_DIR


def _install(model_dir, name: str, version: str, **arguments):
    """An (untrained) model written like `inference.train` writes one."""
    model = create(name, **arguments)
    return modelstore.write_version(model_dir, name, version, model,
                                    {"architecture": name, "arguments": model.arguments})


@pytest.mark.django_db
def test_a_job_on_a_learned_engine_without_weights_is_refused_with_a_clear_message(api, uploaded_photo,
                                                                                    model_dir):
    r = api.post("/api/jobs/", {"engine": "retouch.lut", "inputs": {"photo": uploaded_photo.pk}}, format="json")
    assert r.status_code == 400
    assert "has no trained weights" in r.json()["detail"] and "inference.train retouch.lut" in r.json()["detail"]
    _install(model_dir, "retouch.lut", "1", size=32, dim=5)
    r = api.post("/api/jobs/", {"engine": "retouch.lut", "version": "9", "inputs": {"photo": uploaded_photo.pk}},
                 format="json")
    assert r.status_code == 400
    assert r.json()["detail"] == (f"engine 'retouch.lut' has no version '9' in the model directory {model_dir} "
                                  "(available: 1)")
    r = api.post("/api/jobs/", {"engine": "adjust", "version": "7", "inputs": {"photo": uploaded_photo.pk}},
                 format="json")
    assert r.status_code == 400 and "has only version" in r.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_a_job_runs_the_version_it_names_or_the_newest(api, uploaded_photo, model_dir):
    from webapp.jobs.execution import execute_job

    _install(model_dir, "retouch.lut", "1", size=32, dim=5)
    _install(model_dir, "retouch.lut", "2", size=32, dim=5)
    newest = api.post("/api/jobs/", {"engine": "retouch.lut", "inputs": {"photo": uploaded_photo.pk}},
                      format="json").json()
    named = api.post("/api/jobs/", {"engine": "retouch.lut", "version": "1", "inputs": {"photo": uploaded_photo.pk},
                                    "params": {"strength": 0.5}}, format="json").json()
    assert (newest["engine_version"], named["engine_version"]) == ("2", "1")
    for job, version in ((newest, "2"), (named, "1")):
        assert execute_job(job["id"], worker="test-worker") == "succeeded"
        done = api.get(f"/api/jobs/{job['id']}/").json()
        assert done["status"] == "succeeded" and [o["name"] for o in done["outputs"]] == ["image"]
        assert done["info"]["model"] == "retouch.lut" and done["info"]["version"] == version
        assert done["info"]["device"] == "cpu"


@pytest.mark.django_db
def test_a_session_on_a_learned_engine_without_weights_is_refused(api, uploaded_photo, model_dir):
    r = api.post("/api/sessions/", {"photo": uploaded_photo.pk, "engine": "retouch.clicks"}, format="json")
    assert r.status_code == 400 and "has no trained weights" in r.json()["detail"]
    _install(model_dir, "retouch.clicks", "1")
    r = api.post("/api/sessions/", {"photo": uploaded_photo.pk, "engine": "retouch.clicks"}, format="json")
    assert r.status_code == 201 and r.json()["engine_version"] == "1"


@pytest.mark.django_db
def test_workers_report_the_versions_of_every_engine_in_health(client_for, model_dir):
    from webapp.jobs.worker_signals import report_worker

    _install(model_dir, "retouch.params", "1", size=32)
    _install(model_dir, "retouch.params", "2", size=32)
    report_worker("w1@host", ["cpu", "gpu"], "cpu")
    [worker] = client_for(None).get("/api/health/").json()["workers"]
    assert worker["device"] == "cpu"
    assert worker["engines"]["retouch.params"] == ["1", "2"]
    assert worker["engines"]["retouch.lut"] == [] and worker["engines"]["adjust"] == ["1"]
    assert "adjust" in worker["engines"]
