"""ASGI fast path for the participant hot endpoints: the vote and ``next/``.

Under ASGI, every request through Django's handler runs each ``MiddlewareMixin`` middleware's
hooks on a thread of its own per-request executor (asgiref's ThreadSensitiveContext): a new thread
and a dozen thread hops per request, ~2.5 ms of CPU before the view runs. Participant requests need
none of that middleware (no session, cookie, CSRF or user; they authenticate by token), so
``ParticipantFastPath`` serves exactly these two (method, path) pairs itself and hands every other
request, unchanged, to the application it wraps (``webapp/asgi.py``)::

    POST /api/participate/trials/<trial_id>/response/
    GET  /api/participate/next/

It calls the same functions as the Django views in ``studies.participate`` (``_vote``, ``_next``:
one worker-thread hop, one pooled connection), so both paths answer identically; what Django's
middleware would have done for these responses is done here: the ALLOWED_HOSTS check, the
security headers (nosniff, Referrer-Policy, Cross-Origin-Opener-Policy, X-Frame-Options), a body
size limit and a JSON 500 for unexpected errors (logged on ``django.request``).
"""

from __future__ import annotations

import json
import logging
import re

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http.request import split_domain_port, validate_host

log = logging.getLogger("django.request")

VOTE = re.compile(r"/api/participate/trials/(?P<trial>[A-Za-z0-9_-]{1,32})/response/")
NEXT = "/api/participate/next/"
MAX_BODY = 64 * 1024


class _Reply(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


def _headers(scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", ())}


def _host_allowed(headers: dict[bytes, bytes]) -> bool:
    raw = headers.get(b"x-forwarded-host") if settings.USE_X_FORWARDED_HOST else None
    raw = raw or headers.get(b"host", b"")
    host = raw.decode("latin-1").split(",")[-1].strip()
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


def _security_headers() -> list[tuple[bytes, bytes]]:
    out = [(b"cache-control", b"no-store")]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        out.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        policy = policy if isinstance(policy, str) else ",".join(policy)
        out.append((b"referrer-policy", policy.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        out.append((b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()))
    out.append((b"x-frame-options", getattr(settings, "X_FRAME_OPTIONS", "DENY").encode()))
    return out


async def _read_body(receive) -> bytes | None:
    """The request body (None when the client went away); _Reply(413) past MAX_BODY."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _Reply(413, "The request body is too large.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class ParticipantFastPath:
    """Wrap an ASGI application; serve the participant hot endpoints without Django's middleware."""

    def __init__(self, app):
        self.app = app
        self._extra = None

    def _route(self, scope):
        if scope["type"] != "http" or settings.SECURE_SSL_REDIRECT and scope.get("scheme") != "https":
            return None
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        method = scope["method"]
        if method == "POST":
            match = VOTE.fullmatch(path)
            return (self._vote, match["trial"]) if match else None
        if method == "GET" and path == NEXT:
            return (self._next, None)
        return None

    async def __call__(self, scope, receive, send):
        route = self._route(scope)
        if route is None:
            return await self.app(scope, receive, send)
        handler, arg = route
        headers = _headers(scope)
        try:
            if not _host_allowed(headers):
                raise _Reply(400, "Invalid Host header.")
            body = await _read_body(receive)
            if body is None:
                return
            token = headers.get(b"x-participant-token", b"").decode("latin-1")
            status, data = await handler(token, body, arg)
        except _Reply as reply:
            status, data = reply.status, {"detail": reply.detail}
        except (OperationalError, InterfaceError):
            log.exception("database unavailable: %s %s", scope["method"], scope["path"])
            status, data = 503, {"detail": "The database is unavailable; please retry."}
        except Exception:
            log.exception("Internal Server Error: %s", scope["path"])
            status, data = 500, {"detail": "Server error."}
        await self._respond(send, status, data)

    async def _respond(self, send, status: int, data: dict) -> None:
        if self._extra is None:
            self._extra = _security_headers()
        payload = json.dumps(data).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()), *self._extra]})
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    def _token_hash(token: str) -> str:
        from studies import services

        if not 0 < len(token) <= 200:
            raise _Reply(401, services.UNAUTHORISED)
        return services.hash_token(token)

    async def _vote(self, token: str, body: bytes, trial_id: str):
        from studies import participate

        token_hash = self._token_hash(token)
        try:
            data = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise _Reply(400, "Send a JSON object.")
        return await sync_to_async(participate._with_connection, thread_sensitive=False)(
            participate._vote, trial_id, token_hash, data)

    async def _next(self, token: str, body: bytes, _):
        from studies import participate

        return await sync_to_async(participate._with_connection, thread_sensitive=False)(
            participate._next, self._token_hash(token))
