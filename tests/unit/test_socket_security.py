"""WebSockets (issue 11, items 8, 9 and 17): the Origin check whatever credentials a handshake
carries, tickets and header tokens instead of ``?token=``, and interactive clicks that a newer one
overtook answered with ``superseded``. Driven through the real ASGI stack of ``webapp.asgi``."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.testing import ApplicationCommunicator

from webapp.accounts import tokens
from webapp.accounts.services import token_for

EVIL = b"http://evil.example"
SAME_SITE = b"http://127.0.0.1"


def _scope(path: str, query: bytes = b"", origin: bytes | None = None, cookie: str | None = None,
           authorization: str | None = None) -> dict:
    headers = [(b"host", b"127.0.0.1")]
    if origin:
        headers.append((b"origin", origin))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if authorization:
        headers.append((b"authorization", authorization.encode()))
    return {"type": "websocket", "path": path, "raw_path": path.encode(), "query_string": query,
            "headers": headers, "subprotocols": [], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}


def handshake(path: str, **kwargs) -> str:
    """"refused" (closed before accepting: the HTTP 403 of a handshake), "4401"-style close codes for
    sockets accepted then closed, or "open"."""
    from webapp.asgi import application

    async def run():
        socket = ApplicationCommunicator(application, _scope(path, **kwargs))
        await socket.send_input({"type": "websocket.connect"})
        first = await socket.receive_output(10)
        if first["type"] == "websocket.close":
            outcome = "refused"
        else:
            assert first["type"] == "websocket.accept"
            second = None if await socket.receive_nothing(0.5) else await socket.receive_output(5)
            outcome = str(second["code"]) if second and second["type"] == "websocket.close" else "open"
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(5)
        return outcome

    return asyncio.run(run())


@pytest.fixture
def sockets(researcher, uploaded_photo, client):
    """The three socket paths of a researcher who owns a session and a study, and their cookie."""
    from studies.setup import create_study
    from webapp.interactive.services import create_session

    session = create_session(owner=uploaded_photo.owner, photo_id=uploaded_photo.pk, engine="retouch.interactive")
    study = create_study(owner=uploaded_photo.owner, title="s")
    client.force_login(uploaded_photo.owner)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return uploaded_photo.owner, cookie, ["/ws/jobs/", f"/ws/sessions/{session.pk}/", f"/ws/studies/{study.pk}/"]


# ---------------------------------------------------------------- item 9: Origin

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("query", [b"token=bogus", b"participant_token=bogus", b"ticket=bogus", b""])
def test_a_foreign_origin_is_refused_whatever_the_query_carries(sockets, query):
    _, cookie, paths = sockets
    assert [handshake(p, query=query, origin=EVIL, cookie=cookie) for p in paths] == ["refused"] * 3


@pytest.mark.django_db(transaction=True)
def test_a_foreign_origin_is_refused_even_with_a_valid_ticket(sockets):
    user, cookie, paths = sockets
    for path in paths:
        ticket, _ = tokens.issue_ticket(user)
        assert handshake(path, query=f"ticket={ticket}".encode(), origin=EVIL) == "refused"


@pytest.mark.django_db(transaction=True)
def test_the_cookie_works_from_the_sites_own_pages(sockets):
    _, cookie, paths = sockets
    assert [handshake(p, origin=SAME_SITE, cookie=cookie) for p in paths] == ["open"] * 3


@pytest.mark.django_db(transaction=True)
def test_an_invalid_credential_never_falls_back_to_the_cookie(sockets):
    _, cookie, paths = sockets
    for query in (b"token=bogus", b"ticket=bogus"):
        assert [handshake(p, query=query, origin=SAME_SITE, cookie=cookie) for p in paths] == ["4401"] * 3
    assert handshake(paths[0], origin=SAME_SITE, cookie=cookie, authorization="Token bogus") == "4401"


# ---------------------------------------------------------------- item 8: tickets, no token in the URL

@pytest.mark.django_db(transaction=True)
def test_a_ticket_opens_one_socket_once(sockets):
    user, _, paths = sockets
    for path in paths:
        ticket, _ = tokens.issue_ticket(user)
        query = f"ticket={ticket}".encode()
        assert handshake(path, query=query) == "open"
        assert handshake(path, query=query) == "4401"  # single use


@pytest.mark.django_db(transaction=True)
def test_scripts_authenticate_with_the_header_and_not_the_url(sockets):
    user, _, paths = sockets
    key = token_for(user)
    assert handshake(paths[0], authorization=f"Token {key}") == "open"
    assert handshake(paths[0], query=f"token={key}".encode()) == "4401"  # a token in the URL is refused


# ---------------------------------------------------------------- item 17: superseded clicks, seq range

def _session_socket(session, user):
    from channels.routing import URLRouter

    from webapp.routing import websocket_urlpatterns

    scope = {"type": "websocket", "path": f"/ws/sessions/{session.pk}/", "query_string": b"", "headers": [],
             "subprotocols": [], "user": user}
    return ApplicationCommunicator(URLRouter(websocket_urlpatterns), scope)


async def _open(socket):
    await socket.send_input({"type": "websocket.connect"})
    assert (await socket.receive_output(10))["type"] == "websocket.accept"


async def _send(socket, message):
    await socket.send_input({"type": "websocket.receive", "text": json.dumps(message)})


async def _reply(socket, timeout=10):
    return json.loads((await socket.receive_output(timeout))["text"])


async def _close(*sockets):
    for socket in sockets:
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(10)


def _result(seq: int) -> dict:
    return {"type": "session.result", "seq": seq, "url": f"/media/r{seq}.png", "residual_url": "/media/x.png",
            "server_ms": 1.0}


@pytest.fixture
def session(uploaded_photo, monkeypatch):
    from webapp.interactive import services
    from webapp.interactive.seqstore import LocalSeqStore, reset_store

    sent = []
    monkeypatch.setattr(services, "dispatch_click", lambda sid, seq, clicks, params, queue: sent.append(seq))
    reset_store(LocalSeqStore())
    made = services.create_session(owner=uploaded_photo.owner, photo_id=uploaded_photo.pk,
                                   engine="retouch.interactive")
    made.sent = sent
    yield made
    reset_store(None)


@pytest.mark.django_db(transaction=True)
def test_a_click_overtaken_on_its_socket_is_answered_superseded(session):
    from channels.layers import get_channel_layer

    from webapp.interactive.models import session_group

    async def run():
        socket = _session_socket(session, session.owner)
        await _open(socket)
        for seq in (1, 2, 3):
            await _send(socket, {"clicks": [{"x": 5, "y": 5, "positive": True}], "seq": seq})
        replies = [await _reply(socket), await _reply(socket)]
        await get_channel_layer().group_send(session_group(session.pk), _result(3))
        replies.append(await _reply(socket))
        await _close(socket)
        return replies

    replies = asyncio.run(run())
    assert replies[:2] == [{"type": "superseded", "seq": 1}, {"type": "superseded", "seq": 2}]
    assert replies[2]["type"] == "result" and replies[2]["seq"] == 3
    assert session.sent == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_every_socket_on_a_session_hears_about_its_click(session):
    """Many sockets, one click each: the one whose click ran gets the result, every other one a
    ``superseded`` (the issue saw 199 of 200 get nothing at all)."""
    from channels.layers import get_channel_layer

    from webapp.interactive.models import session_group

    count = 12

    async def run():
        sockets = [_session_socket(session, session.owner) for _ in range(count)]
        for seq, socket in enumerate(sockets, start=1):
            await _open(socket)
            await _send(socket, {"clicks": [], "seq": seq})
        await asyncio.sleep(0.2)
        await get_channel_layer().group_send(session_group(session.pk), _result(count))
        replies = [await _reply(socket) for socket in sockets]
        await _close(*sockets)
        return replies

    replies = asyncio.run(run())
    assert replies[:-1] == [{"type": "superseded", "seq": seq} for seq in range(1, count)]
    assert replies[-1]["type"] == "result" and replies[-1]["seq"] == count


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seq", [-1, 2**53, 2**64, 2**64 + 1, 10**30])
def test_seq_out_of_range_is_an_error_frame(session, seq):
    async def run():
        socket = _session_socket(session, session.owner)
        await _open(socket)
        await socket.send_input({"type": "websocket.receive", "text": f'{{"clicks": [], "seq": {seq}}}'})
        reply = await _reply(socket)
        await socket.send_input({"type": "websocket.receive", "text": "{not json"})
        invalid = await _reply(socket)
        await _close(socket)
        return reply, invalid

    reply, invalid = asyncio.run(run())
    assert reply["type"] == "error" and "2^53" in reply["detail"] and session.sent == []
    assert invalid == {"type": "error", "detail": "That frame is not valid JSON."}  # and the socket stayed open


@pytest.mark.django_db(transaction=True)
def test_seq_must_grow_on_a_socket(session):
    async def run():
        socket = _session_socket(session, session.owner)
        await _open(socket)
        await _send(socket, {"clicks": [], "seq": 2**53 - 1})
        await _send(socket, {"clicks": [], "seq": 5})
        reply = await _reply(socket)
        await _close(socket)
        return reply

    reply = asyncio.run(run())
    assert reply["type"] == "error" and "greater than the previous" in reply["detail"]
    assert session.sent == [2**53 - 1]


# ---------------------------------------------------------------- guests (issue 12, item 2)

@pytest.mark.django_db(transaction=True)
def test_a_guest_opens_only_its_own_job_events_and_nobody_elses_session_or_study(sockets, make_user):
    """A guest's job socket carries its own jobs only (its user group); another user's session and any
    study dashboard close 4403."""
    _, _, paths = sockets
    guest = make_user("guest")
    assert [handshake(p, authorization=f"Token {token_for(guest)}") for p in paths] == ["open", "4403", "4403"]
