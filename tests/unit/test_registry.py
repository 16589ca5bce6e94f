"""The model registry: training jobs from a frozen dataset version (refusals, cancel, resume, events),
evaluation, the registry API, "Compare in a study" filled and opened by the job_finished path, and
the provenance chain from the study back to the photos."""

from __future__ import annotations

import pytest

from tests.unit.annotation_support import accept_all, make_project, make_workspace

TINY = {"size": 48, "dim": 9}  # a LUT network small enough for a few CPU steps in a test




@pytest.fixture
def frozen(settings, tmp_path):
    """Three groups of two photos, every slot accepted and frozen into dataset version 1."""
    from webapp.annotation import services

    settings.MODEL_DIR = tmp_path / "models"
    settings.DATA_DIR = tmp_path
    ws = make_workspace(groups=3, per_group=2)
    project = make_project(ws, split_seed=1)
    accept_all(ws, project)
    return ws, services.freeze(project=project, by=ws.researcher)


@pytest.fixture
def sent(monkeypatch):
    from webapp.celery import app

    calls = []
    monkeypatch.setattr(app, "send_task", lambda name, args, queue: calls.append((name, args, queue)))
    return calls


def _train(client, project, **body):
    return client.post("/api/models/train/", {"dataset": project.pk, "model": "retouch.lut", "expert": "a",
                                              "steps": 6, "seed": 3, "arguments": TINY, **body}, format="json")


@pytest.mark.django_db
def test_bad_training_requests_are_refused_and_store_nothing(frozen, client_for, make_user):
    from webapp.jobs.models import Job
    from webapp.registry.models import TrainingRun

    ws, project = frozen
    client = client_for(ws.researcher)
    cases = [({"model": "retouch.clicks"}, 400, "model must be one of"),
             ({"model": "adjust"}, 400, "model must be one of"),
             ({"steps": 0}, 400, "steps must be"), ({"steps": "ten"}, 400, "steps must be"),
             ({"seed": -1}, 400, "seed must be"), ({"expert": "z"}, 400, "expert must be one of"),
             ({"arguments": {"size": "big"}}, 400, "arguments must be"),
             ({"dataset": "x"}, 400, "dataset must be"), ({"dataset": 999999}, 404, "No such annotation dataset"),
             ({"colour": "red"}, 400, "Unknown field")]
    for body, code, message in cases:
        r = _train(client, project, **body)
        assert r.status_code == code, (body, r.content)
        assert message in r.json()["detail"], (body, r.json())
    assert _train(client_for(make_user("researcher")), project).status_code == 404  # not their dataset
    draft = make_project(ws)  # not frozen
    r = _train(client, draft)
    assert r.status_code == 409 and "Freeze the project first" in r.json()["detail"]
    assert TrainingRun.objects.count() == 0 and not Job.objects.filter(engine="training").exists()


