"""Vote ingestion: votes per second the production web tier stores, and their latency.

    python -m devtools.bench.votes [--workers 2] [--concurrency 16] [--rate 500]

Starts its own production-style server (``uvicorn webapp.asgi:application``, N workers, uvloop +
httptools) on a scratch PostgreSQL database (Redis channel layer and broker), lets participants join
over HTTP, then fires votes (plus a share of immediate duplicate retries with the same idempotency
key) on loopback and drops everything it created.

Two phases (``--phase``):

* ``closed``: ``--concurrency`` connections each send a vote as soon as the previous one answered,
  for ``--duration`` seconds: the most the stack sustains (latency is mostly queueing here).
* ``open``: votes arrive at ``--rate`` per second (Poisson) whatever the server's pace, so latency
  includes any waiting for a free connection or a late start (no coordinated omission): the
  latency a participant sees at that load.

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio streams (uvloop), in this
process; it shares the machine's cores with the server and PostgreSQL. The report gives CPU seconds
per phase for the generator, the server processes, PostgreSQL and the whole machine, so its share
is visible. Stored votes must equal accepted (201) votes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

from devtools.processes import (
    PYTHON,
    Proc,
    base_env,
    free_port,
    manage,
    scratch_postgres_database,
    start_http_server,
)

PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
TICK = os.sysconf("SC_CLK_TCK")


def server_env(database_url: str, media_root: str) -> dict[str, str]:
    """The server's environment: every participant joins from this machine at once, so without the
    join rate limits (a crowd's, per address and site-wide)."""
    return base_env(DATABASE_URL=database_url, CHANNELS_REDIS_URL=REDIS_URL, CELERY_BROKER_URL=REDIS_URL,
                    MEDIA_ROOT=media_root, DATA_DIR=media_root, STUDY_JOIN_RATE_PER_IP="0",
                    STUDY_JOIN_RATE_GLOBAL="0")


def uvicorn_args(port: int, workers: int) -> list[str]:
    """The production web tier (docs/deployment.md), with the fast protocol/loop made explicit."""
    return [PYTHON, "-m", "uvicorn", "webapp.asgi:application", "--host", "127.0.0.1", "--port",
            str(port), "--workers", str(workers), "--http", "httptools", "--loop", "uvloop", "--lifespan", "off",
            "--log-level", "warning", "--no-access-log"]


def start_uvicorn(env: dict[str, str], workers: int, log_path: Path) -> tuple[Proc, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    return start_http_server(uvicorn_args(port, workers), env, log_path, base, timeout=60), base


BUILD = """
from studies import setup, simulation
from webapp.accounts.services import create_or_update_user
owner = create_or_update_user("bench-researcher", role="researcher", password="pw-123456")
study = simulation.build_study(owner, participants={participants}, seed=1)
setup.update_study(study, trials_per_participant={trials})
print("study", study.pk, study.public_id)
"""


def prepare(env: dict[str, str], participants: int, trials: int = 60) -> tuple[int, str]:
    """Migrate and build the demo study (open, nobody joined yet) with ``trials`` trials per participant."""
    manage(env, "migrate", "-v0", timeout=300)
    out = manage(env, "shell", "-c", BUILD.format(participants=participants, trials=trials), timeout=300)
    _, sid, public_id = out.strip().splitlines()[-1].split()
    return int(sid), public_id


async def join_all(base: str, public_id: str, n: int, concurrency: int) -> list[str]:
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


# ----------------------------------------------------------------------------- the load generator


class Connection:
    """One HTTP/1.1 keep-alive connection: write a request, read status, headers and body."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes, headers: str = "") -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if not size:
                    break
                data += chunk[:-2]
        else:
            data = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, data


class Load:
    """Votes to send and what came back."""

    def __init__(self, base: str, work: list[tuple[str, str]], duplicate_share: float, seed: int = 0):
        host_port = base.split("://", 1)[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.work = list(work)
        self.rng = random.Random(seed)
        self.duplicate_share = duplicate_share
        self.latencies: list[float] = []
        self.timeline: list[tuple[float, float]] = []  # (start, latency), for --timeline
        self.codes: dict[int, int] = {}
        self.accepted: set[str] = set()
        self.errors = 0
        self.reconnects = 0

    async def vote(self, conn: Connection, token: str, tid: str, scheduled: float | None = None) -> None:
        body = json.dumps({"choice": self.rng.choice(("left", "right")), "idempotency_key": f"k-{tid}",
                           "elapsed_ms": 1234}).encode()
        headers = f"X-Participant-Token: {token}\r\n"
        for attempt in range(2 if self.rng.random() < self.duplicate_share else 1):
            t0 = scheduled if (scheduled is not None and attempt == 0) else time.perf_counter()
            try:
                status, _ = await self._post(conn, f"/api/participate/trials/{tid}/response/", body, headers)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                conn.close()
                self.errors += 1
                continue
            self.latencies.append(time.perf_counter() - t0)
            self.timeline.append((t0, self.latencies[-1]))
            self.codes[status] = self.codes.get(status, 0) + 1
            if status == 201:
                self.accepted.add(tid)

    async def _post(self, conn: Connection, path: str, body: bytes, headers: str) -> tuple[int, bytes]:
        """Like a browser: a kept-alive connection the server closed meanwhile (uvicorn drops idle ones
        after 5 s) is reopened and the request sent again, once (votes are idempotent)."""
        reused = conn.writer is not None
        try:
            return await conn.post(path, body, headers)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not reused:
                raise
            conn.close()
            self.reconnects += 1
            return await conn.post(path, body, headers)

    async def closed_loop(self, concurrency: int, duration: float) -> float:
        deadline = time.perf_counter() + duration

        async def worker():
            conn = Connection(self.host, self.port)
            try:
                while time.perf_counter() < deadline and self.work:
                    token, tid = self.work.pop()
                    await self.vote(conn, token, tid)
            finally:
                conn.close()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0

    async def open_loop(self, rate: float, duration: float, max_connections: int = 256) -> float:
        """Poisson arrivals at ``rate``/s; a vote waits for a free connection (counted in its latency)."""
        idle: list[Connection] = []
        count = 0
        sem = asyncio.Semaphore(max_connections)
        tasks = set()

        async def one(token, tid, scheduled):
            async with sem:
                conn = idle.pop() if idle else Connection(self.host, self.port)
                try:
                    await self.vote(conn, token, tid, scheduled)
                finally:
                    idle.append(conn)

        t0 = time.perf_counter()
        arrival = t0
        while arrival < t0 + duration and self.work:
            arrival += self.rng.expovariate(rate)
            delay = arrival - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            token, tid = self.work.pop()
            task = asyncio.create_task(one(token, tid, arrival))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            count += 1
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
        for conn in idle:
            conn.close()
        return wall

    def summary(self, wall: float) -> dict:
        lat = sorted(self.latencies)
        if not lat:
            return {"requests": 0, "wall_s": wall, "throughput": 0.0, "codes": self.codes, "errors": self.errors}

        def pct(q):
            return 1000 * lat[min(len(lat) - 1, int(q * len(lat)))]

        return {"requests": len(lat), "wall_s": wall, "throughput": len(lat) / wall, "p50_ms": pct(0.50),
                "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": 1000 * lat[-1],
                "mean_ms": 1000 * sum(lat) / len(lat), "codes": self.codes, "errors": self.errors,
                "reconnects": self.reconnects, "accepted": len(self.accepted)}


# ----------------------------------------------------------------------------- CPU accounting


def _proc_ticks(pid: str) -> tuple[int, int] | None:
    """(process group, utime + stime ticks) of one process, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[2]), int(fields[11]) + int(fields[12])


def cpu_snapshot(server_pgid: int) -> dict[str, float]:
    """CPU seconds so far: this process (the generator), the server's process group, PostgreSQL, machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    server = postgres = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        info = _proc_ticks(pid)
        if info is None:
            continue
        if info[0] == server_pgid:
            server += info[1]
        else:
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster"):
                    postgres += info[1]
            except OSError:
                pass
    total = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(v) for v in total) - int(total[3]) - int(total[4])  # minus idle and iowait
    return {"generator": usage.ru_utime + usage.ru_stime, "server": server / TICK, "postgres": postgres / TICK,
            "machine": busy / TICK, "wall": time.perf_counter()}


def cpu_report(before: dict, after: dict) -> dict:
    d = {k: after[k] - before[k] for k in before}
    cores = os.cpu_count() or 1
    d["other"] = max(0.0, d["machine"] - d["generator"] - d["server"] - d["postgres"])
    d["capacity"] = cores * d["wall"]
    return d


def format_cpu(c: dict, requests: int) -> str:
    parts = [f"{name} {c[name]:.1f} s ({100 * c[name] / c['capacity']:.0f} %)"
             for name in ("server", "postgres", "generator", "other")]
    per_vote = 1000 * (c["server"] + c["postgres"]) / max(1, requests)
    return (f"CPU over {c['wall']:.1f} s on {os.cpu_count()} cores ({c['capacity']:.0f} core-s): "
            + " · ".join(parts) + f" · machine busy {100 * c['machine'] / c['capacity']:.0f} %"
            + f"\n  server+postgres CPU per request {per_vote:.2f} ms; generator "
            + f"{1000 * c['generator'] / max(1, requests):.2f} ms per request")


def stored_votes(database_url: str, study_id: int) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM studies_response WHERE study_id = %s", (study_id,)).fetchone()[0]


def run_phase(name: str, load: Load, proc: Proc, args) -> dict:
    import uvloop

    before = cpu_snapshot(proc.popen.pid)
    if name == "closed":
        wall = uvloop.run(load.closed_loop(args.concurrency, args.duration))
    else:
        wall = uvloop.run(load.open_loop(args.rate, args.duration))
    cpu = cpu_report(before, cpu_snapshot(proc.popen.pid))
    res = load.summary(wall)
    mode = (f"closed loop, {args.concurrency} connections" if name == "closed"
            else f"open loop, Poisson arrivals at {args.rate:.0f}/s")
    print(f"\n[{name}] {mode}, {args.workers} uvicorn worker(s)")
    if not res["requests"]:
        print("  no answers")
        return res
    print(f"  requests {res['requests']} in {res['wall_s']:.2f} s → {res['throughput']:.0f} votes/s "
          f"(status codes {res['codes']}, "
          f"connection errors {res['errors']}, stale keep-alive connections reopened {res['reconnects']})")
    print(f"  latency p50 {res['p50_ms']:.1f} ms · p90 {res['p90_ms']:.1f} ms · p99 {res['p99_ms']:.1f} ms · "
          f"max {res['max_ms']:.1f} ms")
    print("  " + format_cpu(cpu, res["requests"]))
    if args.timeline:
        start = min(t for t, _ in load.timeline)
        buckets: dict[int, list[float]] = {}
        for t, lat in load.timeline:
            buckets.setdefault(int((t - start) / 0.5), []).append(lat)
        print("  per 0.5 s: " + " ".join(f"{k / 2:.1f}s:n{len(v)}/max{1000 * max(v):.0f}"
                                          for k, v in sorted(buckets.items())))
    res["cpu"] = cpu
    return res


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devtools.bench.votes", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    p.add_argument("--concurrency", type=int, default=16, help="connections in the closed-loop phase")
    p.add_argument("--rate", type=float, default=500.0, help="arrivals per second in the open-loop phase")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per phase at most")
    p.add_argument("--phase", choices=["closed", "open", "both"], default="both", help="which phase(s) to run")
    p.add_argument("--participants", type=int, default=300, help="participants who join the study")
    p.add_argument("--trials", type=int, default=80, help="trials per participant")
    p.add_argument("--timeline", action="store_true", help="print request count and max latency per 0.5 s")
    p.add_argument("--duplicates", type=float, default=0.05, help="share of votes sent twice (retries)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="plab-bench-") as tmp, \
            scratch_postgres_database(PG_URL, prefix="plab_bench_") as database_url:
        env = server_env(database_url, tmp)
        t0 = time.perf_counter()
        study_id, public_id = prepare(env, args.participants, args.trials)
        print(f"study {study_id} ready in {time.perf_counter() - t0:.1f} s")
        proc, base = start_uvicorn(env, args.workers, Path(tmp) / "server.log")
        try:
            return _run(args, proc, base, database_url, study_id, public_id)
        finally:
            proc.stop()


def _run(args, proc: Proc, base: str, database_url: str, study_id: int, public_id: str) -> int:
    tokens = asyncio.run(join_all(base, public_id, args.participants, 16))
    work = trial_ids(database_url, study_id, tokens)
    random.Random(1).shuffle(work)
    print(f"{len(tokens)} participants joined; {len(work)} trials to answer; server: {' '.join(uvicorn_args(0, args.workers)[1:])}")
    # Warm-up: every worker process opens its pool and imports everything once.
    warm = Load(base, work[-200:], 0.0)
    del work[-200:]
    __import__("uvloop").run(warm.closed_loop(8, 5))
    accepted = set(warm.accepted)
    phases = ["closed", "open"] if args.phase == "both" else [args.phase]
    ok = True
    for k, phase in enumerate(phases):
        load = Load(base, work[k::len(phases)], args.duplicates, seed=k)
        res = run_phase(phase, load, proc, args)
        accepted |= load.accepted
        ok &= res.get("requests", 0) > 0 and res["errors"] == 0 and set(res["codes"]) <= {200, 201}
    stored = stored_votes(database_url, study_id)
    print(f"\nstored {stored} = accepted {len(accepted)} (incl. warm-up): "
          f"{'OK' if stored == len(accepted) else 'MISMATCH'}")
    return 0 if ok and stored == len(accepted) else 1


if __name__ == "__main__":
    raise SystemExit(main())
