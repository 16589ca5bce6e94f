"""Thurstone Case V: independent ML fit, exact recovery by least squares, JOD units, regularization."""

import numpy as np
import pytest
from scipy import optimize
from scipy.special import log_ndtr, ndtr

from studies.analysis import JOD_PER_Z, bradley_terry, thurstone, thurstone_least_squares


def simulate(rng, z, n):
    m = len(z)
    i = rng.integers(0, m, n)
    j = (i + rng.integers(1, m, n)) % m
    win = rng.random(n) < ndtr(z[i] - z[j])
    C = np.zeros((m, m))
    np.add.at(C, (np.where(win, i, j), np.where(win, j, i)), 1)
    return C


def test_jod_unit_is_75_percent():
    assert ndtr(1.0 / JOD_PER_Z) == pytest.approx(0.75, abs=1e-12)
    assert JOD_PER_Z == pytest.approx(1.4826, abs=1e-4)


@pytest.mark.parametrize("seed", range(4))
def test_ml_matches_independent_scipy_fit(seed):
    rng = np.random.default_rng(seed)
    m = 6
    C = simulate(rng, rng.normal(0, 0.6, m), 500)

    def nll(x):
        z = np.append(x, 0.0)
        return -(C * log_ndtr(z[:, None] - z[None, :])).sum()

    opt = optimize.minimize(nll, np.zeros(m - 1), method="BFGS", options={"gtol": 1e-10})
    ref = np.append(opt.x, 0.0)
    r = thurstone(C)
    assert not r["regularized"]
    np.testing.assert_allclose(r["z"], ref - ref.mean(), atol=1e-5)
    np.testing.assert_allclose(r["jod"], r["z"] * 1.482602218505602, rtol=1e-12)


def test_ml_recovers_known_scale():
    rng = np.random.default_rng(3)
    z = np.array([-0.8, -0.3, 0.0, 0.4, 0.7])
    C = simulate(rng, z, 30_000)
    r = thurstone(C)
    err = r["z"] - (z - z.mean())
    assert np.all(np.abs(err) < 4 * r["se"])


def test_least_squares_exact_for_case_v_proportions():
    z = np.array([0.0, 0.52, 0.65, 0.98, 1.16, 1.40])
    P = ndtr(z[:, None] - z[None, :])
    z_ls, warns = thurstone_least_squares(P)
    np.testing.assert_allclose(z_ls, z - z.mean(), atol=1e-12)
    assert warns == []


def test_least_squares_is_row_mean_of_normal_deviates():
    # classical Case V solution computed by hand for a 3 x 3 proportion matrix
    P = np.array([[0.5, 0.7, 0.9], [0.3, 0.5, 0.6], [0.1, 0.4, 0.5]])
    x12, x13, x23 = 0.5244005127080407, 1.2815515655446004, 0.2533471031357997  # Phi^-1(.7), (.9), (.6)
    expected = np.array([x12 + x13, -x12 + x23, -x13 - x23]) / 3
    z_ls, _ = thurstone_least_squares(P)
    np.testing.assert_allclose(z_ls, expected, atol=1e-12)


def test_least_squares_incomplete_is_none():
    P = np.array([[0.5, 0.7, np.nan], [0.3, 0.5, 0.6], [np.nan, 0.4, 0.5]])
    z_ls, warns = thurstone_least_squares(P)
    assert z_ls is None and warns


def test_least_squares_clips_unanimous_pairs():
    P = np.array([[0.5, 1.0], [0.0, 0.5]])
    z_ls, warns = thurstone_least_squares(P, n=10)
    assert np.all(np.isfinite(z_ls)) and warns
    assert z_ls[0] - z_ls[1] == pytest.approx(ndtr_inv(1 - 1 / 20), rel=1e-12)


def ndtr_inv(p):
    from scipy.stats import norm

    return norm.ppf(p)


def test_thurstone_and_bt_agree_in_order_and_roughly_in_scale():
    rng = np.random.default_rng(5)
    C = simulate(rng, np.linspace(-1, 1, 7), 3000)
    z = thurstone(C)["z"]
    b = bradley_terry(C)["log_strength"]
    assert np.array_equal(np.argsort(z), np.argsort(b))
    # logistic ~ normal with scale factor ~1.7
    assert 1.5 < np.polyfit(z, b, 1)[0] < 1.9


def test_regularized_thurstone_finite_and_ordered():
    C = np.array([[0, 4, 3], [0, 0, 2], [0, 1, 0]], float)  # condition 0 never loses
    r = thurstone(C)
    assert r["regularized"]
    assert np.all(np.isfinite(r["z"])) and np.all(np.isfinite(r["se"]))
    assert r["z"][0] > max(r["z"][1], r["z"][2])
    assert r["z"][1] > r["z"][2]
