"""Benchmarks for the inference engines: ``python -m inference.bench adjust [--json]``.

Structure, for whoever adds sections:

* ``bench_<name>(...) -> dict`` does the measuring and returns JSON-able results;
* ``SUBCOMMANDS`` maps a subcommand name to ``(add_arguments, run)``; ``main(argv)`` dispatches;
* ``EXTRA_SECTIONS`` maps a section name to ``section(args) -> dict | None``; ``bench adjust`` runs
  each after its own engine timing and reports the result under ``"sections"[name]``;
* ``bench adjust`` also runs the platform's end-to-end job latency as section ``"job_latency"``:
  ``webapp.bench.job_latency(args) -> dict | None`` when that module exists (imported lazily, so
  this module never needs Django), unless ``EXTRA_SECTIONS`` already has a ``"job_latency"``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Section = Callable[[argparse.Namespace], "dict[str, Any] | None"]

# Named sections run by ``bench adjust`` after the engine timing; other packages (the platform) add to it.
EXTRA_SECTIONS: dict[str, Section] = {}

# The typical non-identity parameter set timed by ``bench adjust`` (every stage active).
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
    from inference import engines

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


def _job_latency_section(args: argparse.Namespace) -> dict[str, Any] | None:
    """End-to-end job latency from the platform, when ``webapp.bench`` exists."""
    try:
        platform_bench = importlib.import_module("webapp.bench")
    except ModuleNotFoundError as exc:
        if exc.name not in ("webapp", "webapp.bench"):
            raise
        return {"skipped": "end-to-end job latency needs the platform (webapp.bench not found)"}
    return platform_bench.job_latency(args)


def _add_adjust_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs (default 1)")
    parser.add_argument("--params", type=json.loads, default=None,
                        help="JSON parameter object (default: a typical set with every stage on)")
    parser.add_argument("--no-e2e", action="store_true",
                        help="skip the platform's end-to-end job latency section")


def _run_adjust(args: argparse.Namespace) -> dict[str, Any]:
    result = bench_adjust(args.width, args.height, runs=args.runs, warmup=args.warmup,
                          params=args.params)
    if not args.json:
        print(f"adjust {result['width']}x{result['height']} ({result['megapixels']} MP, "
              f"{result['cpus']} CPUs, {result['runs']} runs after {result['warmup']} warm-up): "
              f"median {result['median_s']:.3f} s  min {result['min_s']:.3f} s  "
              f"p90 {result['p90_s']:.3f} s  (CPU {result['cpu_median_s']:.3f} s/run, "
              f"load {result['load_avg_1m']})", flush=True)
    sections: dict[str, Any] = {}
    extra = dict(EXTRA_SECTIONS)
    if args.no_e2e:
        extra.pop("job_latency", None)
    else:
        extra.setdefault("job_latency", _job_latency_section)
    for name, section in extra.items():
        sections[name] = section(args)
        if not args.json:
            print(f"{name}: {json.dumps(sections[name])}", flush=True)
    if sections:
        result["sections"] = sections
    return result


SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None],
                             Callable[[argparse.Namespace], dict[str, Any]]]] = {
    "adjust": (_add_adjust_args, _run_adjust),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference.bench",
                                     description="Benchmarks for the inference engines.")
    parser.add_argument("--json", action="store_true", help="print results as one JSON object")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_arguments, _) in SUBCOMMANDS.items():
        p = sub.add_parser(name)
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="print results as one JSON object")
        add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = SUBCOMMANDS[args.command][1](args)
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
