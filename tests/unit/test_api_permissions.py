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
