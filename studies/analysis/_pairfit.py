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
resamples and leave-one-out refits are solved together.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.special import expit, log_ndtr

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


class _Logit:
    name = "logit"

    @staticmethod
    def f(d):
        return -np.logaddexp(0.0, -d)

    @staticmethod
    def derivs(d):
        f1 = expit(-d)
        f2 = -expit(d) * f1
        return f1, f2


class _Probit:
    name = "probit"

    @staticmethod
    def f(d):
        return log_ndtr(d)

    @staticmethod
    def derivs(d):
        # inverse Mills ratio lambda(d) = phi(d) / Phi(d), computed in log space
        lam = np.exp(-0.5 * d * d - _LOG_SQRT_2PI - log_ndtr(d))
        f2 = -lam * (d + lam)
        # f'' lies in (-1, 0); clip rounding noise for very negative d
        np.clip(f2, -1.0, -1e-300, out=f2)
        return lam, f2


MODELS = {"logit": _Logit, "probit": _Probit}


def _diff(s):
    return s[:, :, None] - s[:, None, :]


def objective(C, s, alpha, model):
    """Penalised log-likelihood per batch element: l(s) - alpha/2 |s|^2."""
    d = _diff(s)
    mask = C > 0
    val = np.where(mask, C * model.f(np.where(mask, d, 0.0)), 0.0).sum(axis=(1, 2))
    return val - 0.5 * alpha * (s * s).sum(axis=1)


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


def newton(C, alpha, model, s0=None, tol=1e-11, max_iter=200):
    """Batched damped Newton ascent of the penalised log-likelihood.

    C: (B, m, m) counts (each batch element connected when its alpha is 0);
    alpha: (B,) prior precisions; s0: (B, m) starting values (centred).
    Returns (s, converged) with s of shape (B, m).
    """
    C = np.asarray(C, dtype=float)
    B, m, _ = C.shape
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (B,)).copy()
    s = np.zeros((B, m)) if s0 is None else np.array(s0, dtype=float, copy=True).reshape(B, m)
    s -= s.mean(axis=1, keepdims=True)
    if m == 1:
        return np.zeros((B, 1)), np.ones(B, dtype=bool)
    J = np.ones((m, m))
    active = np.arange(B)
    converged = np.zeros(B, dtype=bool)
    obj = objective(C, s, alpha, model)
    for _ in range(max_iter):
        Ca, sa, aa = C[active], s[active], alpha[active]
        d = _diff(sa)
        f1, f2 = model.derivs(d)
        G = Ca * f1
        g = G.sum(axis=2) - G.sum(axis=1) - aa[:, None] * sa
        S = Ca * f2
        M = -(S + np.swapaxes(S, 1, 2))
        A = laplacian(M) + J
        A[:, np.arange(m), np.arange(m)] += aa[:, None]
        delta = np.linalg.solve(A, g[:, :, None])[:, :, 0]
        delta -= delta.mean(axis=1, keepdims=True)
        # backtracking: the log-likelihood is concave, so halving restores ascent
        step = np.ones(len(active))
        new = sa + delta
        new_obj = objective(Ca, new, aa, model)
        old_obj = obj[active]
        for _ in range(40):
            bad = new_obj < old_obj - 1e-12 * np.maximum(1.0, np.abs(old_obj))
            if not bad.any():
                break
            step[bad] *= 0.5
            new[bad] = sa[bad] + step[bad, None] * delta[bad]
            new_obj[bad] = objective(Ca[bad], new[bad], aa[bad], model)
        s[active] = new
        obj[active] = new_obj
        size = np.abs(delta * step[:, None]).max(axis=1)
        done = size < tol
        converged[active[done]] = True
        active = active[~done]
        if active.size == 0:
            break
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
