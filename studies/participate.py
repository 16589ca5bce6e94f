"""The participant API as plain Django views (no session, no CSRF: nothing here trusts a cookie; no DRF).
Participants are not users: each call sends ``X-Participant-Token``. Refusals raised here become
``{"detail"}`` responses in ``webapp.exception_handler.RefusalMiddleware``.

The two hot calls, ``next/`` and the vote, are ``studies.hot_path``'s answers; ``hot_view`` serves
them to callers that go through Django (the in-process test client, simulated participants), in the
caller's thread and transaction. Production requests for them take ``studies.fastpath`` instead.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studies import hot_path, participation, selectors
from studies.hot_path import TOKEN_HEADER
from studies.models import Study, TrialImage
from webapp.refusal import NotFound


def _json(data: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    return response


def hot_view(route: hot_path.Route):
    """A Django view for one of ``hot_path.ROUTES``."""

    @csrf_exempt
    @require_http_methods([route.method])
    def view(request, **groups):
        status, data = route.answer(request.headers.get(TOKEN_HEADER, ""), request.body, **groups)
        return _json(data, status)

    view.__name__ = view.__qualname__ = route.name.replace("-", "_")
    return view


@require_GET
def study_info(request, public_id: str):
    study = get_object_or_404(Study, public_id=public_id)
    return _json(selectors.public_info(study))


@csrf_exempt
@require_POST
def join(request, public_id: str):
    study = Study.objects.filter(public_id=public_id).first()
    if study is None:
        raise NotFound("No such study.")
    body = hot_path.parse_body(request.body)
    _, token = participation.join(study, consent=body.get("consent") is True, params=body.get("params"),
                                  screen=body.get("screen"))
    return _json({"participant_token": token}, 201)


@csrf_exempt
@require_POST
def screen(request):
    participant = hot_path.participant_for(request.headers.get(TOKEN_HEADER, ""))
    participation.save_screen(participant, hot_path.parse_body(request.body))
    return _json({"ok": True})


@require_GET
def image(request, token: str):
    """An opaque per-trial image: no method name, no stable file name, no metadata, no validators."""
    row = TrialImage.objects.filter(token=token).values_list("path", flat=True).first()
    if row is None or not default_storage.exists(row):
        raise Http404("No such image.")
    with default_storage.open(row, "rb") as fh:  # bytes, not FileResponse: it would name the file
        response = HttpResponse(fh.read(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response
