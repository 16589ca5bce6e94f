"""Speed of the study statistics (studies.analysis): fits against choix, and the bootstrap.

    python -m devtools.bench.statistics

1. Bradley-Terry + Thurstone ML fits for 200 methods x 20,000 comparisons (votes aggregated into
   the count matrix first) against choix.ilsr_pairwise on the same votes; reports the ratio
   ours / choix measured in this run (goal <= 1.0).
2. A 1,000-resample participant bootstrap (B-T and Thurstone refits of every resample, percentile
   CIs of all statistics) for 10 methods x 50 participants x 1,000 votes (goal <= 2 s).

Both run with single-threaded BLAS: unless OPENBLAS_NUM_THREADS is set, the command re-executes
itself with OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from scipy.special import expit

from studies.analysis.bootstrap import bootstrap_ci
from studies.analysis.bradley_terry import bradley_terry
from studies.analysis.data import counts_from_pairs, votes_table
from studies.analysis.thurstone import thurstone


def _interleaved_best(fns, repeat):
    """Best wall time of each function, runs interleaved so that load bursts hit all of them."""
    best = [np.inf] * len(fns)
    outs = [None] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            outs[k] = fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best, outs


def _best_of(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def simulate_pairs(rng, m, n, sd=1.0):
    s = rng.normal(0, sd, m)
    i = rng.integers(0, m, n)
    j = (i + rng.integers(1, m, n)) % m
    win = rng.random(n) < expit(s[i] - s[j])
    return np.where(win, i, j), np.where(win, j, i)


def bench_fits(m=200, n=20_000, seed=0, repeat=5):
    import choix  # bench-time reference only

    rng = np.random.default_rng(seed)
    w, lo = simulate_pairs(rng, m, n)
    data = list(zip(w.tolist(), lo.tolist(), strict=True))

    def ours():
        C = counts_from_pairs(w, lo, m)
        bt = bradley_terry(C)
        th = thurstone(C, initial=bt["log_strength"] / 1.702)
        return bt, th

    (t_ours, t_choix), ((bt, th), ref) = _interleaved_best(
        [ours, lambda: choix.ilsr_pairwise(m, data, tol=1e-8)], repeat)
    diff = np.abs(bt["log_strength"] - (ref - ref.mean())).max()
    return {"m": m, "n": n, "ours_s": t_ours, "choix_s": t_choix, "ratio": t_ours / t_choix,
            "max_abs_diff_vs_choix": float(diff), "regularized": bt["regularized"]}


def bench_bootstrap(m=10, participants=50, votes=1000, n_boot=1000, seed=0, repeat=3):
    rng = np.random.default_rng(seed)
    w, lo = simulate_pairs(rng, m, votes)
    part = rng.integers(0, participants, votes)
    names = [f"method{k}" for k in range(m)]
    rows = [{"participant": f"p{p}", "winner": names[a], "loser": names[b]}
            for p, a, b in zip(part, w, lo, strict=True)]
    tab = votes_table(rows, conditions=names)

    def run():
        C = tab.counts()
        bt = bradley_terry(C)
        th = thurstone(C, initial=bt["log_strength"] / 1.702)
        return bootstrap_ci(tab.unit_counts("participant"), bt, th, n_boot=n_boot, seed=seed)

    t, _ = _best_of(run, repeat)
    return {"m": m, "participants": participants, "votes": votes, "resamples": n_boot, "seconds": t}


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="python -m devtools.bench.statistics",
                                   description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    build_parser().parse_args(argv)  # before the re-exec: --help answers and nothing runs
    # Both sides are measured with single-threaded BLAS: the matrices are small, and on a shared
    # 2-core machine multi-threaded BLAS makes timings erratic.  Re-exec once with the setting.
    if os.environ.get("OPENBLAS_NUM_THREADS") is None and os.environ.get("STUDIES_BENCH_CHILD") is None:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   STUDIES_BENCH_CHILD="1")
        os.execve(sys.executable, [sys.executable, "-m", "devtools.bench.statistics", *argv], env)
    f = bench_fits()
    print(f"B-T + Thurstone fits, {f['m']} methods x {f['n']:,} comparisons (best of 5, interleaved, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}):")
    print(f"  ours (aggregate + B-T + Thurstone): {f['ours_s'] * 1e3:8.1f} ms")
    print(f"  choix.ilsr_pairwise (B-T only):     {f['choix_s'] * 1e3:8.1f} ms")
    print(f"  ratio ours / choix = {f['ratio']:.3f}  (goal <= 1.0)  "
          f"max |ours - choix| log-strength = {f['max_abs_diff_vs_choix']:.1e}")
    b = bench_bootstrap()
    print(f"participant bootstrap, {b['resamples']:,} resamples, {b['m']} methods x {b['participants']} "
          f"participants x {b['votes']:,} votes (best of 3):")
    print(f"  {b['seconds']:.3f} s  (goal <= 2 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
