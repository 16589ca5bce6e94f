"""Template context every page gets (settings: TEMPLATES' context_processors)."""

from django.conf import settings


def upload_limits(request):
    """The upload size limit, so pages can refuse a file before sending it (base.html's meta tag,
    read by frontend/static/js/upload-limit.js); the server still checks every upload."""
    return {"upload_max_bytes": settings.UPLOAD_MAX_BYTES}
