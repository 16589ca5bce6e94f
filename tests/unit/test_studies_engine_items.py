"""Items from engines: jobs per photo of a group × engine setting, run through the worker code
(``execute_job``); as the jobs finish, ``job_finished`` builds the study items whose outputs are the
jobs' outputs (studies.engine_items.on_job_finished), and the study's page is told."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.django_db(transaction=True)  # execute_job commits as a worker would

METHODS = [{"engine": "retouch.auto"}, {"engine": "adjust", "params": {"exposure": 0.5}, "name": "adjust +0.5 EV"}]


def _png(k: int) -> bytes:
    from skimage import data

    base = np.asarray(data.astronaut())[40 + 20 * k:240 + 20 * k, 100:260 - 10 * k]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(base)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def setup(make_user, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.photos.services import create_group, ingest_photo

    owner = make_user("researcher")
    group = create_group(name="Session 7", created_by=owner)
    photos = [ingest_photo(upload=SimpleUploadedFile(f"portrait{k}.png", _png(k)), owner=owner, group=group)
              for k in range(3)]
    c = client_for(owner)
    sid = c.post("/api/studies/", {"title": "Engines", "practice_trials": 0, "trials_per_participant": 3,
                                   "attention_every": 0}, format="json").json()["id"]
    return {"owner": owner, "client": c, "group": group, "photos": photos, "id": sid}


def _jobs(study_id):
    from studies.models import JobItem

    return list(JobItem.objects.filter(study_id=study_id).select_related("job").order_by("id"))


def _run(rows):
    from webapp.jobs.execution import execute_job

    for row in rows:
        assert execute_job(row.job_id, worker="test-worker") == "succeeded", row.job.error


def _decode(field) -> np.ndarray:
    with field.open("rb") as fh:
        return np.asarray(Image.open(io.BytesIO(fh.read())).convert("RGB"), dtype=np.float32)


def _progress(setup) -> dict:
    return setup["client"].get(f"/api/studies/{setup['id']}/items/from-jobs/").json()


def test_items_from_engine_jobs_over_a_photo_group(setup):
    from studies.models import Item, Study

    c, sid, url = setup["client"], setup["id"], f"/api/studies/{setup['id']}/items/from-jobs/"
    r = c.post(url, {"group": setup["group"].pk, "methods": METHODS}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["jobs_created"] == 6 and body["jobs"] == {"queued": 6}
    assert body["photos"] == {"added": 0, "waiting": 3, "failed": 0} and body["done"] is False
    assert body["methods"] == ["retouch.auto", "adjust +0.5 EV"]
    rows = _jobs(sid)
    assert sorted({(r.method, r.job.engine, r.job.params.get("exposure")) for r in rows}) == [
        ("adjust +0.5 EV", "adjust", 0.5), ("retouch.auto", "retouch.auto", None)]
    assert all(r.job.inputs == {"photo": r.photo_id} and r.job.owner_id == setup["owner"].pk for r in rows)
    # asking again while they run creates nothing new
    assert c.post(url, {"group": setup["group"].pk, "methods": METHODS}, format="json").json()["jobs_created"] == 0

    first = [r for r in rows if r.photo_id == setup["photos"][0].pk]
    _run(first[:1])
    assert Item.objects.filter(study_id=sid).count() == 0  # the photo's other job has not run yet
    _run(first[1:])
    assert list(Item.objects.filter(study_id=sid).values_list("name", flat=True)) == ["portrait0"]
    assert _progress(setup)["photos"] == {"added": 1, "waiting": 2, "failed": 0}
    _run([r for r in rows if r not in first])
    progress = _progress(setup)
    assert progress["photos"]["added"] == 3 and progress["done"] is True and progress["jobs"] == {"succeeded": 6}

    study = Study.objects.get(pk=sid)
    assert list(study.methods.values_list("name", flat=True)) == ["retouch.auto", "adjust +0.5 EV"]
    items = list(Item.objects.filter(study=study).prefetch_related("outputs__method"))
    assert sorted(i.name for i in items) == ["portrait0", "portrait1", "portrait2"]
    for item in items:
        assert item.subset == "Session 7"
        source = _decode(item.input_image)
        outputs = {o.method.name: _decode(o.image) for o in item.outputs.all()}
        assert set(outputs) == {"retouch.auto", "adjust +0.5 EV"}
        assert all(o.shape == source.shape for o in outputs.values())
        assert outputs["adjust +0.5 EV"].mean() > source.mean() + 5  # +0.5 EV brightens
    detail = c.get(f"/api/studies/{sid}/").json()
    assert len(detail["items"]) == 3 and all(len(i["outputs"]) == 2 for i in detail["items"])
    assert c.post(f"/api/studies/{sid}/status/", {"status": "open"}, format="json").status_code == 200


def test_the_hook_is_idempotent_and_tells_the_study_page(setup, monkeypatch):
    from studies import engine_items, live
    from studies.models import Item, JobItem
    from webapp.jobs.signals import job_finished

    changed = []
    monkeypatch.setattr(live, "study_changed", changed.append)
    setup["client"].post(f"/api/studies/{setup['id']}/items/from-jobs/", {"group": setup["group"].pk,
                         "methods": METHODS}, format="json")
    rows = [r for r in _jobs(setup["id"]) if r.photo_id == setup["photos"][2].pk]
    _run(rows)
    assert changed == [setup["id"]] * 2  # one event per finished job of the study
    item = Item.objects.get(study_id=setup["id"])
    for row in rows:  # the signal again (a redelivery, a second receiver): nothing new is built
        row.job.refresh_from_db()
        job_finished.send(sender=type(row.job), job=row.job)
    assert list(Item.objects.filter(study_id=setup["id"])) == [item]
    assert set(JobItem.objects.filter(pk__in=[r.pk for r in rows]).values_list("item_id", flat=True)) == {item.pk}
    # a build that never happened (here: the item deleted) is made when the items are asked for again
    item.delete()
    r = setup["client"].post(f"/api/studies/{setup['id']}/items/from-jobs/", {"group": setup["group"].pk,
                             "methods": METHODS}, format="json")
    assert r.json()["jobs_created"] == 0 and Item.objects.get(study_id=setup["id"]).name == "portrait2"
    assert engine_items.build_ready_items(item.study) == 0


def test_a_failed_job_is_reported_and_retried(setup, monkeypatch):
    from studies.models import Item
    from webapp import engine_pool
    from webapp.jobs import execution

    c, sid, url = setup["client"], setup["id"], f"/api/studies/{setup['id']}/items/from-jobs/"
    c.post(url, {"group": setup["group"].pk, "methods": METHODS[1:], "subset": "S"}, format="json")
    rows = _jobs(sid)

    class Broken:
        def run(self, inputs, params, progress=None):
            raise RuntimeError("out of film")

    monkeypatch.setitem(engine_pool._warm, "adjust", Broken())
    assert execution.execute_job(rows[0].job_id, worker="w") == "failed"
    monkeypatch.undo()
    _run(rows[1:])
    progress = _progress(setup)
    assert progress["photos"] == {"added": 2, "waiting": 0, "failed": 1}
    assert "out of film" in progress["failures"][0]["error"] and progress["failures"][0]["photo"] == rows[0].photo_id
    again = c.post(url, {"group": setup["group"].pk, "methods": METHODS[1:], "subset": "S"}, format="json").json()
    assert again["jobs_created"] == 1  # only the failed one
    _run(_jobs(sid)[:1])
    assert _progress(setup)["done"] is True
    assert Item.objects.filter(study_id=sid, subset="S").count() == 3


def test_adding_a_method_later_rebuilds_the_items(setup):
    from studies.models import Item

    c, sid, url = setup["client"], setup["id"], f"/api/studies/{setup['id']}/items/from-jobs/"
    c.post(url, {"group": setup["group"].pk, "methods": METHODS[:1]}, format="json")
    _run(_jobs(sid))
    assert [i.outputs.count() for i in Item.objects.filter(study_id=sid)] == [1, 1, 1]
    assert c.post(url, {"group": setup["group"].pk, "methods": METHODS}, format="json").json()["jobs_created"] == 3
    _run([r for r in _jobs(sid) if r.job.status == "queued"])
    assert [i.outputs.count() for i in Item.objects.filter(study_id=sid)] == [2, 2, 2]


@pytest.mark.parametrize("body,words", [
    ({"methods": METHODS}, "group"),
    ({"group": -1, "methods": METHODS}, "group"),
    ({"group": "1", "methods": METHODS}, "group"),
    ({"methods": []}, "methods"),
    ({"methods": [{"engine": "nope"}]}, "unknown engine"),
    ({"methods": [{"engine": "harmonize"}]}, "needs more than a photo"),
    ({"methods": [{"engine": "adjust", "params": {"exposure": 9}}]}, "exposure"),
    ({"methods": [{"engine": "adjust"}, {"engine": "adjust", "params": {"exposure": 1}}]}, "named"),
])
def test_refusals(setup, body, words):
    from studies.models import JobItem

    if body["methods"] is not METHODS:
        body = {"group": setup["group"].pk, **body}
    r = setup["client"].post(f"/api/studies/{setup['id']}/items/from-jobs/", body, format="json")
    assert r.status_code == 400 and words in r.json()["detail"].lower(), r.content
    assert JobItem.objects.count() == 0


def test_only_the_owner_and_not_once_frozen(setup, make_user, client_for):
    from studies.models import Study

    url = f"/api/studies/{setup['id']}/items/from-jobs/"
    body = {"group": setup["group"].pk, "methods": METHODS}
    assert client_for(make_user("researcher")).post(url, body, format="json").status_code == 404
    assert client_for(make_user("expert")).post(url, body, format="json").status_code == 403
    assert client_for(None).get(url).status_code == 401
    Study.objects.filter(pk=setup["id"]).update(joined=1)
    r = setup["client"].post(url, body, format="json")
    assert r.status_code == 409 and "frozen" in r.json()["detail"]
