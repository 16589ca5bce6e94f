"""Shared machinery for paired-comparison models of the form P(i beats j) = F(s_i - s_j).

Both Bradley-Terry (F = logistic) and Thurstone Case V (F = standard normal CDF) have a
log-likelihood

    l(s) = sum_{i != j} C[i, j] * log F(s_i - s_j)

that is concave in s, so Newton's method on the m x m count matrix converges quadratically.
With d_ij = s_i - s_j, f = log F, the gradient and Hessian are

    g_i = sum_j C_ij f'(d_ij) - sum_j C_ji f'(d_ji)
    -H  = Laplacian(M),   M_ij = -(C_ij f''(d_ij) + C_ji f''(d_ji))  >= 0

-H is singular along the all-ones vector (only differences are identified), so each Newton
step solves (Lap(M) + alpha I + 1 1^T) delta = g - alpha s, which yields the centred step
(sum delta = 0) for a connected design.  alpha > 0 is the precision of an isotropic Gaussian
prior s ~ N(0, 1/alpha), used only when the maximum-likelihood estimate does not exist.

Everything here is batched: count matrices have shape (B, m, m) so that bootstrap
resamples and leave-one-out refits are solved together.  Newton works on the m(m-1)/2 pairs
i < j: with d = s_i - s_j, the pair's terms at d and at -d (= d_ji) come from one evaluation of
the transcendental functions (``pair_terms``), which gives the objective, gradient and Hessian
at a point together, so the backtracking check of a step costs nothing extra.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.special import erfc, expit, log_ndtr

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_SQRT_HALF = np.sqrt(0.5)


class _Logit:
    name = "logit"

    @staticmethod
    def derivs(d):
        f1 = expit(-d)
        f2 = -expit(d) * f1
        return f1, f2

    @staticmethod
    def pair_terms(a):
        """(f(a), f(-a), f'(a), f'(-a), f''(a), f''(-a)) for a >= 0, from one exp and one log1p."""
        e = np.exp(-a)
        lf = -np.log1p(e)
        r = 1.0 / (1.0 + e)  # F(a); F(-a) = e r
        small = e * r
        f2 = -r * small
        return lf, lf - a, small, r, f2, f2


class _Probit:
    name = "probit"

    @staticmethod
    def derivs(d):
        # inverse Mills ratio lambda(d) = phi(d) / Phi(d), computed in log space
        lam = np.exp(-0.5 * d * d - _LOG_SQRT_2PI - log_ndtr(d))
        f2 = -lam * (d + lam)
        # f'' lies in (-1, 0); clip rounding noise for very negative d
        np.clip(f2, -1.0, -1e-300, out=f2)
        return lam, f2

    @staticmethod
    def pair_terms(a):
        """(f(a), f(-a), f'(a), f'(-a), f''(a), f''(-a)) for a >= 0, from one erfc:
        c = Phi(-a) = erfc(a / sqrt 2) / 2 is exact in relative terms, so log Phi(-a) = log c,
        log Phi(a) = log1p(-c), and the Mills ratios are phi(a) / (1 - c) and phi(a) / c."""
        c = 0.5 * erfc(a * _SQRT_HALF)
        phi = np.exp(-0.5 * a * a - _LOG_SQRT_2PI)
        far = c < 1e-290  # phi and c underflow past a ~ 38: log space there, as in derivs()
        with np.errstate(divide="ignore", invalid="ignore"):
            l_minus, lam_minus = np.log(c), phi / c
        if far.any():
            l_minus[far] = log_ndtr(-a[far])
            lam_minus[far] = np.exp(-0.5 * a[far] ** 2 - _LOG_SQRT_2PI - l_minus[far])
        lam_plus = phi / (1.0 - c)
        f2_plus = np.clip(-lam_plus * (lam_plus + a), -1.0, -1e-300)
        f2_minus = np.clip(-lam_minus * (lam_minus - a), -1.0, -1e-300)
        return np.log1p(-c), l_minus, lam_plus, lam_minus, f2_plus, f2_minus


MODELS = {"logit": _Logit, "probit": _Probit}


def _diff(s):
    return s[:, :, None] - s[:, None, :]


def hessian_weights(C, s, model):
    """M_ij = -(C_ij f''(d_ij) + C_ji f''(d_ji)), the Laplacian weights of -H."""
    _, f2 = model.derivs(_diff(s))
    S = C * f2
    return -(S + np.swapaxes(S, 1, 2))


def laplacian(M):
    L = -M.copy()
    idx = np.arange(M.shape[-1])
    L[..., idx, idx] = M.sum(axis=-1)
    return L


_BLOCK_PAIRS = 49152


class _Pairs:
    """The pairs i < j of m conditions as sparse incidence operators: d = s E^T, g = t E, and
    Laplacian(w) = w K (flattened m x m), for any batch size and m."""

    def __init__(self, m):
        iu, ju = np.triu_indices(m, 1)
        P = len(iu)
        rows = np.repeat(np.arange(P), 2)
        E = sparse.csr_matrix((np.tile([1.0, -1.0], P), (rows, np.column_stack([iu, ju]).ravel())),
                              shape=(P, m))
        self.iu, self.ju, self.E, self.ET = iu, ju, E, E.T.tocsr()
        cells = np.column_stack([iu * (m + 1), ju * (m + 1), iu * m + ju, ju * m + iu]).ravel()
        self.KT = sparse.csr_matrix((np.tile([1.0, 1.0, -1.0, -1.0], P), (cells, np.repeat(np.arange(P), 4))),
                                    shape=(m * m, P))

    def evaluate(self, a, b, s, alpha, model):
        """Objective (B,), gradient (B, m) and Laplacian weights (B, P) at s, for counts a = C_ij,
        b = C_ji of the pairs."""
        d = (self.E @ s.T).T
        # Orient each pair so that its difference is |d| >= 0: the counts swap where d < 0
        # (selected by arithmetic with 0/1 weights, exact and much faster than np.where).
        pos = (d >= 0).astype(float)
        neg = 1.0 - pos
        hi, lo = pos * a + neg * b, neg * a + pos * b
        lp, lm, f1p, f1m, f2p, f2m = model.pair_terms(np.abs(d))
        obj = (hi * lp + lo * lm).sum(axis=1) - 0.5 * alpha * (s * s).sum(axis=1)
        t = (hi * f1p - lo * f1m) * (pos - neg)
        grad = (self.ET @ t.T).T - alpha[:, None] * s
        return obj, grad, -(hi * f2p + lo * f2m)

    def system(self, w, alpha):
        """Lap(w) + J + alpha I, shape (B, m, m)."""
        m = len(self.ET.indptr) - 1
        A = (self.KT @ w.T).T.reshape(-1, m, m)
        A += 1.0
        A[:, np.arange(m), np.arange(m)] += alpha[:, None]
        return A


def newton(C, alpha, model, s0=None, tol=1e-11, max_iter=200):
    """Batched damped Newton ascent of the penalised log-likelihood.

    C: (B, m, m) counts (each batch element connected when its alpha is 0);
    alpha: (B,) prior precisions; s0: (B, m) starting values, or (m,) for one start shared by
    all (its first evaluation is then done once).  An element stops once a step it took was
    smaller than ``tol`` (max abs): convergence is quadratic, so the error left is then of
    order tol^2.  Returns (s, converged) with s of shape (B, m).
    """
    C = np.asarray(C, dtype=float)
    B, m, _ = C.shape
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (B,))
    s = None if s0 is None or np.ndim(s0) == 1 else np.broadcast_to(s0, (B, m))
    if m == 1 or B == 0:
        return np.zeros((B, m)), np.ones(B, dtype=bool)
    # Batches are solved in blocks of ~48 K pairs: the temporaries (B x pairs) then stay in the
    # CPU cache, which makes the element-wise work several times faster than on one big batch.
    rows = max(1, _BLOCK_PAIRS // (m * (m - 1) // 2))
    pairs = _Pairs(m)
    parts = [_newton_block(pairs, C[i:i + rows], alpha[i:i + rows], model,
                           s0 if s is None else s[i:i + rows], tol, max_iter)
             for i in range(0, B, rows)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _newton_block(pairs, C, alpha, model, s0, tol, max_iter):
    B, m, _ = C.shape
    shared = s0 is not None and np.ndim(s0) == 1
    s = np.zeros((B, m)) if s0 is None else np.array(np.broadcast_to(s0, (B, m)), dtype=float)
    s -= s.mean(axis=1, keepdims=True)
    a, b = C[:, pairs.iu, pairs.ju], C[:, pairs.ju, pairs.iu]
    active = np.arange(B)
    converged = np.zeros(B, dtype=bool)
    obj, grad, w = pairs.evaluate(a, b, s[:1] if shared else s, alpha, model)
    sa = s.copy()
    for _ in range(max_iter):
        delta = np.linalg.solve(pairs.system(w, alpha), grad[:, :, None])[:, :, 0]
        delta -= delta.mean(axis=1, keepdims=True)
        # backtracking: the log-likelihood is concave, so halving restores ascent
        step = np.ones(len(active))
        new = sa + delta
        new_obj, grad, w = pairs.evaluate(a, b, new, alpha, model)
        for _ in range(40):
            bad = np.flatnonzero(new_obj < obj - 1e-12 * np.maximum(1.0, np.abs(obj)))
            if not bad.size:
                break
            step[bad] *= 0.5
            new[bad] = sa[bad] + step[bad, None] * delta[bad]
            new_obj[bad], grad[bad], w[bad] = pairs.evaluate(a[bad], b[bad], new[bad], alpha[bad], model)
        s[active] = new
        keep = ~(np.abs(delta).max(axis=1) * step < tol)  # NaN steps stay active, unconverged
        converged[active[~keep]] = True
        if not keep.all():  # shrink the working set to the elements still moving
            active, a, b, alpha, new = active[keep], a[keep], b[keep], alpha[keep], new[keep]
            new_obj, grad, w = new_obj[keep], grad[keep], w[keep]
        if active.size == 0:
            break
        sa, obj = new, new_obj
    return s, converged


def covariance(C, s, alpha, model):
    """Covariance of the estimate from the observed information.

    alpha == 0: Moore-Penrose inverse of the information Laplacian, i.e. the covariance of
    the centred MLE.  alpha > 0: posterior covariance (Lap + alpha I)^-1 of the Laplace
    approximation.
    """
    C = np.asarray(C, dtype=float)[None] if np.ndim(C) == 2 else np.asarray(C, dtype=float)
    s = np.atleast_2d(s)
    m = C.shape[-1]
    L = laplacian(hessian_weights(C, s, model))[0]
    if alpha > 0:
        return np.linalg.inv(L + alpha * np.eye(m))
    J = np.full((m, m), 1.0 / m)
    return np.linalg.inv(L + J) - J


def components(C):
    """Weakly connected components of the comparison graph (pairs with any comparison)."""
    C = np.asarray(C, dtype=float)
    n, labels = csgraph.connected_components(sparse.csr_matrix((C + C.T) > 0), directed=False)
    order = []
    seen = {}
    for i, lab in enumerate(labels):
        if lab not in seen:
            seen[lab] = len(order)
            order.append([])
        order[seen[lab]].append(i)
    return [np.array(c, dtype=int) for c in order]


def strongly_connected(C):
    """True for each batch element whose 'beats' graph (edge i->j when C_ij > 0) is strongly connected.

    Accepts (m, m) or (B, m, m).  Uses boolean reachability by repeated squaring.
    """
    C = np.asarray(C)
    single = C.ndim == 2
    if single:
        n, _ = csgraph.connected_components(sparse.csr_matrix(C > 0), directed=True, connection="strong")
        return bool(n == 1)
    m = C.shape[-1]
    if m == 1:
        return np.ones(C.shape[0], dtype=bool)
    R = (C > 0) | np.eye(m, dtype=bool)
    R = R.astype(np.float32)
    steps = int(np.ceil(np.log2(m))) + 1
    for _ in range(steps):
        R = np.minimum(R @ R, 1.0)
    return (R > 0).all(axis=(1, 2))


class FitResult(dict):
    """Plain dict with attribute access (s, se, cov, regularized, warnings, components)."""

    __getattr__ = dict.__getitem__


def fit(C, model_name, prior_sd, s0=None, tol=1e-11):
    """Fit one count matrix, component by component.

    Returns a FitResult with centred values ``s`` (each weakly connected component centred
    on its own), ``se``, ``cov`` (block diagonal), ``regularized`` and ``warnings``.
    """
    model = MODELS[model_name]
    C = np.asarray(C, dtype=float)
    m = C.shape[0]
    alpha_prior = 1.0 / prior_sd**2
    s = np.zeros(m)
    cov = np.zeros((m, m))
    regularized = False
    warns = []
    comps = components(C)
    comp_alpha = []
    for idx in comps:
        sub = C[np.ix_(idx, idx)]
        ok = len(idx) > 1 and strongly_connected(sub)
        alpha = 0.0 if ok else alpha_prior
        if not ok:
            regularized = True
        start = None if s0 is None else np.asarray(s0, dtype=float)[idx][None]
        est, conv = newton(sub[None], np.array([alpha]), model, start, tol=tol)
        if not conv[0]:
            warns.append(f"{model_name} fit did not converge to {tol:g}")
        s[idx] = est[0]
        cov[np.ix_(idx, idx)] = covariance(sub, est[0], alpha, model) if len(idx) > 1 else 1.0 / alpha_prior
        comp_alpha.append(alpha)
    return FitResult(
        s=s, se=np.sqrt(np.clip(np.diag(cov), 0.0, None)), cov=cov, regularized=regularized,
        warnings=warns, components=comps, component_alpha=comp_alpha,
    )
