"""``/ws/studies/<id>/``: refusals close with the documented codes, the owner is greeted."""

from __future__ import annotations

import asyncio
import json

import pytest

pytestmark = pytest.mark.django_db(transaction=True)  # the consumer reads the study on another thread


def _open(path: str, user) -> tuple[int | None, dict | None]:
    """Open ``path`` in process as ``user`` (None: anonymous) → (close code, None) or (None, first frame)."""
    from asgiref.testing import ApplicationCommunicator
    from channels.routing import URLRouter
    from django.contrib.auth.models import AnonymousUser

    from webapp.routing import websocket_urlpatterns

    scope = {"type": "websocket", "path": path, "query_string": b"", "headers": [], "subprotocols": [],
             "user": user or AnonymousUser()}

    async def talk():
        socket = ApplicationCommunicator(URLRouter(websocket_urlpatterns), scope)
        await socket.send_input({"type": "websocket.connect"})
        assert (await socket.receive_output(10))["type"] == "websocket.accept"  # refusals too: then a code
        output = await socket.receive_output(10)
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(10)
        if output["type"] == "websocket.close":
            return output.get("code"), None
        return None, json.loads(output["text"])

    return asyncio.run(talk())


def test_study_socket_close_codes_and_greeting(make_user):
    from studies import setup

    owner = make_user("researcher")
    study = setup.create_study(owner=owner, title="Live")
    path = f"/ws/studies/{study.pk}/"
    assert _open(path, None) == (4401, None)
    assert _open(path, make_user("expert")) == (4403, None)
    assert _open(path, make_user("reviewer")) == (4403, None)
    assert _open(path, make_user("researcher")) == (4404, None)  # not theirs: like GET /api/studies/<id>/
    assert _open(f"/ws/studies/{study.pk + 1000}/", owner) == (4404, None)
    assert _open(path, owner) == (None, {"type": "hello", "study": study.pk})
