"""The editor's 1:1 view: ``POST …/photos/<id>/crop`` renders the current parameters on a region of
the full-resolution original (docs/annotation.md, *1:1 zoom*)."""

import io

import numpy as np
import pytest
from PIL import Image

from inference.imageio import to_uint8
from tests.unit.annotation_support import make_project, make_workspace

pytestmark = pytest.mark.django_db

SIZE = (480, 400)  # the working proxy is 360 px on the short side: smaller than the original


@pytest.fixture
def assigned(make_user):
    from webapp.annotation import services

    ws = make_workspace(make_user, per_group=1, size=SIZE)
    project = make_project(ws)
    a = project.assignments.get(slot="a")
    a = services.assign(assignment=a, by=ws.researcher, expert_id=ws.experts[0].pk)
    return ws, a, ws.photos[ws.groups[0].pk][0]


def _crop(client, a, photo, body):
    return client.post(f"/api/annotation/assignments/{a.pk}/photos/{photo.pk}/crop", body, format="json")


@pytest.mark.parametrize("params", [
    {"exposure": 0.6, "temperature": 25, "tone_curve": [[0.25, 0.2], [0.7, 0.8]]},
    {"clarity": 60, "dehaze": 30, "contrast": 20},  # neighbourhood sliders: radii of the whole image
])
def test_crop_equals_the_server_render_of_the_original_cut_to_the_box(assigned, client_for, params):
    from webapp.annotation import rendering

    ws, a, photo = assigned
    assert (photo.width, photo.height) == SIZE
    box = [37, 51, 203, 149]
    response = _crop(client_for(ws.experts[0]), a, photo, {"params": params, "box": box})
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "image/png"
    got = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    x, y, w, h = box
    full = to_uint8(rendering.render(photo, params, size="original"))
    assert got.shape == (h, w, 3)
    assert np.array_equal(got, full[y:y + h, x:x + w])
    # …and it is the edit, not the untouched original
    original = to_uint8(rendering.source(photo, "original"))[y:y + h, x:x + w]
    assert np.abs(got.astype(int) - original).mean() > 3


def test_the_reviewer_and_the_researcher_may_look_too_but_nothing_is_stored(assigned, client_for):
    from webapp.annotation.models import Edit

    ws, a, photo = assigned
    for user in (ws.researcher, ws.experts[0]):
        assert _crop(client_for(user), a, photo, {"params": {}, "box": [0, 0, 10, 10]}).status_code == 200
    assert not Edit.objects.filter(assignment=a).exists()
    assert _crop(client_for(ws.experts[1]), a, photo, {"params": {}, "box": [0, 0, 10, 10]}).status_code == 404


@pytest.mark.parametrize("body,message", [
    ({"params": {}, "box": [0, 0, 481, 10]}, "not inside the photo"),
    ({"params": {}, "box": [-1, 0, 10, 10]}, "not inside the photo"),
    ({"params": {}, "box": [0, 0, 0, 10]}, "not inside the photo"),
    ({"params": {}, "box": [0, 0, 10]}, "box must be"),
    ({"params": {}, "box": [0, 0, 10.5, 10]}, "box must be"),
    ({"params": {}, "box": [0, True, 10, 10]}, "box must be"),
    ({"params": {}}, "box must be"),
    ({"params": {"exposure": 9}, "box": [0, 0, 10, 10]}, "exposure"),
    ({"params": {"tone_curve": "s-curve"}, "box": [0, 0, 10, 10]}, "tone_curve"),
])
def test_bad_requests_are_clear_400s(assigned, client_for, body, message):
    ws, a, photo = assigned
    response = _crop(client_for(ws.experts[0]), a, photo, body)
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_a_box_larger_than_the_limit_is_refused(assigned, client_for, monkeypatch):
    from webapp.annotation import views

    ws, a, photo = assigned
    monkeypatch.setattr(views, "MAX_CROP_PIXELS", 100)
    response = _crop(client_for(ws.experts[0]), a, photo, {"params": {}, "box": [0, 0, 20, 20]})
    assert response.status_code == 400 and "at most 100 px" in response.json()["detail"]


def test_a_pan_decodes_the_original_once(assigned, client_for, monkeypatch):
    """Crop after crop of one photo (a pan) reuses the decoded original; another photo replaces it."""
    from webapp.annotation import rendering

    ws, a, photo = assigned
    decoded = []
    real = rendering.source
    monkeypatch.setattr(rendering, "source", lambda p, size="working": decoded.append(p.pk) or real(p, size))
    monkeypatch.setattr(rendering, "_last_original", rendering._LastOriginal())
    client = client_for(ws.experts[0])
    for x in (0, 40, 80):
        response = _crop(client, a, photo, {"params": {"clarity": 40}, "box": [x, 10, 100, 80]})
        assert response.status_code == 200
    assert decoded == [photo.pk]
    assert not rendering._last_original.get(photo).flags.writeable  # no render can change it
