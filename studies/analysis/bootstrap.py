"""Percentile bootstrap over participants (optionally items), vectorised.

Per-unit count matrices T (U x m x m) are precomputed once; a resample with multiplicities
w (w ~ Multinomial(U, 1/U), i.e. sampling U units with replacement) has counts
sum_u w_u T_u, computed for all B resamples by one matrix product.  Every resample is refitted
by batched Newton iterations warm-started at the full-data solution (stopped at steps below
``REFIT_TOL``: convergence is quadratic, so the refits are exact to rounding).  Resamples whose
comparison graph is not strongly connected use the same weak prior as the full fit.
"""

from __future__ import annotations

import numpy as np

from ._pairfit import MODELS, newton, strongly_connected
from .bradley_terry import BT_PRIOR_SD
from .rates import preference_rate, win_rate
from .thurstone import JOD_PER_Z, THURSTONE_PRIOR_SD

#: Newton stops an element once its step is below this (max abs, on the model's scale); the
#: error left is then of order REFIT_TOL^2 (~1e-16), i.e. the same refits as a tighter tolerance
#: to rounding, one Newton iteration sooner.
REFIT_TOL = 1e-8


def resample_counts(unit_counts, n_boot, seed=0, cross=None):
    """Bootstrap count matrices, shape (n_boot, m, m).

    unit_counts: (U, m, m).  cross: optional pair of integer code arrays (a_u, b_u) for units
    that are cells of two crossed factors (participant x item); the two factors are then
    resampled independently and a cell's weight is the product of its factors' multiplicities.
    """
    T = np.asarray(unit_counts, dtype=float)
    U, m, _ = T.shape
    rng = np.random.default_rng(seed)
    if cross is None:
        w = rng.multinomial(U, np.full(U, 1.0 / U), size=n_boot).astype(float)
    else:
        a, b = (np.asarray(x) for x in cross)
        na, nb = a.max() + 1, b.max() + 1
        wa = rng.multinomial(na, np.full(na, 1.0 / na), size=n_boot).astype(float)
        wb = rng.multinomial(nb, np.full(nb, 1.0 / nb), size=n_boot).astype(float)
        w = wa[:, a] * wb[:, b]
    return (w @ T.reshape(U, m * m)).reshape(n_boot, m, m)


def refit_batch(Cb, full_fit, model_name, prior_sd, tol=REFIT_TOL, connected=None):
    """Refit a batch of count matrices component by component, warm-started at ``full_fit``.

    full_fit: dict from bradley_terry()/thurstone() (uses its components, component_alpha and
    values).  connected: optional dict, filled and reused across calls on the same ``Cb``, of
    each component's per-resample strong connectivity.  Returns (B, m) centred values.
    """
    model = MODELS[model_name]
    key = "log_strength" if model_name == "logit" else "z"
    s_full = np.asarray(full_fit[key])
    B, m, _ = Cb.shape
    out = np.zeros((B, m))
    prior_alpha = 1.0 / prior_sd**2
    for idx, alpha_full in zip(full_fit["components"], full_fit["component_alpha"], strict=True):
        if len(idx) < 2:
            continue
        sub = Cb[:, idx][:, :, idx]
        if alpha_full > 0:
            alpha = np.full(B, alpha_full)
        else:
            cache = {} if connected is None else connected
            key = tuple(idx)
            if key not in cache:
                cache[key] = strongly_connected(sub)
            alpha = np.where(cache[key], 0.0, prior_alpha)
        est, _ = newton(sub, alpha, model, s_full[idx], tol=tol)
        out[:, idx] = est
    return out


def bootstrap_statistics(Cb, bt_fit, th_fit, bt_prior_sd=BT_PRIOR_SD, th_prior_sd=THURSTONE_PRIOR_SD):
    """All per-condition statistics for each bootstrap count matrix: dict name -> (B, m)."""
    connected = {}  # both models share the resamples' connectivity
    b = refit_batch(Cb, bt_fit, "logit", bt_prior_sd, connected=connected)
    z = refit_batch(Cb, th_fit, "probit", th_prior_sd, connected=connected)
    e = np.exp(b - b.max(axis=1, keepdims=True))
    return {
        "preference_rate": preference_rate(Cb),
        "win_rate": win_rate(Cb),
        "bradley_terry.log_strength": b,
        "bradley_terry.score": e / e.sum(axis=1, keepdims=True),
        "bradley_terry.exp_score": np.exp(b),
        "thurstone.z": z,
        "thurstone.jod": z * JOD_PER_Z,
    }


def percentile_ci(samples, level=0.95):
    """Percentile interval per column: returns (low, high) arrays."""
    q = 50.0 * (1.0 - level), 50.0 * (1.0 + level)
    lo, hi = np.percentile(np.asarray(samples, dtype=float), q, axis=0)
    return lo, hi


def bootstrap_ci(unit_counts, bt_fit, th_fit, n_boot=1000, seed=0, level=0.95, cross=None):
    """Percentile CIs for every statistic: dict name -> (low (m,), high (m,))."""
    Cb = resample_counts(unit_counts, n_boot, seed, cross)
    stats = bootstrap_statistics(Cb, bt_fit, th_fit)
    return {k: percentile_ci(v, level) for k, v in stats.items()}
