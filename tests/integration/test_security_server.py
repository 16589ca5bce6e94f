"""Issue 11 on a real server: ``uvicorn webapp.asgi:application`` with its access log on, on a scratch
PostgreSQL database (NUL characters and unpaired surrogates were 500s on PostgreSQL only).

* every malformed request of the unit tests' ``BAD_INPUT`` is a 4xx here too;
* a 400 MB ``Content-Length`` is answered 413 at once, with the body still unsent;
* tokens and tickets in URLs never reach the log;
* a cross-site WebSocket handshake is refused whatever it carries; a ticket opens one socket once.
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from devtools.processes import Proc
from tests.support import base_env, manage, need_postgres, scratch_postgres_database, start_uvicorn, token_for
from tests.unit.test_http_hardening import BAD_INPUT, bad_input_id

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

PASSWORD = "pw-sec-40417"


class Server:
    def __init__(self, base: str, token: str, proc: Proc):
        self.base, self.token, self.proc = base, token, proc
        self.ws_base = base.replace("http://", "ws://")
        self.headers = {"Authorization": f"Token {token}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_postgres()
    tmp = tmp_path_factory.mktemp("security-server")
    with scratch_postgres_database(migrated=True) as url:
        env = base_env(DATA_DIR=str(tmp), DATABASE_URL=url, LOG_LEVEL="WARNING")
        manage(env, "adduser", "sec", "--role", "researcher", "--password", PASSWORD)
        proc, base = start_uvicorn(env, tmp, log_level="info")  # info: the access log is on
        try:
            yield Server(base, token_for(base, "sec", PASSWORD), proc)
        finally:
            proc.stop()


@pytest.mark.parametrize("method,path,body", BAD_INPUT, ids=bad_input_id)
def test_bad_input_is_a_4xx_on_postgresql(server, method, path, body):
    response = httpx.request(method.upper(), f"{server.base}{path}", headers={
        **server.headers, "Content-Type": "application/json"}, content=body, timeout=30)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


def test_a_declared_400_mb_body_is_refused_before_it_is_sent(server):
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST /api/groups/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Authorization: Token " + server.token.encode() + b"\r\nContent-Length: 419430400\r\n\r\n")
        started = time.monotonic()  # not a byte of the 400 MB sent: the answer must not wait for them
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 5


def test_tokens_and_tickets_stay_out_of_the_access_log(server):
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    ticket = httpx.post(f"{server.base}/api/auth/ws-ticket/", headers=server.headers).json()["ticket"]
    httpx.get(f"{server.base}/api/health/?token=SeCrEt-Token-1&x=1")
    for query in (f"ticket={ticket}", "token=SeCrEt-Token-2", "participant_token=SeCrEt-Token-3"):
        try:
            with connect(f"{server.ws_base}/ws/jobs/?{query}", open_timeout=10) as ws:
                ws.recv(timeout=1)
        except (InvalidStatus, WebSocketException, TimeoutError):
            pass
    time.sleep(0.5)
    log = server.proc.output()
    assert "/api/health/?token=[redacted]&x=1" in log and "/ws/jobs/?ticket=[redacted]" in log, log[-2000:]
    for secret in (ticket, "SeCrEt-Token-1", "SeCrEt-Token-2", "SeCrEt-Token-3", server.token):
        assert secret not in log


def test_cross_site_websockets_are_refused_and_tickets_are_single_use(server):
    from tests.conftest import websocket_close_code

    jobs = f"{server.ws_base}/ws/jobs/"
    assert websocket_close_code(f"{jobs}?token=bogus", origin="http://evil.example") == 403
    ticket = httpx.post(f"{server.base}/api/auth/ws-ticket/", headers=server.headers).json()["ticket"]
    assert websocket_close_code(f"{jobs}?ticket={ticket}", origin="http://evil.example") == 403
    ticket = httpx.post(f"{server.base}/api/auth/ws-ticket/", headers=server.headers).json()["ticket"]
    assert websocket_close_code(f"{jobs}?ticket={ticket}", origin=server.base) is None  # stays open
    assert websocket_close_code(f"{jobs}?ticket={ticket}", origin=server.base) == 4401  # used up
    assert websocket_close_code(f"{jobs}?token={server.token}") == 4401  # no tokens in URLs
