"""Every endpoint × every role, anonymous included: who may do what."""

import pytest

ROLES = [None, "researcher", "expert", "reviewer"]

# (method, url template, body, {role: expected status}); "photo" and "job" are filled per test.
MATRIX = [
    ("get", "/api/health/", None, {None: 200, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("get", "/api/me/", None, {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("get", "/api/photos/", None, {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("post", "/api/photos/", "upload", {None: 401, "researcher": 201, "expert": 403, "reviewer": 403}),
    ("get", "/api/photos/{photo}/", None, {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("get", "/api/photos/{photo}/masks/", None, {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("post", "/api/photos/{photo}/masks/", "mask", {None: 401, "researcher": 201, "expert": 403, "reviewer": 403}),
    ("get", "/api/groups/", None, {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("post", "/api/groups/", {"name": "g"}, {None: 401, "researcher": 201, "expert": 403, "reviewer": 403}),
    ("get", "/api/engines/", None, {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("get", "/api/jobs/", None, {None: 401, "researcher": 200, "expert": 200, "reviewer": 403}),
    ("post", "/api/jobs/", "job", {None: 401, "researcher": 201, "expert": 201, "reviewer": 403}),
    ("get", "/api/jobs/{job}/", None, {None: 401, "researcher": 200, "expert": 404, "reviewer": 403}),
    ("post", "/api/jobs/{job}/cancel/", None, {None: 401, "researcher": 200, "expert": 404, "reviewer": 403}),
]


def _body(kind, photo, sample_png):
    from django.core.files.uploadedfile import SimpleUploadedFile

    if kind == "upload":
        return {"file": SimpleUploadedFile("p.png", sample_png)}, "multipart"
    if kind == "mask":
        import numpy as np

        from tests.conftest import png_bytes

        mask = np.zeros((photo.height, photo.width, 3), np.uint8)
        mask[4:20, 4:20] = 255
        return {"file": SimpleUploadedFile("m.png", png_bytes(mask)), "kind": "human"}, "multipart"
    if kind == "job":
        return {"engine": "adjust", "inputs": {"photo": photo.pk}, "params": {"exposure": 0.5}}, "json"
    return kind, "json"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,url,body,expected", MATRIX, ids=[f"{m} {u}" for m, u, _, _ in MATRIX])
def test_endpoint_role_matrix(role, method, url, body, expected, client_for, make_user, uploaded_photo,
                              sample_png):
    from webapp.jobs.services import create_job

    owner = uploaded_photo.owner
    job = create_job(owner=owner, engine="adjust", inputs={"photo": uploaded_photo.pk}, params={})
    user = None
    if role == "researcher":
        user = owner  # the job's owner; other researchers get 404 for it (tested below)
    elif role:
        user = make_user(role)
    client = client_for(user)
    data, fmt = (None, None) if body is None else _body(body, uploaded_photo, sample_png)
    response = getattr(client, method)(url.format(photo=uploaded_photo.pk, job=job.pk), data, format=fmt)
    assert response.status_code == expected[role], response.content[:300]
    if response.status_code >= 400:
        assert "detail" in response.json()


@pytest.mark.django_db(transaction=True)
def test_a_researcher_cannot_see_or_cancel_another_researchers_job(client_for, make_user, uploaded_photo):
    from webapp.jobs.services import create_job

    job = create_job(owner=uploaded_photo.owner, engine="adjust", inputs={"photo": uploaded_photo.pk})
    stranger = client_for(make_user("researcher"))
    assert stranger.get(f"/api/jobs/{job.pk}/").status_code == 404
    assert stranger.post(f"/api/jobs/{job.pk}/cancel/").status_code == 404
    assert stranger.get("/api/jobs/").json()["count"] == 0


@pytest.mark.django_db
def test_media_needs_a_staff_role(client, client_for, make_user, uploaded_photo):
    url = uploaded_photo.display.url
    assert client.get(url).status_code == 403
    response = client_for(make_user("reviewer")).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"  # a JPEG


@pytest.mark.django_db
def test_media_refuses_path_traversal(client_for, researcher):
    response = client_for(researcher).get("/media/../../etc/passwd")
    assert response.status_code == 404


@pytest.mark.django_db
def test_pages_need_sign_in(client, make_user):
    assert client.get("/").status_code == 200
    assert client.get("/photos/").status_code == 302
    client.force_login(make_user("researcher"))
    assert client.get("/photos/").status_code == 200


# --- the annotation workspace: slot "a" of a one-group project, submitted and in review ---------------
ANNOTATION_MATRIX = [
    ("get", "/api/annotation/assignments/", None, {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("get", "/api/annotation/assignments/{a}/", None, {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("post", "/api/annotation/assignments/{a}/assign/", "assign",
     {None: 401, "researcher": 409, "expert": 403, "reviewer": 403}),
    ("post", "/api/annotation/assignments/{a}/reopen/", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("post", "/api/annotation/assignments/{a}/submit/", None, {None: 401, "researcher": 403, "expert": 409, "reviewer": 403}),
    ("post", "/api/annotation/assignments/{a}/review/", {"decision": "accept"},
     {None: 401, "researcher": 403, "expert": 403, "reviewer": 200}),
    ("get", "/api/annotation/assignments/{a}/review/", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 200}),
    ("post", "/api/annotation/assignments/{a}/sync/", "sync", {None: 401, "researcher": 403, "expert": 409, "reviewer": 403}),
    ("post", "/api/annotation/assignments/{a}/match-tone/", {}, {None: 401, "researcher": 403, "expert": 409, "reviewer": 403}),
    ("post", "/api/annotation/assignments/{a}/xmp/", "xmp_files",
     {None: 401, "researcher": 403, "expert": 409, "reviewer": 403}),
    ("post", "/api/annotation/assignments/{a}/issues/{issue}/resolve/", {},
     {None: 401, "researcher": 403, "expert": 409, "reviewer": 403}),
    ("get", "/api/annotation/assignments/{a}/photos/{p}/params", None,
     {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("put", "/api/annotation/assignments/{a}/photos/{p}/params", {"params": {"exposure": 0.5}},
     {None: 401, "researcher": 403, "expert": 409, "reviewer": 403}),
    ("get", "/api/annotation/assignments/{a}/photos/{p}/history", None,
     {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("get", "/api/annotation/assignments/{a}/photos/{p}/xmp", None,
     {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("put", "/api/annotation/assignments/{a}/photos/{p}/xmp", "xmp",
     {None: 401, "researcher": 403, "expert": 409, "reviewer": 403}),
    ("get", "/api/annotation/assignments/{a}/photos/{p}/mask", None,
     {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("post", "/api/annotation/assignments/{a}/photos/{p}/mask", {"clicks": [{"x": 5, "y": 5, "positive": True}]},
     {None: 401, "researcher": 403, "expert": 409, "reviewer": 403}),
    ("post", "/api/annotation/assignments/{a}/photos/{p}/crop", {"params": {"exposure": 0.5}, "box": [0, 0, 8, 8]},
     {None: 401, "researcher": 200, "expert": 200, "reviewer": 200}),
    ("get", "/api/annotation/projects/", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 200}),
    ("post", "/api/annotation/projects/", "project", {None: 401, "researcher": 201, "expert": 403, "reviewer": 403}),
    ("get", "/api/annotation/projects/{project}/", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 200}),
    ("patch", "/api/annotation/projects/{project}/", {"max_rounds": 3, "qa": {"max_glc": 25}},
     {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("post", "/api/annotation/cutouts/", "cutout", {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("post", "/api/annotation/projects/{project}/composites/", "composite",  # a retouching project takes none
     {None: 401, "researcher": 409, "expert": 403, "reviewer": 403}),
    ("post", "/api/annotation/projects/{project}/freeze/", None,
     {None: 401, "researcher": 409, "expert": 403, "reviewer": 403}),
    ("get", "/api/annotation/projects/{project}/agreement/", None,
     {None: 401, "researcher": 200, "expert": 403, "reviewer": 200}),
    ("get", "/api/annotation/projects/{project}/dashboard/", None,
     {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("get", "/api/annotation/projects/{project}/dashboard.csv", None,
     {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("get", "/api/annotation/projects/{project}/export/", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("post", "/api/annotation/projects/{project}/export/", {"sizes": ["360p"]},
     {None: 401, "researcher": 409, "expert": 403, "reviewer": 403}),
]


@pytest.fixture
def in_review(make_user):
    from tests.unit.annotation_support import edit_all, make_project, make_workspace
    from webapp.annotation import services
    from webapp.annotation.models import ReviewIssue

    ws = make_workspace(make_user, per_group=2)
    project = make_project(ws)
    a = project.assignments.get(slot="a")
    a = services.assign(assignment=a, by=ws.researcher, expert_id=ws.experts[0].pk, reviewer_id=ws.reviewers[0].pk)
    edit_all(a)
    a = services.submit(assignment=a, user=ws.experts[0])
    issue = ReviewIssue.objects.create(assignment=a, author=ws.reviewers[0], round=1, comment="warmer")
    return ws, project, a, issue


def _annotation_body(kind, ws, photo):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from inference.xmp import write_xmp

    if kind == "assign":
        return {"expert": ws.experts[0].pk}, "json"
    if kind == "sync":
        return {"from": photo.pk, "photos": [photo.pk], "keys": ["exposure"]}, "json"
    if kind == "xmp":
        return write_xmp({"exposure": 0.5}), "xmp"
    if kind == "xmp_files":
        return {"files": [SimpleUploadedFile(photo.original_name.replace(".png", ".xmp"),
                                             write_xmp({"exposure": 0.5}).encode())]}, "multipart"
    if kind == "project":
        return {"title": "Another", "groups": [ws.groups[0].pk]}, "json"
    if kind == "cutout":
        return {"photo": photo.pk}, "json"
    if kind == "composite":
        other = ws.photos[ws.groups[0].pk][1]
        return {"person": photo.pk, "background": other.pk, "x": 0, "y": 0, "scale": 1,
                "reference": {"box": [0, 0, 10, 10]}, "group_name": "g"}, "json"
    return kind, "json"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,url,body,expected", ANNOTATION_MATRIX, ids=[f"{m} {u}" for m, u, _, _ in ANNOTATION_MATRIX])
def test_annotation_endpoint_role_matrix(role, method, url, body, expected, client_for, in_review):
    ws, project, a, issue = in_review
    user = {None: None, "researcher": ws.researcher, "expert": ws.experts[0], "reviewer": ws.reviewers[0]}[role]
    client = client_for(user)
    photo = ws.photos[ws.groups[0].pk][0]
    path = url.format(a=a.pk, p=photo.pk, project=project.pk, issue=issue.pk)
    data, fmt = (None, None) if body is None else _annotation_body(body, ws, photo)
    if fmt == "xmp":
        response = getattr(client, method)(path, data, content_type="application/rdf+xml")
    else:
        response = getattr(client, method)(path, data, format=fmt)
    assert response.status_code == expected[role], response.content[:300]
    if response.status_code >= 400:
        assert "detail" in response.json()


@pytest.mark.django_db
def test_annotation_work_of_others_is_not_found(client_for, make_user, in_review):
    ws, project, a, _issue = in_review
    photo = ws.photos[ws.groups[0].pk][0]
    for user in (ws.experts[1], make_user("researcher"), ws.reviewers[1]):
        client = client_for(user)
        assert client.get(f"/api/annotation/assignments/{a.pk}/photos/{photo.pk}/params").status_code == 404
        assert client.get(f"/api/annotation/projects/{project.pk}/dashboard/").status_code in (403, 404)
    # A reviewer sees another's review only once it is theirs or unclaimed; the researcher of another
    # project sees nothing of this one.
    assert client_for(make_user("researcher")).get(f"/api/annotation/projects/{project.pk}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_annotation_project_socket_roles(make_user, in_review):
    from tests.unit.test_studies_socket import _open

    ws, project, _a, _issue = in_review
    path = f"/ws/annotation/projects/{project.pk}/"
    assert _open(path, None) == (4401, None)
    assert _open(path, ws.experts[0]) == (4403, None)
    assert _open(path, make_user("researcher")) == (4404, None)
    assert _open(path, ws.researcher) == (None, {"type": "hello", "project": project.pk})
    assert _open(path, ws.reviewers[0]) == (None, {"type": "hello", "project": project.pk})


# --- user studies: the researcher's item and export endpoints on a draft study of theirs ----------------
STUDY_MATRIX = [
    ("get", "/api/studies/{study}/responses.csv", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("get", "/api/studies/{study}/items/{item}/", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("delete", "/api/studies/{study}/items/{item}/", None,
     {None: 401, "researcher": 204, "expert": 403, "reviewer": 403}),
    ("post", "/api/studies/{study}/items/", "item", {None: 401, "researcher": 201, "expert": 403, "reviewer": 403}),
    # participants' end questionnaire: their token, never a user's role
    ("post", "/api/participate/questionnaire/", None, {None: 401, "researcher": 401, "expert": 401, "reviewer": 401}),
]


@pytest.fixture
def draft_study(researcher):
    from studies import setup
    from tests.unit.studies_support import items_archive

    study = setup.create_study(owner=researcher, title="Draft")
    setup.import_archive(study, items_archive())
    return study


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,url,body,expected", STUDY_MATRIX, ids=[f"{m} {u}" for m, u, _, _ in STUDY_MATRIX])
def test_study_endpoint_role_matrix(role, method, url, body, expected, client_for, make_user, draft_study, sample_png):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.unit.studies_support import METHODS

    user = draft_study.owner if role == "researcher" else make_user(role) if role else None
    path = url.format(study=draft_study.pk, item=draft_study.items.first().pk)
    data, fmt = None, None
    if body == "item":
        data = {"name": "one more", "subset": "S1", "input": SimpleUploadedFile("in.png", sample_png),
                **{f"output:{m}": SimpleUploadedFile(f"{m}.png", sample_png) for m in METHODS}}
        fmt = "multipart"
    response = getattr(client_for(user), method)(path, data, format=fmt)
    assert response.status_code == expected[role], response.content[:300]
    if response.status_code >= 400:
        assert "detail" in response.json()


@pytest.mark.django_db
def test_another_researchers_study_items_and_responses_are_not_found(client_for, make_user, draft_study):
    stranger = client_for(make_user("researcher"))
    item = draft_study.items.first()
    assert stranger.get(f"/api/studies/{draft_study.pk}/responses.csv").status_code == 404
    assert stranger.get(f"/api/studies/{draft_study.pk}/items/{item.pk}/").status_code == 404
    assert stranger.delete(f"/api/studies/{draft_study.pk}/items/{item.pk}/").status_code == 404
    assert draft_study.items.filter(pk=item.pk).exists()


# --- the model registry: a frozen one-group dataset and a ready (untrained) version of its owner -----
REGISTRY_MATRIX = [
    ("get", "/api/models/", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("get", "/api/models/datasets/", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("post", "/api/models/train/", "train", {None: 401, "researcher": 201, "expert": 403, "reviewer": 403}),
    # an empty upload form reaches the researcher's check of the zip (400: no file), nobody else's
    ("post", "/api/models/datasets/", {}, {None: 401, "researcher": 400, "expert": 403, "reviewer": 403}),
    ("post", "/api/models/train/", "train_upload", {None: 401, "researcher": 201, "expert": 403, "reviewer": 403}),
    ("get", "/api/models/{run}/", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
    ("post", "/api/models/{run}/resume/", None, {None: 401, "researcher": 409, "expert": 403, "reviewer": 403}),
    ("post", "/api/models/{run}/study/", {}, {None: 401, "researcher": 409, "expert": 403, "reviewer": 403}),
    ("get", "/api/models/{run}/provenance/", None, {None: 401, "researcher": 200, "expert": 403, "reviewer": 403}),
]


@pytest.fixture
def registry_run(settings, tmp_path):
    from tests.unit.annotation_support import assign_all, edit_all, make_project, make_workspace
    from webapp.annotation import services
    from webapp.jobs.models import Job
    from webapp.registry.models import TrainingRun

    settings.MODEL_DIR = tmp_path / "models"
    ws = make_workspace(per_group=1)
    project = make_project(ws)
    for a in assign_all(ws, project):
        edit_all(a)
        services.submit(assignment=a, user=a.expert)
        services.review(assignment=a, user=ws.reviewers[0], decision="accept")
    project = services.freeze(project=project, by=ws.researcher)
    job = Job.objects.create(owner=ws.researcher, engine="training", engine_version="7", queue="gpu")
    run = TrainingRun.objects.create(owner=ws.researcher, project=project, dataset_version=1, engine="retouch.lut",
                                     version="7", expert="a", steps=5, job=job, jobs=[job.pk], status="ready")
    return ws, project, run


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,url,body,expected", REGISTRY_MATRIX, ids=[f"{m} {u}" for m, u, _, _ in REGISTRY_MATRIX])
def test_registry_endpoint_role_matrix(role, method, url, body, expected, client_for, registry_run):
    ws, project, run = registry_run
    user = {None: None, "researcher": ws.researcher, "expert": ws.experts[0], "reviewer": ws.reviewers[0]}.get(role)
    if user is None and role is not None:  # a role this matrix does not list: refused like an expert
        from tests.unit.annotation_support import quick_user

        user, expected = quick_user(role), {**expected, role: expected["expert"]}
    if body == "train":
        body = {"dataset": project.pk, "model": "retouch.lut", "expert": "a", "steps": 3}
    if body == "train_upload":  # an uploaded PPR10K zip of the researcher's (the row is what train checks)
        from webapp.registry.models import DatasetUpload

        upload = DatasetUpload.objects.create(owner=ws.researcher, name="shoot.zip", path="/nonexistent",
                                              sha256="0" * 64, experts=["a"], counts={"train": 1, "val": 0})
        body = {"upload": upload.pk, "model": "retouch.lut", "expert": "a", "steps": 3}
    response = getattr(client_for(user), method)(url.format(run=run.pk), body, format="json")
    assert response.status_code == expected[role], response.content[:300]
    if response.status_code >= 400:
        assert "detail" in response.json()


@pytest.mark.django_db
def test_a_researcher_cannot_see_another_researchers_model_version(client_for, registry_run, make_user):
    ws, project, run = registry_run
    stranger = client_for(make_user("researcher"))
    for method, url in (("get", "/api/models/{}/"), ("get", "/api/models/{}/provenance/"),
                        ("post", "/api/models/{}/resume/"), ("post", "/api/models/{}/study/")):
        assert getattr(stranger, method)(url.format(run.pk), {}, format="json").status_code == 404
    assert all(m["id"] != run.pk for m in stranger.get("/api/models/").json()["results"])
    assert stranger.get("/api/models/datasets/").json()["results"] == []


# --- guests of "Try it online" (webapp/accounts/guests.py): the same endpoints, deny by default --------
# A guest sees its own photos and the samples (not the researcher's photo or job used above), runs the
# try pages' engines only (not "adjust"), and reaches nothing else: any endpoint not named here is 403.
GUEST_EXPECTED = {
    ("get", "/api/health/"): 200,
    ("get", "/api/me/"): 200,
    ("get", "/api/photos/"): 200,
    ("post", "/api/photos/"): 201,
    ("get", "/api/photos/{photo}/"): 404,
    ("get", "/api/photos/{photo}/masks/"): 404,
    ("post", "/api/photos/{photo}/masks/"): 404,
    ("get", "/api/jobs/"): 200,
    ("post", "/api/jobs/"): 403,  # "adjust" is not one of GUEST_ENGINES
    ("get", "/api/jobs/{job}/"): 404,
    ("post", "/api/jobs/{job}/cancel/"): 404,
}


def _guest(make_user):
    from datetime import timedelta

    from webapp.accounts.models import GuestPass

    guest = make_user("guest")
    GuestPass.objects.create(user=guest, address_digest="x", expires_at=guest.date_joined + timedelta(hours=24))
    return guest


@pytest.mark.django_db
@pytest.mark.parametrize("method,url,body,expected", MATRIX, ids=[f"{m} {u}" for m, u, _, _ in MATRIX])
def test_endpoint_matrix_for_guests(method, url, body, expected, client_for, make_user, uploaded_photo, sample_png):
    from webapp.jobs.services import create_job

    job = create_job(owner=uploaded_photo.owner, engine="adjust", inputs={"photo": uploaded_photo.pk}, params={})
    client = client_for(_guest(make_user))
    data, fmt = (None, None) if body is None else _body(body, uploaded_photo, sample_png)
    response = getattr(client, method)(url.format(photo=uploaded_photo.pk, job=job.pk), data, format=fmt)
    assert response.status_code == GUEST_EXPECTED.get((method, url), 403), response.content[:300]
    if response.status_code >= 400:
        assert "detail" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("method,url,body,expected", ANNOTATION_MATRIX, ids=[f"{m} {u}" for m, u, _, _ in ANNOTATION_MATRIX])
def test_annotation_endpoints_are_closed_to_guests(method, url, body, expected, client_for, make_user, in_review):
    ws, project, a, issue = in_review
    photo = ws.photos[ws.groups[0].pk][0]
    path = url.format(a=a.pk, p=photo.pk, project=project.pk, issue=issue.pk)
    data, fmt = (None, None) if body is None else _annotation_body(body, ws, photo)
    client = client_for(_guest(make_user))
    if fmt == "xmp":
        response = getattr(client, method)(path, data, content_type="application/rdf+xml")
    else:
        response = getattr(client, method)(path, data, format=fmt)
    assert response.status_code == 403, response.content[:300]


def _api_paths():
    """Every /api/ route of the URL conf with its parameters filled in (ids that exist or not: a guest
    must be refused before anything is looked up)."""
    import re

    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern)

    for route in walk(get_resolver().url_patterns):
        if not route.startswith("api/") or "(?P" in route or route.startswith("^"):
            continue  # regex routes: /media/ and the participants' hot path (tokens, not users)
        yield "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: {"uuid": "00000000-0000-0000-0000-000000000000",
                                                          "str": "x", "slug": "x"}.get(m.group(1), "1"), route)


# What guests may reach: their own things, the try pages' engines, and what is public anyway (the health
# probe, the schema, the participants' API: study participants are anonymous by design).
GUEST_REACHABLE = ("/api/health/", "/api/schema/", "/api/me/", "/api/auth/", "/api/photos/", "/api/jobs/",
                   "/api/sessions/", "/api/composites/", "/api/participate/")


@pytest.mark.django_db
def test_every_other_api_endpoint_refuses_guests(client_for, make_user):
    client = client_for(_guest(make_user))
    checked = 0
    for path in _api_paths():
        if path.startswith(GUEST_REACHABLE):
            continue
        for method in ("get", "post", "put", "delete"):
            response = getattr(client, method)(path, {}, format="json")
            assert response.status_code in (403, 405), (method, path, response.status_code)  # 405: no such handler
        checked += 1
    assert checked >= 30  # studies, annotation, groups, engines, …
