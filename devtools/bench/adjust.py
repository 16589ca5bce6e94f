"""The ``adjust`` engine at full resolution, then the platform's end-to-end job latency.

    python -m devtools.bench.adjust [--json] [--width 6000] [--height 4000] [--runs 5] [--no-e2e]

``bench_adjust(...) -> dict`` times the engine through the registry, as a worker calls it, and
returns JSON-able results. Then, unless ``--no-e2e``, ``devtools.bench.jobs`` measures the job
latency (it starts servers) and reports it under ``"sections"["job_latency"]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

from devtools.bench import jobs

# The typical non-identity parameter set timed by default (every stage active).
TYPICAL_ADJUST_PARAMS: dict[str, Any] = {
    "exposure": 0.4, "contrast": 25, "highlights": -40, "shadows": 30, "whites": 10, "blacks": -10,
    "temperature": 15, "tint": 5, "vibrance": 30, "saturation": 10,
    "tone_curve": [[0.25, 0.22], [0.5, 0.52], [0.75, 0.8]],
}


def summarize(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p90 = float(np.percentile(ordered, 90)) if len(ordered) > 1 else ordered[0]
    return {"median_s": statistics.median(ordered), "min_s": ordered[0], "p90_s": p90,
            "max_s": ordered[-1], "runs": len(ordered)}


def synthetic_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A float32 H×W×3 sRGB test image: smooth gradients plus noise, covering [0, 1]."""
    rng = np.random.default_rng(seed)
    img = rng.random((height, width, 3), dtype=np.float32)
    img *= np.float32(0.35)
    ramp = np.linspace(0.0, 0.65, width, dtype=np.float32)
    img += ramp[None, :, None]
    img[:, :, 1] += np.linspace(-0.1, 0.1, height, dtype=np.float32)[:, None]
    np.clip(img, 0.0, 1.0, out=img)
    return img


def bench_adjust(width: int = 6000, height: int = 4000, runs: int = 5, warmup: int = 1,
                 params: dict[str, Any] | None = None, seed: int = 0) -> dict[str, Any]:
    """Time full-resolution ``adjust`` (through the registry, as a worker calls it)."""
    from inference import engines  # deferred: engine modules load OpenCV and friends; --help stays instant

    engine = engines.create("adjust")
    image = synthetic_image(width, height, seed)
    params = dict(TYPICAL_ADJUST_PARAMS if params is None else params)
    progress_calls: list[float] = []
    for _ in range(warmup):
        engine.run({"image": image}, params, progress=progress_calls.append)
    times, cpu_times = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        out = engine.run({"image": image}, params)["image"]
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        del out
    return {"engine": "adjust", "width": width, "height": height,
            "megapixels": round(width * height / 1e6, 2), "warmup": warmup, "progress_calls": len(progress_calls),
            "cpus": os.cpu_count(), "params": params, **summarize(times),
            # CPU seconds (all threads) per run: a load-independent check when the machine is shared.
            "cpu_median_s": statistics.median(cpu_times), "load_avg_1m": _load_average(),
            "times_s": [round(t, 4) for t in times]}


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    result = bench_adjust(args.width, args.height, runs=args.runs, warmup=args.warmup,
                          params=args.params)
    if not args.json:
        print(f"adjust {result['width']}x{result['height']} ({result['megapixels']} MP, "
              f"{result['cpus']} CPUs, {result['runs']} runs after {result['warmup']} warm-up): "
              f"median {result['median_s']:.3f} s  min {result['min_s']:.3f} s  "
              f"p90 {result['p90_s']:.3f} s  (CPU {result['cpu_median_s']:.3f} s/run, "
              f"load {result['load_avg_1m']})", flush=True)
    if not args.no_e2e:
        result["sections"] = {"job_latency": jobs.job_latency(args.jobs)}
        if not args.json:
            print(f"job_latency: {json.dumps(result['sections']['job_latency'])}", flush=True)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench.adjust", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print results as one JSON object")
    parser.add_argument("--width", type=int, default=6000, help="image width in pixels")
    parser.add_argument("--height", type=int, default=4000, help="image height in pixels")
    parser.add_argument("--runs", type=int, default=5, help="timed runs")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs")
    parser.add_argument("--params", type=json.loads, default=json.dumps(TYPICAL_ADJUST_PARAMS),
                        help="JSON parameter object (the default has every stage on)")
    parser.add_argument("--no-e2e", action="store_true",
                        help="skip the platform's end-to-end job latency section")
    parser.add_argument("--jobs", type=int, default=jobs.JOBS,
                        help="timed jobs per mode in the job latency section")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
