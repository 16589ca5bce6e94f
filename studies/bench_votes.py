"""Vote-ingestion benchmark: ``python -m studies.bench_votes [--workers 2] [--concurrency 64] [--duration 15]``.

Starts its own production-style server (uvicorn webapp.asgi:application, N workers) on a scratch
PostgreSQL database (Redis channel layer and broker), lets participants join over HTTP, then fires
votes (plus a share of duplicate retries) with bounded concurrency for a bounded time from an
httpx async client on loopback. Reports throughput and latency percentiles, checks that stored
votes equal accepted votes, and drops everything it created.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database_url: str, media_root: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "CHANNELS_"))}
    env.update(DATABASE_URL=database_url, CHANNELS_REDIS_URL=REDIS_URL, CELERY_BROKER_URL=REDIS_URL,
               MEDIA_ROOT=media_root, DATA_DIR=media_root, DJANGO_SETTINGS_MODULE="webapp.settings",
               PYTHONUNBUFFERED="1")
    return env


def start_uvicorn(env: dict[str, str], workers: int, log_path: Path, port: int | None = None):
    import httpx

    port = port or _free_port()
    args = [sys.executable, "-m", "uvicorn", "webapp.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--lifespan", "off", "--log-level", "warning", "--no-access-log"]
    log = open(log_path, "ab")  # noqa: SIM115
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/api/health/", timeout=1).status_code < 500:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("server did not start")


def stop(proc) -> None:
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    if out.returncode:
        raise RuntimeError(out.stdout + out.stderr)
    return out.stdout


BUILD = """
from studies import demo, services
from webapp.accounts.services import create_or_update_user
owner = create_or_update_user("bench-researcher", role="researcher", password="pw-123456")
study = demo.build_study(owner, participants={participants}, seed=1)
services.update_study(study, trials_per_participant={trials})
print("study", study.pk, study.public_id)
"""


def prepare(env: dict[str, str], participants: int, trials: int = 60) -> tuple[int, str]:
    """Migrate and build the demo study (open, nobody joined yet) with ``trials`` trials per participant."""
    manage(env, "migrate", "-v0")
    out = manage(env, "shell", "-c", BUILD.format(participants=participants, trials=trials))
    _, sid, public_id = out.strip().splitlines()[-1].split()
    return int(sid), public_id


async def join_all(base: str, public_id: str, n: int, concurrency: int) -> list[tuple[str, list[str]]]:
    """Join n participants over HTTP; returns their tokens (their trial ids are then read from the DB,
    so that only the vote endpoint is timed)."""
    import httpx

    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        async def one(k):
            async with sem:
                r = await client.post(f"/api/participate/{public_id}/join/",
                                      json={"consent": True, "params": {"PROLIFIC_PID": f"bench{k}"}})
                r.raise_for_status()
                return r.json()["participant_token"]
        return await asyncio.gather(*(one(k) for k in range(n)))


def trial_ids(database_url: str, study_id: int, tokens: list[str]) -> list[tuple[str, str]]:
    import hashlib

    import psycopg

    by_hash = {hashlib.sha256(t.encode()).hexdigest(): t for t in tokens}
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT p.token_hash, t.public_id FROM studies_trial t JOIN studies_participant p ON p.id = t.participant_id"
            " WHERE t.study_id = %s ORDER BY p.id, t.position", (study_id,)).fetchall()
    return [(by_hash[h], tid) for h, tid in rows if h in by_hash]


async def fire(base: str, work: list[tuple[str, str]], concurrency: int, duration: float, duplicate_share: float,
               seed: int = 0) -> dict:
    import httpx

    rng = random.Random(seed)
    queue: asyncio.Queue = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    latencies: list[float] = []
    codes: dict[int, int] = {}
    accepted: set[str] = set()
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        async def worker():
            while time.perf_counter() < deadline:
                try:
                    token, tid = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = {"choice": rng.choice(("left", "right")), "idempotency_key": f"k-{tid}", "elapsed_ms": 1234}
                for _attempt in range(2 if rng.random() < duplicate_share else 1):
                    t0 = time.perf_counter()
                    r = await client.post(f"/api/participate/trials/{tid}/response/", json=body,
                                          headers={"X-Participant-Token": token})
                    latencies.append(time.perf_counter() - t0)
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1
                    if r.status_code == 201:
                        accepted.add(tid)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    lat = sorted(latencies)
    pct = lambda q: 1000 * lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    return {"requests": len(lat), "wall_s": wall, "throughput": len(lat) / wall, "p50_ms": pct(0.50),
            "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": 1000 * lat[-1], "mean_ms": 1000 * statistics.mean(lat),
            "codes": codes, "accepted": len(accepted)}


def stored_votes(database_url: str, study_id: int) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM studies_response WHERE study_id = %s", (study_id,)).fetchone()[0]


def main(argv=None) -> int:
    import psycopg

    p = argparse.ArgumentParser(prog="python -m studies.bench_votes", description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--duration", type=float, default=15.0, help="seconds of voting at most")
    p.add_argument("--participants", type=int, default=120)
    p.add_argument("--duplicates", type=float, default=0.05, help="share of votes sent twice (retries)")
    args = p.parse_args(argv)

    name = f"plab_bench_{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="plab-bench-"))
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    proc = None
    try:
        env = server_env(database_url, str(tmp))
        t0 = time.perf_counter()
        study_id, public_id = prepare(env, args.participants)
        print(f"study {study_id} ready in {time.perf_counter() - t0:.1f} s")
        proc, base = start_uvicorn(env, args.workers, tmp / "server.log")
        tokens = asyncio.run(join_all(base, public_id, args.participants, 16))
        work = trial_ids(database_url, study_id, tokens)
        random.Random(1).shuffle(work)
        print(f"{len(tokens)} participants joined; {len(work)} trials available; voting for ≤ {args.duration:.0f} s "
              f"with concurrency {args.concurrency} against {args.workers} uvicorn worker(s)")
        res = asyncio.run(fire(base, work, args.concurrency, args.duration, args.duplicates))
        stored = stored_votes(database_url, study_id)
        print(f"requests {res['requests']} in {res['wall_s']:.2f} s → {res['throughput']:.0f} votes/s "
              f"(status codes {res['codes']})")
        print(f"latency p50 {res['p50_ms']:.1f} ms · p90 {res['p90_ms']:.1f} ms · p99 {res['p99_ms']:.1f} ms · "
              f"max {res['max_ms']:.1f} ms")
        print(f"stored {stored} = accepted {res['accepted']}: {'OK' if stored == res['accepted'] else 'MISMATCH'}")
        return 0 if stored == res["accepted"] else 1
    finally:
        if proc is not None:
            stop(proc)
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
