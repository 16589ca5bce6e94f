"""Outlier participants by leave-one-out likelihood (the idea of pwcmp's dist_L)."""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

from .bootstrap import refit_batch
from .thurstone import THURSTONE_PRIOR_SD, thurstone


def loo_loglik(C, U, prior_sd=THURSTONE_PRIOR_SD):
    """Log-likelihood of each unit's votes under the Thurstone scale fitted without that unit.

    C: (m, m) all votes; U: (n, m, m) per-unit counts (sum U = C).  All n leave-one-out fits
    are solved together, warm-started at the full fit.
    """
    full = thurstone(C, prior_sd=prior_sd)
    Z = refit_batch(np.asarray(C, float)[None] - U, full, "probit", prior_sd)
    d = Z[:, :, None] - Z[:, None, :]
    mask = U > 0
    return np.where(mask, U * log_ndtr(np.where(mask, d, 0.0)), 0.0).sum(axis=(1, 2))


def outlier_participants(table, fence=1.5):
    """Per participant: mean leave-one-out log-likelihood per vote l_p (scales refitted per subset
    when the votes have subsets) and dist_L = (Q1 - l_p) / IQR over participants.  dist_L > 1.5
    means l_p lies below Tukey's lower fence Q1 - 1.5 IQR: the participant is flagged."""
    n_p = len(table.participants)
    ll = np.zeros(n_p)
    nv = np.bincount(table.participant, minlength=n_p).astype(float)
    groups = range(len(table.subsets)) if table.has_subset else [None]
    for g in groups:
        tab = table if g is None else table.select(table.subset == g)
        U = tab.unit_counts("participant")
        present = U.sum(axis=(1, 2)) > 0
        if present.sum() < 2:
            continue
        ll[present] += loo_loglik(tab.counts(), U[present])
    per_vote = np.divide(ll, nv, out=np.zeros(n_p), where=nv > 0)
    q1, q3 = np.percentile(per_vote, [25, 75])
    iqr = q3 - q1
    dist = (q1 - per_vote) / iqr if iqr > 0 else np.zeros(n_p)
    parts = {
        name: {"loglik_per_vote": float(per_vote[k]), "dist_L": float(dist[k]), "outlier": bool(dist[k] > fence)}
        for k, name in enumerate(table.participants)
    }
    return {
        "method": "leave-one-out Thurstone log-likelihood per vote; dist_L = (Q1 - l_p)/IQR, outlier if > 1.5",
        "participants": parts,
        "outliers": [n for n, v in parts.items() if v["outlier"]],
    }
