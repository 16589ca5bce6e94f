"""WebSocket authentication: the browser's session cookie, or ``?token=<api token>``."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
from rest_framework.authtoken.models import Token


@database_sync_to_async
def _user_for_token(key: str):
    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token and token.user.is_active else None


class TokenQueryAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        key = (query.get("token") or [""])[0]
        if key:
            user = await _user_for_token(key)
            if user is not None:
                scope = {**scope, "user": user}
        return await super().__call__(scope, receive, send)


def WebSocketAuthStack(inner):  # noqa: N802  (reads like the channels stacks it wraps)
    return AuthMiddlewareStack(TokenQueryAuthMiddleware(inner))


class CookieOriginGuard:
    """Check the Origin only for cookie-authenticated sockets.

    Cross-site WebSocket hijacking rides on the browser's cookie; a client that presents an API
    token (``?token=``) or a participant token proves itself and may connect from anywhere.
    """

    def __init__(self, application):
        self.application = application
        self.validated = AllowedHostsOriginValidator(application)

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        if query.get("token") or query.get("participant_token"):
            return await self.application(scope, receive, send)
        return await self.validated(scope, receive, send)
