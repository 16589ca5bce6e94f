"""Interactive sessions end to end: real servers, a real Celery worker, real WebSockets."""

from __future__ import annotations

import asyncio
import io
import json
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import websocket_close_code
from tests.support import REDIS_URL, distributed_stack, wait_for_job, wait_for_worker

pytestmark = pytest.mark.integration


def portrait_png() -> bytes:
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(data.astronaut())).save(buffer, format="PNG")
    return buffer.getvalue()


def upload_photo(base, token) -> dict:
    r = httpx.post(f"{base}/api/photos/", headers={"Authorization": f"Token {token}"},
                   files={"file": ("astronaut.png", portrait_png(), "image/png")}, timeout=60)
    r.raise_for_status()
    return r.json()


def new_session(base, token, photo_id) -> str:
    r = httpx.post(f"{base}/api/sessions/", headers={"Authorization": f"Token {token}"},
                   json={"photo": photo_id, "engine": "retouch.interactive"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _connect(ws_base, session_id, token):
    import websockets

    return await websockets.connect(f"{ws_base}/ws/sessions/{session_id}/", additional_headers={
        "Authorization": f"Token {token}"}, origin=ws_base.replace("ws://", "http://"), open_timeout=10)


async def rapid_clicks(ws_base, session_id, token, n=8, settle=4.0, start_seq=1):
    """Send n click messages back to back; collect everything the server says for ``settle`` s."""
    ws = await _connect(ws_base, session_id, token)
    clicks: list = []
    try:
        for i in range(n):
            clicks = clicks + [{"x": 100.0 + 30 * i, "y": 120.0 + 20 * i, "positive": i % 3 != 2}]
            await ws.send(json.dumps({"clicks": clicks, "params": {"strength": 0.8}, "seq": start_seq + i}))
        received = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                received.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=settle if received else 60)))
            except TimeoutError:
                break
        return received
    finally:
        await ws.close()


async def one_click(ws_base, session_id, token, seq, timeout=30):
    ws = await _connect(ws_base, session_id, token)
    try:
        await ws.send(json.dumps({"clicks": [{"x": 200, "y": 150, "positive": True}], "params": {}, "seq": seq}))
        return json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))
    finally:
        await ws.close()


# ---------------------------------------------------------------- embedded mode

@pytest.fixture(scope="module")
def embedded_users(embedded_platform):
    return {role: embedded_platform.add_user(f"isess-{role}", role) for role in ("researcher", "expert", "reviewer")}


