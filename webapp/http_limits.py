"""Request body limits enforced while the body streams in, before Django buffers any of it.

Django's ASGI handler reads a whole body into a temporary file before a view (or
``DATA_UPLOAD_MAX_MEMORY_SIZE``) can refuse it, so a 400 MB body used to be received in full before
its 413. ``BodyLimit`` wraps the HTTP application: a ``Content-Length`` over the limit is answered
413 before a byte of the body is read; a chunked body is counted as it arrives and answered 413 the
moment it passes the limit (the application then sees the client disconnect and stops).

Limits: multipart uploads ``REQUEST_MAX_BYTES`` (``UPLOAD_MAX_BYTES`` plus form overhead), every
other body ``DATA_UPLOAD_MAX_MEMORY_SIZE``.
"""

from __future__ import annotations

import json

from django.conf import settings


def body_limit(headers: dict[bytes, bytes]) -> int:
    if headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data"):
        return settings.REQUEST_MAX_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


async def _answer(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> str:
    return f"The request body is larger than the {limit / 2**20:g} MiB limit."


class BodyLimit:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        headers = {k.lower(): v for k, v in scope.get("headers", ())}
        limit = body_limit(headers)
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return await _answer(send, 400, "The Content-Length header is not a number.")
            if int(declared) > limit:
                return await _answer(send, 413, _too_large(limit))
            return await self.application(scope, receive, send)
        return await self._counted(scope, receive, send, limit)

    async def _counted(self, scope, receive, send, limit: int):
        received = 0
        refused = False

        async def counting_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _answer(send, 413, _too_large(limit))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:  # after our 413 the application has nothing more to say
                await send(message)

        return await self.application(scope, counting_receive, guarded_send)
