"""Ranking studies: mean rank, the harmonization paper's ranking score, implied pairs."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def _group(rankings):
    groups = defaultdict(list)
    for r in rankings:
        groups[(str(r.get("participant", "")), str(r.get("item", "")), str(r.get("subset", "") or ""))].append(
            (str(r["method"]), float(r["rank"]))
        )
    return groups


def mean_rank(rankings, methods):
    """Mean of the rank (1 = best) each method received over all (participant, item) rankings."""
    tot = dict.fromkeys(methods, 0.0)
    cnt = dict.fromkeys(methods, 0)
    for r in rankings:
        tot[str(r["method"])] += float(r["rank"])
        cnt[str(r["method"])] += 1
    return np.array([tot[m] / cnt[m] if cnt[m] else 0.0 for m in methods])


def ranking_score(rankings, methods):
    """Ranking score: in a ranking of K methods, rank r scores K + 1 - r (rank 1 -> K, rank K -> 1);
    scores are summed per participant over items and averaged over participants."""
    per_part = defaultdict(lambda: dict.fromkeys(methods, 0.0))
    for (part, _item, _sub), entries in _group(rankings).items():
        K = len(entries)
        for method, rank in entries:
            per_part[part][method] += K + 1 - rank
    if not per_part:
        return np.zeros(len(methods))
    return np.array([np.mean([p[m] for p in per_part.values()]) for m in methods])


def rankings_to_votes(rankings):
    """Each ranking of K methods gives K(K-1)/2 pairwise votes (lower rank wins; equal ranks tie)."""
    votes = []
    for (part, item, sub), entries in _group(rankings).items():
        for a in range(len(entries)):
            for b in range(a + 1, len(entries)):
                (ma, ra), (mb, rb) = entries[a], entries[b]
                v = {"participant": part, "item": item}
                if sub:
                    v["subset"] = sub
                if ra <= rb:
                    v.update(winner=ma, loser=mb, tie=ra == rb)
                else:
                    v.update(winner=mb, loser=ma, tie=False)
                votes.append(v)
    return votes


def analyse_rankings(rankings, methods=None, bootstrap=0, seed=0, details=False):
    """Ranking statistics plus B-T/Thurstone of the implied pairwise comparisons (same JSON keys)."""
    from .report import analyse_votes

    rankings = list(rankings)
    if methods is None:
        methods = list(dict.fromkeys(str(r["method"]) for r in rankings))
    has_subset = any(r.get("subset") not in (None, "") for r in rankings)
    votes = rankings_to_votes(rankings)
    out = analyse_votes(votes, conditions=methods, bootstrap=bootstrap, seed=seed, details=details)
    out["mean_rank"] = dict(zip(methods, map(float, mean_rank(rankings, methods)), strict=True))
    out["ranking_score"] = dict(zip(methods, map(float, ranking_score(rankings, methods)), strict=True))
    if has_subset:
        for name, sub in out.get("subsets", {}).items():
            rs = [r for r in rankings if str(r.get("subset", "")) == name]
            sub["mean_rank"] = dict(zip(methods, map(float, mean_rank(rs, methods)), strict=True))
            sub["ranking_score"] = dict(zip(methods, map(float, ranking_score(rs, methods)), strict=True))
    return out
