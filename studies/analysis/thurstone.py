"""Thurstone Case V scaling: maximum likelihood, JOD units, classical least squares."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from ._pairfit import fit

#: 1 JOD = 75 % preference: Phi(z) = 0.75 at z = 0.6745, so jod = z / 0.6745 = 1.4826 z.
JOD_PER_Z = 1.0 / ndtri(0.75)

#: Prior sd (z units) used only when the MLE does not exist: the B-T prior (3 logits)
#: divided by the logistic-normal scaling constant 1.702.
THURSTONE_PRIOR_SD = 3.0 / 1.702


def thurstone(counts, prior_sd: float = THURSTONE_PRIOR_SD, initial=None, tol: float = 1e-11):
    r"""Thurstone Case V by maximum likelihood.

    Model: P(i \succ j) = Phi(z_i - z_j) (unit variance of the difference of the two
    discriminal processes).  ``counts[i, j]`` = times i preferred over j.  The concave
    log-likelihood sum_ij C_ij log Phi(z_i - z_j) is maximised by Newton's method with
    sum z = 0.  Existence, regularization (prior z ~ N(0, prior_sd^2)) and components are
    handled exactly as for :func:`bradley_terry`.

    Returns a dict: ``z``, ``jod`` (= 1.4826 z, so 1 JOD difference = 75 % preference),
    ``se`` (of z), ``se_jod``, ``cov``, ``regularized``, ``warnings``, ``components``.
    """
    C = np.asarray(counts, dtype=float)
    res = fit(C, "probit", prior_sd, s0=initial, tol=tol)
    return {
        "z": res.s,
        "jod": res.s * JOD_PER_Z,
        "se": res.se,
        "se_jod": res.se * JOD_PER_Z,
        "cov": res.cov,
        "regularized": res.regularized,
        "warnings": res.warnings,
        "components": res.components,
        "component_alpha": res.component_alpha,
    }


def thurstone_least_squares(proportions, n=None):
    r"""Classical Thurstone Case V solution (Thurstone 1927; Mosteller 1951).

    ``proportions[i, j]`` = proportion of judgements preferring i over j.  With
    X_ij = Phi^{-1}(P_ij) and X_ii = 0, the least-squares scale values are the row means
    z_i = (1/m) sum_j X_ij (already centred because X is antisymmetric).  Requires a complete
    matrix (every pair judged); returns None otherwise.  Proportions of exactly 0 or 1 have an
    infinite normal deviate: they are clipped to [1/(2n), 1 - 1/(2n)] when the pair count
    ``n`` (scalar or matrix) is known, else to [0.01, 0.99], and a warning is returned.

    Returns (z, warnings) or (None, [reason]).
    """
    P = np.array(proportions, dtype=float)
    m = P.shape[0]
    off = ~np.eye(m, dtype=bool)
    if m < 2 or not np.isfinite(P[off]).all():
        return None, ["thurstone_ls: incomplete design (some pairs never compared)"]
    warns = []
    if n is None:
        lo = np.full((m, m), 0.01)
    else:
        nn = np.broadcast_to(np.asarray(n, dtype=float), (m, m))
        if (nn[off] <= 0).any():
            return None, ["thurstone_ls: incomplete design (some pairs never compared)"]
        lo = 1.0 / (2.0 * np.where(nn > 0, nn, 1.0))
    clipped = np.clip(P, lo, 1.0 - lo)
    if (clipped[off] != P[off]).any():
        warns.append("thurstone_ls: unanimous proportions (0 or 1) clipped to 1/(2n) before Phi^-1")
    X = ndtri(clipped)
    X = 0.5 * (X - X.T)  # enforce antisymmetry (P_ij + P_ji = 1)
    X[~off] = 0.0
    return X.mean(axis=1), warns