@pytest.mark.django_db(transaction=True)
def test_training_job_cancel_resume_evaluation_study_and_provenance(frozen, client_for, sent, monkeypatch):
    from studies.models import JobItem, Study
    from webapp.jobs import services as job_services
    from webapp.jobs.execution import execute_job
    from webapp.jobs.models import Job
    from webapp.registry import execution, simulation
    from webapp.registry.models import StudyComparison

    ws, project = frozen
    client = client_for(ws.researcher)
    r = _train(client, project)
    assert r.status_code == 201, r.content
    run = r.json()
    assert (run["engine"], run["version"], run["status"]) == ("retouch.lut", "1", "queued")
    assert sent == [("registry.train_model", [run["job"]], "gpu")]
    assert _train(client, project).json()["version"] == "2"  # the next number is reserved at once

    events = []
    monkeypatch.setattr(execution.events, "publish", lambda group, message: events.append(message))
    monkeypatch.setattr(execution, "REPORT_EVERY_SECONDS", 0.0)
    step = execution.Reporter.step

    def cancel_at_three(self, done, steps, loss):
        if done == 3:  # the researcher presses Cancel while step 3 runs
            job_services.cancel_job(Job.objects.get(pk=self.job.pk))
        return step(self, done, steps, loss)

    monkeypatch.setattr(execution.Reporter, "step", cancel_at_three)
    assert execution.run_training(run["job"], worker="w1") == "cancelled"
    detail = client.get(f"/api/models/{run['id']}/").json()
    assert detail["status"] == "stopped" and detail["step"] == 3
    assert [p[0] for p in detail["loss"]] == [1, 2, 3]
    training = [e["training"] for e in events if e.get("training")]
    assert {"exporting", "training", "stopped"} <= {t["phase"] for t in training}
    live = [t for t in training if t["phase"] == "training" and t["points"]]
    assert [p[0] for t in live for p in t["points"]] == [1, 2]  # step 3's report found the job cancelled
    assert all({"loss", "steps_per_s", "images_per_s", "eta_s"} <= set(t) for t in live)
    assert all(e["type"] == "job.event" and e["id"] == run["job"] for e in events)

    resumed = client.post(f"/api/models/{run['id']}/resume/")
    assert resumed.status_code == 200, resumed.content
    second_job = resumed.json()["job"]
    assert resumed.json()["jobs"] == [run["job"], second_job]
    assert sent[-1] == ("registry.train_model", [second_job], "gpu")
    assert client.post(f"/api/models/{run['id']}/resume/").status_code == 409  # it is queued now
    monkeypatch.setattr(execution.Reporter, "step", step)
    assert execution.run_training(second_job, worker="w1") == "succeeded"

    detail = client.get(f"/api/models/{run['id']}/").json()
    assert detail["status"] == "ready" and detail["step"] == 6
    assert [p[0] for p in detail["loss"]] == [1, 2, 3, 4, 5, 6]  # one curve across the two jobs
    model = detail["metrics"]["model"]
    assert model["n_images"] == 2 and set(model["ci95"]) >= {"psnr", "delta_e"}
    assert {"input", "retouch.auto"} <= set(detail["metrics"])
    card = detail["card"]
    assert card["provenance"]["training_jobs"] == [run["job"], second_job]
    assert card["provenance"]["dataset"]["dataset_version"] == 1 and card["data"]["expert"] == "a"
    assert card["held_out"]["model"]["psnr"] == pytest.approx(model["psnr"])
    assert detail["throughput"]["steps_per_s"] > 0 and detail["throughput"]["images_per_s"] > 0
    image = detail["per_image"][0]
    assert set(image["previews"]) == {"input", "target", "model"}
    assert client.get(image["previews"]["model"]).status_code == 200  # served to the owner
    listed = client.get("/api/models/").json()
    [row] = [m for m in listed["results"] if m["id"] == run["id"]]
    assert row["metrics"]["model"]["psnr"] == pytest.approx(model["psnr"]) and row["card"]["version"] == "1"

    made = client.post(f"/api/models/{run['id']}/study/", {"participants": 3}, format="json")
    assert made.status_code == 201, made.content
    sid = made.json()["study"]
    assert made.json()["methods"] == ["retouch.lut v1", "retouch.auto", "expert a (target)", "input (untouched)"]
    rows = list(JobItem.objects.filter(study_id=sid).select_related("job"))
    assert len(rows) == 2 * 4 and {r.job.queue for r in rows} == {"gpu", "cpu"}
    assert {r.job.engine_version for r in rows if r.job.engine == "retouch.lut"} == {"1"}
    for row in rows:  # the worker runs them; job_finished builds items, then opens the study
        assert Study.objects.get(pk=sid).status == "draft"
        execute_job(row.job_id, worker="w1")
    assert Study.objects.get(pk=sid).status == "open"
    comparison = StudyComparison.objects.get(study_id=sid)
    assert comparison.opened_at is not None and Study.objects.get(pk=sid).items.count() == 2
    simulation.answer(comparison, 3, seed=0)
    results = client.get(f"/api/studies/{sid}/results/?download=1").json()
    assert results["bradley_terry"] is not None
    [chain] = results["provenance"]
    assert chain["engine_version"]["version"] == "1" and chain["studies"][0]["id"] == sid

    prov = client.get(f"/api/models/{run['id']}/provenance/").json()
    assert prov["studies"][0]["id"] == sid and prov["studies"][0]["items_built_from_jobs"] == 8
    assert [j["id"] for j in prov["training_jobs"]] == [run["job"], second_job]
    assert [j["status"] for j in prov["training_jobs"]] == ["cancelled", "succeeded"]
    assert prov["dataset"]["dataset_version"] == 1 and prov["dataset"]["manifest_sha256"] == card["data"]["manifest_sha256"]
    assert {a["slot"] for a in prov["assignments"]} == {"a"} and len(prov["assignments"]) == 3
    assert {a["expert"] for a in prov["assignments"]} == {ws.experts[0].username}
    photos = sorted(p.pk for ps in ws.photos.values() for p in ps)
    assert sorted(p["id"] for p in prov["photos"]) == photos
    assert sorted(p["id"] for p in prov["photos"] if p["split"] == "val") == sorted(comparison.photos)
    assert prov["engine_version"]["sha256"] == card["sha256"]


@pytest.mark.django_db
def test_results_page_links_back_to_the_model_version(frozen, client_for):
    from studies import setup
    from webapp.jobs.models import Job
    from webapp.registry.models import StudyComparison, TrainingRun

    ws, project = frozen
    job = Job.objects.create(owner=ws.researcher, engine="training", engine_version="4", queue="gpu")
    run = TrainingRun.objects.create(owner=ws.researcher, project=project, dataset_version=1, engine="retouch.lut",
                                     version="4", expert="a", steps=5, job=job, jobs=[job.pk], status="ready")
    study = setup.create_study(owner=ws.researcher, title="judging v4")
    StudyComparison.objects.create(study=study, run=run, methods=[{"name": "retouch.lut v4", "kind": "model"}])
    from django.test import Client

    browser = Client()
    browser.force_login(ws.researcher)
    page = browser.get(f"/studies/{study.pk}/results/").content.decode()
    assert f'href="/models/{run.pk}/">retouch.lut v4</a>' in page
    assert browser.get(f"/models/{run.pk}/").status_code == 200
    assert browser.get("/models/").status_code == 200
    other = Client()
    other.force_login(ws.experts[0])
    assert other.get("/models/").status_code == 403
    assert client_for(ws.researcher).post(f"/api/models/{run.pk}/resume/").status_code == 409  # not stopped


@pytest.mark.django_db
def test_a_training_job_cancelled_while_queued_leaves_a_resumable_run(frozen, client_for, sent,
                                                                       django_capture_on_commit_callbacks):
    ws, project = frozen
    client = client_for(ws.researcher)
    with django_capture_on_commit_callbacks(execute=True):
        run = _train(client, project).json()
        assert client.post(f"/api/jobs/{run['job']}/cancel/").json()["status"] == "cancelled"
    assert client.get(f"/api/models/{run['id']}/").json()["status"] == "stopped"
    with django_capture_on_commit_callbacks(execute=True):
        resumed = client.post(f"/api/models/{run['id']}/resume/").json()
    assert resumed["status"] == "queued" and resumed["version"] == run["version"]
    assert sent[-1] == ("registry.train_model", [resumed["job"]], "gpu")
