"""Every benchmark in one run, ending with one line ``BENCH {json}`` (what ``make bench`` runs).

    python -m devtools.bench.summary [--skip votes,statistics] [--clicks 40] [--jobs 30]

Runs each benchmark's own command in a child process (``adjust --json --no-e2e``, ``jobs``,
``clicks --json``, ``votes``, ``statistics``, a 10,000-resample participant bootstrap with
single-threaded BLAS, then any other module in ``devtools/bench/`` as it is), prints what each
reports, and ends with the headline figures:

``first_click_ms`` (embedded), ``click_p50_ms``, ``fullres_24mp_s`` (PNG, request → stored file),
``adjust_24mp_s``, ``job_p50_ms_distributed``, ``bootstrap_10k_s`` and ``mem_pass_24mp_ms`` — one
``np.multiply`` pass over a 24 MP float32 RGB array (into a preallocated output), measured at the
start and at the end of this run (the lower is reported), so that every figure can be read as a
ratio to it on a noisy machine: ``per_mem_pass`` holds each time figure divided by it, and
``load_1m`` the load average at the start and at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from devtools.processes import PYTHON, REPO

BENCHMARKS = ("adjust", "jobs", "clicks", "votes", "statistics")  # those whose figures the BENCH line holds
_MS_PER_UNIT = {"s": 1000.0, "ms": 1.0}  # a figure's unit is a part of its name: fullres_24mp_s, job_p50_ms_…
SINGLE_THREAD_BLAS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def mem_pass_ms(repeat: int = 7) -> float:
    """Best time of one ``np.multiply`` pass over a 24 MP float32 RGB array (6000 × 4000 × 3)."""
    a = np.full((4000, 6000, 3), 0.5, np.float32)
    out = np.empty_like(a)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.multiply(a, np.float32(1.0001), out=out)
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000.0, 1)


def bootstrap_10k(repeat: int = 3) -> float:
    """Seconds for a 10,000-resample participant bootstrap, 10 methods × 50 participants × 1,000 votes
    (``studies.analysis.bootstrap.bootstrap_ci`` through the statistics benchmark's own setup)."""
    from devtools.bench.statistics import bench_bootstrap

    return round(bench_bootstrap(m=10, participants=50, votes=1000, n_boot=10_000, repeat=repeat)["seconds"], 3)


def _run(args: list[str], env: dict | None = None) -> str:
    """Run a benchmark command; its output is shown as it comes and returned."""
    print(f"$ python {' '.join(args)}", flush=True)
    proc = subprocess.Popen([PYTHON, *args], cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            text=True)
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    if proc.wait() != 0:
        raise RuntimeError(f"python {' '.join(args)} exited with {proc.returncode}")
    return "".join(lines)


def _last_json(text: str) -> dict:
    """The JSON object a benchmark prints last (a whole line, or the indented block that ends it)."""
    start = text.rfind("\n{")
    return json.loads(text[start + 1 if start >= 0 else text.index("{"):])


def benchmarks() -> list[str]:
    """Every benchmark module: the ones above first, then any other in devtools/bench/ (run as is)."""
    found = sorted(p.stem for p in (REPO / "devtools" / "bench").glob("[!_]*.py") if p.stem != "summary")
    return [*(name for name in BENCHMARKS if name in found), *(name for name in found if name not in BENCHMARKS)]


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def run(skip: set[str], clicks: int, jobs: int) -> dict:
    figures: dict = {"load_1m": [_load()], "cpus": os.cpu_count()}
    passes = [mem_pass_ms()]
    if "adjust" not in skip:
        figures["adjust_24mp_s"] = round(_last_json(_run(["-m", "devtools.bench.adjust", "--json", "--no-e2e"]))
                                         ["median_s"], 3)
    if "jobs" not in skip:
        latency = _last_json(_run(["-m", "devtools.bench.jobs", "--jobs", str(jobs)]))
        figures["job_p50_ms_embedded"] = latency["embedded"]["p50_ms"]
        figures["job_p50_ms_distributed"] = latency["distributed"].get("p50_ms")
    if "clicks" not in skip:
        figures.update(_last_json(_run(["-m", "devtools.bench.clicks", "--json", "--clicks", str(clicks)]))["summary"])
    if "votes" not in skip:
        _run(["-m", "devtools.bench.votes"])
    if "statistics" not in skip:
        _run(["-m", "devtools.bench.statistics"])
        figures["bootstrap_10k_s"] = _last_json(_run(["-m", "devtools.bench.summary", "--bootstrap-only"],
                                                     env=SINGLE_THREAD_BLAS))["bootstrap_10k_s"]
    for name in benchmarks():
        if name not in BENCHMARKS and name not in skip:
            _run(["-m", f"devtools.bench.{name}"])
    passes.append(mem_pass_ms())
    figures["mem_pass_24mp_ms"] = min(passes)
    figures["load_1m"].append(_load())
    figures["per_mem_pass"] = {key: round(value * _MS_PER_UNIT[unit] / figures["mem_pass_24mp_ms"], 1)
                               for key, value in figures.items() if value is not None and key != "mem_pass_24mp_ms"
                               for unit in [next((p for p in key.split("_") if p in _MS_PER_UNIT), None)] if unit}
    return figures


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench.summary", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--skip", default="", help="comma-separated benchmarks not to run (adjust, jobs, clicks, "
                                                   "votes, statistics, or any other module in devtools/bench)")
    parser.add_argument("--clicks", type=int, default=40, help="timed clicks per mode (clicks benchmark)")
    parser.add_argument("--jobs", type=int, default=30, help="timed jobs per mode (jobs benchmark)")
    parser.add_argument("--bootstrap-only", action="store_true",
                        help="only time the 10,000-resample bootstrap and print it as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.bootstrap_only:
        print(json.dumps({"bootstrap_10k_s": bootstrap_10k()}))
        return 0
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    unknown = skip - set(benchmarks())
    if unknown:
        build_parser().error(f"unknown benchmark(s) in --skip: {', '.join(sorted(unknown))}")
    print("BENCH " + json.dumps(run(skip, args.clicks, args.jobs)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
