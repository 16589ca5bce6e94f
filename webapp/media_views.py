"""``/media/<path>``: each stored file is served only to those who may see the object that owns it.

The path is normalised first (``.``, ``..``, doubled slashes, backslashes), so no spelling of a
path reaches a file its plain spelling would not. Then the first folder names the owner:

* ``photos/{originals,working,display}/<f>``: the photo whose field holds it, if the user may see
  that photo (``photos_visible_to``); ``photos/masks/<f>``: the mask's photo, likewise;
* ``jobs/<job id>/<f>``: one of the job's outputs, for the job's owner (job output names carry a
  random part, so they cannot be guessed either);
* ``sessions/<session id>/<f>``: the interactive session's owner;
* anything else, study images included (participants get opaque per-trial URLs from the study
  API), is never served here.

Anonymous callers get 403; everyone else gets 404 for a file they may not see or that does not
exist (the two are not told apart).

``?download=<name>`` serves the file as an attachment saved under that name (the /try/ pages ask
for ``<photo>-retouched.png`` and the like); the stored file's extension always ends it.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
import uuid

from django.core.files.storage import default_storage
from django.http import FileResponse
from rest_framework.exceptions import AuthenticationFailed

from webapp.accounts.tokens import ExpiringTokenAuthentication
from webapp.interactive.models import InteractiveSession
from webapp.jobs.models import Job
from webapp.photos.selectors import photos_visible_to
from webapp.refusal import Forbidden, NotFound

PHOTO_FIELDS = {"originals": "original", "working": "working", "display": "display"}


def normalise(path: str) -> str | None:
    """The canonical relative path, or None when it leaves the media folder or is not a file name."""
    if "\x00" in path or "\\" in path:
        return None
    clean = posixpath.normpath("/" + path).lstrip("/")
    if not clean or clean == "." or clean.endswith("/") or path.endswith("/"):
        return None
    return clean


def _photo_file(user, parts: list[str], path: str) -> bool:
    if parts[1] == "masks":
        return photos_visible_to(user).filter(masks__file=path).exists()
    field = PHOTO_FIELDS.get(parts[1])
    return field is not None and photos_visible_to(user).filter(**{field: path}).exists()


def _job_file(user, parts: list[str], path: str) -> bool:
    if not parts[1].isascii() or not parts[1].isdigit() or len(parts[1]) > 18:
        return False
    job = Job.objects.filter(pk=int(parts[1])).only("owner_id", "outputs").first()
    if job is None or (job.owner_id != user.pk and not user.is_superuser):
        return False
    return any(output.get("path") == path for output in job.outputs or [])


def _session_file(user, parts: list[str], path: str) -> bool:
    try:
        session_id = uuid.UUID(parts[1])
    except ValueError:
        return False
    sessions = InteractiveSession.objects.filter(pk=session_id)
    if not user.is_superuser:
        sessions = sessions.filter(owner=user)
    return sessions.exists()


OWNERS = {"photos": _photo_file, "jobs": _job_file, "sessions": _session_file}


def may_see(user, path: str) -> bool:
    parts = path.split("/")
    check = OWNERS.get(parts[0])
    return len(parts) == 3 and check is not None and check(user, parts, path)


def _user(request):
    if request.user.is_authenticated:
        return request.user
    try:
        result = ExpiringTokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        result = None
    return result[0] if result else request.user


def download_name(asked: str, path: str) -> str | None:
    """The file name to save ``path`` under, from ``?download=``: letters, digits and ``-_.() `` only,
    at most 120 characters, ending in the stored file's own extension; None when nothing is left."""
    stem = posixpath.basename(asked.replace("\\", "/")).strip()
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", stem)
    stem = re.sub(r"[^\w\-. ()]+", "-", stem).strip(" .-")[:120]
    return f"{stem}{posixpath.splitext(path)[1]}" if stem else None


def serve_media(request, path: str):
    user = _user(request)
    if not user.is_authenticated or not user.is_active:
        raise Forbidden("Sign in to see this file.")
    clean = normalise(path)
    if clean is None or not may_see(user, clean) or not default_storage.exists(clean):
        raise NotFound("No such file.")
    content_type = mimetypes.guess_type(clean)[0] or "application/octet-stream"
    save_as = download_name(request.GET.get("download", ""), clean)
    response = FileResponse(default_storage.open(clean, "rb"), content_type=content_type,
                            as_attachment=save_as is not None, filename=save_as or posixpath.basename(clean))
    response["Cache-Control"] = "private, max-age=3600"
    return response
