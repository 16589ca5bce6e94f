"""Learned engines' inference speed, through the engine registry as a worker calls them.

    python -m devtools.bench.models [--json] [--runs 30] [--full-runs 3] [--model-dir DIR] [--no-full]

* ``retouch.params`` and ``retouch.lut`` on a 360p image (480×360, people mask given): p50/p90 of
  the whole ``run`` (classifier on 256², then the renderer / the fused LUT at 360p); goal p50 ≤ 20 ms;
* the same two on a 24-megapixel image (6000×4000): median ``run`` time; goal ≤ 1.0 s;
* ``retouch.clicks``: one click with the image's encoder output cached (``run_clicks`` at working
  resolution, short side 360); goal p50 ≤ 60 ms; ``prepare`` (the encoder, once per image) is
  reported too.

Speed does not depend on what the weights learned, so without ``--model-dir`` the bench writes
freshly initialised networks of the default architectures into a temporary model directory. It
reports CPU threads, CUDA use and the 1-minute load average (wall time on a shared machine mostly
measures the neighbours). Heavy libraries are imported where they are used, so ``--help`` answers
at once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np

from devtools.bench.adjust import synthetic_image

AUTOMATIC = ("retouch.params", "retouch.lut")


def _pcts(times: tuple[list[float], list[float]]) -> dict[str, float]:
    ms, cpu = times
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p90_ms": round(float(np.percentile(ms, 90)), 2),
            "min_ms": round(min(ms), 2), "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2), "runs": len(ms)}


def _timed(fn, runs: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """Wall and CPU (all threads) milliseconds of ``runs`` calls: CPU time is the load-independent
    check when the machine is shared."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return wall, cpu


def _portrait_mask(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((((xx - w / 2) / (0.2 * w)) ** 2 + ((yy - 0.6 * h) / (0.4 * h)) ** 2) < 1).astype(np.float32)


def install_untrained(model_dir: str, names: list[str] | None = None) -> None:
    """Default-architecture networks, freshly initialised, as version "bench" of each engine."""
    from inference import modelstore
    from inference.models import create
    from inference.models import names as all_names

    for name in all_names() if names is None else names:
        model = create(name)
        modelstore.write_version(model_dir, name, "bench", model, {"architecture": name,
                                                                   "arguments": model.arguments})


def bench_models(model_dir: str | None = None, runs: int = 30, full_runs: int = 3, full: bool = True,
                 full_size: tuple[int, int] = (6000, 4000), small: tuple[int, int] = (480, 360)) -> dict[str, Any]:
    import torch  # deferred: --help must not wait for torch

    from inference import engines, modelstore

    tmp = tempfile.TemporaryDirectory(prefix="bench-models-")
    missing = [n for n in (*AUTOMATIC, "retouch.clicks") if not modelstore.versions(model_dir, n)]
    install_untrained(tmp.name, missing)  # engines without weights in model_dir: untrained ones
    dirs = {n: tmp.name if n in missing else str(model_dir) for n in (*AUTOMATIC, "retouch.clicks")}
    try:
        w, h = small
        image, mask = synthetic_image(w, h), _portrait_mask(h, w)
        result: dict[str, Any] = {"threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
                                  "small": [w, h], "engines": {}}
        for name in AUTOMATIC:
            engine = engines.create(name, model_dir=dirs[name])
            inputs = {"image": image, "mask": mask}
            row = {"version": None, **_pcts(_timed(lambda e=engine, i=inputs: e.run(i, {}), runs))}
            row["version"] = engine.version
            if full:
                fw, fh = full_size
                big = {"image": synthetic_image(fw, fh), "mask": _portrait_mask(fh, fw)}
                times, cpu = _timed(lambda e=engine, i=big: e.run(i, {}), full_runs, warmup=1)
                row["full"] = {"megapixels": round(fw * fh / 1e6, 1), "median_s": round(statistics.median(times) / 1000, 3),
                               "min_s": round(min(times) / 1000, 3), "cpu_median_s": round(statistics.median(cpu) / 1000, 3),
                               "runs": len(times)}
                del big
            result["engines"][name] = row
        clicks = engines.create("retouch.clicks", model_dir=dirs["retouch.clicks"])
        prepare_ms = _timed(lambda: clicks.prepare(image, mask), max(3, runs // 5), warmup=1)
        state = clicks.prepare(image, mask)
        rng = np.random.default_rng(0)
        points = [[{"x": float(rng.uniform(0, w - 1)), "y": float(rng.uniform(0, h - 1)), "positive": bool(k % 3)}
                   for k in range(1, 2 + i % 4)] for i in range(runs + 2)]
        it = iter(points)
        click_ms = _timed(lambda: clicks.run_clicks(state, next(it), {}), runs)
        result["engines"]["retouch.clicks"] = {"version": clicks.version, **_pcts(click_ms),
                                               "prepare_p50_ms": _pcts(prepare_ms)["p50_ms"]}
        result["load_avg_1m"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        return result
    finally:
        tmp.cleanup()


def format_report(r: dict[str, Any]) -> str:
    w, h = r["small"]
    lines = [f"learned engines on {r['threads']} torch thread(s), CUDA {'yes' if r['cuda'] else 'no'}; "
             f"load average {r['load_avg_1m']}"]
    for name in AUTOMATIC:
        row = r["engines"][name]
        line = (f"  {name:<15} {w}×{h}: p50 {row['p50_ms']:.1f} ms, p90 {row['p90_ms']:.1f} ms, CPU p50 "
                f"{row['cpu_p50_ms']:.1f} ms (goal p50 ≤ 20 ms)")
        if "full" in row:
            line += (f"; {row['full']['megapixels']} MP: median {row['full']['median_s']:.3f} s, CPU "
                     f"{row['full']['cpu_median_s']:.3f} s (goal ≤ 1.0 s)")
        lines.append(line)
    c = r["engines"]["retouch.clicks"]
    lines.append(f"  retouch.clicks  per click (encoder cached): p50 {c['p50_ms']:.1f} ms, p90 {c['p90_ms']:.1f} ms, "
                 f"CPU p50 {c['cpu_p50_ms']:.1f} ms (goal p50 ≤ 60 ms); prepare p50 {c['prepare_p50_ms']:.1f} ms")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devtools.bench.models",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                description="Inference speed of the learned engines (docs/models.md).")
    p.add_argument("--model-dir", default=None,
                   help="model directory to time (engines it lacks, or all without it: untrained "
                        "default networks in a temp dir)")
    p.add_argument("--runs", type=int, default=30, help="timed runs at 360p and clicks")
    p.add_argument("--full-runs", type=int, default=3, help="timed runs at full resolution")
    p.add_argument("--full-width", type=int, default=6000, help="full-resolution width")
    p.add_argument("--full-height", type=int, default=4000, help="full-resolution height")
    p.add_argument("--no-full", action="store_true", help="skip the full-resolution runs")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = bench_models(args.model_dir, args.runs, args.full_runs, not args.no_full,
                          (args.full_width, args.full_height))
    print(json.dumps(result, indent=1) if args.json else format_report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
