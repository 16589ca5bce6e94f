"""Uploaded PPR10K-layout zips as training data: POST /api/models/datasets/ inflates and checks them
(bad zips refused with nothing stored), POST /api/models/train/ {"upload": id} trains on one through
the same job as a frozen dataset version, and the card and provenance name the upload."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.unit.registry_support import as_zip, ppr10k_files

TINY = {"size": 48, "dim": 9}  # as in test_registry: a LUT network small enough for a few CPU steps


@pytest.fixture
def stores(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    settings.DATA_DIR = tmp_path / "data"
    return tmp_path / "data" / "registry" / "uploads"


def _upload(client, data: bytes, name: str = "shoot.zip"):
    return client.post("/api/models/datasets/", {"file": SimpleUploadedFile(name, data, "application/zip")},
                       format="multipart")


def _stored(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.django_db
def test_a_ppr10k_zip_is_accepted_and_listed(client_for, make_user, stores):
    from webapp.registry.models import DatasetUpload

    researcher = make_user("researcher")
    client = client_for(researcher)
    r = _upload(client, as_zip(ppr10k_files(prefix="my-shoot/", experts=("a", "b"))))  # one top-level folder
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["kind"] == "upload" and body["name"] == "shoot.zip" and body["experts"] == ["a", "b"]
    assert body["counts"]["train"] == 3 and body["counts"]["val"] == 2 and len(body["sha256"]) == 64
    upload = DatasetUpload.objects.get(pk=body["id"])
    assert upload.owner == researcher
    assert sorted(p.name for p in (stores / upload.path.rsplit("/", 1)[1] / "360p" / "val" / "source").iterdir()) \
        == ["2_0.tif", "2_1.tif"]
    listed = client.get("/api/models/datasets/").json()
    assert [u["id"] for u in listed["uploads"]] == [body["id"]]
    assert client_for(make_user("researcher")).get("/api/models/datasets/").json()["uploads"] == []  # not theirs


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["not a zip", "traversal", "absolute", "missing targets", "missing masks",
                                  "no layout", "no file", "file and folder of one name",
                                  "not an image"])
def test_bad_zips_are_refused_with_a_clear_message_and_nothing_stored(case, client_for, make_user, stores):
    from webapp.registry.models import DatasetUpload

    client = client_for(make_user("researcher"))
    good = ppr10k_files()
    data, expected = {
        "not a zip": (b"PK\x03\x04 this is no archive", "not a zip archive"),
        "traversal": (as_zip({**good, "../../evil.tif": b"x"}), "outside its folder"),
        "absolute": (as_zip({**good, "/etc/evil.tif": b"x"}), "outside its folder"),
        "missing targets": (as_zip(ppr10k_files(skip={"360p/train/target_a"})), "target_a"),
        "missing masks": (as_zip(ppr10k_files(skip={"masks_360p"})), "lack a target_a file or a mask"),
        "no layout": (as_zip({"photos/a.jpg": b"x"}), "PPR10K-layout"),
        "no file": (None, '"file"'),
        "file and folder of one name": (as_zip({**good, "masks_360p": b"x"}), "cannot be stored"),
        "not an image": (as_zip({**good, "360p/train/source/0_0.tif": b"not a tiff"}), "not readable"),
    }[case]
    if data is None:
        r = client.post("/api/models/datasets/", {}, format="multipart")
    else:
        r = _upload(client, data)
    assert r.status_code == 400, r.content
    assert expected in r.json()["detail"]
    assert str(stores) not in r.json()["detail"]  # the server's folders are not the uploader's business
    assert not DatasetUpload.objects.exists()
    assert _stored(stores) == []


@pytest.mark.django_db
def test_train_takes_exactly_one_of_dataset_and_upload(client_for, make_user, stores):
    researcher = make_user("researcher")
    client = client_for(researcher)
    upload = _upload(client, as_zip(ppr10k_files())).json()["id"]
    base = {"model": "retouch.lut", "expert": "a", "steps": 2, "arguments": TINY}
    for body in (base, {**base, "upload": upload, "dataset": 1}):
        r = client.post("/api/models/train/", body, format="json")
        assert r.status_code == 400 and "exactly one" in r.json()["detail"]
    r = client.post("/api/models/train/", {**base, "upload": upload, "expert": "b"}, format="json")
    assert r.status_code == 400 and "slots: a" in r.json()["detail"]  # the zip has no target_b
    stranger = client_for(make_user("researcher"))
    assert stranger.post("/api/models/train/", {**base, "upload": upload}, format="json").status_code == 404


@pytest.mark.django_db
def test_training_from_an_upload_yields_a_version_whose_card_names_the_upload(client_for, make_user, stores,
                                                                              monkeypatch):
    from webapp.celery import app
    from webapp.registry import execution

    monkeypatch.setattr(app, "send_task", lambda name, args, queue: None)
    monkeypatch.setattr(execution.events, "publish", lambda group, message: None)
    client = client_for(make_user("researcher"))
    upload = _upload(client, as_zip(ppr10k_files(experts=("a", "b")))).json()
    r = client.post("/api/models/train/", {"upload": upload["id"], "model": "retouch.lut", "expert": "b",
                                           "steps": 4, "seed": 2, "arguments": TINY}, format="json")
    assert r.status_code == 201, r.content
    run = r.json()
    assert run["dataset"]["kind"] == "upload" and run["dataset"]["upload"] == upload["id"]
    assert execution.run_training(run["job"], worker="w1") == "succeeded"

    detail = client.get(f"/api/models/{run['id']}/").json()
    assert detail["status"] == "ready" and detail["step"] == 4
    assert detail["metrics"]["model"]["n_images"] == 2  # evaluated on the upload's val split
    card = detail["card"]
    assert card["data"]["expert"] == "b"
    dataset = card["provenance"]["dataset"]
    assert (dataset["kind"], dataset["upload"], dataset["name"], dataset["sha256"]) == \
        ("upload", upload["id"], "shoot.zip", upload["sha256"])
    assert card["held_out"]["model"]["psnr"] == pytest.approx(detail["metrics"]["model"]["psnr"])
    assert {row["name"] for row in detail["per_image"]} == {"2_0", "2_1"}

    prov = client.get(f"/api/models/{run['id']}/provenance/").json()
    assert prov["dataset"]["kind"] == "upload" and "provenance stops here" in prov["dataset"]["note"]
    assert prov["assignments"] == [] and prov["photos"] == []
    assert prov["training_jobs"][0]["id"] == run["job"]

    study = client.post(f"/api/models/{run['id']}/study/", {"participants": 3}, format="json")
    assert study.status_code == 409 and "uploaded dataset" in study.json()["detail"]
