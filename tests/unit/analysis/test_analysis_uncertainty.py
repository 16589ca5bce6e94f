"""Bootstrap (reproducibility, warm-started refits, coverage) and significance tests."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

from studies.analysis import (
    analyse_votes,
    binomial_matrix,
    bootstrap_ci,
    bradley_terry,
    holm,
    resample_counts,
    thurstone,
    wald_matrix,
)
from studies.analysis.bootstrap import bootstrap_statistics
from studies.analysis.data import votes_table


def simulate_votes(rng, strengths, n_participants, votes_each, names=None):
    m = len(strengths)
    names = names or [f"m{k}" for k in range(m)]
    votes = []
    for p in range(n_participants):
        i = rng.integers(0, m, votes_each)
        j = (i + rng.integers(1, m, votes_each)) % m
        win = rng.random(votes_each) < expit(strengths[i] - strengths[j])
        for a, b, w in zip(i, j, win, strict=True):
            wn, ls = (a, b) if w else (b, a)
            votes.append({"participant": f"p{p}", "item": f"i{p % 3}", "winner": names[wn], "loser": names[ls]})
    return votes


def test_resampled_counts_are_unbiased_and_seeded():
    rng = np.random.default_rng(0)
    tab = votes_table(simulate_votes(rng, np.array([0.0, 0.5, 1.0, -0.3]), 20, 30))
    U = tab.unit_counts("participant")
    np.testing.assert_allclose(U.sum(axis=0), tab.counts())
    a = resample_counts(U, 4000, seed=1)
    b = resample_counts(U, 4000, seed=1)
    np.testing.assert_array_equal(a, b)
    # E[resampled counts] = observed counts; per-cell Monte Carlo error is tiny here
    np.testing.assert_allclose(a.mean(axis=0), tab.counts(), rtol=0.05, atol=0.3)
    # each resample is a sum of whole participants: totals are sums of 20 participant totals
    assert set(np.unique(a.sum(axis=(1, 2)))) <= {30.0 * k for k in range(0, 21 * 20)}


def test_batched_warm_started_refits_equal_individual_fits():
    rng = np.random.default_rng(2)
    tab = votes_table(simulate_votes(rng, np.array([0.0, 0.8, 1.5, -0.4, 0.2]), 15, 40))
    C = tab.counts()
    bt, th = bradley_terry(C), thurstone(C)
    Cb = resample_counts(tab.unit_counts("participant"), 6, seed=5)
    st = bootstrap_statistics(Cb, bt, th)
    for k in range(6):
        np.testing.assert_allclose(st["bradley_terry.log_strength"][k], bradley_terry(Cb[k])["log_strength"],
                                   atol=1e-8)
        np.testing.assert_allclose(st["thurstone.z"][k], thurstone(Cb[k])["z"], atol=1e-8)


def test_bootstrap_coverage_close_to_nominal():
    """Percentile intervals for the centred log-strengths cover the true values ~95 % of the time."""
    rng = np.random.default_rng(42)
    truth = np.array([-0.6, -0.2, 0.1, 0.3, 0.4])
    truth_c = truth - truth.mean()
    hits, total = 0, 0
    for rep in range(80):
        tab = votes_table(simulate_votes(rng, truth, 30, 20), conditions=[f"m{k}" for k in range(5)])
        C = tab.counts()
        lo, hi = bootstrap_ci(tab.unit_counts("participant"), bradley_terry(C), thurstone(C), n_boot=300,
                              seed=rep)["bradley_terry.log_strength"]
        hits += int(np.sum((lo <= truth_c) & (truth_c <= hi)))
        total += len(truth)
    coverage = hits / total
    print(f"bootstrap coverage {coverage:.3f}")
    assert 0.89 <= coverage <= 0.99, coverage


def test_analyse_votes_bootstrap_units():
    rng = np.random.default_rng(3)
    votes = simulate_votes(rng, np.array([0.0, 1.0, 2.0]), 12, 15)
    for unit in ("participant", "item", "participant+item"):
        out = analyse_votes(votes, bootstrap=100, seed=1, resample=unit)
        lo, hi = out["ci"]["bradley_terry.score"]["m2"]
        assert 0 < lo <= out["bradley_terry"]["score"]["m2"] <= hi < 1
    # resampling units matter: item-level bootstrap (3 items) differs from participant-level
    a = analyse_votes(votes, bootstrap=100, seed=1, resample="participant")["ci"]
    b = analyse_votes(votes, bootstrap=100, seed=1, resample="item")["ci"]
    assert a != b


def test_holm_hand_example():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])


def test_binomial_matrix_exact_values():
    C = np.array([[0, 9, 3], [1, 0, 2], [3, 2, 0]], float)
    p = binomial_matrix(C)
    assert p[0, 1] == pytest.approx(2 * 11 / 1024)  # 9 of 10: P(X >= 9) + P(X <= 1)
    assert p[0, 2] == pytest.approx(1.0)
    assert p[1, 2] == pytest.approx(stats.binomtest(2, 4).pvalue)
    np.testing.assert_array_equal(p, p.T)


def test_wald_test_calibrated_under_null():
    rng = np.random.default_rng(9)
    rejections = 0
    n_sim = 400
    for _ in range(n_sim):
        m = 4
        i = rng.integers(0, m, 200)
        j = (i + rng.integers(1, m, 200)) % m
        win = rng.random(200) < 0.5
        C = np.zeros((m, m))
        np.add.at(C, (np.where(win, i, j), np.where(win, j, i)), 1)
        r = bradley_terry(C)
        _, p, _ = wald_matrix(r["log_strength"], r["cov"])
        rejections += p[0, 1] < 0.05
    assert 0.025 <= rejections / n_sim <= 0.085


def test_wald_detects_a_real_difference():
    C = np.array([[0, 40, 45], [10, 0, 25], [5, 25, 0]], float)
    r = bradley_terry(C)
    z, p, ph = wald_matrix(r["log_strength"], r["cov"])
    assert p[0, 1] < 1e-4 and p[1, 2] > 0.05
    assert np.all(ph >= p - 1e-15)
    assert z[0, 1] == pytest.approx(-z[1, 0])
