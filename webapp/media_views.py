"""Media files go through a permission check: only staff roles read stored photos and outputs.

Study images are never served from here: participants get opaque per-trial URLs instead.
"""

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseForbidden
from django.utils._os import safe_join
from rest_framework.authentication import TokenAuthentication

from webapp.accounts.permissions import user_has_role


def serve_media(request, path: str):
    user = request.user
    if not user.is_authenticated:
        try:
            result = TokenAuthentication().authenticate(request)
        except Exception:
            result = None
        if result:
            user = result[0]
    if not user_has_role(user, "researcher", "expert", "reviewer"):
        return HttpResponseForbidden("Sign in to see this file.")
    if path.startswith("studies/"):
        return HttpResponseForbidden("Study images are served through the study API.")
    try:
        safe_join(str(default_storage.location), path)
    except Exception:
        raise Http404("No such file.") from None
    if not default_storage.exists(path):
        raise Http404("No such file.")
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
