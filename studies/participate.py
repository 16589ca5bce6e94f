"""The participant API as plain Django views (no session, no CSRF: nothing here trusts a cookie; not
DRF views). Participants are not users: each call sends ``X-Participant-Token``. Refusals raised here
become ``{"detail"}`` responses in ``webapp.exception_handler.RefusalMiddleware``. What participants
send is checked by ``studies.inputs`` (size, JSON, each field's shape).

The two hot calls, ``next/`` and the vote, are ``studies.hot_path``'s answers; ``hot_view`` serves
them. In production they reach it through ``studies.fastpath`` (Django's own request object,
middleware hooks and error handling on one worker thread, with a pooled connection); callers that go
through Django itself (the in-process test client, simulated participants) run them in their thread
and transaction.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from studies import hot_path, inputs, participation, selectors
from studies.hot_path import TOKEN_HEADER
from studies.models import Study, TrialImage
from webapp.refusal import NotFound


def _json(data: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _body(request) -> bytes:
    """The request body, once its declared size (Content-Length) is known to be small enough (413)."""
    inputs.check_length(request.META.get("CONTENT_LENGTH"))
    return request.body


def _client_address(request) -> str:
    """The participant's address: the connection's, or X-Forwarded-For's when REST_FRAMEWORK's
    NUM_PROXIES says how many proxies stand in front (never an unvouched header: anyone can send one)."""
    if not api_settings.NUM_PROXIES:
        return request.META.get("REMOTE_ADDR", "")
    return BaseThrottle().get_ident(request)


def _study(public_id: str) -> Study:
    study = Study.objects.filter(public_id=public_id).first() if inputs.PUBLIC_ID.fullmatch(public_id) else None
    if study is None:
        raise NotFound("No such study.")
    return study


def hot_view(route: hot_path.Route):
    """A Django view for one of ``hot_path.ROUTES``. Requests that came through the fast path
    (``studies.fastpath``; ``hot_path.POOLED`` set) run on a pooled connection, given back after."""

    @csrf_exempt
    @require_http_methods([route.method])
    def view(request, **groups):
        token, body = request.headers.get(TOKEN_HEADER, ""), _body(request)
        if request.META.get(hot_path.POOLED):
            status, data = hot_path.with_connection(route.answer, token, body, **groups)
        else:
            status, data = route.answer(token, body, **groups)
        return _json(data, status)

    view.__name__ = view.__qualname__ = route.name.replace("-", "_")
    return view


@require_GET
def study_info(request, public_id: str):
    study = _study(public_id)
    return _json({**selectors.public_info(study), **participation.page_settings(study)})


@csrf_exempt
@require_POST
def join(request, public_id: str):
    """201 joined now, 200 joined before (same platform id or client key): the same token again.
    Rate-limited per address and site-wide (429); JSON only (415)."""
    participation.check_join_rate(_client_address(request))
    inputs.require_json(request.content_type)
    body = inputs.parse_body(_body(request))
    joined = participation.join(_study(public_id), consent=body.get("consent"), params=body.get("params"),
                                screen=body.get("screen"), client_key=body.get("client_key"))
    return _json({"participant_token": joined.token}, 201 if joined.created else 200)


@csrf_exempt
@require_POST
def screen(request):
    participant = hot_path.participant_for(request.headers.get(TOKEN_HEADER, ""))
    inputs.require_json(request.content_type)
    participation.save_screen(participant, inputs.parse_body(_body(request)))
    return _json({"ok": True})


@require_GET
def image(request, token: str):
    """An opaque per-trial image: no method name, no stable file name, no metadata, no validators."""
    row = TrialImage.objects.filter(token=token).values_list("path", flat=True).first() \
        if inputs.PUBLIC_ID.fullmatch(token) else None
    if row is None or not default_storage.exists(row):
        raise Http404("No such image.")
    with default_storage.open(row, "rb") as fh:  # bytes, not FileResponse: it would name the file
        response = HttpResponse(fh.read(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@csrf_exempt
@require_POST
def questionnaire(request):
    """The end questionnaire's answers (every one optional): 201 stored, 200 the same answers again."""
    participant = hot_path.participant_for(request.headers.get(TOKEN_HEADER, ""))
    inputs.require_json(request.content_type)
    stored = participation.answer_questionnaire(participant, inputs.parse_body(_body(request)))
    return _json({"stored": stored}, 201 if stored else 200)
