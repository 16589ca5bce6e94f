"""One refusal type for the whole platform.

Services raise a ``Refusal`` (or one of the named kinds below) when they decline a request: a
message a person can act on, optional per-field errors, and a status that says which kind of
"no" it is. The status numbers follow HTTP's meanings, because they are the vocabulary every
client already knows, but no service builds a response: ``webapp.exception_handler`` turns a
refusal into an HTTP response and ``webapp.websocket`` into a WebSocket close code or error frame,
each in one place.
"""

from __future__ import annotations


class Refusal(Exception):
    """A request the platform declines, with a message meant for the person who sent it."""

    status = 400

    def __init__(self, message: str, status: int | None = None, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.errors = errors or {}

    def as_dict(self) -> dict:
        body: dict = {"detail": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


class Unauthorised(Refusal):
    """The caller did not say who they are (or their credentials are not valid)."""

    status = 401


class Forbidden(Refusal):
    """The caller is known, but their role may not do this."""

    status = 403


class NotFound(Refusal):
    """No such thing, or not one the caller may see (the two are not told apart)."""

    status = 404


class Conflict(Refusal):
    """The request is well formed but clashes with the current state (closed, frozen, done)."""

    status = 409


class TooLarge(Refusal):
    status = 413


class TooMany(Refusal):
    """A rate limit or quota was reached; ``retry_after`` (seconds) becomes a Retry-After header."""

    status = 429

    def __init__(self, message: str, status: int | None = None, errors: dict | None = None,
                 retry_after: int | None = None):
        super().__init__(message, status, errors)
        self.retry_after = None if retry_after is None else max(1, int(retry_after))

    def as_dict(self) -> dict:
        body = super().as_dict()
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


def websocket_close_code(status: int) -> int:
    """The documented WebSocket close code for a refusal status: 4000 + status (4401, 4403, …)."""
    return 4000 + status if 400 <= status < 500 else 4400
