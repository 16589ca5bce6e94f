"""Kendall's u, circular triads, consistency, leave-one-out outliers."""

import itertools
from math import comb

import numpy as np
import pytest
from scipy.special import log_ndtr, ndtr

from studies.analysis import (
    agreement_u,
    circular_triads,
    consistency,
    loo_loglik,
    max_circular_triads,
    outlier_participants,
    thurstone,
    votes_table,
)


def random_tournament(rng, t, p_flip=0.5, order=None):
    order = np.arange(t) if order is None else order
    D = np.zeros((t, t))
    for a, b in itertools.combinations(range(t), 2):
        hi, lo = (a, b) if order[a] > order[b] else (b, a)
        if rng.random() < p_flip:
            hi, lo = lo, hi
        D[hi, lo] = 1
    return D


def brute_triads(D):
    t = len(D)
    return sum(
        1 for a, b, c in itertools.combinations(range(t), 3)
        if (D[a, b] and D[b, c] and D[c, a]) or (D[b, a] and D[c, b] and D[a, c])
    )


def test_u_against_brute_force_pairs_of_judges():
    rng = np.random.default_rng(0)
    n, t = 7, 5
    judges = [random_tournament(rng, t, 0.3) for _ in range(n)]
    agree = sum(
        1 for a, b in itertools.combinations(range(t), 2) for j, k in itertools.combinations(range(n), 2)
        if judges[j][a, b] == judges[k][a, b]
    )
    expected = 2 * agree / (comb(n, 2) * comb(t, 2)) - 1
    assert agreement_u(np.array(judges))["u"] == pytest.approx(expected)


def test_u_bounds():
    rng = np.random.default_rng(1)
    D = random_tournament(rng, 5)
    assert agreement_u(np.array([D] * 6))["u"] == pytest.approx(1.0)
    assert agreement_u(np.array([D, D.T]))["u"] == pytest.approx(-1.0)
    # n = 4 judges split 2-2 on every pair: the minimum -1/(n-1)
    assert agreement_u(np.array([D, D, D.T, D.T]))["u"] == pytest.approx(-1 / 3)


def test_u_chi_square_calibrated_and_powerful():
    rng = np.random.default_rng(2)
    p_null = [agreement_u(np.array([random_tournament(rng, 5) for _ in range(6)]))["p_value"] for _ in range(300)]
    assert 0.01 <= np.mean(np.array(p_null) < 0.05) <= 0.10
    strong = agreement_u(np.array([random_tournament(rng, 5, 0.1) for _ in range(6)]))
    assert strong["p_value"] < 1e-3 and strong["u"] > 0.4


def test_kendall_balanced_chi_square_formula():
    rng = np.random.default_rng(3)
    n, t = 5, 4
    A = np.array([random_tournament(rng, t, 0.25) for _ in range(n)]).sum(axis=0)
    sigma = sum(comb(int(A[i, j]), 2) for i in range(t) for j in range(t) if i != j)
    chi2 = 4 / (n - 2) * (sigma - 0.5 * comb(t, 2) * comb(n, 2) * (n - 3) / (n - 2))
    df = comb(t, 2) * n * (n - 1) / (n - 2) ** 2
    res = agreement_u(A)
    assert res["chi2"] == pytest.approx(chi2) and res["df"] == pytest.approx(df)


@pytest.mark.parametrize("seed", range(10))
def test_circular_triads_brute_force_and_kendall_formula(seed):
    rng = np.random.default_rng(seed)
    t = int(rng.integers(3, 9))
    D = random_tournament(rng, t)
    d = circular_triads(D)
    assert d == brute_triads(D)
    s = D.sum(axis=1)
    assert d == comb(t, 3) - sum(comb(int(x), 2) for x in s)


def test_max_circular_triads_exhaustive_and_regular():
    for t in (3, 4, 5):
        pairs = list(itertools.combinations(range(t), 2))
        best = 0
        for bits in range(2 ** len(pairs)):
            D = np.zeros((t, t))
            for k, (a, b) in enumerate(pairs):
                if bits >> k & 1:
                    D[a, b] = 1
                else:
                    D[b, a] = 1
            best = max(best, brute_triads(D))
        assert best == max_circular_triads(t)
    assert max_circular_triads(7) == 14


def test_consistency_zeta():
    D = np.triu(np.ones((5, 5)), 1)  # transitive
    assert consistency(D)["zeta"] == 1.0
    R = np.zeros((5, 5))
    for i in range(5):
        R[i, (i + 1) % 5] = R[i, (i + 2) % 5] = 1  # regular tournament: maximal circularity
    res = consistency(R)
    assert res["circular_triads"] == 5 and res["zeta"] == 0.0
    inc = D.copy()
    inc[0, 1] = 0  # one pair never judged
    assert consistency(inc)["zeta"] is None


def _votes_thurstone(rng, z, participants, per, invert=()):
    names = [f"c{k}" for k in range(len(z))]
    votes = []
    for p in participants:
        for _ in range(per):
            i, j = rng.choice(len(z), 2, replace=False)
            win = rng.random() < ndtr(z[i] - z[j])
            if p in invert:
                win = not win
            a, b = (i, j) if win else (j, i)
            votes.append({"participant": p, "winner": names[a], "loser": names[b]})
    return votes


def test_inverted_participant_is_flagged():
    rng = np.random.default_rng(4)
    parts = [f"p{k}" for k in range(12)]
    votes = _votes_thurstone(rng, np.array([-1.0, -0.3, 0.2, 0.6, 1.1]), parts, 40, invert={"p7"})
    res = outlier_participants(votes_table(votes))
    assert res["outliers"] == ["p7"]
    dist = {p: v["dist_L"] for p, v in res["participants"].items()}
    assert max(dist, key=dist.get) == "p7"


def test_loo_loglik_equals_explicit_refit():
    rng = np.random.default_rng(5)
    tab = votes_table(_votes_thurstone(rng, np.array([-0.5, 0.0, 0.7]), ["a", "b", "c", "d"], 20))
    U = tab.unit_counts("participant")
    C = tab.counts()
    ll = loo_loglik(C, U)
    for k in range(4):
        z = thurstone(C - U[k])["z"]
        expected = (U[k] * log_ndtr(z[:, None] - z[None, :])).sum()
        assert ll[k] == pytest.approx(expected, abs=1e-8)
