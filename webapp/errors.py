"""Every error gets a page: Django's handler400/403/404/500 (``webapp/urls.py``) answer HTML pages in
the site's style, and JSON (``{"detail"}``, as ``webapp.exception_handler`` answers refusals) under
``/api/``, where clients read JSON. Participant pages (``/s/...``) get the participant look, without
the site's navigation: a participant who followed a bad study link should not land in the researchers'
site. A closed study's page is ``studies.page_views.participate`` with status 410.
"""

from __future__ import annotations

import logging

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

log = logging.getLogger("django.request")

# status → (title, what happened and what to do), for the page and the JSON detail
MESSAGES = {
    400: ("Bad request", "The request could not be understood. Check the address, or go back and try again."),
    403: ("Not allowed", "You do not have access to this page. Sign in with an account that may see it."),
    404: ("Page not found", "There is nothing at this address. Check the link you were given; it may be "
                            "incomplete or out of date."),
    410: ("Study closed", "This study is closed and no longer accepts participants. Thank you for your interest."),
    500: ("Something went wrong", "The server hit an error and could not finish your request. It has been "
                                  "logged; please try again in a minute."),
}
PARTICIPANT_404 = ("Study not found", "This study link does not lead to a study. Check that you copied the whole "
                                      "link from the platform that sent you here, or return to that platform.")


def _participant(request) -> bool:
    return request.path.startswith("/s/")


def error_response(request, status: int, detail: str | None = None) -> HttpResponse:
    """The error's page (or JSON under /api/)."""
    title, message = PARTICIPANT_404 if status == 404 and _participant(request) else MESSAGES[status]
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": detail or message}, status=status)
        response["Cache-Control"] = "no-store"
        return response
    template = "errors/participant_error.html" if _participant(request) else "errors/error.html"
    context = {"status": status, "title": title, "message": message}
    try:  # the request's context (user, nav) when it can be had; a 500 may come from that very code
        html = render_to_string(template, context, request=request)
    except Exception:
        log.exception("error page with the request's context failed")
        html = render_to_string(template, context)
    return HttpResponse(html, status=status)


def bad_request(request, exception=None):
    return error_response(request, 400)


def permission_denied(request, exception=None):
    return error_response(request, 403)


def page_not_found(request, exception=None):
    return error_response(request, 404)


def server_error(request):
    return error_response(request, 500)
