"""Endpoints around the editor: the composite builder of harmonization projects
(``POST /api/annotation/cutouts/``, ``POST …/projects/<id>/composites/``), a project's QA and round
settings (``PATCH …/projects/<id>/``) and brushed issue regions. Each refusal stores nothing."""

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import png_bytes
from tests.unit.annotation_support import edit_all, make_project, make_workspace

pytestmark = pytest.mark.django_db

P = "/api/annotation/projects"


@pytest.fixture
def ws(make_user):
    return make_workspace(make_user, per_group=2, size=(60, 40))


@pytest.fixture
def background(ws):
    from webapp.photos.services import ingest_photo

    sky = np.zeros((50, 80, 3), np.uint8)
    sky[:] = (90, 140, 200)
    sky[30:] = (110, 100, 70)
    return ingest_photo(upload=SimpleUploadedFile("beach.png", png_bytes(sky)), owner=ws.researcher)


@pytest.fixture
def harmonization(ws, client_for):
    r = client_for(ws.researcher).post(f"{P}/", {"title": "Composites", "kind": "harmonization", "groups": []},
                                       format="json")
    assert r.status_code == 201, r.content
    from webapp.annotation.models import AnnotationProject

    return AnnotationProject.objects.get(pk=r.json()["id"])


def _counts():
    from webapp.annotation.models import Assignment, ProjectGroup
    from webapp.photos.models import Mask, Photo

    return Photo.objects.count(), Mask.objects.count(), ProjectGroup.objects.count(), Assignment.objects.count()


def _body(person, background, **extra):
    return {"person": person.pk, "background": background.pk, "x": 10, "y": 12, "scale": 0.8,
            "reference": {"box": [0, 0, 80, 20]}, "group": None, "group_name": "Beach", **extra}


def test_a_retouching_project_still_needs_groups(ws, client_for):
    r = client_for(ws.researcher).post(f"{P}/", {"title": "Empty", "groups": []}, format="json")
    assert r.status_code == 400 and "groups" in r.json()["detail"]


def test_cutout_uses_the_saved_mask(ws, client_for):
    person = ws.photos[ws.groups[0].pk][0]
    r = client_for(ws.researcher).post("/api/annotation/cutouts/", {"photo": person.pk}, format="json")
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["source"] == "mask" and data["url"]
    x0, y0, x1, y1 = data["box"]
    assert 0 < x0 < x1 < person.width and 0 < y0 < y1 <= person.height  # the blob, not the whole frame


def test_cutout_without_a_person_is_a_clear_400_and_stores_nothing(ws, background, client_for):
    before = _counts()
    r = client_for(ws.researcher).post("/api/annotation/cutouts/", {"photo": background.pk}, format="json")
    assert r.status_code == 400 and "No person" in r.json()["detail"]
    assert _counts() == before


def test_a_composite_joins_a_new_group_with_its_masks(ws, background, harmonization, client_for):
    from webapp.annotation import rendering
    from webapp.photos.models import Mask, Photo

    person = ws.photos[ws.groups[0].pk][0]
    owner = client_for(ws.researcher)
    r = owner.post(f"{P}/{harmonization.pk}/composites/", _body(person, background), format="json")
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["group"] == {"index": 0, "name": "Beach"}
    photo = Photo.objects.get(pk=data["photo"]["id"])
    assert (photo.width, photo.height) == (background.width, background.height)
    fg = rendering.mask_array(rendering.latest_mask(photo, Mask.Kind.FOREGROUND), photo.height, photo.width)
    ref = rendering.mask_array(rendering.latest_mask(photo, Mask.Kind.REFERENCE), photo.height, photo.width)
    assert fg.max() == 1.0 and ref.max() == 1.0
    assert not ((fg > 0.5) & (ref > 0.5)).any()  # the reference leaves the pasted person out
    assert ref[:20].mean() > 0.5 and ref[25:].max() == 0.0  # the box, nothing below it
    project = owner.get(f"{P}/{harmonization.pk}/").json()
    assert [g["photos"] for g in project["groups"]] == [1]
    assert sorted(a["slot"] for a in project["assignments"]) == ["a", "b", "c"]
    # A second composite with a brushed reference goes into the same group.
    brush = {"brush": [[70, 5, 6], [74, 8, 6]]}
    r = owner.post(f"{P}/{harmonization.pk}/composites/", _body(person, background, group=0, reference=brush),
                   format="json")
    assert r.status_code == 201, r.content
    assert owner.get(f"{P}/{harmonization.pk}/").json()["groups"][0]["photos"] == 2


@pytest.mark.parametrize("change,message", [
    ({"reference": {"box": [0, 0, 1, 1]}}, "2 × 2"),
    ({"reference": {"brush": [[500, 5, 6]]}}, "outside"),
    ({"reference": {"lasso": []}}, "reference must be"),
    ({"group_name": ""}, "Name the new group"),
    ({"group": 7}, "no group 7"),
    ({"x": 5000}, "does not overlap"),
    ({"scale": 50}, "scale"),
])
def test_bad_composites_are_refused_and_store_nothing(ws, background, harmonization, client_for, change, message):
    person = ws.photos[ws.groups[0].pk][0]
    before = _counts()
    r = client_for(ws.researcher).post(f"{P}/{harmonization.pk}/composites/", _body(person, background, **change),
                                       format="json")
    assert r.status_code == 400, r.content
    assert message in r.json()["detail"]
    assert _counts() == before


