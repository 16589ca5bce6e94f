"""API tokens that expire and are revoked, and single-use WebSocket tickets.

* A token (``Authorization: Token <key>``, DRF's ``Token`` model) is valid for
  ``API_TOKEN_TTL_SECONDS`` after it was issued; signing in again after that issues a new one.
  Changing the password and signing out delete it (``webapp.accounts.signals``).
* A ticket (``POST /api/auth/ws-ticket/`` → ``?ticket=`` on a socket URL) is valid once, for
  ``WS_TICKET_TTL_SECONDS``; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from webapp.accounts.models import SocketTicket, User


def expires_at(token: Token) -> datetime:
    return token.created + timedelta(seconds=settings.API_TOKEN_TTL_SECONDS)


def expired(token: Token) -> bool:
    return expires_at(token) <= timezone.now()


def issue_token(user: User) -> Token:
    """The user's current token, or a new one when there is none or it has expired."""
    with transaction.atomic():
        token = Token.objects.select_for_update().filter(user=user).first()
        if token is not None and expired(token):
            token.delete()
            token = None
        return token or Token.objects.create(user=user)


def token_info(token: Token) -> dict:
    """What the sign-in endpoints answer about a token besides its key."""
    ends = expires_at(token)
    return {"expires_at": ends.isoformat(), "expires_in": max(0, int((ends - timezone.now()).total_seconds()))}


def revoke_credentials(user: User) -> None:
    """Every token and ticket of ``user`` stops working now."""
    Token.objects.filter(user=user).delete()
    SocketTicket.objects.filter(user=user).delete()


def active_user_for_token(key: str) -> User | None:
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or expired(token) or not token.user.is_active:
        return None
    return token.user


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if expired(token):
            raise AuthenticationFailed("The token has expired; sign in again (POST /api/auth/token/) for a new one.")
        return user, token


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue_ticket(user: User) -> tuple[str, datetime]:
    now = timezone.now()
    SocketTicket.objects.filter(expires_at__lt=now).delete()  # tickets nobody used
    ticket = secrets.token_urlsafe(32)
    ends = now + timedelta(seconds=settings.WS_TICKET_TTL_SECONDS)
    SocketTicket.objects.create(digest=_digest(ticket), user=user, expires_at=ends)
    return ticket, ends


def redeem_ticket(ticket: str) -> User | None:
    """The ticket's user if it is valid and unused; it is used up either way."""
    if not ticket or len(ticket) > 200:
        return None
    row = SocketTicket.objects.select_related("user").filter(digest=_digest(ticket)).first()
    if row is None:
        return None
    deleted, _ = SocketTicket.objects.filter(pk=row.pk).delete()  # only one redeemer can delete it
    if not deleted or row.expires_at <= timezone.now() or not row.user.is_active:
        return None
    return row.user
