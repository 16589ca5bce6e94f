"""WebSocket authentication and the cross-site check.

Credentials, the first one present wins:

* ``?ticket=<ticket>``: single-use, valid for seconds, from ``POST /api/auth/ws-ticket/`` (what the
  pages' ``api.js`` ``socket()`` sends; a ticket in a logged URL is worthless a moment later);
* ``Authorization: Token <token>``: non-browser clients (browsers cannot set it on a WebSocket);
* the browser's session cookie.

A ticket or token that is presented but not valid makes the socket anonymous (it closes 4401): it
never falls back to the cookie. ``?token=`` is no longer accepted (it put a long-lived secret in
URLs and access logs) and counts as an invalid credential.

The Origin check does not depend on credentials: a handshake whose ``Origin`` header is not an
allowed host is refused (HTTP 403) whatever it carries. Browsers always send Origin, so a page on
another site can never use the visitor's cookie; clients that send no Origin (scripts, tests) are
not browsers and carry no one else's cookie.
"""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from webapp.accounts.tokens import active_user_for_token, redeem_ticket

# Query parameters that would carry a credential; presenting one means "not the cookie".
CREDENTIAL_PARAMS = ("ticket", "token", "participant_token")


@database_sync_to_async
def _user_for(ticket: str, authorization: str):
    if ticket:
        return redeem_ticket(ticket)
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() == "token" and key.strip():
        return active_user_for_token(key.strip())
    return None


class CredentialsMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        headers = dict(scope.get("headers", ()))
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization or any(name in query for name in CREDENTIAL_PARAMS):
            ticket = (query.get("ticket") or [""])[0]
            user = await _user_for(ticket, authorization) if ticket or authorization else None
            scope = {**scope, "user": user or AnonymousUser()}
        return await super().__call__(scope, receive, send)


def WebSocketAuthStack(inner):  # noqa: N802  (reads like the channels stacks it wraps)
    return AuthMiddlewareStack(CredentialsMiddleware(inner))


class OriginGuard:
    """Refuse every handshake that names an Origin outside ALLOWED_HOSTS."""

    def __init__(self, application):
        self.application = application
        self.validated = AllowedHostsOriginValidator(application)

    async def __call__(self, scope, receive, send):
        if any(name == b"origin" for name, _ in scope.get("headers", ())):
            return await self.validated(scope, receive, send)
        return await self.application(scope, receive, send)
