"""ASGI fast path for the participant hot endpoints (``studies.hot_path.ROUTES``: the vote and ``next/``).

Under ASGI, Django's handler runs each ``MiddlewareMixin`` middleware's hooks on a thread of its own
per-request executor (asgiref's ThreadSensitiveContext): a new thread and a dozen thread hops per
request, ~2.5 ms of CPU before the view runs. ``ParticipantFastPath`` serves exactly the (method,
path) pairs of ``hot_path.ROUTES`` on one worker thread per request, and hands every other request,
unchanged, to the application it wraps (``webapp/asgi.py``). It answers as Django would, with
Django's own pieces:

* every request becomes Django's ``ASGIRequest``, and its view is ``studies.participate.hot_view``
  (the view ``studies/urls.py`` routes to);
* a *plain* request — one Host header that Django's ``get_host()`` accepts, no cookies, no
  X-Forwarded-Host/Port, no redirect to HTTPS due, and only middleware whose effect on such a request
  is known (``_PLAIN``) — runs the view directly, its exceptions go through the middleware's
  ``process_exception`` (refusals) or Django's ``response_for_exception``, and the response through
  the ``process_response`` of the middleware that add headers (``SecurityMiddleware``: nosniff,
  Referrer-Policy, Cross-Origin-Opener-Policy, HSTS on HTTPS; ``CommonMiddleware``: Content-Length;
  ``XFrameOptionsMiddleware``; the CSP middleware). That skips the per-request work of the rest (sessions, CSRF, messages, URL
  resolution), which does nothing for such a request;
* anything else (several or odd Host headers, HTTP/1.0 without Host, cookies, ...) goes through
  Django's whole synchronous handler: middleware, URL resolution, view, error handling, as a WSGI
  server would run them.

``tests/integration/test_studies_hardening.py`` sends a matrix of odd and plain requests to a server
with the fast path and to Django's own ASGI handler and compares status, headers and messages.

What the fast path adds: the body is read only up to ``studies.inputs.MAX_BODY`` (not at all when
Content-Length says it is larger; the view then refuses it, 413), and the request is marked
``hot_path.POOLED``: the view runs its answer on a connection borrowed from the process-wide psycopg
pool, retried once after a database restart (``hot_path.with_connection``).
"""

from __future__ import annotations

import io
import re

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import response_for_exception
from django.urls import set_script_prefix
from django.utils.log import log_response
from django.utils.module_loading import import_string

from studies import hot_path, participate
from studies.inputs import MAX_BODY

# What each middleware does to a plain request (above): nothing, or only add response headers.
_INERT = "inert"
_HEADERS = "adds headers"
_PLAIN = {
    "django.middleware.security.SecurityMiddleware": _HEADERS,  # its request side: the HTTPS redirect
    "django.contrib.sessions.middleware.SessionMiddleware": _INERT,  # no cookie: no session
    "django.middleware.common.CommonMiddleware": _HEADERS,  # Host checked, routes end with "/": Content-Length
    "django.middleware.csrf.CsrfViewMiddleware": _INERT,  # no cookie, and the views are exempt
    "django.contrib.auth.middleware.AuthenticationMiddleware": _INERT,  # no session: nobody
    "django.contrib.messages.middleware.MessageMiddleware": _INERT,  # no cookie, no session: no messages
    "django.middleware.clickjacking.XFrameOptionsMiddleware": _HEADERS,
    "webapp.exception_handler.RefusalMiddleware": _INERT,  # only process_exception (used for every request)
    "webapp.security.ContentSecurityPolicyMiddleware": _HEADERS,
}
_ODD_HEADERS = {b"cookie", b"x-forwarded-host", b"x-forwarded-port"}


class _Handler(ASGIHandler):
    """Django's request and response conversion around its synchronous handler; runs on worker threads."""

    def __init__(self):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.views = {route.name: participate.hot_view(route) for route in hot_path.ROUTES}
        unknown = [path for path in settings.MIDDLEWARE if path not in _PLAIN]
        # process_response runs innermost first; None: some middleware's effect is not known, so
        # every request takes Django's whole handler
        self.header_hooks = None if unknown else [
            import_string(path)(lambda request: None).process_response
            for path in reversed(settings.MIDDLEWARE) if _PLAIN[path] == _HEADERS]

    def serve(self, scope, body: bytes, route: hot_path.Route, groups: dict):
        """(status, headers, body) of the answer to the request."""
        request, response = self.create_request(scope, io.BytesIO(body))
        if request is not None:
            request.META[hot_path.POOLED] = True
            response = self._plain(request, route, groups) if self._is_plain(request, scope) else \
                self._django(request, scope)
        try:
            content = b"".join(response) if response.streaming else response.content
            headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
            headers += [(b"Set-Cookie", c.output(header="").encode("ascii").strip())
                        for c in response.cookies.values()]
            return response.status_code, headers, content
        finally:
            response.close()  # for Django's handler: request_finished gives the thread's connections back

    def _is_plain(self, request, scope) -> bool:
        if self.header_hooks is None or settings.DISALLOWED_USER_AGENTS or settings.PREPEND_WWW:
            return False
        names = [name.lower() for name, _ in scope.get("headers", ())]
        if names.count(b"host") != 1 or _ODD_HEADERS.intersection(names):
            return False
        try:
            request.get_host()
        except DisallowedHost:
            return False
        return not (settings.SECURE_SSL_REDIRECT and not request.is_secure())

    def _plain(self, request, route: hot_path.Route, groups: dict):
        try:
            response = self.views[route.name](request, **groups)
        except Exception as exc:  # as BaseHandler: the middleware's process_exception, else Django's answer
            response = self.process_exception_by_middleware(exc, request) or response_for_exception(request, exc)
        for hook in self.header_hooks:
            response = hook(request, response)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response

    def _django(self, request, scope):
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        response = self.get_response(request)
        response._handler_class = self.__class__
        return response


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
    """Wrap an ASGI application; serve the participant hot endpoints on one worker thread each."""

    def __init__(self, app):
        self.app = app
        self._handler: _Handler | None = None
        self._routes: dict[str, list[tuple[re.Pattern, hot_path.Route]]] = {}
        for route in hot_path.ROUTES:
            self._routes.setdefault(route.method, []).append((re.compile("/" + route.pattern), route))

    def _match(self, scope) -> tuple[hot_path.Route, dict] | None:
        if scope["type"] != "http":
            return None
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        for pattern, route in self._routes.get(scope["method"], ()):
            match = pattern.fullmatch(path)
            if match:
                return route, match.groupdict()
        return None

    async def __call__(self, scope, receive, send):
        matched = self._match(scope)
        if matched is None:
            return await self.app(scope, receive, send)
        body = await _read_body(receive, _content_length(scope))
        if body is None:
            return
        if self._handler is None:
            self._handler = _Handler()
        status, headers, content = await sync_to_async(self._handler.serve, thread_sensitive=False)(
            scope, body, *matched)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
