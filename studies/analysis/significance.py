"""Pairwise significance: Wald tests on Bradley-Terry differences, exact binomial tests."""

from __future__ import annotations

import numpy as np
from scipy import stats

WALD_TEST_NAME = (
    "two-sided Wald z-test of b_i - b_j = 0 on Bradley-Terry log-strengths "
    "(covariance from the observed information), Holm-Bonferroni adjusted over all pairs"
)
BINOMIAL_TEST_NAME = "exact two-sided binomial test of direct wins, H0: P(i beats j) = 1/2 (ties excluded)"


def holm(pvalues):
    """Holm-Bonferroni step-down adjustment of a 1-d array of p-values."""
    p = np.asarray(pvalues, dtype=float)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p)
    adj = np.maximum.accumulate((n - np.arange(n)) * p[order])
    out = np.empty(n)
    out[order] = np.minimum(adj, 1.0)
    return out


def wald_matrix(log_strength, cov):
    """z and two-sided p-values for every pair: z_ij = (b_i - b_j) / sqrt(V_ii + V_jj - 2 V_ij).

    Returns (z, p, p_holm) as m x m arrays (diagonal: z 0, p 1).
    """
    b = np.asarray(log_strength, dtype=float)
    V = np.asarray(cov, dtype=float)
    var = np.diag(V)[:, None] + np.diag(V)[None, :] - 2 * V
    diff = b[:, None] - b[None, :]
    sd = np.sqrt(np.clip(var, 0.0, None))
    z = np.divide(diff, sd, out=np.zeros_like(diff), where=sd > 0)
    p = 2 * stats.norm.sf(np.abs(z))
    np.fill_diagonal(p, 1.0)
    iu = np.triu_indices(len(b), 1)
    ph = np.ones_like(p)
    ph[iu] = holm(p[iu])
    ph.T[iu] = ph[iu]
    return z, p, ph


def binomial_matrix(strict_counts):
    """Exact two-sided binomial test per pair on strict (untied) wins; 1.0 where never compared."""
    C = np.rint(np.asarray(strict_counts, dtype=float)).astype(int)
    m = C.shape[0]
    p = np.ones((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            n = C[i, j] + C[j, i]
            if n > 0:
                p[i, j] = p[j, i] = stats.binomtest(C[i, j], n, 0.5).pvalue
    return p
