"""The participant API. Participants are not users: each call sends ``X-Participant-Token``.
Plain Django views (no session, no CSRF: nothing here trusts a cookie), kept lean because the
vote endpoint is the hot path: one SELECT (trial joined with the token's participant) and one INSERT."""

from __future__ import annotations

import json

from django.core.files.storage import default_storage
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


UNAUTHORISED = "Send the X-Participant-Token header you received when joining."


@require_GET
def study_info(request, public_id: str):
    study = get_object_or_404(Study, public_id=public_id)
    return _json(selectors.public_info(study))


@csrf_exempt
@require_POST
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
