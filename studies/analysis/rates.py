"""Preference rate and win rate from a count matrix."""

from __future__ import annotations

import numpy as np


def preference_rate(counts):
    """Share of all selections each method received (region-aware retouching paper).

    rate_i = sum_j C_ij / sum_ij C_ij; sums to 1 over methods.  A tie gives each side 1/2.
    All zeros when there are no comparisons.  Works on (m, m) or batched (B, m, m) input.
    """
    C = np.asarray(counts, dtype=float)
    sel = C.sum(axis=-1)
    tot = sel.sum(axis=-1, keepdims=True)
    return np.divide(sel, tot, out=np.zeros_like(sel), where=tot > 0)


def win_rate(counts):
    """wins_i / comparisons_i, comparisons_i = sum_j (C_ij + C_ji); 0 for a method never compared."""
    C = np.asarray(counts, dtype=float)
    wins = C.sum(axis=-1)
    comps = wins + C.sum(axis=-2)
    return np.divide(wins, comps, out=np.zeros_like(wins), where=comps > 0)


def comparisons(counts):
    """Total number of comparisons (each vote, tied or not, counts once)."""
    return float(np.asarray(counts, dtype=float).sum())
