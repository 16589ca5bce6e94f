"""Balanced schedules, expected information gain, adaptive selection versus round-robin."""

import itertools
from collections import Counter

import numpy as np
import pytest
from scipy.special import ndtr

from studies.analysis import balanced_schedule, expected_information_gain, next_pair, simulate_adaptive
from studies.analysis.design import ATTENTION_DEGRADED

CONDS = ["a", "b", "c", "d"]
ITEMS = ["x", "y", "z"]


def regular(schedule):
    return [t for block in schedule for t in block if not t["attention_check"]]


def test_full_replicate_per_participant_and_counterbalanced():
    sched = balanced_schedule(CONDS, ITEMS, n_participants=6, attention_every=10, seed=1)
    assert len(sched) == 6
    base = {(it, frozenset(p)) for it in ITEMS for p in itertools.combinations(CONDS, 2)}
    for p, block in enumerate(sched):
        reg = [t for t in block if not t["attention_check"]]
        assert {(t["item"], frozenset((t["left"], t["right"]))) for t in reg} == base
        assert len(reg) == len(base) == 18
        assert all(t["participant"] == p for t in block)
        assert [t["position"] for t in block] == list(range(len(block)))
    pair_counts = Counter((t["item"], frozenset((t["left"], t["right"]))) for t in regular(sched))
    assert set(pair_counts.values()) == {6}
    ordered = Counter((t["item"], t["left"], t["right"]) for t in regular(sched))
    for it, a, b in ((it, a, b) for it in ITEMS for a, b in itertools.combinations(CONDS, 2)):
        assert ordered[(it, a, b)] == ordered[(it, b, a)] == 3
    left = Counter(t["left"] for t in regular(sched))
    assert max(left.values()) - min(left.values()) <= 6


def test_attention_checks_interleaved():
    sched = balanced_schedule(CONDS, ITEMS, n_participants=2, attention_every=5, seed=2)
    for block in sched:
        checks = [k for k, t in enumerate(block) if t["attention_check"]]
        assert len(checks) == 4  # 18 regular trials in stretches of 5 -> 4 checks
        assert checks[0] > 0  # never the very first trial
        for k in checks:
            t = block[k]
            assert ATTENTION_DEGRADED in (t["left"], t["right"])
            assert t["expected"] in (t["left"], t["right"]) and t["expected"] != ATTENTION_DEGRADED
        # at most 5 regular trials between consecutive checks' stretches
        gaps = np.diff([-1, *checks, len(block)]) - 1
        assert gaps.max() <= 10


def test_partial_blocks_balance_and_seed():
    sched = balanced_schedule(CONDS, ITEMS, n_participants=4, trials_per_participant=9, attention_every=0, seed=3)
    assert all(len(b) == 9 for b in sched)
    pair_counts = Counter((t["item"], frozenset((t["left"], t["right"]))) for t in regular(sched))
    assert set(pair_counts.values()) == {2}
    ordered = Counter((t["item"], t["left"], t["right"]) for t in regular(sched))
    assert set(ordered.values()) == {1}
    again = balanced_schedule(CONDS, ITEMS, n_participants=4, trials_per_participant=9, attention_every=0, seed=3)
    other = balanced_schedule(CONDS, ITEMS, n_participants=4, trials_per_participant=9, attention_every=0, seed=4)
    assert sched == again and sched != other


def test_expected_information_gain_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mean = np.array([0.3, -0.2, 0.5])
    A = rng.normal(size=(3, 3))
    cov = A @ A.T * 0.3 + 0.1 * np.eye(3)
    eig = expected_information_gain(mean, cov)
    # Monte Carlo mutual information between outcome y and z for the pair (0, 2)
    z = rng.multivariate_normal(mean, cov, 400_000)
    p = ndtr(z[:, 0] - z[:, 2])

    def h(q):
        q = np.clip(q, 1e-300, 1 - 1e-16)
        return -(q * np.log(q) + (1 - q) * np.log1p(-q))

    mc = h(p.mean()) - h(p).mean()
    assert eig[0, 2] == pytest.approx(mc, abs=3e-3)
    assert eig[0, 2] == pytest.approx(eig[2, 0])
    assert np.all(np.diag(eig) == 0)


def test_next_pair_prefers_uninformed_pair():
    C = np.full((4, 4), 20.0)
    np.fill_diagonal(C, 0)
    C[1, 3] = C[3, 1] = 0  # never compared
    assert next_pair(C) == (1, 3)
    assert next_pair(C, names=["w", "x", "y", "z"]) == ("x", "z")


def test_next_pair_prefers_close_pair_over_settled_one():
    # every pair compared 40 times: a vs b is close (20:20), a vs c and b vs c are lopsided (36:4),
    # so the outcome of a vs b is the least predictable and the most informative
    C = np.array([[0, 20, 36], [20, 0, 36], [4, 4, 0]], float)
    i, j = next_pair(C)
    assert (i, j) == (0, 1)


def test_adaptive_needs_fewer_comparisons_than_round_robin():
    res = simulate_adaptive(m=8, n_runs=40, target=0.85, budget=168, checkpoint=14, seed=1)
    assert res["comparisons_adaptive"] is not None and res["comparisons_round_robin"] is not None
    assert res["comparisons_adaptive"] < res["comparisons_round_robin"]
    # accuracy rises with more data for both strategies
    assert res["accuracy_round_robin"][-1] > res["accuracy_round_robin"][0]
    assert res["accuracy_adaptive"][-1] > res["accuracy_adaptive"][0]
