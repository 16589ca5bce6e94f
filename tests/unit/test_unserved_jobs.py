"""A job whose queue no worker serves (issue 11, item 18): health and the job say so, and the job
fails with a clear error after JOB_UNSERVED_TIMEOUT_SECONDS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from webapp.jobs.models import Job, WorkerStatus
from webapp.jobs.services import create_job, fail_unserved_jobs


@pytest.fixture
def gpu_job(uploaded_photo):
    job = create_job(owner=uploaded_photo.owner, engine="adjust", inputs={"photo": uploaded_photo.pk})
    Job.objects.filter(pk=job.pk).update(queue="gpu")
    job.refresh_from_db()
    return job


def _worker(name: str, queues: list[str], seconds_ago: float = 0):
    WorkerStatus.objects.update_or_create(name=name, defaults={
        "device": "cpu", "queues": queues, "engines": [], "loaded": [],
        "last_seen": timezone.now() - timedelta(seconds=seconds_ago)})


@pytest.mark.django_db
def test_health_and_the_job_say_no_worker_serves_the_queue(gpu_job, client, client_for):
    _worker("cpu1@test", ["cpu"])
    _worker("gpu-gone@test", ["gpu"], seconds_ago=120)  # stopped reporting two minutes ago
    health = client.get("/api/health/").json()
    [gpu] = [q for q in health["queues"] if q["name"] == "gpu"]
    assert gpu == {"name": "gpu", "workers": 0, "queued_jobs": 1, "detail": "queued — no worker is serving queue gpu"}
    [cpu] = [q for q in health["queues"] if q["name"] == "cpu"]
    assert cpu["workers"] == 1 and "detail" not in cpu
    api = client_for(gpu_job.owner)
    assert api.get(f"/api/jobs/{gpu_job.pk}/").json()["waiting"] == "queued — no worker is serving queue gpu"
    assert api.get("/api/jobs/").json()["results"][0]["waiting"] == "queued — no worker is serving queue gpu"
    _worker("gpu0@test", ["gpu"])
    assert api.get(f"/api/jobs/{gpu_job.pk}/").json()["waiting"] == ""


@pytest.mark.django_db(transaction=True)
def test_an_unserved_job_fails_after_the_configured_wait(gpu_job, client_for, settings):
    from webapp.jobs.signals import job_finished

    finished = []
    job_finished.connect(lambda sender, job, **kw: finished.append(job.pk), weak=False, dispatch_uid="t-unserved")
    try:
        settings.JOB_UNSERVED_TIMEOUT_SECONDS = 60
        api = client_for(gpu_job.owner)
        assert api.get(f"/api/jobs/{gpu_job.pk}/").json()["status"] == "queued"  # not yet: just created
        Job.objects.filter(pk=gpu_job.pk).update(created_at=timezone.now() - timedelta(seconds=61))
        body = api.get(f"/api/jobs/{gpu_job.pk}/").json()
    finally:
        job_finished.disconnect(dispatch_uid="t-unserved")
    assert body["status"] == "failed" and body["waiting"] == ""
    assert "No worker served queue gpu" in body["error"] and "-Q gpu" in body["error"]
    assert finished == [gpu_job.pk]


@pytest.mark.django_db
def test_a_served_queue_never_fails_its_jobs(gpu_job, settings):
    settings.JOB_UNSERVED_TIMEOUT_SECONDS = 1
    Job.objects.filter(pk=gpu_job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    _worker("gpu0@test", ["gpu", "interactive.gpu0@test"])
    assert fail_unserved_jobs() == 0
    WorkerStatus.objects.all().delete()
    assert fail_unserved_jobs() == 1
    gpu_job.refresh_from_db()
    assert gpu_job.status == "failed"
