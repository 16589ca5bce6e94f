"""High-level analysis: votes / matrices / rankings -> the JSON object of the CLI."""

from __future__ import annotations

import json
import math

import numpy as np

from .bootstrap import bootstrap_ci, resample_counts
from .bradley_terry import bradley_terry
from .data import VoteTable, proportions_to_counts, votes_table
from .rates import comparisons, preference_rate, win_rate
from .thurstone import JOD_PER_Z, thurstone, thurstone_least_squares


def _mapping(names, values):
    return {n: float(v) for n, v in zip(names, np.asarray(values, dtype=float), strict=True)}


def _component_warnings(names, fit):
    warns = []
    comps = fit["components"]
    if len(comps) > 1:
        groups = "; ".join("{" + ", ".join(names[i] for i in c) + "}" for c in comps)
        warns.append(
            f"disconnected design: {len(comps)} groups of conditions were never compared with each "
            f"other ({groups}); each group is scaled and centred on its own, values are not comparable "
            "across groups"
        )
    for c in comps:
        if len(c) == 1:
            warns.append(f"condition {names[c[0]]!r} has no comparisons; its scale value is the prior mean 0")
    if fit["regularized"]:
        warns.append(
            "maximum-likelihood estimate does not exist (a condition never wins or never loses, or the "
            "comparison graph is not strongly connected): weak Gaussian prior applied "
            "(B-T: N(0, 3^2) on log-strengths; Thurstone: N(0, (3/1.702)^2) on z); regularized"
        )
    return warns


def analyse_counts(
    counts,
    names,
    *,
    unit_counts=None,
    cross=None,
    bootstrap=0,
    seed=0,
    level=0.95,
    proportions=None,
    details=False,
    votes: VoteTable | None = None,
):
    """Full statistics of one count matrix.

    unit_counts: (U, m, m) per-unit counts for the bootstrap (participants, or single votes).
    proportions: the raw proportion matrix when the input was proportions (for thurstone_ls).
    """
    C = np.asarray(counts, dtype=float)
    names = list(names)
    warns = []
    bt = bradley_terry(C)
    th = thurstone(C, initial=bt["log_strength"] / 1.702)
    warns += bt["warnings"] + th["warnings"] + _component_warnings(names, bt)

    N = C + C.T
    if proportions is not None:
        P = np.array(proportions, dtype=float)
        z_ls, w_ls = thurstone_least_squares(P)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            P = np.where(N > 0, C / np.where(N > 0, N, 1.0), np.nan)
        np.fill_diagonal(P, 0.5)
        n = np.where(N > 0, N, 0.0)
        np.fill_diagonal(n, 1.0)
        z_ls, w_ls = thurstone_least_squares(P, n=n)
    if z_ls is not None:
        warns += w_ls
    out = {
        "conditions": names,
        "comparisons": _number(comparisons(C)),
        "preference_rate": _mapping(names, preference_rate(C)),
        "win_rate": _mapping(names, win_rate(C)),
        "bradley_terry": {
            "log_strength": _mapping(names, bt["log_strength"]),
            "score": _mapping(names, bt["score"]),
            "exp_score": _mapping(names, bt["exp_score"]),
            "se": _mapping(names, bt["se"]),
        },
        "thurstone": {"z": _mapping(names, th["z"]), "jod": _mapping(names, th["jod"])},
        "thurstone_ls": None if z_ls is None else {
            "z": _mapping(names, z_ls), "jod": _mapping(names, z_ls * JOD_PER_Z)
        },
        "regularized": bool(bt["regularized"] or th["regularized"]),
        "ci": None,
    }
    if bootstrap and bootstrap > 0:
        if unit_counts is None:
            raise ValueError("bootstrap needs per-unit counts")
        if len(unit_counts) < 2:
            warns.append("bootstrap: fewer than 2 resampling units; intervals are degenerate")
        ci = bootstrap_ci(unit_counts, bt, th, n_boot=int(bootstrap), seed=seed, level=level, cross=cross)
        out["ci"] = {
            k: {n: [float(lo[i]), float(hi[i])] for i, n in enumerate(names)} for k, (lo, hi) in ci.items()
        }
    if details:
        out["details"] = _details(C, names, bt, th, votes, warns)
    out["warnings"] = list(dict.fromkeys(warns))
    return out


def _number(x):
    return int(x) if float(x).is_integer() else float(x)


def _pairs_mapping(names, M):
    return {a: {b: float(M[i, j]) for j, b in enumerate(names) if j != i} for i, a in enumerate(names)}


def _details(C, names, bt, th, votes, warns):
    from .agreement import agreement_u, participant_consistency
    from .outliers import outlier_participants
    from .significance import BINOMIAL_TEST_NAME, WALD_TEST_NAME, binomial_matrix, wald_matrix

    z, p, ph = wald_matrix(bt["log_strength"], bt["cov"])
    strict = votes.counts(strict=True) if votes is not None else C
    det = {
        "significance": {
            "test": WALD_TEST_NAME,
            "z": _pairs_mapping(names, z),
            "p_value": _pairs_mapping(names, p),
            "p_holm": _pairs_mapping(names, ph),
        },
        "binomial": {"test": BINOMIAL_TEST_NAME, "p_value": _pairs_mapping(names, binomial_matrix(strict))},
        "thurstone_se": _mapping(names, th["se"]),
    }
    if votes is not None and votes.has_participant and len(votes.participants) > 1:
        U = votes.unit_counts("participant")
        det["agreement"] = agreement_u(U)
        det["consistency"] = participant_consistency(votes)
        det["outliers"] = outlier_participants(votes)
    return det


