"""The platform's processes, started for real and removed afterwards: shared by tests and benchmarks.

Servers (``manage.py serve`` or uvicorn), Celery workers, scratch PostgreSQL databases, Redis
flushes, ``manage.py`` commands and API tokens. Everything runs on loopback from the checkout
(``REPO``); nothing here imports pytest or Django.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_MIGRATED_TEMPLATES: dict[str, str] = {}


def _migrated_template(server_url: str) -> str:
    """A database migrated once per process, cloned by ``CREATE DATABASE … TEMPLATE`` (a fraction of a
    second, where ``manage.py migrate`` takes seconds per test); dropped when the process exits."""
    if server_url in _MIGRATED_TEMPLATES:
        return _MIGRATED_TEMPLATES[server_url]
    import atexit

    import psycopg

    name = f"plab_template_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    atexit.register(drop)
    with tempfile.TemporaryDirectory(prefix="plab-template-") as tmp:
        manage(base_env(DATABASE_URL=f"{server_url.rsplit('/', 1)[0]}/{name}", DATA_DIR=tmp),
               "migrate", "--noinput", "--verbosity", "0")
    _MIGRATED_TEMPLATES[server_url] = name
    return name


@contextmanager
def scratch_postgres_database(server_url: str = PG_URL, prefix: str = "plab_test_", *, migrated: bool = False):
    """A fresh database of our own, dropped afterwards: never assume a clean shared one.

    ``migrated``: the schema is already there (a copy of a template this process migrated once).
    """
    import psycopg

    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    template = f' TEMPLATE "{_migrated_template(server_url)}"' if migrated else ""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{template}')
    base = server_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis_db(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "CHANNELS_"))}
    env.update({"PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "webapp.settings"})
    env.update(extra)
    return env


def wait_for_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def wait_for_worker(base_url: str, queue: str, timeout: float = 60.0, name: str | None = None) -> dict:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = httpx.get(f"{base_url}/api/health/", timeout=2.0).json()["workers"]
        for worker in workers:
            if queue in worker["queues"] and (name is None or worker["name"] == name):
                return worker
        time.sleep(0.3)
    raise TimeoutError(f"no worker for queue {queue!r} reported within {timeout} s")


FINISHED_JOB = frozenset({"succeeded", "failed", "cancelled"})


def wait_for_job(base_url: str, headers: dict[str, str], job_id: int, statuses=FINISHED_JOB,
                 timeout: float = 120.0) -> dict:
    """Poll ``GET /api/jobs/<id>/`` until the job's status is one of ``statuses``; returns the job."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        job = httpx.get(f"{base_url}/api/jobs/{job_id}/", headers=headers).json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} never reached {sorted(statuses)} within {timeout} s: {job}")
        time.sleep(0.1)


class Proc:
    """A child process (in its own process group) whose output goes to a log file, shown on failure."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.popen = subprocess.Popen(args, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def stop(self, sig: int = 15, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, 9)
                self.popen.wait(5)
        self._log.close()

    def kill(self) -> None:
        self.stop(sig=9)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]


def start_http_server(args: list[str], env: dict[str, str], log_path: Path, base: str,
                      timeout: float = 90) -> Proc:
    """Start ``args`` and wait until ``base``'s health endpoint answers; on failure print its log."""
    proc = Proc(args, env, log_path)
    try:
        wait_for_http(f"{base}/api/health/", proc=proc.popen, timeout=timeout)
    except Exception:
        print(proc.output())
        proc.stop()
        raise
    return proc


def start_uvicorn(env: dict[str, str], tmp: Path, *, app: str = "webapp.asgi:application",
                  log_level: str = "warning", timeout: float = 90) -> tuple[Proc, str]:
    """uvicorn alone (the distributed web tier) serving ``app`` on a free port; ``log_level`` info
    turns the access log on. Returns the process and its base URL."""
    port = free_port()
    args = [PYTHON, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
            "--log-level", log_level]
    base = f"http://127.0.0.1:{port}"
    return start_http_server(args, env, tmp / f"server-{port}.log", base, timeout=timeout), base


