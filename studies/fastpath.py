"""ASGI fast path for the participant hot endpoints (``studies.hot_path.ROUTES``: the vote and ``next/``).

Under ASGI, every request through Django's handler runs each ``MiddlewareMixin`` middleware's
hooks on a thread of its own per-request executor (asgiref's ThreadSensitiveContext): a new thread
and a dozen thread hops per request, ~2.5 ms of CPU before the view runs. Participant requests need
none of that middleware (no session, cookie, CSRF or user; they authenticate by token), so
``ParticipantFastPath`` serves exactly the (method, path) pairs of ``hot_path.ROUTES`` itself and
hands every other request, unchanged, to the application it wraps (``webapp/asgi.py``).

It runs the same answers as the Django views in ``studies.participate``, on one worker thread per
request with a pooled connection (``hot_path.with_connection``), so both paths answer identically;
what Django's middleware would have done for these responses is done here: the ALLOWED_HOSTS check,
the security headers (nosniff, Referrer-Policy, Cross-Origin-Opener-Policy, X-Frame-Options), a body
size limit, refusals as ``{"detail"}`` with their status, and a JSON 500 for unexpected errors
(logged on ``django.request``).
"""

from __future__ import annotations

import json
import logging
import re

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http.request import split_domain_port, validate_host

from studies import hot_path
from webapp.refusal import Refusal, TooLarge

log = logging.getLogger("django.request")

MAX_BODY = 64 * 1024


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
    """The request body (None when the client went away); TooLarge past MAX_BODY."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge("The request body is too large.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class ParticipantFastPath:
    """Wrap an ASGI application; serve the participant hot endpoints without Django's middleware."""

    def __init__(self, app):
        self.app = app
        self._extra = None
        self._routes: dict[str, list] = {}
        for route in hot_path.ROUTES:
            self._routes.setdefault(route.method, []).append((re.compile("/" + route.pattern), route.answer))

    def _route(self, scope):
        if scope["type"] != "http" or settings.SECURE_SSL_REDIRECT and scope.get("scheme") != "https":
            return None
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        for pattern, answer in self._routes.get(scope["method"], ()):
            match = pattern.fullmatch(path)
            if match:
                return answer, match.groupdict()
        return None

    async def __call__(self, scope, receive, send):
        route = self._route(scope)
        if route is None:
            return await self.app(scope, receive, send)
        answer, groups = route
        headers = _headers(scope)
        try:
            if not _host_allowed(headers):
                raise Refusal("Invalid Host header.")
            body = await _read_body(receive)
            if body is None:
                return
            token = headers.get(b"x-participant-token", b"").decode("latin-1")
            status, data = await sync_to_async(hot_path.with_connection, thread_sensitive=False)(
                answer, token, body, **groups)
        except Refusal as refusal:
            status, data = refusal.status, refusal.as_dict()
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
