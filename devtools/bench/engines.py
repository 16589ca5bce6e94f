"""``retouch.blemish`` and ``background.replace`` timed through the engine registry, as a worker
calls them.

    python -m devtools.bench.engines [--json] [--runs 3] [--warmup 1] [--skip blemish,placement,replace]

* ``blemish``: the sample portrait (skimage's astronaut) with ten painted spots, enlarged to
  3000 × 3000 and set on a 4000 × 3000 (12 MP) canvas; the whole ``run`` (faces, detection,
  removal, the output copy); goal ≤ 1.5 s.
* ``placement``: the placement search alone on a 640 × 360 background — background analysis
  (horizon, sky, saliency, faces) plus the scored grid and the refinement of 5 candidates; goal
  ≤ 300 ms. The analysis and the search are also reported apart.
* ``replace``: the whole ``background.replace`` at 12 MP: a 12 MP portrait (the enlarged
  astronaut, people segmenter included) onto a 4000 × 3000 scene, harmonised; goal ≤ 2 s.

Each figure is the median of ``--runs`` timed runs after ``--warmup`` untimed ones, with the CPU
seconds per run (all threads: a load-independent check on a shared machine), the median of minor
page faults per run (fresh memory is costly on these VMs), the CPU count and the 1-minute load
average. Heavy libraries are imported where they are used, so ``--help``
answers at once. The scene and spot painters here are the ones the engines' tests use.
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

GOALS_S = {"blemish": 1.5, "placement": 0.3, "replace": 2.0}
# (x, y, radius px, kind) on the astronaut's lit skin: forehead, both cheeks, chin, jaw
SPOTS = [(192, 116, 3, "dark"), (210, 116, 4, "dark"), (246, 116, 4, "red"), (258, 128, 3, "red"),
         (222, 88, 3, "red"), (192, 140, 4, "red"), (204, 158, 3, "dark"), (228, 164, 5, "red"),
         (240, 158, 3, "red"), (252, 146, 4, "dark")]


def meadow(width: int = 960, height: int = 640, horizon: int | None = None, seed: int = 0) -> np.ndarray:
    """A light sky over textured grass (float32 sRGB): the horizon is the row where they meet
    (default: 40 % of the height)."""
    import cv2  # deferred: --help stays instant

    horizon = int(0.4 * height) if horizon is None else horizon
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.float32)
    t = np.linspace(0, 1, horizon, dtype=np.float32)[:, None, None]
    img[:horizon] = np.array([0.62, 0.78, 0.97], np.float32) * (1 - 0.15 * t)
    noise = cv2.GaussianBlur(rng.random((height - horizon, width)).astype(np.float32), (0, 0), 2)
    img[horizon:] = np.array([0.35, 0.5, 0.22], np.float32) * (0.8 + 0.4 * noise[..., None])
    return np.clip(img, 0, 1)


def paint_spots(image: np.ndarray, spots, contrast: float = 1.0) -> np.ndarray:
    """Soft-edged disks ``(x, y, r, "dark" | "red")``: dark ones darken (brown), red ones redden
    (inflamed); ``contrast`` scales both."""
    out = image.copy()
    yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
    for x, y, r, kind in spots:
        d = np.hypot(xx - x, yy - y)
        a = np.clip(np.clip(r + 0.5 - d, 0, 1) * 0.9 + 0.1 * np.exp(-0.5 * (d / r) ** 2) * (d < 2 * r), 0, 1)
        a = (a * contrast)[..., None]
        if kind == "dark":
            target = out * np.array([0.78, 0.70, 0.64], np.float32)
        else:
            target = np.clip(out + np.array([0.06, -0.16, -0.10], np.float32), 0, 1)
        out = out * (1 - a) + target * a
    return out.astype(np.float32)


def portrait_12mp() -> np.ndarray:
    """The astronaut with painted spots, 3000 × 3000 on a 4000 × 3000 grey canvas."""
    import cv2
    from skimage import data

    small = paint_spots(data.astronaut().astype(np.float32) / 255.0, SPOTS)
    big = np.clip(cv2.resize(small, (3000, 3000), interpolation=cv2.INTER_CUBIC), 0, 1)
    canvas = np.full((3000, 4000, 3), 0.82, np.float32)
    canvas[:, 500:3500] = big
    return canvas


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _minor_faults() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _time(fn, runs: int, warmup: int) -> dict[str, Any]:
    """Medians of wall and CPU seconds, and minor page faults per run: on these VMs a run that
    touches fresh memory pays for it in faults and CPU (docs/engines.md, harmonize)."""
    for _ in range(warmup):
        fn()
    wall, cpu, faults = [], [], []
    for _ in range(runs):
        f0, c0, t0 = _minor_faults(), time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        faults.append(_minor_faults() - f0)
    return {"median_s": round(statistics.median(wall), 4), "min_s": round(min(wall), 4),
            "cpu_median_s": round(statistics.median(cpu), 4), "minor_faults_median": int(statistics.median(faults)),
            "runs": runs, "load_avg_1m": _load()}


def bench_blemish(runs: int, warmup: int) -> dict[str, Any]:
    from inference import engines

    engine = engines.create("retouch.blemish")
    image = portrait_12mp()
    spots = len(engine.run({"image": image}, {})["info"]["spots"])
    return {"megapixels": 12.0, "spots_found": spots, **_time(lambda: engine.run({"image": image}, {}), runs, warmup)}


def bench_placement(runs: int, warmup: int) -> dict[str, Any]:
    import cv2

    from inference import placement

    background = meadow(640, 360)
    mask = np.zeros((600, 300), np.float32)  # a standing figure: head, body, legs
    cv2.circle(mask, (150, 75), 35, 1, -1)
    cv2.rectangle(mask, (90, 110), (210, 330), 1, -1)
    cv2.rectangle(mask, (100, 330), (200, 570), 1, -1)
    person = placement.measure_person(np.full((600, 300, 3), 0.6, np.float32), mask, [])
    analysed = _time(lambda: placement.analyse_background(background), runs, warmup)
    scene = placement.analyse_background(background)
    searched = _time(lambda: placement.search(scene, person, 5), runs, warmup)
    both = _time(lambda: placement.search(placement.analyse_background(background), person, 5), runs, warmup)
    return {"background": [640, 360], "candidates": 5, **both,
            "analysis_median_s": analysed["median_s"], "search_median_s": searched["median_s"]}


def bench_replace(runs: int, warmup: int) -> dict[str, Any]:
    from inference import engines

    engine = engines.create("background.replace")
    portrait, background = portrait_12mp(), meadow(4000, 3000)
    inputs = {"image": portrait, "background": background}
    info = engine.run(inputs, {})["info"]
    return {"megapixels": 12.0, "engine_ms": info["ms"], **_time(lambda: engine.run(inputs, {}), runs, warmup)}


BENCHES = {"blemish": bench_blemish, "placement": bench_placement, "replace": bench_replace}


def run(args: argparse.Namespace) -> dict[str, Any]:
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    result: dict[str, Any] = {"cpus": os.cpu_count(), "goals_s": GOALS_S}
    for name, bench in BENCHES.items():
        if name in skip:
            continue
        figures = bench(args.runs, args.warmup)
        figures["meets_goal"] = figures["median_s"] <= GOALS_S[name]
        result[name] = figures
        if not args.json:
            print(f"{name}: median {figures['median_s']:.3f} s (min {figures['min_s']:.3f} s, CPU "
                  f"{figures['cpu_median_s']:.3f} s/run, {figures['minor_faults_median']} minor faults/run; goal ≤ {GOALS_S[name]} s: "
                  f"{'met' if figures['meets_goal'] else 'MISSED'}; load {figures['load_avg_1m']}, "
                  f"{result['cpus']} CPUs)", flush=True)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench.engines", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print results as one JSON object")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs per figure")
    parser.add_argument("--skip", default="", help="comma-separated figures to leave out: blemish, placement, replace")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = run(args)
    if args.json:  # without --json each figure was printed as it came
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
