"""Agreement between judges and consistency of each judge (Kendall & Babington Smith 1940)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def _c2(x):
    return x * (x - 1.0) / 2.0


def agreement_u(counts):
    r"""Kendall's coefficient of agreement u and its chi-square test.

    ``counts``: aggregated count matrix a_ij (judgements preferring i to j; ties 1/2), or a
    (n_judges, m, m) stack that is summed.  Let n_ij = a_ij + a_ji and
    Sigma = sum_{i<j} [C(a_ij, 2) + C(a_ji, 2)] (pairs of judgements that agree).  Then

        u = 2 Sigma / sum_{i<j} C(n_ij, 2) - 1,

    which for n judges who each judge every pair once is Kendall's u = 2 Sigma /
    (C(n,2) C(t,2)) - 1 (u = 1: complete agreement; minimum -1/(n-1) for even n).  Test of
    H0 "judges choose at random" (Kendall 1962; Siegel & Castellan 1988):

        chi2 = sum_pairs 4/(n-2) [Sigma_pair - 1/2 C(n,2) (n-3)/(n-2)],
        df   = sum_pairs n (n-1) / (n-2)^2,

    summed over pairs with n_ij >= 3 (for a balanced design the textbook formula).  Repeated
    judgements of a pair by one participant count as separate judgements.
    """
    a = np.asarray(counts, dtype=float)
    if a.ndim == 3:
        a = a.sum(axis=0)
    iu = np.triu_indices(a.shape[0], 1)
    x, y = a[iu], a.T[iu]
    n = x + y
    agree = _c2(x) + _c2(y)
    total = _c2(n)
    if total.sum() <= 0:
        return {"u": 0.0, "chi2": 0.0, "df": 0.0, "p_value": 1.0, "judgements": float(n.sum())}
    u = 2.0 * agree.sum() / total.sum() - 1.0
    ok = n >= 3
    nn = n[ok]
    chi2 = float(np.sum(4.0 / (nn - 2.0) * (agree[ok] - 0.5 * _c2(nn) * (nn - 3.0) / (nn - 2.0))))
    df = float(np.sum(nn * (nn - 1.0) / (nn - 2.0) ** 2))
    p = float(stats.chi2.sf(chi2, df)) if df > 0 else 1.0
    return {"u": float(u), "chi2": chi2, "df": df, "p_value": p, "judgements": float(n.sum())}


def circular_triads(counts):
    """Number of circular triads in one judge's majority preference graph.

    i -> j when the judge preferred i over j more often than the reverse (equal counts:
    undecided).  With D the 0/1 adjacency matrix (no 2-cycles), the number of directed
    3-cycles is trace(D^3) / 3.  For a complete tournament this equals Kendall's
    d = C(t,3) - sum_i C(s_i, 2), s_i = number of wins of i.
    """
    C = np.asarray(counts, dtype=float)
    D = (C > C.T).astype(float)
    return int(round(np.trace(D @ D @ D) / 3.0))


def max_circular_triads(t):
    """Maximum number of circular triads among t objects: (t^3 - t)/24 (t odd), (t^3 - 4t)/24 (t even)."""
    return (t**3 - t) // 24 if t % 2 else (t**3 - 4 * t) // 24


def consistency(counts):
    """Coefficient of consistency zeta = 1 - d / d_max for one judge (None below 3 objects or
    when some pair of the judged objects has no majority, i.e. the tournament is incomplete)."""
    C = np.asarray(counts, dtype=float)
    judged = np.nonzero((C + C.T).sum(axis=1) > 0)[0]
    sub = C[np.ix_(judged, judged)]
    t = len(judged)
    d = circular_triads(sub)
    off = ~np.eye(t, dtype=bool)
    complete = bool(((sub != sub.T) | ~off).all()) if t else False
    zeta = 1.0 - d / max_circular_triads(t) if complete and t >= 3 else None
    return {"circular_triads": d, "objects": t, "complete": complete, "zeta": zeta}


def participant_consistency(table):
    """Circular triads and zeta per participant (all of a participant's votes pooled)."""
    U = table.unit_counts("participant")
    out = {}
    for k, name in enumerate(table.participants):
        out[name] = consistency(U[k])
    return out