def test_embedded_latest_wins_and_cache(embedded_platform, embedded_users):
    token = embedded_users["researcher"]
    photo = upload_photo(embedded_platform.base, token)
    sid = new_session(embedded_platform.base, token, photo["id"])
    received = asyncio.run(rapid_clicks(embedded_platform.ws_base, sid, token, n=10))
    # one result, for the newest click; the clicks it overtook are only marked superseded
    assert [m["type"] for m in received if m["type"] != "superseded"] == ["result"], received
    assert all(m["seq"] < 10 for m in received if m["type"] == "superseded"), received
    result = next(m for m in received if m["type"] == "result")
    assert result["seq"] == 10
    assert set(result) == {"type", "seq", "url", "residual_url", "server_ms"}
    image = httpx.get(embedded_platform.base + result["url"], headers={"Authorization": f"Token {token}"})
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert httpx.get(embedded_platform.base + result["url"]).status_code == 403  # media needs a role
    # the session now sticks to the embedded worker's own queue, and a click answers promptly
    session = httpx.get(f"{embedded_platform.base}/api/sessions/{sid}/", headers={"Authorization": f"Token {token}"})
    assert session.json()["worker_queue"].startswith("interactive.embedded@")
    t0 = time.monotonic()
    assert asyncio.run(one_click(embedded_platform.ws_base, sid, token, seq=11))["seq"] == 11
    assert time.monotonic() - t0 < 3.0
    # an expert may run sessions too; errors come back with the seq
    expert = embedded_users["expert"]
    sid2 = new_session(embedded_platform.base, expert, photo["id"])
    async def bad():
        ws = await _connect(embedded_platform.ws_base, sid2, expert)
        await ws.send(json.dumps({"clicks": [{"x": 5000, "y": 1, "positive": True}], "seq": 3}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        await ws.close()
        return reply
    reply = asyncio.run(bad())
    assert reply["type"] == "error" and reply["seq"] == 3 and "outside" in reply["detail"]


def test_ws_permissions(embedded_platform, embedded_users):
    token = embedded_users["researcher"]
    photo = upload_photo(embedded_platform.base, token)
    sid = new_session(embedded_platform.base, token, photo["id"])

    def close_code(session_id, token):
        url = f"{embedded_platform.ws_base}/ws/sessions/{session_id}/"
        return websocket_close_code(url, origin=embedded_platform.base, token=token)

    assert close_code(sid, None) == 4401  # anonymous
    assert close_code(sid, embedded_users["reviewer"]) == 4403
    assert close_code(sid, embedded_users["expert"]) == 4403  # not the owner
    assert close_code("00000000-0000-0000-0000-000000000000", token) == 4404
    r = httpx.post(f"{embedded_platform.base}/api/sessions/", json={"photo": photo["id"], "engine": "retouch.interactive"},
                   headers={"Authorization": f"Token {embedded_users['reviewer']}"})
    assert r.status_code == 403


def test_engines_as_ordinary_jobs(embedded_platform, embedded_users):
    base, token = embedded_platform.base, embedded_users["researcher"]
    auth = {"Authorization": f"Token {token}"}
    photo = upload_photo(base, token)
    r = httpx.post(f"{base}/api/jobs/", headers=auth, json={
        "engine": "retouch.interactive",
        "inputs": {"photo": photo["id"], "clicks": [{"x": 250, "y": 120, "positive": True},
                                                    {"x": 480, "y": 480, "positive": False}]},
        "params": {"strength": 0.9}})
    assert r.status_code == 201, r.text
    job = wait_for_job(base, {"Authorization": f"Token {token}"}, r.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    assert {o["name"] for o in job["outputs"]} >= {"image", "mask"}
    out = Image.open(io.BytesIO(httpx.get(base + job["outputs"][0]["url"], headers=auth).content))
    assert out.size == (photo["width"], photo["height"])  # full resolution

    # harmonize: a foreground mask, then a box reference and a mask reference
    mask = np.zeros((photo["height"], photo["width"]), np.uint8)
    mask[200:480, 150:350] = 255
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    fg = httpx.post(f"{base}/api/photos/{photo['id']}/masks/", headers=auth, data={"kind": "foreground"},
                    files={"file": ("fg.png", buffer.getvalue(), "image/png")}).json()
    ref = np.zeros_like(mask)
    ref[0:150, 0:150] = 255
    buffer = io.BytesIO()
    Image.fromarray(ref).save(buffer, format="PNG")
    ref_mask = httpx.post(f"{base}/api/photos/{photo['id']}/masks/", headers=auth, data={"kind": "reference"},
                          files={"file": ("ref.png", buffer.getvalue(), "image/png")}).json()
    for reference in ({"box": [0, 0, 150, 150]}, {"mask": ref_mask["id"]}):
        r = httpx.post(f"{base}/api/jobs/", headers=auth, json={
            "engine": "harmonize", "inputs": {"photo": photo["id"], "mask": fg["id"], "reference": reference}})
        assert r.status_code == 201, r.text
        job = wait_for_job(base, {"Authorization": f"Token {token}"}, r.json()["id"])
        assert job["status"] == "succeeded", job["error"]
        assert "reference_percentiles" in job["info"]
    bad = httpx.post(f"{base}/api/jobs/", headers=auth, json={
        "engine": "harmonize", "inputs": {"photo": photo["id"], "mask": fg["id"], "reference": {"box": [1, 2]}}})
    assert bad.status_code == 400


# ---------------------------------------------------------------- distributed: uvicorn + celery worker + Redis

def test_distributed_latest_wins_sticky_and_fallback(tmp_path):
    with distributed_stack(tmp_path, f"{REDIS_URL}/13", users={"dist": "researcher"},
                           INTERACTIVE_WORKER_GONE_SECONDS="4") as platform:
        base, ws_base, token = platform.base, platform.ws_base, platform.tokens["dist"]
        try:
            platform.worker("alpha@test", queues="cpu")
            info = wait_for_worker(base, "cpu", name="alpha@test", timeout=90)
            assert "interactive.alpha@test" in info["queues"]
            photo = upload_photo(base, token)
            sid = new_session(base, token, photo["id"])
            received = asyncio.run(rapid_clicks(ws_base, sid, token, n=8))
            assert [(m["type"], m["seq"]) for m in received if m["type"] != "superseded"] == [("result", 8)], received
            session = httpx.get(f"{base}/api/sessions/{sid}/", headers={"Authorization": f"Token {token}"}).json()
            assert session["worker_queue"] == "interactive.alpha@test"
            again = asyncio.run(one_click(ws_base, sid, token, seq=20))
            assert again["type"] == "result" and again["seq"] == 20

            # the sticky worker dies; another worker takes the session over through the shared queue
            platform.workers[-1].kill()
            killed = time.monotonic()
            platform.worker("beta@test", queues="cpu")
            # alpha's heartbeat goes stale 4 s after it died; beta's start-up counts towards them
            time.sleep(max(0.0, killed + 4.5 - time.monotonic()))
            reply = asyncio.run(one_click(ws_base, sid, token, seq=30, timeout=60))
            assert reply["type"] == "result" and reply["seq"] == 30, reply
            session = httpx.get(f"{base}/api/sessions/{sid}/", headers={"Authorization": f"Token {token}"}).json()
            assert session["worker_queue"] == "interactive.beta@test"
        except Exception:
            print(platform.output())
            raise