def test_a_reference_only_under_the_person_is_refused(ws, background, harmonization, client_for):
    person = ws.photos[ws.groups[0].pk][0]
    before = _counts()
    body = _body(person, background, x=0, y=0, scale=1.0, reference={"brush": [[30, 22, 2]]})  # the blob's centre
    r = client_for(ws.researcher).post(f"{P}/{harmonization.pk}/composites/", body, format="json")
    assert r.status_code == 400 and "under the pasted person" in r.json()["detail"]
    assert _counts() == before


def test_composites_need_a_harmonization_project_and_an_open_group(ws, background, harmonization, client_for):
    from webapp.annotation import services

    person = ws.photos[ws.groups[0].pk][0]
    owner = client_for(ws.researcher)
    retouch = make_project(ws)
    r = owner.post(f"{P}/{retouch.pk}/composites/", _body(person, background), format="json")
    assert r.status_code == 409 and "harmonization" in r.json()["detail"]
    assert owner.post(f"{P}/{harmonization.pk}/composites/", _body(person, background), format="json").status_code == 201
    a = harmonization.assignments.get(slot="a")
    a = services.assign(assignment=a, by=ws.researcher, expert_id=ws.experts[0].pk)
    edit_all(a, {"exposure": 0.1})
    services.submit(assignment=a, user=ws.experts[0])
    before = _counts()
    r = owner.post(f"{P}/{harmonization.pk}/composites/", _body(person, background, group=0), format="json")
    assert r.status_code == 409 and "submitted" in r.json()["detail"]
    assert _counts() == before
    # Another researcher's project is not found.
    from tests.unit.annotation_support import quick_user

    other = client_for(quick_user("researcher"))
    assert other.post(f"{P}/{harmonization.pk}/composites/", _body(person, background), format="json").status_code == 404


def test_settings_take_effect_and_bad_values_are_refused(ws, client_for):
    project = make_project(ws)
    owner = client_for(ws.researcher)
    r = owner.patch(f"{P}/{project.pk}/", {"qa": {"max_glc": 0.5}, "max_rounds": 2}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["qa"] == {"max_glc": 0.5, "max_clipped_fraction": 0.02, "extreme_fraction": 0.95}
    assert r.json()["max_rounds"] == 2
    for body, message in (({"qa": {"max_clipped_fraction": 1.5}}, "clipping limit"),
                          ({"qa": {"extreme_fraction": 0}}, "extreme-slider"),
                          ({"qa": {"max_glc": -1}}, "M_GLC threshold"),
                          ({"qa": {"speed": 1}}, "unknown QA setting"),
                          ({"max_rounds": 0}, "Max review rounds")):
        r = owner.patch(f"{P}/{project.pk}/", body, format="json")
        assert r.status_code == 400 and message in r.json()["detail"], (body, r.content)
    project.refresh_from_db()
    assert project.qa["max_glc"] == 0.5 and project.max_rounds == 2
    # The stricter M_GLC now fails a submission that the default would pass.
    from webapp.annotation import services

    a = services.assign(assignment=project.assignments.get(slot="a"), by=ws.researcher, expert_id=ws.experts[0].pk)
    photos = ws.photos[ws.groups[0].pk]
    services.save_params(assignment=a, photo=photos[0], params={"temperature": 40}, user=ws.experts[0])
    services.save_params(assignment=a, photo=photos[1], params={"temperature": -40}, user=ws.experts[0])
    r = client_for(ws.experts[0]).post(f"/api/annotation/assignments/{a.pk}/submit/")
    assert r.status_code == 400 and "limit 0.5" in r.json()["detail"]


def test_create_refuses_out_of_range_settings_with_field_errors(ws, client_for):
    owner = client_for(ws.researcher)
    r = owner.post(f"{P}/", {"title": "x", "groups": [ws.groups[0].pk], "duplicates": 9}, format="json")
    assert r.status_code == 400 and "Hidden duplicates" in r.json()["detail"]
    assert r.json()["errors"] == {"duplicates": ["a whole number from 0 to 5"]}


def test_brushed_issue_regions(ws, client_for):
    from webapp.annotation import services

    project = make_project(ws)
    a = services.assign(assignment=project.assignments.get(slot="a"), by=ws.researcher, expert_id=ws.experts[0].pk)
    edit_all(a)
    services.submit(assignment=a, user=ws.experts[0])
    photo = ws.photos[ws.groups[0].pk][0]
    reviewer = client_for(ws.reviewers[0])
    too_many = [[5, 5, 3]] * 501
    for brush, message in ((too_many, "at most 500"), ([[5, 5]], "[x, y, radius]"), ([[5, 5, 0]], "radius")):
        r = reviewer.post(f"/api/annotation/assignments/{a.pk}/review/", {
            "decision": "changes_requested", "issues": [{"photo": photo.pk, "comment": "c", "region": {"brush": brush}}]},
            format="json")
        assert r.status_code == 400 and message in r.json()["detail"], r.content
    dabs = [[10 + i, 12, 4] for i in range(300)]  # more than a click list takes (200)
    dabs = [[min(x, photo.width - 1), y, r] for x, y, r in dabs]
    r = reviewer.post(f"/api/annotation/assignments/{a.pk}/review/", {
        "decision": "changes_requested", "issues": [{"photo": photo.pk, "comment": "the cheek", "region": {"brush": dabs}}]},
        format="json")
    assert r.status_code == 200, r.content
    issue = client_for(ws.experts[0]).get(f"/api/annotation/assignments/{a.pk}/").json()["issues"][0]
    assert len(issue["region"]["brush"]) == 300 and issue["region"]["brush"][0] == [10.0, 12.0, 4.0]
