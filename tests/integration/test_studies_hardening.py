"""Participation hardening on real servers and PostgreSQL (issue 11): a crowd of anonymous joins
against a study with a quota, text PostgreSQL cannot store, and the participant fast path against
Django's own handler on a matrix of odd requests.

One scratch PostgreSQL database serves two uvicorn servers: ``webapp.asgi:application`` (the
production application, whose participant hot paths go through ``studies.fastpath``) and
``webapp.asgi:django_http`` (Django's ASGI handler alone). Settings: ``hsts_settings`` (HSTS on).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support import base_env, manage, need_postgres, scratch_postgres_database, start_uvicorn, token_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

QUOTA, MARGIN, TRIALS = 20, 5, 12
PASSWORD = "quokka-ledger-4711"
BUILD = """
import numpy as np
from studies import setup
from webapp.accounts.services import create_or_update_user
owner = create_or_update_user("hard-owner", role="researcher", password="{password}")
ids = []
for title, wanted, trials, min_view_ms in (("Crowd", {quota}, {trials}, 0), ("Probes", 50, 40, 500)):
    study = setup.create_study(owner=owner, title=title, practice_trials=0, trials_per_participant=trials,
                               attention_every=0, participants_wanted=wanted, recruit_margin={margin},
                               min_view_ms=min_view_ms)
    rng = np.random.default_rng(0)
    for k in range(4):
        base = rng.random((24, 16, 3)).astype(np.float32)
        setup.add_item_arrays(study, name=f"item{{k}}", subset="", input_rgb=base,
                              outputs={{m: np.clip(base * (0.8 + 0.1 * j), 0, 1) for j, m in enumerate("ABC")}})
    setup.set_status(study, "open")
    ids += [study.pk, study.public_id]
