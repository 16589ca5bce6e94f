"""Researcher item management (one item at a time, its preview by method, deletion until the study
opens) and the raw responses export (one row per answer, beside the unchanged votes.csv)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import png_bytes
from tests.unit.studies_support import METHODS, open_study
from tests.unit.test_studies_api import join, run_session


def _png(shade: int) -> bytes:
    return png_bytes(np.full((40, 32, 3), shade, np.uint8))


def _item_body(name="single", subset="S9", methods=METHODS):
    return {"name": name, "subset": subset, "input": SimpleUploadedFile("in.png", _png(90)),
            **{f"output:{m}": SimpleUploadedFile(f"{m}.png", _png(100 + 20 * k)) for k, m in enumerate(methods)}}


@pytest.fixture
def owner_client(make_user, client_for):
    return client_for(make_user("researcher"))


@pytest.mark.django_db
def test_single_item_upload_preview_by_method_and_delete(owner_client, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    from studies.models import Item, Output

    c = owner_client
    sid = c.post("/api/studies/", {"title": "Items"}, format="json").json()["id"]
    for m in METHODS:
        assert c.post(f"/api/studies/{sid}/methods/", {"name": m}, format="json").status_code == 201
    r = c.post(f"/api/studies/{sid}/items/", _item_body(), format="multipart")
    assert r.status_code == 201, r.content
    item = r.json()
    assert (item["name"], item["subset"]) == ("single", "S9")
    assert [o["method"] for o in item["outputs"]] == METHODS  # in the methods' order
    assert c.get(f"/api/studies/{sid}/items/{item['id']}/").json() == item
    shades = []
    for url in [item["input_url"]] + [o["url"] for o in item["outputs"]]:
        image = c.get(url)
        assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
        shades.append(image.content)
    assert len(set(shades)) == 4  # the input and three different outputs, each under its own URL
    assert c.get(f"/api/studies/{sid}/").json()["items"][0]["outputs"].keys() == set(METHODS)

    files = [Item.objects.get(pk=item["id"]).input_image.name] + [
        name for o in Output.objects.filter(item_id=item["id"]) for name in (o.image.name, o.degraded.name)]
    assert all(default_storage.exists(f) for f in files)
    with django_capture_on_commit_callbacks(execute=True):  # files go once the deletion is committed
        assert c.delete(f"/api/studies/{sid}/items/{item['id']}/").status_code == 204
    assert not Item.objects.filter(pk=item["id"]).exists() and not Output.objects.filter(item_id=item["id"]).exists()
    assert not any(default_storage.exists(f) for f in files)
    assert c.get(f"/api/studies/{sid}/items/{item['id']}/").status_code == 404
    assert c.delete(f"/api/studies/{sid}/items/{item['id']}/").status_code == 404


@pytest.mark.django_db
def test_single_item_refusals_store_nothing(owner_client):
    from studies.models import Item

    c = owner_client
    sid = c.post("/api/studies/", {"title": "Items"}, format="json").json()["id"]
    no_input = _item_body()
    no_input.pop("input")
    r = c.post(f"/api/studies/{sid}/items/", no_input, format="multipart")
    assert r.status_code == 400 and "input" in r.json()["detail"]
    broken = _item_body()
    broken[f"output:{METHODS[0]}"] = SimpleUploadedFile("x.png", b"not an image")
    r = c.post(f"/api/studies/{sid}/items/", broken, format="multipart")
    assert r.status_code == 400 and "single" in r.json()["detail"]
    assert not Item.objects.filter(study_id=sid).exists()


@pytest.mark.django_db
def test_items_cannot_be_deleted_once_the_study_is_open_or_anyone_joined(owner_client, client_for):
    from studies.models import Item

    c = owner_client
    opened = open_study(c, practice_trials=0, trials_per_participant=2, attention_every=0)
    item = Item.objects.filter(study_id=opened["id"]).first()
    r = c.delete(f"/api/studies/{opened['id']}/items/{item.pk}/")
    assert r.status_code == 409 and "open" in r.json()["detail"]
    join(client_for, opened["public_id"])
    c.post(f"/api/studies/{opened['id']}/status/", {"status": "closed"}, format="json")
    r = c.delete(f"/api/studies/{opened['id']}/items/{item.pk}/")
    assert r.status_code == 409 and "frozen" in r.json()["detail"]
    assert Item.objects.filter(pk=item.pk).exists()


def _rows(text: str) -> list[dict]:
    # cells a spreadsheet would run as formulas (a trial id may start with "-") carry an apostrophe;
    # read them back as the analysis CLI does
    from studies.analysis.data import csv_cell_value

    return [{k: csv_cell_value(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


@pytest.mark.django_db
def test_raw_responses_export_has_a_row_per_answer_and_votes_csv_is_unchanged(owner_client, client_for):
    from studies.export import RESPONSES_HEADER
    from studies.models import Response, Trial

    c = owner_client
    opened = open_study(c, practice_trials=1, trials_per_participant=6, attention_every=3, allow_tie=True)
    sid = opened["id"]
    run_session(join(client_for, opened["public_id"], {"PROLIFIC_PID": "pp-1", "STUDY_ID": "st", "SESSION_ID": "se",
                                                       "source": "=cmd"}), choose=lambda t: "right")
    run_session(join(client_for, opened["public_id"], {"workerId": "W9"}), choose=lambda t: "tie")
    votes = c.get(f"/api/studies/{sid}/votes.csv").content.decode().splitlines()
    assert votes[0] == "participant,item,subset,winner,loser,tie"  # the CLI's table, as before

    r = c.get(f"/api/studies/{sid}/responses.csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert f'study-{sid}-responses.csv' in r["Content-Disposition"]
    text = r.content.decode()
    assert text.splitlines()[0] == ",".join(RESPONSES_HEADER)
    rows = _rows(text)
    assert len(rows) == Response.objects.filter(study_id=sid).count() == 2 * (1 + 6 + 2)
    first = [row for row in rows if row["participant"] == "P001"]
    second = [row for row in rows if row["participant"] == "P002"]
    assert {row["prolific_pid"] for row in first} == {"pp-1"} and first[0]["prolific_session_id"] == "se"
    assert first[0]["other_params"] == '{"source": "=cmd"}'  # other link parameters, as JSON
    assert {row["mturk_worker_id"] for row in second} == {"W9"}
    assert [row["practice"] for row in first].count("1") == 1
    assert [row["attention"] for row in first].count("1") == 2
    for row in rows:
        trial = Trial.objects.select_related("left__method", "right__method", "item", "response").get(public_id=row["trial"])
        assert row["position"] == str(trial.position) and row["item"] == trial.item.name
        assert (row["left_method"], row["right_method"]) == (trial.left.method.name, trial.right.method.name)
        assert row["answer"] == trial.response.choice and row["elapsed_ms"] == "900"
        assert row["answered_at"].startswith(trial.response.created_at.date().isoformat())
        assert row["degraded_side"] == trial.degraded_side
        if row["attention"] == "1":
            assert row["attention_passed"] == "1"  # run_session never picks the degraded copy
        elif row["answer"] == "right":
            assert row["chosen_method"] == row["right_method"]
        elif row["answer"] == "tie":
            assert row["chosen_method"] == ""
    assert {row["excluded"] for row in rows} == {"0"} and {row["exclusion"] for row in rows} == {"automatic"}

    pid = next(p["id"] for p in c.get(f"/api/studies/{sid}/dashboard/?bootstrap=0").json()["participants"]
               if p["label"] == "P002")
    c.patch(f"/api/studies/{sid}/participants/{pid}/", {"excluded": True}, format="json")
    rows = _rows(c.get(f"/api/studies/{sid}/responses.csv").content.decode())
    assert {(row["participant"], row["excluded"], row["exclusion"]) for row in rows} == {
        ("P001", "0", "automatic"), ("P002", "1", "manual")}  # excluded participants stay, marked


@pytest.mark.django_db
def test_raw_responses_of_a_ranking_study(owner_client, client_for):
    c = owner_client
    opened = open_study(c, kind="ranking", rank_k=3, practice_trials=0, trials_per_participant=2, attention_every=0)
    p = join(client_for, opened["public_id"])
    t = p.get("/api/participate/next/").json()
    assert p.post(f"/api/participate/trials/{t['trial_id']}/response/", {"order": [2, 0, 1], "idempotency_key": "a"},
                  format="json").status_code == 201
    row = _rows(c.get(f"/api/studies/{opened['id']}/responses.csv").content.decode())[0]
    candidates = row["candidates"].split(" | ")
    assert sorted(candidates) == sorted(METHODS) and row["left_method"] == row["right_method"] == ""
    assert row["answer"] == "2 0 1"
    assert row["ranking"] == " > ".join([candidates[2], candidates[0], candidates[1]])
    assert row["chosen_method"] == candidates[2]
