"""Bradley-Terry model fitted by maximum likelihood (Newton's method on the count matrix)."""

from __future__ import annotations

import numpy as np

from ._pairfit import fit

#: Standard deviation (logits) of the weak Gaussian prior used only when the MLE does not exist.
BT_PRIOR_SD = 3.0


def bradley_terry(counts, prior_sd: float = BT_PRIOR_SD, initial=None, tol: float = 1e-11):
    r"""Maximum-likelihood Bradley-Terry log-strengths from a count matrix.

    Model: P(i \succ j) = exp(b_i) / (exp(b_i) + exp(b_j)) = logistic(b_i - b_j).
    ``counts[i, j]`` is the number of times i was preferred over j (ties entered as 1/2 each
    way).  The log-likelihood sum_ij C_ij log logistic(b_i - b_j) is maximised by Newton's
    method with the centring constraint sum_i b_i = 0 (step size < ``tol``, i.e. values
    accurate far beyond 1e-9).

    The MLE exists iff the "beats" graph (i -> j when C_ij > 0) is strongly connected
    (Zermelo 1929; Ford 1957).  Otherwise (a method never wins or never loses, a unanimous
    pair that cuts the graph) the maximum a-posteriori estimate under the prior
    b ~ N(0, prior_sd^2 I) is returned and ``regularized`` is True.  A design that falls
    into several weakly connected components is fitted and centred per component.

    Returns a dict: ``log_strength`` (centred b), ``score`` (exp(b) / sum exp(b), sums to 1),
    ``exp_score`` (exp(b) of the centred b), ``se`` (standard errors of the centred b from the
    observed information; posterior sd when regularized), ``cov``, ``regularized``,
    ``warnings``, ``components``.
    """
    C = np.asarray(counts, dtype=float)
    res = fit(C, "logit", prior_sd, s0=initial, tol=tol)
    b = res.s
    e = np.exp(b - b.max())
    return {
        "log_strength": b,
        "score": e / e.sum(),
        "exp_score": np.exp(b),
        "se": res.se,
        "cov": res.cov,
        "regularized": res.regularized,
        "warnings": res.warnings,
        "components": res.components,
        "component_alpha": res.component_alpha,
    }