print("studies", *ids, setup.create_study(owner=owner, title="Draft").pk)
"""


def _serve(env: dict, tmp: Path, app: str) -> tuple:
    proc, base = start_uvicorn(env, tmp, app=app, timeout=60)
    return proc, int(base.rsplit(":", 1)[1])


class Platform:
    def __init__(self, env, database_url, fast_port, django_port, ids):
        self.env, self.database_url = env, database_url
        self.fast, self.django = f"http://127.0.0.1:{fast_port}", f"http://127.0.0.1:{django_port}"
        self.ports = {"fast": fast_port, "django": django_port}
        self.crowd_id, self.crowd, self.probe_id, self.probes = int(ids[0]), ids[1], int(ids[2]), ids[3]
        self.draft_id = int(ids[4])  # nobody joined: methods and items may still change
        self.researcher = {"Authorization": f"Token {token_for(self.fast, 'hard-owner', PASSWORD)}"}

    def sql(self, query: str, *args):
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, args).fetchone()[0]

    def participant(self, base: str | None = None) -> tuple[str, list[str]]:
        """A new participant of the probe study (joined through ``base``): their token and trial ids, the
        first one answered."""
        base = base or self.fast
        r = httpx.post(f"{base}/api/participate/{self.probes}/join/", json={"consent": True})
        assert r.status_code == 201, r.text
        token = r.json()["participant_token"]
        with psycopg.connect(self.database_url) as conn:
            trials = [row[0] for row in conn.execute(
                "SELECT t.public_id FROM studies_trial t JOIN studies_participant p ON p.id = t.participant_id "
                "WHERE p.token_hash = %s ORDER BY t.position", (hashlib.sha256(token.encode()).hexdigest(),))]
        r = httpx.post(f"{base}/api/participate/trials/{trials[0]}/response/", headers={"X-Participant-Token": token},
                       json={"choice": "left", "idempotency_key": trials[0], "elapsed_ms": 900})
        assert r.status_code == 201, r.text
        return token, trials


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    need_postgres()
    tmp = tmp_path_factory.mktemp("hardening")
    with scratch_postgres_database(migrated=True) as database_url:
        env = base_env(DATABASE_URL=database_url, DATA_DIR=str(tmp / "data"), MEDIA_ROOT=str(tmp / "media"),
                       DJANGO_SETTINGS_MODULE="tests.integration.hsts_settings",
                       STUDY_JOIN_RATE_PER_IP="200/min", STUDY_JOIN_RATE_GLOBAL="300/min", LOG_LEVEL="ERROR")
        out = manage(env, "shell", "-c", BUILD.format(password=PASSWORD, quota=QUOTA, trials=TRIALS, margin=MARGIN))
        ids = out.strip().splitlines()[-1].split()[1:]
        fast, fast_port = _serve(env, tmp, "webapp.asgi:application")
        try:
            django, django_port = _serve(env, tmp, "webapp.asgi:django_http")
            try:
                yield Platform(env, database_url, fast_port, django_port, ids)
            finally:
                django.stop()
        finally:
            fast.stop()


# ----------------------------------------------------------------------------- text PostgreSQL cannot store


def _raw_json(text: str) -> dict:
    return {"content": text.encode(), "headers": {"Content-Type": "application/json"}}


def test_nul_and_lone_surrogates_are_refused_not_500(platform):
    """On PostgreSQL a NUL or a lone surrogate used to reach the database (500); each is now a 400/404."""
    base, study = platform.fast, platform.probes
    token, trials = platform.participant()
    participant = {"X-Participant-Token": token}
    join = f"{base}/api/participate/{study}/join/"
    probes = [
        ("join params NUL", "post", join, _raw_json('{"consent": true, "params": {"PROLIFIC_PID": "a\\u0000b"}}'), 400),
        ("join params surrogate", "post", join, _raw_json('{"consent": true, "params": {"x": "\\ud800"}}'), 400),
        ("join screen NUL", "post", join, _raw_json('{"consent": true, "screen": {"browser": "x\\u0000"}}'), 400),
        ("join screen key NUL", "post", join, _raw_json('{"consent": true, "screen": {"a\\u0000": 1}}'), 400),
        ("join client_key NUL", "post", join, _raw_json('{"consent": true, "client_key": "k\\u0000"}'), 400),
        ("screen NUL", "post", f"{base}/api/participate/screen/",
         {**_raw_json('{"browser": "\\udfff"}'), "headers": {"Content-Type": "application/json", **participant}}, 400),
        ("vote key NUL", "post", f"{base}/api/participate/trials/{trials[-1]}/response/",
         {**_raw_json('{"choice": "left", "idempotency_key": "k\\u0000", "elapsed_ms": 900}'),
          "headers": {"Content-Type": "application/json", **participant}}, 400),
        ("vote key surrogate", "post", f"{base}/api/participate/trials/{trials[-1]}/response/",
         {**_raw_json('{"choice": "left", "idempotency_key": "\\ud83d", "elapsed_ms": 900}'),
          "headers": {"Content-Type": "application/json", **participant}}, 400),
        ("study info %00", "get", f"{base}/api/participate/%00/", {}, 404),
        ("join %00", "post", f"{base}/api/participate/a%00b/join/", {"json": {"consent": True}}, 404),
        ("image %00", "get", f"{base}/api/participate/img/%00/", {}, 404),
        ("method name NUL (form)", "post", f"{base}/api/studies/{platform.draft_id}/methods/",
         {"data": {"name": "a\x00b"}, "headers": platform.researcher}, 400),
        ("method name NUL (JSON)", "post", f"{base}/api/studies/{platform.draft_id}/methods/",
         {**_raw_json('{"name": "a\\u0000b"}'), "headers": {"Content-Type": "application/json",
                                                            **platform.researcher}}, 400),
        ("study title surrogate", "patch", f"{base}/api/studies/{platform.probe_id}/",
         {**_raw_json('{"title": "\\udc00"}'), "headers": {"Content-Type": "application/json",
                                                           **platform.researcher}}, 400),
        ("images/0/?item=abc", "get", f"{base}/api/studies/{platform.probe_id}/images/0/?item=abc",
         {"headers": platform.researcher}, 404),
    ]
    seen = {}
    for name, method, url, kwargs, expected in probes:
        r = httpx.request(method.upper(), url, **kwargs)
        seen[name] = r.status_code
        assert r.status_code == expected, (name, r.status_code, r.text[:200])
    print(seen)


# ----------------------------------------------------------------------------- the fast path = Django


def _http(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes (the request closes the connection) and parse status, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = (headers.get(name.strip().lower(), "") + "|" + value.strip()).lstrip("|")
    return int(lines[0].split()[1]), headers, body


def _request(method: str, path: str, *, host: str | None, token: str = "", body: bytes = b"",
             version: str = "1.1", extra: str = "") -> bytes:
    lines = [f"{method} {path} HTTP/{version}"]
    if host is not None:
        lines += [f"Host: {h}" for h in host.split("\n")]
    if token:
        lines.append(f"X-Participant-Token: {token}")
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [line for line in extra.split("\n") if line]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _vote(choice: str = "left", key: str = "k1", elapsed: int = 900) -> bytes:
    return json.dumps({"choice": choice, "idempotency_key": key, "elapsed_ms": elapsed}).encode()


NEXT = "/api/participate/next/"
# (name, method, path, options): path may hold {trial} (a fresh trial of the server's own participant)
# or {answered} (one it already answered); host "{me}" is the server's own address.
MATRIX = [
    ("next", "GET", NEXT, {}),
    ("next, Host not allowed", "GET", NEXT, {"host": "evil.example"}),
    ("next, Host list", "GET", NEXT, {"host": "evil.example, 127.0.0.1"}),
    ("next, Host list of allowed", "GET", NEXT, {"host": "127.0.0.1, localhost"}),
    ("next, two Host headers", "GET", NEXT, {"host": "evil.example\n{me}"}),
    ("next, two allowed Host headers", "GET", NEXT, {"host": "{me}\nlocalhost"}),
    ("next, HTTP/1.0 without Host", "GET", NEXT, {"host": None, "version": "1.0"}),
    ("next, HTTP/1.0 with Host", "GET", NEXT, {"version": "1.0"}),
    ("next, Host in capitals", "GET", NEXT, {"host": "LOCALHOST"}),
    ("next, Host [::1]", "GET", NEXT, {"host": "[::1]"}),
    ("next, Host with a bad port", "GET", NEXT, {"host": "127.0.0.1:x"}),
    ("next, Host with userinfo", "GET", NEXT, {"host": "evil@127.0.0.1"}),
    ("next, X-Forwarded-Host", "GET", NEXT, {"extra": "X-Forwarded-Host: evil.example"}),
    ("next over HTTPS (proxy)", "GET", NEXT, {"extra": "X-Forwarded-Proto: https"}),
    ("next, query string", "GET", NEXT + "?a=1&b", {}),
    ("next, percent-encoded path", "GET", "/api/participate/%6Eext/", {}),
    ("next, no token", "GET", NEXT, {"token": ""}),
    ("next, absurd token", "GET", NEXT, {"token": "t" * 300}),
    ("next, cookie", "GET", NEXT, {"extra": "Cookie: sessionid=abc; csrftoken=def"}),
    ("HEAD next", "HEAD", NEXT, {}),
    ("POST next", "POST", NEXT, {"body": b"{}"}),
    ("vote", "POST", "/api/participate/trials/{trial}/response/", {"body": _vote()}),
    ("vote again", "POST", "/api/participate/trials/{answered}/response/", {"body": _vote(key="{answered}")}),
    ("vote, other answer", "POST", "/api/participate/trials/{answered}/response/",
     {"body": _vote("right", key="{answered}")}),
    ("vote over HTTPS (proxy)", "POST", "/api/participate/trials/{trial}/response/",
     {"body": _vote(key="h"), "extra": "X-Forwarded-Proto: https"}),
    ("vote, Host not allowed", "POST", "/api/participate/trials/{trial}/response/",
     {"body": _vote(key="e"), "host": "evil.example"}),
    ("vote, Host list", "POST", "/api/participate/trials/{trial}/response/",
     {"body": _vote(key="e"), "host": "evil.example, {me}"}),
    ("vote, not JSON", "POST", "/api/participate/trials/{trial}/response/", {"body": b"{no"}),
    ("vote, JSON list", "POST", "/api/participate/trials/{trial}/response/", {"body": b"[]"}),
    ("vote, too deep", "POST", "/api/participate/trials/{trial}/response/",
     {"body": b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"}),
    ("vote, too fast", "POST", "/api/participate/trials/{trial}/response/", {"body": _vote(key="f", elapsed=1)}),
    ("vote, bad choice", "POST", "/api/participate/trials/{trial}/response/", {"body": _vote("up", key="c")}),
    ("vote, 70 KB", "POST", "/api/participate/trials/{trial}/response/", {"body": b" " * 70_000 + _vote()}),
    ("vote, no token", "POST", "/api/participate/trials/{trial}/response/", {"body": _vote(), "token": ""}),
    ("vote, unknown trial", "POST", "/api/participate/trials/nosuchtrial/response/", {"body": _vote()}),
    ("vote, text/plain", "POST", "/api/participate/trials/{trial}/response/",
     {"body": _vote(key="t"), "extra": "Content-Type: text/plain"}),
    ("GET vote", "GET", "/api/participate/trials/{trial}/response/", {}),
    ("OPTIONS vote", "OPTIONS", "/api/participate/trials/{trial}/response/", {}),
    ("vote, bad trial id", "POST", "/api/participate/trials/a.b/response/", {"body": _vote()}),
    ("next, trailing path", "GET", NEXT + "x/", {}),
]
IGNORED = {"date", "server", "content-length"}  # per response, not per path


def test_fast_path_answers_as_django_does(platform):
    """Each request of the matrix goes to the production application (fast path) and to Django's own
    handler; status, headers (all but date, server and length) and refusal messages must agree."""
    state = {name: dict(zip(("token", "trials"), platform.participant(base), strict=True))
             for name, base in (("fast", platform.fast), ("django", platform.django))}
    for s in state.values():
        s["answered"], s["fresh"] = s["trials"][0], iter(s["trials"][1:])
    differences, hsts = [], {}
    for label, method, path, options in MATRIX:
        answers = {}
        for name, port in platform.ports.items():
            s = state[name]
            filled = path.replace("{answered}", s["answered"])
            filled = filled.replace("{trial}", next(s["fresh"])) if "{trial}" in filled else filled
            body = options.get("body", b"").replace(b"{answered}", s["answered"].encode())
            host = options.get("host", "{me}")
            host = None if host is None else host.replace("{me}", f"127.0.0.1:{port}")
            raw = _request(method, filled, host=host, token=options.get("token", s["token"]), body=body,
                           version=options.get("version", "1.1"), extra=options.get("extra", ""))
            status, headers, content = _http(port, raw)
            try:
                detail = json.loads(content).get("detail") if content.startswith(b"{") else None
            except ValueError:
                detail = None
            headers = {k: re.sub(r"(csrftoken=)\w+", r"\1<random>", v) for k, v in headers.items() if k not in IGNORED}
            answers[name] = (status, headers, detail)
        if answers["fast"] != answers["django"]:
            differences.append((label, answers["fast"], answers["django"]))
        hsts[label] = "strict-transport-security" in answers["fast"][1]
    assert not differences, "\n".join(f"{label}:\n  fast   {f}\n  django {d}" for label, f, d in differences)
    assert hsts["next over HTTPS (proxy)"] and hsts["vote over HTTPS (proxy)"] and not hsts["next"]


# ----------------------------------------------------------------------------- a crowd of joins (last: it
# spends this minute's joins from this address)


def test_a_crowd_of_anonymous_joins_stops_at_quota_plus_margin(platform):
    """500 anonymous joins, 16 at a time, against a study that wants 20 (margin 5): at most 25
    participants exist afterwards, every other join was refused with 409 (full) or 429 (rate), no 5xx,
    and the database grew by the 25 participants' rows only."""
    size_before = platform.sql("SELECT pg_database_size(current_database())")
    started = time.monotonic()

    async def crowd():
        limit = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=platform.fast, timeout=30) as client:
            async def join(k):
                async with limit:
                    r = await client.post(f"/api/participate/{platform.crowd}/join/",
                                          json={"consent": True, "params": {"PROLIFIC_PID": f"crowd{k}"},
                                                "screen": {"width": 1400, "height": 900}})
                    return r.status_code
            return await asyncio.gather(*(join(k) for k in range(500)))

    codes = asyncio.run(crowd())
    elapsed = time.monotonic() - started
    counts = {code: codes.count(code) for code in set(codes)}
    participants = platform.sql("SELECT count(*) FROM studies_participant WHERE study_id = %s", platform.crowd_id)
    trials = platform.sql("SELECT count(*) FROM studies_trial WHERE study_id = %s", platform.crowd_id)
    grown = platform.sql("SELECT pg_database_size(current_database())") - size_before
    print(f"500 joins in {elapsed:.1f} s: {counts}; {participants} participants, {trials} trials, "
          f"database +{grown / 2**20:.2f} MiB")
    assert set(counts) <= {201, 409, 429}, counts
    assert counts.get(201) == participants == QUOTA + MARGIN
    assert counts.get(409, 0) > 0 and counts.get(429, 0) > 0
    assert trials == participants * TRIALS
    assert grown < 4 * 2**20
    assert elapsed < 40