def analyse_table(table: VoteTable, bootstrap=0, seed=0, level=0.95, details=False, resample="participant"):
    """Statistics of a vote table, pooled and (when it has subsets) per subset."""
    def one(tab):
        C = tab.counts()
        units, cross = _units(tab, resample)
        return analyse_counts(C, tab.conditions, unit_counts=units, cross=cross, bootstrap=bootstrap, seed=seed,
                              level=level, details=details, votes=tab)

    out = one(table)
    if table.has_subset:
        subsets = {}
        for k, name in enumerate(table.subsets):
            sub = one(table.select(table.subset == k))
            subsets[name] = sub
        out["subsets"] = subsets
    return out


def _units(tab: VoteTable, resample):
    if resample == "participant":
        if not tab.has_participant:
            return tab.unit_counts("vote"), None
        return tab.unit_counts("participant"), None
    if resample == "item":
        return tab.unit_counts("item"), None
    if resample == "participant+item":
        cell = tab.participant * len(tab.items) + tab.item
        codes, inv = np.unique(cell, return_inverse=True)
        sub = VoteTable(tab.conditions, tab.winner, tab.loser, tab.tie, inv, list(range(len(codes))), tab.item,
                        tab.items, tab.subset, tab.subsets)
        return sub.unit_counts("participant"), (codes // len(tab.items), codes % len(tab.items))
    raise ValueError(f"unknown resampling unit {resample!r}")


def analyse_votes(votes, conditions=None, bootstrap=0, seed=0, exclude_participants=(), *, details=False,
                  level=0.95, resample="participant"):
    """Analyse a list of vote dicts (participant, item, subset, winner, loser, tie) -> CLI JSON object.

    ``conditions`` fixes the order (and set) of methods; otherwise order of first appearance.
    Participants in ``exclude_participants`` are dropped before any computation.  With
    ``bootstrap`` > 0, percentile CIs from resampling participants (``resample`` may also be
    "item" or "participant+item").  ``details`` adds significance tests, agreement,
    consistency and outliers under the key "details".
    """
    table = votes_table(votes, conditions, exclude_participants)
    return analyse_table(table, bootstrap=bootstrap, seed=seed, level=level, details=details, resample=resample)


def analyse_matrix(matrix, names, proportions=False, bootstrap=0, seed=0, level=0.95, details=False):
    """Analyse a square count (or proportion) matrix.  For the bootstrap each comparison is a unit."""
    M = np.asarray(matrix, dtype=float)
    m = len(names)
    if proportions:
        C = proportions_to_counts(M)
        out = analyse_counts(C, names, proportions=M, details=details)
        out["warnings"].append(
            "proportion input: fits treat every judged pair as one comparison; standard errors and "
            "comparisons are on that scale"
        )
        if bootstrap:
            out["warnings"].append("bootstrap needs counts or votes; not available for proportions")
        return out
    units = None
    if bootstrap:
        Ci = np.rint(M).astype(int)
        if not np.allclose(Ci, M):
            raise ValueError("bootstrap of a matrix needs integer counts")
        i, j = np.nonzero(Ci)
        reps = Ci[i, j]
        wi, li = np.repeat(i, reps), np.repeat(j, reps)
        units = np.zeros((len(wi), m, m))
        units[np.arange(len(wi)), wi, li] = 1.0
    return analyse_counts(M, names, unit_counts=units, bootstrap=bootstrap, seed=seed, level=level, details=details)


# ----------------------------------------------------------------------------- output


def _check_finite(obj, path="$"):
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"non-finite number at {path}")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_finite(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for k, v in enumerate(obj):
            _check_finite(v, f"{path}[{k}]")


def to_json(obj, indent=2):
    _check_finite(obj)
    return json.dumps(obj, indent=indent, allow_nan=False)


def format_table(res, title="all votes"):
    """Readable table in the style of Table III of the region-aware retouching paper."""
    names = res["conditions"]
    ci = res.get("ci")
    lines = [f"== {title}: {res['comparisons']:g} comparisons" + (" (regularized)" if res["regularized"] else "")]
    head = f"{'Method':<20} {'Pref. rate':>10} {'Win rate':>9} {'B-T score':>10} {'B-T exp':>9} {'B-T log':>8} " \
           f"{'SE':>6} {'Thurstone z':>12} {'JOD':>7}"
    if ci:
        head += f"  {'95% CI (JOD)':>17}"
    lines += [head, "-" * len(head)]
    order = sorted(names, key=lambda n: -res["bradley_terry"]["log_strength"][n])
    for n in order:
        bt, th = res["bradley_terry"], res["thurstone"]
        row = (f"{n[:20]:<20} {res['preference_rate'][n]:>10.3f} {res['win_rate'][n]:>9.3f} "
               f"{bt['score'][n]:>10.3f} {bt['exp_score'][n]:>9.3f} {bt['log_strength'][n]:>8.3f} "
               f"{bt['se'][n]:>6.3f} {th['z'][n]:>12.3f} {th['jod'][n]:>7.3f}")
        if ci:
            lo, hi = ci["thurstone.jod"][n]
            row += f"  [{lo:>6.2f}, {hi:>6.2f}]"
        lines.append(row)
    for w in res.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def format_report(res):
    parts = [format_table(res)]
    for name, sub in (res.get("subsets") or {}).items():
        parts.append(format_table(sub, title=f"subset {name}"))
    return "\n\n".join(parts)


__all__ = ["analyse_counts", "analyse_matrix", "analyse_table", "analyse_votes", "format_report", "to_json",
           "resample_counts"]
