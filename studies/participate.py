"""The participant API. Participants are not users: each call sends ``X-Participant-Token``.
Plain Django views (no session, no CSRF: nothing here trusts a cookie), kept lean because the
vote endpoint is the hot path: one SELECT (trial joined with the token's participant) and one INSERT."""

from __future__ import annotations

import functools
import json
from concurrent.futures import ThreadPoolExecutor

from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from studies import selectors, services
from studies.models import Study, TrialImage

NO_STORE = "no-store"


def _json(data: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = NO_STORE
    return response


def _error(message: str, status: int) -> JsonResponse:
    return _json({"detail": message}, status)


def _body(request) -> dict | None:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _token_hash(request) -> str | None:
    token = request.headers.get("X-Participant-Token", "")
    return services.hash_token(token) if token else None


def _participant(request):
    h = _token_hash(request)
    return selectors.participant_for_token(h) if h else None


# Under an ASGI server Django runs each sync view on a fresh per-request thread, and a persistent
# (CONN_MAX_AGE) connection opened there is orphaned when the thread ends (Django ticket #33497):
# under load that exhausts PostgreSQL's connections. Participant views therefore run on a small,
# long-lived pool whose threads keep one connection each. In-process (test client, demo_study)
# requests run inline, on the caller's connection and transaction.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="participant-api")


def _inline(view, request, *args, **kwargs):
    try:
        return view(request, *args, **kwargs)
    except (OperationalError, InterfaceError):  # a pooled connection died (database restart): retry once
        connection.close()
        return view(request, *args, **kwargs)


def pooled(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not isinstance(request, ASGIRequest):
            return view(request, *args, **kwargs)
        return _pool.submit(_inline, view, request, *args, **kwargs).result()
    return wrapper


UNAUTHORISED = "Send the X-Participant-Token header you received when joining."


@require_GET
@pooled
def study_info(request, public_id: str):
    study = get_object_or_404(Study, public_id=public_id)
    return _json(selectors.public_info(study))


@csrf_exempt
@require_POST
@pooled
def join(request, public_id: str):
    study = Study.objects.filter(public_id=public_id).first()
    if study is None:
        return _error("No such study.", 404)
    body = _body(request)
    if body is None:
        return _error("Send a JSON object.", 400)
    try:
        _, token = services.join(study, consent=body.get("consent") is True, params=body.get("params"),
                                 screen=body.get("screen"))
    except services.StudyError as exc:
        return _error(str(exc), exc.status)
    return _json({"participant_token": token}, 201)


@csrf_exempt
@require_POST
@pooled
def screen(request):
    participant = _participant(request)
    if participant is None:
        return _error(UNAUTHORISED, 401)
    body = _body(request)
    if body is None:
        return _error("Send a JSON object.", 400)
    services.save_screen(participant, body)
    return _json({"ok": True})


@require_GET
@pooled
def next_trial(request):
    participant = _participant(request)
    if participant is None:
        return _error(UNAUTHORISED, 401)
    trial = services.next_trial(participant)
    if trial is None:
        return _json(services.completion(participant))
    return _json(selectors.trial_payload(trial, participant))


@csrf_exempt
@require_POST
@pooled
def respond(request, trial_id: str):
    h = _token_hash(request)
    if h is None:
        return _error(UNAUTHORISED, 401)
    trial = selectors.trial_for(trial_id, h)
    if trial is None:
        if selectors.participant_for_token(h) is None:
            return _error(UNAUTHORISED, 401)
        return _error("No such trial for you.", 404)
    body = _body(request)
    if body is None:
        return _error("Send a JSON object.", 400)
    try:
        status, _ = services.record_response(trial, body)
    except services.StudyError as exc:
        return _error(str(exc), exc.status)
    return _json({"stored": status == 201}, status)


@require_GET
@pooled
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
