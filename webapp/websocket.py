"""The one WebSocket consumer base: refusals become documented close codes or error frames.

A refusal raised while connecting is answered by accepting the socket and closing it at once with
``4000 + status`` (4401 not signed in, 4403 role or owner, 4404 no such thing), so the client
learns why instead of seeing a bare HTTP 403 handshake failure (and stops reconnecting). A refusal
raised while handling a message, and a frame that is not JSON, are answered with
``{"type": "error", "detail": ...}`` and the socket stays open.
"""

from __future__ import annotations

import json

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from webapp.accounts.permissions import user_has_role
from webapp.refusal import Forbidden, Refusal, Unauthorised, websocket_close_code

MAX_FRAME_BYTES = 64 * 1024


def require_role(user, *roles: str) -> None:
    if not getattr(user, "is_authenticated", False):
        raise Unauthorised("Sign in first.")
    if not user_has_role(user, *roles):
        raise Forbidden(f"This needs the {' or '.join(roles)} role.")


class RefusingConsumer(AsyncJsonWebsocketConsumer):
    """Subclasses implement ``open()`` (checks, group joins) instead of ``connect()``."""

    groups_joined: tuple[str, ...] = ()

    async def open(self) -> None:
        """Check who may connect and join groups; raise a Refusal to refuse. Deny by default."""
        raise Forbidden("This socket has no access rule.")

    async def connect(self):
        try:
            await self.open()
        except Refusal as refusal:
            await self.accept()
            await self.close(code=websocket_close_code(refusal.status))
            return
        await self.accept()
        await self.opened()

    async def opened(self) -> None:
        """Runs after the socket is accepted (e.g. a greeting)."""

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = (*self.groups_joined, group)

    async def disconnect(self, code):
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None or len(text_data) > MAX_FRAME_BYTES:
            await self.send_error("Send one JSON object per text frame (at most 64 KB).")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error("That frame is not valid JSON.")
            return
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        try:
            await self.receive_json(content, **kwargs)
        except Refusal as refusal:
            await self.send_error(refusal.message, seq=content.get("seq") if isinstance(content, dict) else None)

    async def receive_json(self, content, **kwargs):
        """Messages other than ping; the default ignores them."""

    async def send_error(self, detail: str, **extra) -> None:
        await self.send_json({"type": "error", "detail": detail, **extra})
