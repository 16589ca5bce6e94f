"""The distributed mode on real services: PostgreSQL, Redis or RabbitMQ, a real ``celery worker``
process, the real ASGI server (uvicorn) and a WebSocket client."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.conftest import png_bytes, websocket_close_code
from tests.support import AMQP_URL, REDIS_URL, distributed_stack, manage, token_for, wait_for_job

pytestmark = pytest.mark.integration


class Stack:
    """The test's view of a ``DistributedStack``: ana's requests and the platform's workers."""

    def __init__(self, platform):
        self.platform, self.env, self.base = platform, platform.env, platform.base
        self.headers = platform.headers("ana")
        self.worker, self.workers = platform.worker, platform.workers

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
        return wait_for_job(self.base, self.headers, job_id, statuses, timeout)

    def sleep_outliving_its_worker(self, photo: int, seconds: float, successor: str):
        """Submit a ``diagnostics.sleep`` of ``seconds``, kill the newest worker once it runs it, and
        start the worker ``successor``; returns the job and the successor's process."""
        job = self.submit("diagnostics.sleep", photo, {"seconds": seconds})
        self.wait_job(job["id"], {"running"})
        self.workers[-1].kill()
        return job, self.worker(successor)


def _stack(tmp, broker: str, **extra_env):
    with distributed_stack(tmp, broker, channels_url=f"{REDIS_URL}/6", users={"ana": "researcher"},
                           JOB_HEARTBEAT_SECONDS="0.5", **extra_env) as platform:
        yield Stack(platform)


@pytest.fixture(scope="module")
def _redis_platform(tmp_path_factory):
    # the reaper runs on each worker's heartbeat: every second rather than every 5 s
    yield from _stack(tmp_path_factory.mktemp("redis-stack"), f"{REDIS_URL}/5", JOB_STALE_AFTER_SECONDS="4",
                      WORKER_HEARTBEAT_SECONDS="1")


@pytest.fixture
def redis_stack(_redis_platform):
    """One server and database for the module's Redis tests (none needs a fresh one); each test starts
    its own workers, and they are stopped after it so that the next test's jobs reach only its own."""
    yield _redis_platform
    _redis_platform.platform.stop_workers()


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
    stack.worker("doomed1@test")
    job, second = stack.sleep_outliving_its_worker(photo, 30, "doomed2@test")
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
    job, _ = stack.sleep_outliving_its_worker(photo, 3, "rescuer@test")
    done = stack.wait_job(job["id"], {"succeeded", "failed"}, timeout=60)
    assert done["status"] == "succeeded" and done["attempts"] == 2, done


def test_stale_job_is_recovered_by_the_reaper_on_redis(redis_stack):
    """Redis does not redeliver until its visibility timeout; the heartbeat reaper retries the job."""
    stack = redis_stack
    photo = stack.upload()
    stack.worker("doomed@test")
    # long enough to be running when its worker is killed (was 20 s: the retry sleeps it all through)
    job, _ = stack.sleep_outliving_its_worker(photo, 6, "reaper@test")
    done = stack.wait_job(job["id"], {"succeeded", "failed"}, timeout=90)
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
