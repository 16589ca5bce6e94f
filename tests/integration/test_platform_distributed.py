"""The distributed mode on real services: PostgreSQL, Redis or RabbitMQ, a real ``celery worker``
process, the real ASGI server (uvicorn) and a WebSocket client."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.conftest import png_bytes, websocket_close_code
from tests.support import (
    AMQP_URL,
    REDIS_URL,
    base_env,
    flush_redis_db,
    manage,
    need_postgres,
    need_rabbitmq,
    need_redis,
    scratch_postgres_database,
    start_celery_worker,
    start_server,
    token_for,
    wait_for_worker,
)

pytestmark = pytest.mark.integration


class Stack:
    def __init__(self, env, tmp, base, server, token):
        self.env, self.tmp, self.base, self.server, self.token = env, tmp, base, server, token
        self.headers = {"Authorization": f"Token {token}"}
        self.workers = []

    def worker(self, name: str, queues: str = "cpu,gpu"):
        proc = start_celery_worker(self.env, self.tmp, queues=queues, name=name)
        self.workers.append(proc)
        try:
            wait_for_worker(self.base, queues.split(",")[0], name=name)
        except Exception:
            print(proc.output())
            raise
        return proc

    def upload(self) -> int:
        response = httpx.post(f"{self.base}/api/photos/", headers=self.headers,
                              files={"file": ("p.png", png_bytes(size=(640, 400)), "image/png")})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def submit(self, engine: str, photo: int, params: dict) -> dict:
        response = httpx.post(f"{self.base}/api/jobs/", headers=self.headers,
                              json={"engine": engine, "inputs": {"photo": photo}, "params": params})
        assert response.status_code == 201, response.text
        return response.json()

    def job(self, job_id: int) -> dict:
        return httpx.get(f"{self.base}/api/jobs/{job_id}/", headers=self.headers).json()

    def wait_job(self, job_id: int, statuses: set[str], timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in statuses:
                return job
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id} never reached {statuses}: {self.job(job_id)}")


def _stack(tmp_path, broker: str, **extra_env):
    need_postgres()
    need_redis()
    if broker.startswith("amqp"):
        need_rabbitmq()
    channels_url = f"{REDIS_URL}/6"
    flush_redis_db(channels_url)
    with scratch_postgres_database() as database_url:
        env = base_env(DATABASE_URL=database_url, CELERY_BROKER_URL=broker, CHANNELS_REDIS_URL=channels_url,
                       MEDIA_ROOT=str(tmp_path / "shared-media"), DATA_DIR=str(tmp_path / "data"),
                       JOB_HEARTBEAT_SECONDS="0.5", **extra_env)
        manage(env, "migrate", "--noinput")
        manage(env, "adduser", "ana", "--role", "researcher", "--password", "pw-123456")
        server, base = start_server(env, tmp_path, embedded=False)
        stack = Stack(env, tmp_path, base, server, token_for(base, "ana", "pw-123456"))
        try:
            yield stack
        finally:
            for proc in stack.workers:
                proc.stop()
            server.stop()


@pytest.fixture
def redis_stack(tmp_path):
    need_redis()
    flush_redis_db(f"{REDIS_URL}/5")
    yield from _stack(tmp_path, f"{REDIS_URL}/5", JOB_STALE_AFTER_SECONDS="4")


@pytest.fixture
def rabbit_stack(tmp_path):
    yield from _stack(tmp_path, AMQP_URL, JOB_STALE_AFTER_SECONDS="30")


def test_job_completes_and_the_websocket_pushes_it(redis_stack):
    from websockets.sync.client import connect

    stack = redis_stack
    worker = stack.worker("cpu1@test")
    health = httpx.get(f"{stack.base}/api/health/").json()
    [reported] = [w for w in health["workers"] if w["name"] == "cpu1@test"]
    assert reported["device"] == "cpu" and "adjust" in reported["engines"]
    assert {"cpu", "gpu"} <= set(reported["queues"])

    photo = stack.upload()
    ws_url = stack.base.replace("http", "ws") + "/ws/jobs/"
    with connect(ws_url, additional_headers=stack.headers, open_timeout=10) as ws:
        job = stack.submit("adjust", photo, {"exposure": 0.7, "contrast": 20})
        assert job["status"] == "queued"
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            event = json.loads(ws.recv(timeout=30))
            if event.get("id") != job["id"]:
                continue
            seen.append(event["status"])
            if event["status"] in ("succeeded", "failed"):
                break
    assert event["type"] == "job"
    assert event["status"] == "succeeded", (event, worker.output())
    assert "running" in seen
    [output] = event["outputs"]
    image = httpx.get(stack.base + output["url"], headers=stack.headers)
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    assert stack.job(job["id"])["timings"]["run_s"] > 0


def test_websocket_refusals_close_with_the_documented_codes(redis_stack):
    from websockets.sync.client import connect

    stack = redis_stack
    manage(stack.env, "adduser", "rex", "--role", "reviewer", "--password", "pw-123456")
    reviewer = token_for(stack.base, "rex", "pw-123456")
    jobs = stack.base.replace("http", "ws") + "/ws/jobs/"
    assert websocket_close_code(jobs, origin=stack.base) == 4401  # no cookie, no token
    assert websocket_close_code(jobs, token="not-a-token") == 4401
    assert websocket_close_code(jobs, token=reviewer) == 4403  # reviewers run no jobs
    with connect(jobs, additional_headers=stack.headers, open_timeout=10) as ws:  # a frame that is not JSON
        ws.send("{not json")
        assert json.loads(ws.recv(timeout=10)) == {"type": "error", "detail": "That frame is not valid JSON."}
        ws.send(json.dumps({"type": "ping"}))  # … and the socket stays open
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}


def test_killed_worker_job_is_redelivered_and_retried_once_then_fails(rabbit_stack):
    """RabbitMQ redelivers the unacknowledged task when its worker dies; the job runs again once."""
    stack = rabbit_stack
    photo = stack.upload()
    first = stack.worker("doomed1@test")
    job = stack.submit("diagnostics.sleep", photo, {"seconds": 30})
    stack.wait_job(job["id"], {"running"})
    first.kill()
    second = stack.worker("doomed2@test")
    running = stack.wait_job(job["id"], {"running", "failed", "succeeded"})
    deadline = time.monotonic() + 30
    while running["attempts"] < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        running = stack.job(job["id"])
    assert running["status"] == "running" and running["attempts"] == 2, (json.dumps(running), second.output())
    second.kill()
    stack.worker("survivor@test")
    failed = stack.wait_job(job["id"], {"failed", "succeeded"}, timeout=60)
    assert failed["status"] == "failed"
    assert "stopped 2 times" in failed["error"]

    # A job whose worker dies once completes on the retry.
    job = stack.submit("diagnostics.sleep", photo, {"seconds": 3})
    stack.wait_job(job["id"], {"running"})
    stack.workers[-1].kill()
    stack.worker("rescuer@test")
    done = stack.wait_job(job["id"], {"succeeded", "failed"}, timeout=60)
    assert done["status"] == "succeeded" and done["attempts"] == 2, done


def test_stale_job_is_recovered_by_the_reaper_on_redis(redis_stack):
    """Redis does not redeliver until its visibility timeout; the heartbeat reaper retries the job."""
    stack = redis_stack
    photo = stack.upload()
    doomed = stack.worker("doomed@test")
    job = stack.submit("diagnostics.sleep", photo, {"seconds": 20})
    stack.wait_job(job["id"], {"running"})
    doomed.kill()
    stack.worker("reaper@test")
    done = stack.wait_job(job["id"], {"succeeded", "failed"}, timeout=90)
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
