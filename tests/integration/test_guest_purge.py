"""Guests are deleted by the running platform itself (issue 12, item 2): ``manage.py serve`` in
embedded mode, whose in-process worker's heartbeat purges expired guests — no command, no cron."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import png_bytes
from tests.support import base_env, start_server

pytestmark = pytest.mark.integration


def test_serve_deletes_an_expired_guest_and_its_upload_by_itself(tmp_path):
    env = base_env(DATA_DIR=str(tmp_path), GUEST_RETENTION_HOURS="0.002",  # 7.2 s
                   GUEST_PURGE_INTERVAL_SECONDS="1", WORKER_HEARTBEAT_SECONDS="0.5")  # purges run on the heartbeat
    proc, base = start_server(env, tmp_path, embedded=True)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            client.get("/try/")
            csrf = {"X-CSRFToken": client.cookies["csrftoken"]}
            assert client.post("/api/auth/guest/", headers=csrf).status_code == 201
            csrf = {"X-CSRFToken": client.cookies["csrftoken"]}  # rotated by the sign-in
            made = client.post("/api/photos/", files={"file": ("mine.png", png_bytes(), "image/png")}, headers=csrf)
            assert made.status_code == 201, made.text
            original = tmp_path / "media" / made.json()["urls"]["original"].removeprefix("/media/")
            assert original.exists() and client.get(made.json()["urls"]["original"]).status_code == 200
            deadline = time.monotonic() + 60
            while original.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            assert not original.exists(), "the expired guest's upload is still stored"
            assert client.get("/api/me/").status_code in (401, 403)
    finally:
        proc.stop()