def start_server(env: dict[str, str], tmp: Path, *, embedded: bool) -> tuple[Proc, str]:
    """``manage.py serve`` (embedded) or uvicorn alone (distributed web tier) on a free port."""
    if not embedded:
        return start_uvicorn(env, tmp)
    port = free_port()
    args = [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    return start_http_server(args, env, tmp / f"server-{port}.log", base), base


def start_celery_worker(env: dict[str, str], tmp: Path, *, queues: str, name: str,
                        pool: str = "solo") -> Proc:
    args = [PYTHON, "-m", "celery", "-A", "webapp", "worker", "-Q", queues, "-n", name, "--pool", pool,
            "--concurrency", "1", "--loglevel", "WARNING", "--without-mingle", "--without-gossip"]
    return Proc(args, env, tmp / f"worker-{name.replace('@', '_')}.log")


def token_for(base: str, username: str, password: str) -> str:
    import httpx

    response = httpx.post(f"{base}/api/auth/token/", json={"username": username, "password": password})
    response.raise_for_status()
    return response.json()["token"]


def manage(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def add_user(base: str, env: dict[str, str], username: str, role: str, password: str) -> str:
    """Create a user with ``manage.py adduser`` and return an API token for it."""
    manage(env, "adduser", username, "--role", role, "--password", password)
    return token_for(base, username, password)


def services_for_distributed_mode() -> str | None:
    """None when PostgreSQL and Redis answer; else why a distributed run cannot happen."""
    if port_open("127.0.0.1", 5432) and port_open("127.0.0.1", 6379):
        return None
    return "needs PostgreSQL on :5432 and Redis on :6379"


@contextmanager
def embedded_platform(prefix: str = "plab-"):
    """``manage.py serve`` (worker thread, in-memory transport and channel layer) on a scratch ``DATA_DIR``.

    Yields ``(base_url, env)``; the server and its folder are removed after.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        env = base_env(DATA_DIR=tmp, LOG_LEVEL="WARNING")
        server, base = start_server(env, Path(tmp), embedded=True)
        try:
            yield base, env
        finally:
            server.stop()


@contextmanager
def distributed_platform(redis_url: str, *, worker_name: str, queues: str = "cpu,gpu"):
    """uvicorn + one ``celery worker`` on a scratch database, Redis as broker and channel layer.

    Yields ``(base_url, env)``; every process, database, Redis db and folder is removed after.
    """
    with tempfile.TemporaryDirectory(prefix="plab-") as tmp, scratch_postgres_database() as db_url:
        env = base_env(DATABASE_URL=db_url, CELERY_BROKER_URL=redis_url, CHANNELS_REDIS_URL=redis_url,
                       DATA_DIR=tmp, MEDIA_ROOT=str(Path(tmp) / "media"), LOG_LEVEL="WARNING")
        flush_redis_db(redis_url)
        manage(env, "migrate", "--noinput")
        server, base = start_server(env, Path(tmp), embedded=False)
        worker = start_celery_worker(env, Path(tmp), queues=queues, name=worker_name)
        try:
            wait_for_worker(base, queues.split(",")[0], name=worker_name, timeout=90)
            yield base, env
        finally:
            worker.stop()
            server.stop()
            flush_redis_db(redis_url)


class DistributedStack:
    """A running distributed platform (see ``distributed_stack``): ``base``, ``env``, ``tmp``, the
    server, the workers started with ``worker()``, and an API token per user it was made with."""

    def __init__(self, base: str, env: dict[str, str], tmp: Path, server: Proc, tokens: dict[str, str]):
        self.base, self.env, self.tmp, self.server, self.tokens = base, env, tmp, server, tokens
        self.ws_base = base.replace("http://", "ws://")
        self.workers: list[Proc] = []

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Token {self.tokens[username]}"}

    def worker(self, name: str, queues: str = "cpu,gpu", timeout: float = 90) -> Proc:
        """A ``celery worker`` on ``queues``, returned once it reports on the first of them."""
        proc = start_celery_worker(self.env, self.tmp, queues=queues, name=name)
        self.workers.append(proc)
        try:
            wait_for_worker(self.base, queues.split(",")[0], name=name, timeout=timeout)
        except Exception:
            print(proc.output())
            raise
        return proc

    def stop_workers(self) -> None:
        while self.workers:
            self.workers.pop().stop()

    def output(self) -> str:
        """The server's and every worker's log tail, for a failure message."""
        return "\n".join([self.server.output(), *(w.output() for w in self.workers)])


@contextmanager
def distributed_stack(tmp: Path, broker: str, *, channels_url: str | None = None,
                      users: dict[str, str] | None = None, password: str = "pw-123456", **extra_env: str):
    """uvicorn on a migrated scratch PostgreSQL database, ``broker`` for Celery and Redis
    (``channels_url``, default the broker) as channel layer; no worker until ``stack.worker()``.

    ``users`` maps usernames to roles (each gets ``password`` and a token in ``stack.tokens``);
    ``extra_env`` adds settings. Every process, database, Redis db used and folder is removed after.
    """
    channels_url = channels_url or broker
    redis_dbs = {url for url in (broker, channels_url) if url.startswith("redis")}
    for url in redis_dbs:
        flush_redis_db(url)
    with scratch_postgres_database(migrated=True) as database_url:
        env = base_env(**{"DATABASE_URL": database_url, "CELERY_BROKER_URL": broker,
                          "CHANNELS_REDIS_URL": channels_url, "MEDIA_ROOT": str(tmp / "media"),
                          "DATA_DIR": str(tmp / "data"), "LOG_LEVEL": "WARNING", **extra_env})
        for username, role in (users or {}).items():
            manage(env, "adduser", username, "--role", role, "--password", password)
        server, base = start_uvicorn(env, tmp)
        stack = DistributedStack(base, env, tmp, server, {})
        try:
            stack.tokens = {username: token_for(base, username, password) for username in users or {}}
            yield stack
        finally:
            stack.stop_workers()
            server.stop()
            for url in redis_dbs:
                flush_redis_db(url)
