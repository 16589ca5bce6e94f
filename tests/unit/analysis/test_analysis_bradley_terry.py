"""Bradley-Terry: published reference values, choix, an independent scipy fit, simulation."""

import choix
import numpy as np
import pytest
from scipy import optimize
from scipy.special import expit

from studies.analysis import bradley_terry
from tests.unit.analysis.reference_data import AGRESTI_BETA, BASEBALL


def to_pairs(C):
    C = np.rint(C).astype(int)
    return [(i, j) for i in range(len(C)) for j in range(len(C)) for _ in range(C[i, j])]


def random_counts(rng, m, n, spread=1.5):
    s = rng.normal(0, spread, m)
    i = rng.integers(0, m, n)
    j = (i + rng.integers(1, m, n)) % m
    win = rng.random(n) < expit(s[i] - s[j])
    w, lo = np.where(win, i, j), np.where(win, j, i)
    C = np.zeros((m, m))
    np.add.at(C, (w, lo), 1)
    return C, s


def test_agresti_baseball_published_estimates():
    b = bradley_terry(BASEBALL)["log_strength"]
    np.testing.assert_allclose(b - b[-1], AGRESTI_BETA, atol=0.005)
    # Agresti: estimated probability that Milwaukee beats Baltimore is 0.83
    assert expit(b[0] - b[-1]) == pytest.approx(0.83, abs=0.005)


def test_baseball_matches_choix_and_is_centred():
    r = bradley_terry(BASEBALL)
    ref = choix.ilsr_pairwise(7, to_pairs(BASEBALL), tol=1e-12)
    np.testing.assert_allclose(r["log_strength"], ref - ref.mean(), atol=1e-9)
    assert abs(r["log_strength"].sum()) < 1e-12
    assert not r["regularized"]


@pytest.mark.parametrize("seed", range(5))
def test_matches_choix_on_random_designs(seed):
    rng = np.random.default_rng(seed)
    C, _ = random_counts(rng, m=int(rng.integers(3, 12)), n=600, spread=0.7)
    r = bradley_terry(C)
    assert not r["regularized"]
    ref = choix.ilsr_pairwise(len(C), to_pairs(C), tol=1e-13, max_iter=10_000)
    np.testing.assert_allclose(r["log_strength"], ref - ref.mean(), atol=1e-8)


def test_matches_independent_scipy_fit_with_ties():
    # ties counted as half a win each way: fractional counts are a valid weighted likelihood
    rng = np.random.default_rng(7)
    C, _ = random_counts(rng, 6, 300)
    ties = 0.5 * np.triu(rng.integers(0, 3, (6, 6)), 1)
    C = C + ties + ties.T

    def nll(beta):
        b = np.append(beta, 0.0)
        d = b[:, None] - b[None, :]
        return -(C * -np.logaddexp(0, -d)).sum()

    opt = optimize.minimize(nll, np.zeros(5), method="BFGS", options={"gtol": 1e-10})
    b_ref = np.append(opt.x, 0.0)
    b = bradley_terry(C)["log_strength"]
    np.testing.assert_allclose(b, b_ref - b_ref.mean(), atol=1e-5)


def test_standard_errors_match_glm_information():
    """SEs of the centred estimates versus the textbook GLM information X' W X with reference coding."""
    r = bradley_terry(BASEBALL)
    b = r["log_strength"]
    m = 7
    info = np.zeros((m - 1, m - 1))
    for i in range(m):
        for j in range(i + 1, m):
            n = BASEBALL[i, j] + BASEBALL[j, i]
            p = expit(b[i] - b[j])
            x = np.zeros(m)
            x[i], x[j] = 1, -1
            x = x[:-1]
            info += n * p * (1 - p) * np.outer(x, x)
    V_ref = np.zeros((m, m))
    V_ref[:-1, :-1] = np.linalg.inv(info)
    Cm = np.eye(m) - 1.0 / m  # centring
    V_c = Cm @ V_ref @ Cm.T
    np.testing.assert_allclose(r["se"], np.sqrt(np.diag(V_c)), rtol=1e-8)
    np.testing.assert_allclose(r["cov"], V_c, atol=1e-10)


def test_scores():
    r = bradley_terry(BASEBALL)
    assert r["score"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(r["exp_score"], np.exp(r["log_strength"]))
    np.testing.assert_allclose(r["score"], r["exp_score"] / r["exp_score"].sum())


def test_recovers_known_strengths_by_simulation():
    rng = np.random.default_rng(11)
    C, s = random_counts(rng, 8, 40_000, spread=1.0)
    b = bradley_terry(C)
    err = b["log_strength"] - (s - s.mean())
    # within 4 standard errors and small in absolute terms
    assert np.all(np.abs(err) < 4 * b["se"])
    assert np.abs(err).max() < 0.1


def test_regularized_never_loses_matches_choix_map():
    C = BASEBALL.copy()
    C[:, 0] = 0  # Milwaukee never loses: the MLE does not exist
    r = bradley_terry(C)
    assert r["regularized"]
    assert np.all(np.isfinite(r["log_strength"])) and np.all(np.isfinite(r["se"]))
    assert np.argmax(r["log_strength"]) == 0
    # same MAP as choix with the same Gaussian prior: choix penalises alpha * |b|^2 -> alpha = 1/(2 sd^2)
    ref = choix.opt_pairwise(7, to_pairs(C), alpha=1 / (2 * 3.0**2), tol=1e-12)
    np.testing.assert_allclose(r["log_strength"], ref, atol=1e-7)


def test_regularized_never_wins_and_unanimous_chain_ordered():
    # a beats b always, b beats c always: not strongly connected; order must be a > b > c
    C = np.array([[0, 5, 0], [0, 0, 5], [0, 0, 0]], float)
    r = bradley_terry(C)
    assert r["regularized"]
    b = r["log_strength"]
    assert b[0] > b[1] > b[2]
    assert np.all(np.isfinite(b))


def test_disconnected_design_scaled_per_component():
    C = np.zeros((5, 5))
    C[:3, :3] = BASEBALL[:3, :3]
    C[3, 4], C[4, 3] = 6, 2
    r = bradley_terry(C)
    assert len(r["components"]) == 2
    b = r["log_strength"]
    assert abs(b[:3].sum()) < 1e-10 and abs(b[3:].sum()) < 1e-10
    np.testing.assert_allclose(b[:3], bradley_terry(BASEBALL[:3, :3])["log_strength"], atol=1e-10)
    assert b[3] - b[4] == pytest.approx(np.log(6 / 2))
    assert not r["regularized"]


def test_isolated_condition_kept_finite():
    C = np.zeros((4, 4))
    C[:3, :3] = BASEBALL[:3, :3]
    r = bradley_terry(C)
    assert r["regularized"] and r["log_strength"][3] == 0.0
    assert np.all(np.isfinite(r["se"])) and r["se"][3] == pytest.approx(3.0)
