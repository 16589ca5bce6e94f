"""End-to-end job latency: API submit → WebSocket completion.

    python -m devtools.bench.jobs [--jobs 30]

A 360p ``adjust`` job (640 × 360 photo) is submitted through ``POST /api/jobs/`` while a
WebSocket on ``/ws/jobs/`` listens; the latency is the time until its ``succeeded`` event
arrives. Jobs go one after another, so each measures the full path, not a queue backlog.

* embedded: ``manage.py serve`` (worker thread, memory transport, in-memory channel layer);
* distributed: uvicorn + a ``celery worker`` process, Redis broker and channel layer, a scratch
  PostgreSQL database (skipped when those services are absent).

``python -m devtools.bench.adjust`` runs it too, as its ``job_latency`` section. Loopback only;
everything it starts or creates is removed at the end. Third-party libraries are imported where
they are used, so that ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import numpy as np

from devtools import processes

REDIS_DB = "redis://127.0.0.1:6379/4"
JOBS = 30


def _pcts(values: list[float]) -> dict:
    a = np.asarray(values, float)
    return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p90_ms": round(float(np.percentile(a, 90)), 1), "min_ms": round(float(a.min()), 1)}


def _photo_png() -> bytes:
    import cv2
    from skimage import data

    portrait = cv2.resize(data.astronaut(), (640, 360), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(portrait, cv2.COLOR_RGB2BGR))
    assert ok
    return encoded.tobytes()


async def _submit_loop(base: str, token: str, photo: int, n: int) -> list[float]:
    import httpx
    import websockets

    latencies = []
    auth = {"Authorization": f"Token {token}"}
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=60) as http, \
            websockets.connect(f"{base.replace('http://', 'ws://')}/ws/jobs/", additional_headers=auth) as ws:
        for i in range(n + 3):
            t0 = time.perf_counter()
            response = await http.post("/api/jobs/", json={
                "engine": "adjust", "inputs": {"photo": photo},
                "params": {"exposure": round(0.01 * (i % 50), 2), "contrast": 10}})
            response.raise_for_status()
            job_id = response.json()["id"]
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if event.get("id") == job_id and event["status"] in ("succeeded", "failed"):
                    break
            if event["status"] != "succeeded":
                raise RuntimeError(f"job failed: {event}")
            if i >= 3:  # the first jobs warm the engine and the connections
                latencies.append((time.perf_counter() - t0) * 1000)
    return latencies


def _run(base: str, env: dict, n: int) -> dict:
    import httpx

    token = processes.add_user(base, env, "bench", "researcher", "bench-pw-123")
    photo = httpx.post(f"{base}/api/photos/", headers={"Authorization": f"Token {token}"},
                       files={"file": ("p.png", _photo_png(), "image/png")}, timeout=60).json()["id"]
    return _pcts(asyncio.run(_submit_loop(base, token, photo, n)))


def bench_embedded(n: int) -> dict:
    with processes.embedded_platform(prefix="plab-bench-") as (base, env):
        return _run(base, env, n)


def bench_distributed(n: int) -> dict:
    missing = processes.services_for_distributed_mode()
    if missing:
        return {"skipped": missing}
    with processes.distributed_platform(REDIS_DB, worker_name="bench@localhost") as (base, env):
        return _run(base, env, n)


def job_latency(n: int = JOBS) -> dict:
    return {"jobs_per_mode": n, "embedded": bench_embedded(n), "distributed": bench_distributed(n)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench.jobs", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--jobs", type=int, default=JOBS, help="timed jobs per mode (after 3 warm-up jobs)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(json.dumps(job_latency(args.jobs), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
