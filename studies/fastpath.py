"""ASGI fast path for the participant hot endpoints (``studies.hot_path.ROUTES``: the vote and ``next/``).

Under ASGI, Django's handler runs each ``MiddlewareMixin`` middleware's hooks on a thread of its own
per-request executor (asgiref's ThreadSensitiveContext): a new thread and a dozen thread hops per
request, ~2.5 ms of CPU before the view runs. ``ParticipantFastPath`` serves exactly the (method,
path) pairs of ``hot_path.ROUTES`` with Django's *synchronous* handler instead, on one worker thread
per request: the same request object (Django's ``ASGIRequest``), middleware (``settings.MIDDLEWARE``),
URL resolution, view (``studies.participate.hot_view``) and error handling that Django would run.
Every other request goes, unchanged, to the application it wraps (``webapp/asgi.py``).

Both paths therefore answer alike by construction, odd requests included: the Host check is
Django's (``ALLOWED_HOSTS``, several Host headers joined as Django joins them, the server's name
when there is no Host), the security headers are whatever the middleware adds (nosniff,
Referrer-Policy, Cross-Origin-Opener-Policy, X-Frame-Options, HSTS when configured, ...), and
refusals, 404s, 405s and 500s are Django's. ``tests/integration/test_studies_hardening.py`` sends a
matrix of odd requests to a server with and without the fast path and compares status and headers.

What the fast path adds: the body is read only up to ``studies.inputs.MAX_BODY`` (not at all when
Content-Length says it is larger; the view then refuses it, 413), and the request is marked
``hot_path.POOLED``: the view runs its answer on a connection borrowed from the process-wide psycopg
pool, retried once after a database restart (``hot_path.with_connection``).
"""

from __future__ import annotations

import io
import re

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.urls import set_script_prefix

from studies import hot_path
from studies.inputs import MAX_BODY


class _SyncDjango(ASGIHandler):
    """Django's ASGI request and response conversion around its synchronous middleware chain."""

    def __init__(self):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    def serve(self, scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, headers, body) of Django's answer to the request; runs on a worker thread."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, io.BytesIO(body))
        if request is not None:
            request.META[hot_path.POOLED] = True
            response = self.get_response(request)
        response._handler_class = self.__class__
        try:
            content = b"".join(response) if response.streaming else response.content
            headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
            headers += [(b"Set-Cookie", c.output(header="").encode("ascii").strip())
                        for c in response.cookies.values()]
            return response.status_code, headers, content
        finally:
            response.close()  # request_finished: Django gives the thread's connections back


def _content_length(scope) -> int:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _read_body(receive, declared: int) -> bytes | None:
    """The request body, up to a little more than MAX_BODY (nothing when Content-Length is already
    larger); None when the client went away."""
    if declared > MAX_BODY:
        return b""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY or not message.get("more_body", False):
            return b"".join(chunks)


class ParticipantFastPath:
    """Wrap an ASGI application; serve the participant hot endpoints with Django's synchronous handler."""

    def __init__(self, app):
        self.app = app
        self._django: _SyncDjango | None = None
        self._routes: dict[str, list[re.Pattern]] = {}
        for route in hot_path.ROUTES:
            self._routes.setdefault(route.method, []).append(re.compile("/" + route.pattern))

    def _is_hot(self, scope) -> bool:
        if scope["type"] != "http":
            return False
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        return any(pattern.fullmatch(path) for pattern in self._routes.get(scope["method"], ()))

    async def __call__(self, scope, receive, send):
        if not self._is_hot(scope):
            return await self.app(scope, receive, send)
        body = await _read_body(receive, _content_length(scope))
        if body is None:
            return
        if self._django is None:
            self._django = _SyncDjango()
        status, headers, content = await sync_to_async(self._django.serve, thread_sensitive=False)(scope, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
