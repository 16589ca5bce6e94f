"""Experimental design: balanced pairwise schedules and adaptive (ASAP-like) pair selection."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.special import log_ndtr, ndtr

from ._pairfit import MODELS, hessian_weights, laplacian, newton
from .thurstone import THURSTONE_PRIOR_SD

#: Name used for the degraded side of an attention-check trial.
ATTENTION_DEGRADED = "__attention_degraded__"


def balanced_schedule(conditions, items, n_participants, trials_per_participant=None, attention_every=10,
                      seed=0):
    """Balanced pairwise schedule, one block (list of trials) per participant.

    The base design is every unordered pair of ``conditions`` for every item.  Shuffled copies of
    it are dealt out in consecutive blocks of ``trials_per_participant`` (default: one full copy,
    so every participant sees every pair of every item once).  Hence every pair per item occurs
    equally often overall whenever n_participants * trials_per_participant is a multiple of
    len(base) (otherwise counts differ by at most one).  Left/right: the orientation of a base
    trial alternates between copies and half of each copy is flipped, so per pair and item the
    two orders differ by at most one (exactly equal for an even number of copies).

    After every ``attention_every`` regular trials one attention-check trial is inserted at a
    random position of that stretch (0 disables them): a condition against a deliberately
    degraded version of itself (``ATTENTION_DEGRADED``), sides alternating; ``expected`` names
    the side that must be chosen.

    Returns list (participants) of lists of dicts with keys participant, position, item, left,
    right, attention_check, expected.
    """
    conditions, items = list(conditions), list(items)
    if len(conditions) < 2 or not items or n_participants < 1:
        raise ValueError("need >= 2 conditions, >= 1 item and >= 1 participant")
    rng = np.random.default_rng(seed)
    base = [(it, a, b) for it in items for a, b in itertools.combinations(conditions, 2)]
    L = len(base) if trials_per_participant is None else int(trials_per_participant)
    total = n_participants * L
    seq = []
    copy = 0
    while len(seq) < total:
        for k in rng.permutation(len(base)):
            it, a, b = base[k]
            seq.append((it, a, b) if (copy + k) % 2 == 0 else (it, b, a))
        copy += 1
    schedule = []
    att = 0
    for p in range(n_participants):
        block = seq[p * L:(p + 1) * L]
        trials = [dict(item=it, left=a, right=b, attention_check=False, expected=None) for it, a, b in block]
        if attention_every and attention_every > 0:
            out = []
            for start in range(0, len(trials), attention_every):
                chunk = trials[start:start + attention_every]
                cond = conditions[int(rng.integers(len(conditions)))]
                item = items[int(rng.integers(len(items)))]
                left, right = (cond, ATTENTION_DEGRADED) if att % 2 == 0 else (ATTENTION_DEGRADED, cond)
                att += 1
                pos = int(rng.integers(1, len(chunk) + 1)) if len(chunk) else 0
                chunk.insert(pos, dict(item=item, left=left, right=right, attention_check=True, expected=cond))
                out.extend(chunk)
            trials = out
        for pos, t in enumerate(trials):
            t["participant"] = p
            t["position"] = pos
        schedule.append(trials)
    return schedule


# ----------------------------------------------------------------------------- adaptive sampling

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(24)
_GH_W = _GH_W / _GH_W.sum()


def _binary_entropy_probit(d):
    """H(Phi(d)) in nats, stable for large |d|."""
    lp, lq = log_ndtr(d), log_ndtr(-d)
    return -(np.exp(lp) * lp + np.exp(lq) * lq)


def posterior(counts, prior_sd=THURSTONE_PRIOR_SD, initial=None):
    """Laplace approximation of the Thurstone posterior under the prior z ~ N(0, prior_sd^2):
    (mean, covariance), batched over a leading axis when ``counts`` is (B, m, m)."""
    C = np.asarray(counts, dtype=float)
    single = C.ndim == 2
    C = C[None] if single else C
    alpha = np.full(C.shape[0], 1.0 / prior_sd**2)
    model = MODELS["probit"]
    s, _ = newton(C, alpha, model, initial, tol=1e-8)
    L = laplacian(hessian_weights(C, s, model))
    L[:, np.arange(C.shape[1]), np.arange(C.shape[1])] += alpha[:, None]
    cov = np.linalg.inv(L)
    return (s[0], cov[0]) if single else (s, cov)


def expected_information_gain(mean, cov):
    r"""Expected information gain of comparing i with j (as in ASAP, Mikhailiuk et al. 2020).

    With d = z_i - z_j ~ N(mu, v) under the (Gaussian) posterior and y the outcome,
    EIG = I(y; z) = H(E[Phi(d)]) - E[H(Phi(d))], where E[Phi(d)] = Phi(mu / sqrt(1 + v)) and the
    second expectation uses 24-point Gauss-Hermite quadrature.  Returns an m x m matrix
    (batched over a leading axis), 0 on the diagonal.
    """
    mu = np.asarray(mean, dtype=float)
    S = np.asarray(cov, dtype=float)
    diag = np.diagonal(S, axis1=-2, axis2=-1)
    v = np.clip(diag[..., :, None] + diag[..., None, :] - 2 * S, 0.0, None)
    m_ = mu[..., :, None] - mu[..., None, :]
    h_mean = _binary_entropy_probit(m_ / np.sqrt(1.0 + v))
    d = m_[..., None] + np.sqrt(v)[..., None] * _GH_X
    h_cond = (_binary_entropy_probit(d) * _GH_W).sum(axis=-1)
    eig = np.clip(h_mean - h_cond, 0.0, None)
    idx = np.arange(mu.shape[-1])
    eig[..., idx, idx] = 0.0
    return eig


def next_pair(counts, names=None, prior_sd=THURSTONE_PRIOR_SD, seed=None, initial=None):
    """The pair with the largest expected information gain (ties: fewest comparisons, then random).

    ``counts`` is the m x m count matrix so far (C[i, j] = times i preferred over j).  Returns a
    tuple (a, b) of names (or indices when ``names`` is None) with a listed before b in the
    condition order; the caller randomises left/right.
    """
    C = np.asarray(counts, dtype=float)
    m = C.shape[0]
    mean, cov = posterior(C, prior_sd, None if initial is None else np.asarray(initial)[None])
    eig = expected_information_gain(mean, cov)
    iu = np.triu_indices(m, 1)
    gain = eig[iu]
    n = (C + C.T)[iu]
    best = np.flatnonzero(gain >= gain.max() * (1 - 1e-9))
    best = best[n[best] == n[best].min()]
    k = best[0] if seed is None or len(best) == 1 else np.random.default_rng(seed).choice(best)
    i, j = int(iu[0][k]), int(iu[1][k])
    return (names[i], names[j]) if names is not None else (i, j)


def _rank_accuracy(est, true):
    """Fraction of condition pairs ordered as by the true scores (per row of est)."""
    iu = np.triu_indices(true.shape[-1], 1)
    t = np.sign(true[iu[0]] - true[iu[1]])
    e = np.sign(est[..., iu[0]] - est[..., iu[1]])
    return (e == t).mean(axis=-1)


def simulate_adaptive(m=10, spread=2.0, budget=None, n_runs=50, checkpoint=None, target=0.9, seed=0,
                      prior_sd=THURSTONE_PRIOR_SD):
    """Simulated observers (Thurstone Case V, true z evenly spaced over ``spread``) judged by
    round-robin (every pair once per round, rounds shuffled) and by adaptive EIG selection
    (:func:`next_pair`), ``n_runs`` runs each, both scored by the same MAP Thurstone estimate.

    Returns the mean rank accuracy (share of correctly ordered pairs) at each checkpoint and the
    number of comparisons each strategy needs before its mean accuracy first reaches ``target``
    (None if never within ``budget``), plus the saving of adaptive over round-robin.
    """
    rng = np.random.default_rng(seed)
    true = np.linspace(0.0, spread, m)
    true -= true.mean()
    pairs = np.array(list(itertools.combinations(range(m), 2)))
    P = len(pairs)
    budget = budget or 12 * P
    checkpoint = checkpoint or max(1, P // 3)
    steps = list(range(checkpoint, budget + 1, checkpoint))
    alpha = 1.0 / prior_sd**2
    model = MODELS["probit"]
    R = n_runs

    def judge(i, j):
        win = rng.random(R) < ndtr(true[i] - true[j])
        return np.where(win, i, j), np.where(win, j, i)

    def estimate(C):
        s, _ = newton(C, np.full(R, alpha), model, None, tol=1e-8)
        return s

    # round-robin
    C = np.zeros((R, m, m))
    order = np.concatenate([rng.permuted(np.tile(np.arange(P), (R, 1)), axis=1) for _ in range(budget // P + 1)],
                           axis=1)
    acc_rr = []
    for t in range(1, budget + 1):
        k = order[:, t - 1]
        w, lo = judge(pairs[k, 0], pairs[k, 1])
        C[np.arange(R), w, lo] += 1
        if t in steps:
            acc_rr.append(_rank_accuracy(estimate(C), true).mean())
    # adaptive
    C = np.zeros((R, m, m))
    s = np.zeros((R, m))
    iu = np.triu_indices(m, 1)
    acc_ad = []
    for t in range(1, budget + 1):
        s, _ = newton(C, np.full(R, alpha), model, s, tol=1e-6)
        Lp = laplacian(hessian_weights(C, s, model))
        Lp[:, np.arange(m), np.arange(m)] += alpha
        eig = expected_information_gain(s, np.linalg.inv(Lp))[:, iu[0], iu[1]]
        eig += rng.random(eig.shape) * 1e-12  # random tie-breaking
        k = eig.argmax(axis=1)
        w, lo = judge(iu[0][k], iu[1][k])
        C[np.arange(R), w, lo] += 1
        if t in steps:
            acc_ad.append(_rank_accuracy(estimate(C), true).mean())

    def reach(acc):
        hit = [n for n, a in zip(steps, acc, strict=True) if a >= target]
        return hit[0] if hit else None

    n_rr, n_ad = reach(acc_rr), reach(acc_ad)
    saving = None if (n_rr is None or n_ad is None) else 1.0 - n_ad / n_rr
    return {
        "m": m, "spread": spread, "runs": R, "target": target, "checkpoints": steps,
        "accuracy_round_robin": [float(a) for a in acc_rr], "accuracy_adaptive": [float(a) for a in acc_ad],
        "comparisons_round_robin": n_rr, "comparisons_adaptive": n_ad, "saving": saving,
    }


def format_simulation(res):
    lines = [f"{'comparisons':>11} {'round-robin':>12} {'adaptive':>9}"]
    for n, a, b in zip(res["checkpoints"], res["accuracy_round_robin"], res["accuracy_adaptive"], strict=True):
        lines.append(f"{n:>11} {a:>12.3f} {b:>9.3f}")
    lines.append(
        f"to reach {res['target']:.0%} rank accuracy: round-robin {res['comparisons_round_robin']}, "
        f"adaptive {res['comparisons_adaptive']}"
        + (f" (saves {res['saving']:.0%})" if res["saving"] is not None else "")
    )
    return "\n".join(lines)
