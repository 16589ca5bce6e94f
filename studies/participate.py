"""The participant API. Participants are not users: each call sends ``X-Participant-Token``.
Plain Django views (no session, no CSRF: nothing here trusts a cookie, no DRF).

The two hot paths - ``next/`` and the vote - are async views that hand one small function to a
worker thread (``sync_to_async(thread_sensitive=False)``: no per-request thread, no hop per ORM
call). That function borrows a connection from the process-wide psycopg pool (settings: DATABASE_URL
→ ``OPTIONS["pool"]``) and gives it back before returning. The vote itself is one SELECT and one
INSERT whose unique constraints decide between 201, 200 (a retry) and 409.
"""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from studies import selectors, services
from studies.models import Study, TrialImage
from studies.services import UNAUTHORISED

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
    return services.hash_token(token) if 0 < len(token) <= 200 else None


def _participant(request):
    h = _token_hash(request)
    return selectors.participant_for_token(h) if h else None


def _with_connection(fn, *args):
    """Run ``fn`` on a pool-borrowed connection and give the connection back afterwards.

    The pool hands out idle connections without testing them (CONN_HEALTH_CHECKS is off), so after
    a database restart the first use fails: the broken connection is then dropped, the pool's
    idle connections are checked (dead ones replaced), and ``fn`` runs once more. Both callers
    are safe to repeat: reads, and a vote INSERT whose constraints turn a repeat into a 200."""
    try:
        try:
            return fn(*args)
        except (OperationalError, InterfaceError):
            connection.close()
            pool = getattr(connection, "pool", None)
            if pool is not None:
                pool.check()
            return fn(*args)
    finally:
        connection.close()


async def _db(request, fn, *args):
    if isinstance(request, ASGIRequest):  # a real server: any pool thread, own pooled connection
        return await sync_to_async(_with_connection, thread_sensitive=False)(fn, *args)
    # In-process (test client, demo_study): the caller's thread, connection and transaction.
    return await sync_to_async(fn, thread_sensitive=True)(*args)


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


def _next(token_hash: str) -> tuple[int, dict]:
    participant = selectors.participant_for_token(token_hash)
    if participant is None:
        return 401, {"detail": UNAUTHORISED}
    trial = services.next_trial(participant)
    if trial is None:
        return 200, services.completion(participant)
    return 200, selectors.trial_payload(trial, participant)


@require_GET
async def next_trial(request):
    h = _token_hash(request)
    if h is None:
        return _error(UNAUTHORISED, 401)
    status, data = await _db(request, _next, h)
    return _json(data, status)


def _vote(trial_id: str, token_hash: str, body: dict) -> tuple[int, dict]:
    try:
        return services.record_vote(trial_id, token_hash, body)
    except services.StudyError as exc:
        return exc.status, {"detail": str(exc)}


@csrf_exempt
@require_POST
async def respond(request, trial_id: str):
    h = _token_hash(request)
    if h is None:
        return _error(UNAUTHORISED, 401)
    body = _body(request)
    if body is None:
        return _error("Send a JSON object.", 400)
    status, data = await _db(request, _vote, trial_id, h, body)
    return _json(data, status)


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
