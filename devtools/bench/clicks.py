"""Per-click latency of interactive sessions, and full-resolution output time.

    python -m devtools.bench.clicks [--clicks 40] [--skip-distributed] [--skip-fullres]

* embedded: ``manage.py serve`` subprocess (in-process worker thread, in-memory channel layer);
* distributed: uvicorn + ``celery -A webapp worker`` subprocesses, Redis broker and channel layer,
  a scratch PostgreSQL database (needs 127.0.0.1:5432 and :6379; skipped otherwise);
* full resolution: ``retouch.interactive`` on a 24-megapixel photo in this process.

Each click is sent after the previous result arrived (so latest-wins never drops one); it reports
p50/p90 of the server time (``server_ms``: the worker's incremental work, PNG encodes and
storage) and of the end-to-end time (send → result message on the WebSocket). Loopback only;
every process, database, Redis db and folder it makes is removed at the end. Third-party libraries
are imported where they are used, so that ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import time

import numpy as np

from devtools import processes

REDIS_DB = "redis://127.0.0.1:6379/14"


def _portrait_png(side: int = 1200) -> bytes:
    import cv2
    from PIL import Image
    from skimage import data

    image = cv2.resize(np.asarray(data.astronaut()), (side, side), interpolation=cv2.INTER_CUBIC)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _pcts(values) -> dict:
    a = np.asarray(values, float)
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 1),
            "p90": round(float(np.percentile(a, 90)), 1), "min": round(float(a.min()), 1)}


async def _click_loop(ws_base: str, session_id: str, token: str, n: int, size: int) -> dict:
    import websockets

    rng = np.random.default_rng(0)
    e2e, server = [], []
    async with websockets.connect(f"{ws_base}/ws/sessions/{session_id}/?token={token}",
                                  origin=ws_base.replace("ws://", "http://")) as ws:
        clicks: list = []
        for seq in range(1, n + 3):
            if len(clicks) >= 8:
                clicks = []
            clicks.append({"x": float(rng.uniform(0, size - 1)), "y": float(rng.uniform(0, size - 1)),
                           "positive": bool(rng.random() < 0.7)})
            t0 = time.perf_counter()
            await ws.send(json.dumps({"clicks": clicks, "params": {"strength": 0.8}, "seq": seq}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
            ms = (time.perf_counter() - t0) * 1000.0
            if reply.get("type") != "result" or reply.get("seq") != seq:
                raise RuntimeError(f"unexpected reply {reply}")
            if seq <= 2:  # the first click prepares the session (cache fill); one more to warm up
                first = ms if seq == 1 else None
                if first is not None:
                    first_ms = first
                continue
            e2e.append(ms)
            server.append(reply["server_ms"])
    return {"end_to_end_ms": _pcts(e2e), "server_ms": _pcts(server), "first_click_ms": round(first_ms, 1)}


def _prepare_user_and_session(base: str, env: dict, png: bytes) -> tuple[str, str]:
    import httpx

    token = processes.add_user(base, env, "bench", "researcher", "bench-pw-123")
    auth = {"Authorization": f"Token {token}"}
    photo = httpx.post(f"{base}/api/photos/", headers=auth, files={"file": ("p.png", png, "image/png")},
                       timeout=120).json()
    session = httpx.post(f"{base}/api/sessions/", headers=auth,
                         json={"photo": photo["id"], "engine": "retouch.interactive"}).json()
    return token, session["id"]


def _clicks(base: str, env: dict, n: int, png: bytes, size: int) -> dict:
    token, sid = _prepare_user_and_session(base, env, png)
    return asyncio.run(_click_loop(base.replace("http://", "ws://"), sid, token, n, size))


def bench_embedded(n: int, png: bytes, size: int) -> dict:
    with processes.embedded_platform(prefix="plab-bench-") as (base, env):
        return _clicks(base, env, n, png, size)


def bench_distributed(n: int, png: bytes, size: int) -> dict:
    missing = processes.services_for_distributed_mode()
    if missing:
        return {"skipped": missing}
    with processes.distributed_platform(REDIS_DB, worker_name="bench@localhost", queues="cpu") as (base, env):
        return _clicks(base, env, n, png, size)


def bench_fullres(width: int = 6000, height: int = 4000) -> dict:
    import cv2
    from skimage import data

    import inference.engines as engines  # deferred: engine modules load OpenCV and friends
    from inference import imageio

    base = np.asarray(data.astronaut(), np.float32) / 255.0
    image = cv2.resize(base[:, 64:448], (width, height), interpolation=cv2.INTER_LINEAR)
    engine = engines.create("retouch.interactive")
    clicks = [{"x": width * 0.45, "y": height * 0.3, "positive": True},
              {"x": width * 0.9, "y": height * 0.9, "positive": False}]
    engine.run({"image": image[:400, :600].copy(), "clicks": []}, {})  # warm imports / calibration
    t0 = time.perf_counter()
    state = engine.prepare(image)
    t1 = time.perf_counter()
    out = engine.run_clicks(state, clicks, {}, full_image=image)["image"]
    t2 = time.perf_counter()
    png = imageio.encode_png(np.clip(out, 0, 1))
    t3 = time.perf_counter()
    return {"megapixels": round(width * height / 1e6, 1), "prepare_s": round(t1 - t0, 2),
            "render_full_s": round(t2 - t1, 2), "png_encode_s": round(t3 - t2, 2),
            "total_s": round(t3 - t0, 2), "png_mb": round(len(png) / 2**20, 1)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench.clicks", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--clicks", type=int, default=40, help="timed clicks per mode (at least 30 are sent)")
    parser.add_argument("--skip-distributed", action="store_true", help="skip the uvicorn + Celery mode")
    parser.add_argument("--skip-fullres", action="store_true", help="skip the 24-megapixel output timing")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    size = 1200
    png = _portrait_png(size)
    report = {"photo": f"{size}×{size} portrait, 360 px working resolution", "cpus": os.cpu_count()}
    report["embedded"] = bench_embedded(max(30, args.clicks), png, size)
    print(json.dumps({"embedded": report["embedded"]}), flush=True)
    if not args.skip_distributed:
        report["distributed"] = bench_distributed(max(30, args.clicks), png, size)
        print(json.dumps({"distributed": report["distributed"]}), flush=True)
    if not args.skip_fullres:
        import django

        django.setup()
        report["full_resolution"] = bench_fullres()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
