"""The annotation workspace through its API: the workflow, its refusals, interchange, agreement,
the dashboard and the export (docs/annotation.md)."""

import csv
import json

import numpy as np
import pytest
from django.core.management import call_command

from tests.unit.annotation_support import (
    STYLES,
    accept_all,
    assign_all,
    edit_all,
    make_project,
    make_workspace,
)

pytestmark = pytest.mark.django_db

A = "/api/annotation/assignments"


@pytest.fixture
def ws(make_user):
    return make_workspace(make_user)


@pytest.fixture
def project(ws):
    return make_project(ws)


def _photo_ids(client, assignment_id):
    return [p["id"] for p in client.get(f"{A}/{assignment_id}/").json()["photos"]]


def test_the_whole_loop_through_the_api(ws, project, client_for):
    owner = client_for(ws.researcher)
    data = owner.get(f"/api/annotation/projects/{project.pk}/").json()
    assert [a["slot"] for a in data["assignments"]] == ["a", "b", "c"]
    assert {p["username"] for p in data["people"]["expert"]} == {e.username for e in ws.experts}
    ids = {a["slot"]: a["id"] for a in data["assignments"]}
    for slot, expert in zip("abc", ws.experts, strict=True):
        r = owner.post(f"{A}/{ids[slot]}/assign/", {"expert": expert.pk}, format="json")
        assert r.status_code == 200 and r.json()["state"] == "in_progress", r.content

    experts = [client_for(e) for e in ws.experts]
    queue = experts[0].get(f"{A}/").json()
    assert [a["id"] for a in queue["results"]] == [ids["a"]]
    photos = _photo_ids(experts[0], ids["a"])
    assert len(photos) == 3
    # Experts never see each other's work.
    assert experts[1].get(f"{A}/{ids['a']}/").status_code == 404
    assert experts[1].get(f"{A}/{ids['a']}/photos/{photos[0]}/params").status_code == 404

    url = f"{A}/{ids['a']}/photos/{photos[0]}/params"
    assert experts[0].get(url).json()["params"]["exposure"] == 0.0
    r = experts[0].put(url, {"params": {"exposure": 0.4, "temperature": 12}}, format="json")
    assert r.status_code == 200 and r.json()["version"] == 1
    assert experts[0].put(url, {"params": {"exposure": 0.4, "temperature": 12}}, format="json").json()["version"] == 1
    assert experts[0].put(url, {"params": {"exposure": 9}}, format="json").status_code == 400
    assert experts[0].get(url).json()["params"]["temperature"] == 12.0

    # QA: two photos were never edited.
    r = experts[0].post(f"{A}/{ids['a']}/submit/")
    assert r.status_code == 400 and len(r.json()["errors"]["qa"]) == 2

    # Sync exposure and temperature to the other two photos.
    r = experts[0].post(f"{A}/{ids['a']}/sync/", {"from": photos[0], "photos": photos[1:],
                                                   "keys": ["exposure", "temperature"]}, format="json")
    assert r.status_code == 200 and len(r.json()["edits"]) == 2
    assert experts[0].get(f"{A}/{ids['a']}/photos/{photos[2]}/params").json()["params"]["exposure"] == 0.4
    assert len(experts[0].get(f"{A}/{ids['a']}/photos/{photos[0]}/history").json()) == 1

    r = experts[0].post(f"{A}/{ids['a']}/submit/")
    assert r.status_code == 200 and r.json()["state"] == "in_review", r.content
    r = experts[0].put(url, {"params": {"exposure": 0.1}}, format="json")
    assert r.status_code == 409 and "in review" in r.json()["detail"]

    reviewer = client_for(ws.reviewers[0])
    assert [a["id"] for a in reviewer.get(f"{A}/").json()["results"]] == [ids["a"]]
    view = reviewer.get(f"{A}/{ids['a']}/review/").json()
    assert [s["slot"] for s in view["slots"]] == ["a"] and view["slots"][0]["glc"] is not None
    r = reviewer.post(f"{A}/{ids['a']}/review/", {"decision": "changes_requested", "issues": [
        {"photo": photos[1], "region": {"box": [5, 5, 20, 20]}, "slider": "exposure", "comment": "Face too bright",
         "suggested_params": {"exposure": 0.2}}]}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "changes_requested" and r.json()["round"] == 2

    detail = experts[0].get(f"{A}/{ids['a']}/").json()
    issue = detail["issues"][0]
    assert issue["region"] == {"box": [5.0, 5.0, 20.0, 20.0]} and issue["state"] == "open"
    assert [p["state"] for p in detail["photos"]].count("issue") == 1
    assert experts[0].post(f"{A}/{ids['a']}/submit/").status_code == 400  # the issue is open
    r = experts[0].post(f"{A}/{ids['a']}/issues/{issue['id']}/resolve/", {"apply_suggestion": True,
                                                                           "reply": "toned down"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    assert experts[0].get(f"{A}/{ids['a']}/photos/{photos[1]}/params").json()["params"]["exposure"] == 0.2
    assert experts[0].post(f"{A}/{ids['a']}/submit/").status_code == 200

    # The resubmission goes back to the same reviewer: another one neither sees nor reviews it.
    other = client_for(ws.reviewers[1])
    assert other.get(f"{A}/").json()["count"] == 0
    assert other.post(f"{A}/{ids['a']}/review/", {"decision": "accept"}, format="json").status_code == 404
    view = reviewer.get(f"{A}/{ids['a']}/review/").json()
    changed = [p for p in view["photos"] if p["previous_round"] and p["previous_round"]["delta_e76"]]
    assert [p["photo"] for p in changed] == [photos[1]]
    r = reviewer.post(f"{A}/{ids['a']}/review/", {"decision": "accept"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "accepted" and r.json()["first_pass"] is False
    assert experts[0].get(f"{A}/{ids['a']}/").json()["issues"][0]["state"] == "verified"

    # Freezing needs every slot accepted.
    r = owner.post(f"/api/annotation/projects/{project.pk}/freeze/")
    assert r.status_code == 409 and "not accepted" in r.json()["detail"]




def test_state_machine_refusals(ws, project, client_for):
    from webapp.annotation import services

    owner, reviewer = client_for(ws.researcher), client_for(ws.reviewers[0])
    a = project.assignments.get(slot="a")
    expert = client_for(ws.experts[0])
    # Queued: nobody can work on it, and experts cannot assign.
    assert expert.post(f"{A}/{a.pk}/assign/", {"expert": ws.experts[0].pk}, format="json").status_code == 403
    assert owner.post(f"{A}/{a.pk}/submit/").status_code == 403  # researchers do not submit for experts
    assert owner.post(f"{A}/{a.pk}/assign/", {"expert": ws.reviewers[0].pk}, format="json").status_code == 400
    assert owner.post(f"{A}/{a.pk}/reopen/").status_code == 409
    assert owner.post(f"{A}/{a.pk}/assign/", {"expert": ws.experts[0].pk}, format="json").status_code == 200
    b = project.assignments.get(slot="b")
    r = owner.post(f"{A}/{b.pk}/assign/", {"expert": ws.experts[0].pk}, format="json")
    assert r.status_code == 409 and "slot a" in r.json()["detail"]  # one expert per slot of a group
    photo = _photo_ids(expert, a.pk)[0]
    # In progress: reviewers cannot see it yet, nobody reviews it, nobody else edits it.
    assert reviewer.post(f"{A}/{a.pk}/review/", {"decision": "accept"}, format="json").status_code == 404
    a.refresh_from_db()
    with pytest.raises(services.Conflict):
        services.review(assignment=a, user=ws.reviewers[0], decision="accept")
    r = owner.put(f"{A}/{a.pk}/photos/{photo}/params", {"params": {"exposure": 1}}, format="json")
    assert r.status_code == 403
    assert expert.post(f"{A}/{a.pk}/review/", {"decision": "accept"}, format="json").status_code == 403
    edit_all(a)
    assert expert.post(f"{A}/{a.pk}/submit/").status_code == 200
    assert expert.post(f"{A}/{a.pk}/submit/").status_code == 409  # already in review
    r = client_for(ws.reviewers[0]).put(f"{A}/{a.pk}/photos/{photo}/params", {"params": {}}, format="json")
    assert r.status_code == 403 and "Reviewers never change" in r.json()["detail"]
    r = reviewer.post(f"{A}/{a.pk}/review/", {"decision": "changes_requested", "issues": []}, format="json")
    assert r.status_code == 400  # changes need at least one issue
    r = reviewer.post(f"{A}/{a.pk}/review/", {"decision": "accept", "issues": [{"comment": "x"}]}, format="json")
    assert r.status_code == 400
    assert owner.post(f"{A}/{a.pk}/review/", {"decision": "accept"}, format="json").status_code == 403
    assert reviewer.post(f"{A}/{a.pk}/review/", {"decision": "accept"}, format="json").status_code == 200
    assert reviewer.post(f"{A}/{a.pk}/review/", {"decision": "accept"}, format="json").status_code == 409
    assert expert.put(f"{A}/{a.pk}/photos/{photo}/params", {"params": {}}, format="json").status_code == 409
    # Only researchers reopen; reopening starts a new round for the same expert.
    assert expert.post(f"{A}/{a.pk}/reopen/").status_code == 403
    r = owner.post(f"{A}/{a.pk}/reopen/")
    assert r.status_code == 200 and r.json()["state"] == "in_progress" and r.json()["round"] == 2


def test_round_limit_and_frozen_refusals(ws, make_user, client_for):
    from webapp.annotation import services

    project = make_project(ws, max_rounds=1)
    assignments = accept_all(ws, project)
    owner = client_for(ws.researcher)
    r = owner.post(f"/api/annotation/projects/{project.pk}/freeze/")
    assert r.status_code == 200 and r.json()["dataset_version"] == 1
    assert owner.post(f"/api/annotation/projects/{project.pk}/freeze/").status_code == 409
    a = assignments[0]
    assert owner.post(f"{A}/{a.pk}/reopen/").status_code == 409  # frozen
    assert owner.post(f"{A}/{a.pk}/assign/", {"expert": ws.experts[0].pk}, format="json").status_code == 409
    # A project whose first round is its last: requesting changes is refused.
    other = make_project(make_workspace(make_user, per_group=2), max_rounds=1)
    b = other.assignments.first()
    services.assign(assignment=b, by=other.owner, expert_id=ws.experts[0].pk)
    b.refresh_from_db()
    edit_all(b)
    services.submit(assignment=b, user=ws.experts[0])
    r = client_for(ws.reviewers[0]).post(f"{A}/{b.pk}/review/", {"decision": "changes_requested",
                                                                  "issues": [{"comment": "warmer"}]}, format="json")
    assert r.status_code == 409 and "round 1 of at most 1" in r.json()["detail"]


def test_qa_flags_extremes_clipping_and_group_tone(ws, make_user):
    from webapp.annotation import services
    from webapp.annotation.selectors import assignment_photos

    project = make_project(ws, qa_settings={"max_glc": 5.0})
    a = assign_all(ws, project)[0]
    photos = assignment_photos(a)
    for photo, params in zip(photos, [{"exposure": 5.0}, {"temperature": 60}, {"temperature": -60}], strict=True):
        services.save_params(assignment=a, photo=photo, params=params, user=a.expert)
    with pytest.raises(services.Refusal) as refused:
        services.submit(assignment=a, user=a.expert)
    qa = refused.value.errors["qa"]
    assert any("Exposure is at +5.00 EV" in m for m in qa)
    assert any("clipped to pure white" in m for m in qa)
    assert any("M_GLC" in m for m in qa)
    result = services.match_tone(assignment=a, user=a.expert, reference_id=photos[0].pk)
    assert result["glc_after"] < result["glc_before"] and not result["applied"]


def test_xmp_round_trip_through_the_api(ws, project, client_for):
    a = assign_all(ws, project)[0]
    expert = client_for(a.expert)
    photo = _photo_ids(expert, a.pk)[0]
    url = f"{A}/{a.pk}/photos/{photo}/xmp"
    expert.put(f"{A}/{a.pk}/photos/{photo}/params", {"params": {"exposure": -0.35, "shadows": 30}}, format="json")
    text = expert.get(url).content.decode()
    assert 'crs:Exposure2012="-0.35"' in text and 'crs:Shadows2012="+30"' in text
    text = text.replace('crs:Shadows2012="+30"', 'crs:Shadows2012="+45" crs:Sharpness="25"')
    r = expert.put(url, text, content_type="application/rdf+xml")
    assert r.status_code == 200, r.content
    assert r.json()["unsupported"]["Sharpness"] == "25" and r.json()["params"]["shadows"] == 45.0
    assert expert.put(url, "<x>not xmp", content_type="application/rdf+xml").status_code == 400
    # Group import matches sidecars to photos by file name.
    from django.core.files.uploadedfile import SimpleUploadedFile

    names = [p["original_name"] for p in expert.get(f"{A}/{a.pk}/").json()["photos"]]
    files = [SimpleUploadedFile(names[1].replace(".png", ".xmp"), text.encode()),
             SimpleUploadedFile("unknown.xmp", text.encode())]
    r = expert.post(f"{A}/{a.pk}/xmp/", {"files": files}, format="multipart")
    assert r.status_code == 200 and r.json()["unmatched"] == ["unknown.xmp"] and len(r.json()["applied"]) == 1


def test_agreement_dashboard_and_hidden_duplicates(make_user, client_for):
    ws = make_workspace(make_user, groups=2, per_group=3)
    project = make_project(ws, duplicates=1)
    accept_all(ws, project)
    owner = client_for(ws.researcher)
    report = owner.get(f"/api/annotation/projects/{project.pk}/agreement/").json()
    exposure = report["icc"]["exposure"]
    assert exposure["n"] == 6 and exposure["style_offsets"]["a"] > 0  # slot a is the brightest style
    temperature = report["icc"]["temperature"]
    assert temperature["style_offsets"]["a"] == pytest.approx(20 - 20 / 3)
    assert [r["slots"] for r in report["delta_e"]] == [["a", "b"], ["a", "c"], ["b", "c"]]
    assert all(r["delta_e76"] > 0 and r["photos"] == 6 for r in report["delta_e"])
    assert len(report["glc"]["groups"]) == 2 and report["glc"]["project"]["a"] is not None
    assert len(report["self_consistency"]) == 6 and all(r["delta_e76"] == pytest.approx(0, abs=1e-6)
                                                        for r in report["self_consistency"])
    assert client_for(ws.reviewers[0]).get(f"/api/annotation/projects/{project.pk}/agreement/").status_code == 200
    assert client_for(ws.experts[0]).get(f"/api/annotation/projects/{project.pk}/agreement/").status_code == 403
    dash = owner.get(f"/api/annotation/projects/{project.pk}/dashboard/").json()
    assert dash["states"] == {"accepted": 6}
    assert {e["expert"] for e in dash["experts"]} == {e.username for e in ws.experts}
    assert all(e["first_pass_acceptance"] == 1.0 for e in dash["experts"])
    rows = list(csv.reader(owner.get(f"/api/annotation/projects/{project.pk}/dashboard.csv").content.decode()
                           .splitlines()))
    assert rows[0][:3] == ["group", "group_name", "slot"] and len(rows) == 7


def test_active_time_counts_saves_not_wall_clock():
    from datetime import datetime, timedelta

    from webapp.annotation.reports import active_seconds

    t = datetime(2024, 1, 1)
    assert active_seconds([t, t + timedelta(seconds=30), t + timedelta(hours=3), t + timedelta(hours=3, seconds=10)]) \
        == 30 + 120 + 10


def test_export_command_writes_the_ppr10k_layout_split_by_group(make_user, tmp_path, client_for):
    from webapp.annotation import services

    ws = make_workspace(make_user, groups=5, per_group=2)
    project = make_project(ws, split_seed=3)
    accept_all(ws, project)
    assert client_for(ws.researcher).post(f"/api/annotation/projects/{project.pk}/export/").status_code == 409
    services.freeze(project=project, by=ws.researcher)
    out = tmp_path / "dataset"
    call_command("export_dataset", str(project.pk), "--out", str(out), "--sizes", "360p,full")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset_version"] == 1 and manifest["split"]["by"] == "group"
    assert manifest["slots"] == {s: [e.username] for s, e in zip("abc", ws.experts, strict=True)}
    rows = list(csv.DictReader((out / "groups.csv").open()))
    assert len(rows) == 10
    split_of = {}
    for row in rows:
        assert split_of.setdefault(row["group"], row["split"]) == row["split"]  # never one group in both
    assert set(split_of.values()) == {"train", "val"}
    for row in rows:
        name = f"{row['group']}_{row['idx']}"
        for size in ("360p", "full"):
            base = out / size / row["split"]
            assert (base / "source" / f"{name}.tif").exists()
            for slot in "abc":
                assert (base / f"target_{slot}" / f"{name}.tif").exists()
            mask = (out / f"masks_{size}" / f"{name}.png")
            assert mask.exists()
        params = json.loads((out / "params_a" / f"{name}.json").read_text())["params"]
        assert params["temperature"] == STYLES["a"]["temperature"]
        assert (out / "xmp_target_b" / f"{name}.xmp").read_text().count("crs:Exposure2012") == 1
    assert {p.name for p in (out / "agreement").iterdir()} == {"icc.csv", "delta_e.csv", "glc.csv",
                                                               "self_consistency.csv"}
    for path, digest in manifest["checksums"].items():
        assert len(digest) == 64 and (out / path).exists()
    # The files read back through the dataset reader; the target is the renderer's output.
    from inference.datasets import PPR10KFolder
    from inference.imagefiles import read_mask

    train = PPR10KFolder(out, split="train", expert="a", size="full")
    sample = train[0]
    assert sample["target"].mean() > sample["source"].mean()  # slot a brightens
    assert set(np.unique(read_mask(out / "masks_360p" / f"{train.names[0]}.png"))) <= {0.0, 1.0}


def test_mask_refined_by_clicks_becomes_the_photos_human_mask(ws, project, client_for):
    from webapp.photos.models import Mask

    a = assign_all(ws, project)[0]
    expert = client_for(a.expert)
    photo = ws.photos[ws.groups[0].pk][0]
    url = f"{A}/{a.pk}/photos/{photo.pk}/mask"
    before = expert.get(url).json()["url"]
    # A negative click on the person takes the person's region away; a positive one in the corner
    # adds the region it reaches.
    r = expert.post(url, {"clicks": [{"x": 2, "y": 2, "positive": True}]}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["url"] != before and expert.get(url).json()["url"] == r.json()["url"]
    masks = list(photo.masks.filter(kind=Mask.Kind.HUMAN).order_by("id"))
    assert len(masks) == 2 and masks[-1].created_by == a.expert
    from webapp.photos.selectors import load_mask

    old, new = load_mask(masks[0]), load_mask(masks[1])
    assert new.shape == old.shape and new[2, 2] > 0.5 and new.sum() > old.sum()
    assert expert.post(url, {"clicks": [{"x": 500, "y": 2, "positive": True}]}, format="json").status_code == 400


def test_export_job_zips_the_dataset_for_the_owner_only(make_user, client_for, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    import io
    import zipfile

    from webapp.annotation import services

    sent = []
    monkeypatch.setattr(services.celery_app, "send_task", lambda name, args, queue: sent.append((name, args, queue)))
    ws = make_workspace(make_user, per_group=2)
    project = make_project(ws)
    accept_all(ws, project)
    services.freeze(project=project, by=ws.researcher)
    owner = client_for(ws.researcher)
    with django_capture_on_commit_callbacks(execute=True):
        r = owner.post(f"/api/annotation/projects/{project.pk}/export/", {"sizes": ["360p"]}, format="json")
    assert r.status_code == 202 and r.json()["status"] == "queued" and r.json()["url"] is None
    assert sent == [("annotation.export_dataset", [r.json()["id"]], "cpu")]
    assert services.run_export(r.json()["id"]) == "succeeded"
    listed = owner.get(f"/api/annotation/projects/{project.pk}/export/").json()[0]
    assert listed["status"] == "succeeded" and listed["progress"] == 1.0 and listed["files"] > 10
    response = owner.get(listed["url"])
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert any(n.endswith("/manifest.json") for n in names) and any("/360p/" in n for n in names)
    assert archive.testzip() is None
    # images are stored as they are (deflating TIFFs again costs minutes at full size), text deflated
    kinds = {info.filename.rsplit(".", 1)[-1]: info.compress_type for info in archive.infolist()}
    assert kinds["tif"] == zipfile.ZIP_STORED and kinds["png"] == zipfile.ZIP_STORED
    assert kinds["json"] == zipfile.ZIP_DEFLATED and kinds["csv"] == zipfile.ZIP_DEFLATED
    assert client_for(make_user("researcher")).get(listed["url"]).status_code == 404
    assert client_for(ws.experts[0]).get(listed["url"]).status_code == 403



def test_demo_annotation_builds_a_frozen_project_with_one_review_round(capsys):
    from webapp.annotation.models import AnnotationProject, ReviewIssue
    from webapp.annotation.reports import agreement

    call_command("demo_annotation", "--groups", "2", "--photos-per-group", "3", "--seed", "4")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("project ")
    project = AnnotationProject.objects.get(pk=int(last.split()[1]))
    assert project.dataset_version == 1
    assert set(project.assignments.values_list("state", flat=True)) == {"frozen"}
    assert sorted(project.assignments.values_list("round", flat=True)) == [1, 1, 1, 1, 1, 2]
    assert ReviewIssue.objects.get(assignment__project=project).state == "verified"
    report = agreement(project)
    # Slot a's style is the strong warm one: its temperature offset is the largest.
    offsets = report["icc"]["temperature"]["style_offsets"]
    assert offsets["a"] > 0 and offsets["a"] > offsets["b"] > offsets["c"]
    assert len(report["self_consistency"]) == 6


def test_harmonization_task_limits_sliders_to_the_pasted_person_and_exports_beside(make_user, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from inference.imagefiles import read_mask, read_rgb
    from tests.conftest import png_bytes
    from tests.unit.annotation_support import person_mask
    from webapp.annotation import services
    from webapp.photos.services import attach_mask

    ws = make_workspace(make_user, per_group=2)
    with pytest.raises(services.Refusal, match="foreground mask"):
        make_project(ws, kind="harmonization")
    reference = np.zeros((30, 40, 3), np.uint8)
    reference[2:10, 2:12] = 255
    for photo in ws.photos[ws.groups[0].pk]:
        attach_mask(photo=photo, upload=SimpleUploadedFile("fg.png", png_bytes(person_mask())), kind="foreground",
                    created_by=ws.researcher)
        attach_mask(photo=photo, upload=SimpleUploadedFile("ref.png", png_bytes(reference)), kind="reference",
                    created_by=ws.researcher)
    project = make_project(ws, kind="harmonization")
    accept_all(ws, project)
    services.freeze(project=project, by=ws.researcher)
    out = tmp_path / "harm"
    call_command("export_dataset", str(project.pk), "--out", str(out))
    composite = read_rgb(out / "harmonization" / "composite" / "0_0.tif")
    target = read_rgb(out / "harmonization" / "target_a" / "0_0.tif")
    fg = read_mask(out / "harmonization" / "fg_mask" / "0_0.png") > 0.5
    assert read_mask(out / "harmonization" / "ref_mask" / "0_0.png")[5, 5] == 1.0
    np.testing.assert_allclose(target[~fg], composite[~fg], atol=1 / 255)  # outside the person: untouched
    assert target[fg].mean() > composite[fg].mean() + 0.02  # slot a brightens the pasted person
    assert not (out / "360p").exists()  # the harmonization layout replaces the retouching one


def test_a_huge_group_id_is_a_clear_400_not_a_database_overflow(make_user, client_for):
    """Found by the schema fuzzer: 2**70 overflowed SQLite's INTEGER and answered 500."""
    researcher = client_for(make_user("researcher"))
    response = researcher.post("/api/annotation/projects/", {"title": "t", "groups": [2**70]}, format="json")
    assert response.status_code == 400
    assert "groups" in response.json()["detail"]


@pytest.mark.parametrize("local_disk", [True, False], ids=["in-place", "remote-storage"])
def test_export_archive_reaches_the_storage_with_or_without_a_local_path(tmp_path, settings, monkeypatch, local_disk):
    import zipfile

    from django.core.files.storage import InMemoryStorage, default_storage

    from webapp.annotation import services

    settings.DATA_DIR = tmp_path
    folder = tmp_path / "project-1-v1-1"
    (folder / "full").mkdir(parents=True)
    (folder / "manifest.json").write_text('{"project": 1}')
    (folder / "full" / "0_0.tif").write_bytes(b"II*\x00" + bytes(64))
    storage = default_storage
    if not local_disk:  # a storage without .path() (S3 and the like) gets an upload of a temporary zip
        storage = InMemoryStorage()
        monkeypatch.setattr(services, "default_storage", storage)
    fractions = []
    name = services._archive_into_storage(folder, "exports/p.zip", fractions.append)
    assert name.startswith("exports/p") and name.endswith(".zip")
    assert fractions and fractions[-1] == 1.0
    with storage.open(name, "rb") as fh, zipfile.ZipFile(fh) as archive:
        assert sorted(archive.namelist()) == ["project-1-v1-1/full/0_0.tif", "project-1-v1-1/manifest.json"]
        assert archive.read("project-1-v1-1/manifest.json") == b'{"project": 1}'
    # a second export of the same name gets its own file, never overwrites the first
    assert services._archive_into_storage(folder, "exports/p.zip", None) != name
