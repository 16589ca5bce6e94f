"""``/media/<path>?download=<name>``: saved under the asked name (Content-Disposition: attachment),
cleaned, always with the stored file's extension; without it the file is shown inline as before."""

from __future__ import annotations

import pytest

from webapp.media_views import download_name


@pytest.mark.parametrize(("asked", "expected"), [
    ("portrait-retouched.png", "portrait-retouched.jpg"),     # the stored extension wins
    ("../../etc/passwd", "passwd.jpg"),                       # a path keeps its last part only
    ('a"b;c\r\nd', "a-b-c-d.jpg"),                            # no header injection
    ("Zoë's photo (1)", "Zoë-s photo (1).jpg"),
    ("", None), ("...", None),
    ("x" * 300, "x" * 120 + ".jpg"),
])
def test_download_name(asked, expected):
    assert download_name(asked, "jobs/1/abc-image.jpg") == expected


@pytest.mark.django_db
def test_media_download_is_an_attachment_with_the_asked_name(client_for, researcher, uploaded_photo):
    client = client_for(researcher)
    url = uploaded_photo.display.url
    shown = client.get(url)
    assert shown.status_code == 200 and shown["Content-Disposition"].startswith("inline")
    saved = client.get(url, {"download": "sample-retouched.png"})
    assert saved.status_code == 200
    assert saved["Content-Disposition"] == 'attachment; filename="sample-retouched.jpg"'
