"""Compute functions of `experiments.lognorms` for the slides' theorems beyond the closed forms:
equilibrium-shift bounds (Lim's lemma, one-sided), the optimal-weight program with d_min > 0
and diagonal C, log-norm properties, weak pairings and the tight transcription of osLip
(seed 001, Bullo 2022). Each returns plain data; `lognorms` judges it.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from contractax import contraction, norms

INF = math.inf


def _inf(x):
    return np.max(np.abs(x), axis=-1)


_lim = jax.jit(contraction.equilibrium_shift_bound)


def _iterate(G, x, alpha, steps):
    """Averaged iteration x ← (1 − α)x + αG(x) in NumPy; returns x and the last step size."""
    for _ in range(steps):
        x_new = (1 - alpha) * x + alpha * G(x)
        step = _inf(x_new - x)
        x = x_new
    return x, float(np.max(step))


def shift_bounds(rng, count, n=8, m=4, rho=0.8, eps=0.3, bias=0.05):
    """Fixed points of G(x, u) = tanh(Ax + Bu) for input pairs (u, v), in ℓ∞.

    Lim's lemma: ‖A‖∞ = ρ < 1, so Lip_x G ≤ ρ, Lip_u G ≤ ‖B‖∞; plus the linear G = ρx + u
    where the bound is attained. One-sided: a_ii = −3 makes Lip_x G = ‖A‖∞ > 1 (Lim's lemma
    does not apply) while osLip_x G = max_d μ∞(dg(d)A) = 0; the disturbed map adds
    D(x, v) = ε tanh(x) + bias, so osLip_x(G + D) ≤ osLip_x G + ε by subadditivity.
    """
    A = rng.standard_normal((n, n))
    A = rho * A / np.max(np.sum(np.abs(A), 1))
    B = rng.standard_normal((n, m)) / m
    U = rng.standard_normal((2, count, m))
    U[1] = U[0] + rng.standard_normal((count, m)) * np.exp(rng.uniform(-4, 0.5, (count, 1)))
    lip_x, lip_u = float(np.max(np.sum(np.abs(A), 1))), float(np.max(np.sum(np.abs(B), 1)))
    du = _inf(U[0] - U[1])
    xs, resid = [], 0.0
    for u in U:
        x, r = _iterate(lambda x, u=u: np.tanh(x @ A.T + u @ B.T), np.zeros((count, n)), 1.0, 400)
        xs.append(x)
        resid = max(resid, r)
    bound = np.asarray(_lim(lip_u, lip_x, du))
    lim = dict(shift=_inf(xs[0] - xs[1]), bound=bound, lip_x=lip_x, lip_u=lip_u, resid=resid)
    # the linear map G = ρx + u attains the bound: x* = u/(1 − ρ)
    xl = [_iterate(lambda x, u=u: rho * x + u, np.zeros((count, m)), 1.0, 400)[0] for u in U]
    lim["linear_ratio"] = _inf(xl[0] - xl[1]) / np.asarray(_lim(1.0, rho, du))

    A2 = A * 1.5 / np.max(np.sum(np.abs(A), 1))
    np.fill_diagonal(A2, -3.0)
    lip_x2 = float(np.max(np.sum(np.abs(A2), 1)))
    os_g = float(jax.jit(norms.max_lognorm_over_slopes, static_argnums=3)(A2, 0.0, 1.0, INF))
    oslip = os_g + eps
    # averaged iteration for the field −x + G + D: rate ≥ 1 − osLip, Lip ≤ 1 + ‖A‖∞ + ε
    alpha, _ = jax.jit(contraction.averaged_step, static_argnums=2)(
        1 - oslip, 1 + lip_x2 + eps, INF
    )
    alpha = float(alpha)
    G = lambda x, u: np.tanh(x @ A2.T + u @ B.T)
    D = lambda x: eps * np.tanh(x) + bias
    xu, r1 = _iterate(lambda x: G(x, U[0]), np.zeros((count, n)), alpha, 6000)
    xv, r2 = _iterate(lambda x: G(x, U[1]) + D(x), np.zeros((count, n)), alpha, 6000)
    bound2 = np.asarray(jax.jit(contraction.one_sided_shift_bound)(oslip, lip_u, du, _inf(D(xu))))
    os = dict(
        shift=_inf(xu - xv),
        bound=bound2,
        lip_x=lip_x2,
        oslip_g=os_g,
        oslip=oslip,
        alpha=alpha,
        resid=max(r1, r2) / alpha,  # ‖G + D − x‖ at the last iterate
        fixed_resid=float(np.max(_inf(G(xv, U[1]) + D(xv) - xv))),
    )
    return dict(lim=lim, os=os, count=count, n=n, m=m, eps=eps, bias=bias)


def _lp_feasible(Ns, b):
    """An η ≥ 1 with N η ≤ b η for every N in Ns (HiGHS LP), or None."""
    from scipy.optimize import linprog  # noqa: PLC0415

    n = Ns[0].shape[0]
    r = linprog(
        np.zeros(n),
        A_ub=np.vstack([N - b * np.eye(n) for N in Ns]),
        b_ub=np.zeros(len(Ns) * n),
        bounds=[(1, None)] * n,
        method="highs",
    )
    return r.x if r.status == 0 else None


def _lp_infimum(Ns, lo, hi, width=1e-8):
    """inf b of the slide's quasiconvex program {(−C + d⌈A⌉_M)η ≤ bη, d ∈ {d_min, d_max}} by
    bisection between lo and hi, both ends checked by the LP (infeasible at lo, feasible at hi)."""
    eta = _lp_feasible(Ns, hi)
    if eta is None or _lp_feasible(Ns, lo) is not None:
        return math.nan, None
    while hi - lo > width:
        mid = 0.5 * (lo + hi)
        x = _lp_feasible(Ns, mid)
        lo, hi, eta = (lo, mid, x) if x is not None else (mid, hi, eta)
    return hi, eta


@jax.jit
def _rates(As, Cs, dmin, dmax):
    rate = jax.vmap(lambda A, c: contraction.optimal_rate(A, C=c, dmin=dmin, dmax=dmax)[1])(As, Cs)
    M = norms.metzler_majorant(As)
    eye = jnp.eye(As.shape[-1])
    lower = jnp.maximum(  # each constraint alone: b ≥ α(N_d) (Collatz–Wielandt)
        norms.spectral_abscissa(-Cs[:, :, None] * eye + dmin * M),
        norms.spectral_abscissa(-Cs[:, :, None] * eye + dmax * M),
    )
    closed = jnp.maximum(
        jnp.max(-Cs, -1), norms.spectral_abscissa(-Cs[:, :, None] * eye + dmax * M)
    )
    return -rate, lower, closed


@jax.jit
def _certify(As, Cs, etas, dmin, dmax):
    return jax.vmap(lambda A, c, e: norms.max_lognorm_over_slopes(A, dmin, dmax, INF, e, C=c))(
        As, Cs, etas
    )


def optimal_program(rng, count, n=6, dmin=0.3, dmax=1.0):
    """min over η of osLip_{∞,η}(f_FR), f_FR = −Cx + Φ(Ax + u), C diagonal ≻ 0: the slide's LP
    (bisection, HiGHS) vs contraction.optimal_rate, for d_min > 0 (general program) and
    d_min = 0 (the closed form max{α(−C), α(−C + d_max⌈A⌉_M)}). Half of the draws have
    inhibitory self-loops a_ii ≤ −2, where the d_min vertex can bind."""
    rows = {}
    for case, lo_slope in (("dmin>0", dmin), ("dmin=0", 0.0)):
        As = rng.standard_normal((count, n, n))
        neg = np.arange(count) % 2 == 1
        d = np.diagonal(As, 0, 1, 2)
        As[:, np.arange(n), np.arange(n)] = np.where(neg[:, None], -2 - 2 * np.abs(d), d)
        Cs = np.exp(0.5 * rng.standard_normal((count, n)))
        lib, lower, closed = (np.asarray(v) for v in _rates(As, Cs, lo_slope, dmax))
        lp, etas = [], []
        Mm = np.asarray(norms.metzler_majorant(As))
        for A, c, lo, hi, M in zip(As, Cs, lower, lib, Mm):
            Ns = [-np.diag(c) + s * M for s in (lo_slope, dmax)]
            b, eta = _lp_infimum(Ns, lo - 1e-7, hi + 1e-7)
            lp.append(b)
            etas.append(np.ones(n) if eta is None else eta)
        cert = np.asarray(_certify(As, Cs, np.asarray(etas), lo_slope, dmax))
        rows[case] = dict(
            library=lib,
            lp=np.asarray(lp),
            lp_certified=cert,
            closed=closed,
            negative_diagonal=neg,
            dmin=lo_slope,
        )
    return dict(rows=rows, count=count, n=n, dmax=dmax)


@jax.jit
def _property_values(A, B, b, th, eta, P):
    out = {}
    for name, p, w in (
        ("1", 1, None),
        ("1,η", 1, eta),
        ("2", 2, None),
        ("2,P", 2, P),
        ("∞", INF, None),
        ("∞,η", INF, eta),
    ):
        mu = lambda M, p=p, w=w: norms.lognorm(M, p, w)
        out[name] = (
            mu(A),
            mu(B),
            mu(A + B),
            mu(b[:, None, None] * A),
            mu(th[:, None, None] * A + (1 - th[:, None, None]) * B),
        )
    return out


def lognorm_properties(rng, count, n=6):
    """Subadditivity, positive homogeneity, convexity (ℓ1, ℓ2, ℓ∞, weighted) and the LMI /
    row-sum characterisations μ₂(A) ≤ −c ⇔ A + Aᵀ ⪯ −2cI, μ∞(A) ≤ −c ⇔ rows ≤ −c."""
    A, B = rng.standard_normal((2, count, n, n))
    b = rng.uniform(0, 5, count)
    th = rng.uniform(0, 1, count)
    eta = np.exp(0.5 * rng.standard_normal(n))
    R = rng.standard_normal((n, n))
    P = R @ R.T / n + 0.5 * np.eye(n)
    vals = jax.tree.map(np.asarray, _property_values(A, B, b, th, eta, P))
    out = {}
    for name, (mA, mB, mAB, mbA, mth) in vals.items():
        out[name] = dict(
            subadditivity=float(np.max(mAB - mA - mB)),
            mean_slack=float(np.mean(mA + mB - mAB)),
            scaling=float(np.max(np.abs(mbA - b * mA))),
            convexity=float(np.max(mth - th * mA - (1 - th) * mB)),
        )
    mu2, muinf = vals["2"][0], vals["∞"][0]
    lam = np.max(np.linalg.eigvalsh(A + np.swapaxes(A, -1, -2)), -1)
    c = -mu2 + rng.standard_normal(count)
    rows = np.diagonal(A, 0, 1, 2) + np.sum(np.abs(A), -1) - np.abs(np.diagonal(A, 0, 1, 2))
    cinf = -muinf + rng.standard_normal(count)
    return dict(
        by_norm=out,
        lmi_agree=float(np.mean((mu2 <= -c) == (lam + 2 * c <= 0))),
        lmi_boundary=float(np.max(np.abs(lam - 2 * mu2))),
        rows_agree=float(np.mean((muinf <= -cinf) == np.all(rows <= -cinf[:, None], -1))),
        count=count,
        n=n,
    )


def _pairing(x, y, p):
    """The slide's weak pairings: [[x, y]]₂ = xᵀy, [[x, y]]₁ = ‖y‖₁ sign(y)ᵀx,
    [[x, y]]∞ = max over i with |y_i| = ‖y‖∞ of y_i x_i (ties to 1e-12)."""
    if p == 2:
        return np.sum(x * y, -1)
    if p == 1:
        return np.sum(np.abs(y), -1) * np.sum(np.sign(y) * x, -1)
    top = np.abs(y) >= _inf(y)[..., None] - 1e-12
    return np.max(np.where(top, y * x, -np.inf), -1)


def _half_sq_rate(A, x, p, h=1e-5):
    """½ D⁺‖x(t)‖² at t = 0 for ẋ = Ax, x(0) = x (batched): Richardson on the right difference
    quotient of the flow (Taylor polynomial of e^{hA}x to order 5, error ≪ h²)."""

    def flow(t):
        y, term = x.copy(), x.copy()
        for k in range(1, 6):
            term = t / k * np.einsum("bij,bj->bi", A, term)
            y = y + term
        return y

    v = lambda y: 0.5 * np.linalg.norm(y, ord=p, axis=-1) ** 2
    d1 = (v(flow(h)) - v(x)) / h
    d2 = (v(flow(h / 2)) - v(x)) / (h / 2)
    return 2 * d2 - d1


@jax.jit
def _lognorms3(As):
    return [norms.lognorm(As, p) for p in (1, 2, INF)]


def weak_pairings(rng, count, n=5, samples=4000):
    """μ(A) = sup_{‖x‖=1} [[Ax, x]] (sampled ≤ μ, attained at a constructed x) and
    ½D⁺‖x‖² = [[ẋ, x]] along ẋ = Ax at generic points and at ℓ∞ ties; ℓ1 at a zero entry."""
    As = rng.standard_normal((count, n, n))
    X = rng.standard_normal((samples, n))
    x0 = rng.standard_normal((count, n))
    mus = [np.asarray(m) for m in _lognorms3(As)]
    dg = np.diagonal(As, 0, 1, 2)
    out = {}
    for (p, name), mu in zip(((1, "1"), (2, "2"), (INF, "∞")), mus):
        Xs = X / np.linalg.norm(X, ord=p, axis=-1)[:, None]
        AX = np.einsum("bij,sj->bsi", As, Xs)
        excess = np.max(_pairing(AX, Xs[None], p), -1) - mu
        if p == INF:
            i = np.argmax(dg + np.sum(np.abs(As), 2) - np.abs(dg), -1)
            xs = np.sign(As[np.arange(count), i])
            xs[np.arange(count), i] = 1.0
        elif p == 1:
            j = np.argmax(dg + np.sum(np.abs(As), 1) - np.abs(dg), -1)
            xs = 1e-9 * np.sign(As[np.arange(count), :, j])
            xs[np.arange(count), j] = 1.0
            xs = xs / np.sum(np.abs(xs), -1, keepdims=True)
        else:
            xs = np.linalg.eigh(0.5 * (As + np.swapaxes(As, 1, 2)))[1][:, :, -1]
        attain = np.abs(_pairing(np.einsum("bij,bj->bi", As, xs), xs, p) - mu)
        gen = np.abs(_half_sq_rate(As, x0, p) - _pairing(np.einsum("bij,bj->bi", As, x0), x0, p))
        out[name] = dict(
            sup_excess=float(np.max(excess)),
            attained=float(np.max(attain)),
            derivative=float(np.max(gen / (1 + np.abs(_pairing(x0, x0, p))))),
        )
    ties = x0.copy()
    ties[:, 0] = ties[:, 1] = _inf(x0) + 0.5  # two entries of maximal modulus
    zeros = x0.copy()
    zeros[:, 0] = 0.0
    err = lambda x, p: float(
        np.max(np.abs(_half_sq_rate(As, x, p) - _pairing(np.einsum("bij,bj->bi", As, x), x, p)))
    )
    return dict(
        by_p=out, tie=err(ties, INF), l1_zero=err(zeros, 1), count=count, n=n, samples=samples
    )


@jax.jit
def _transcription(As, Js):
    exact = [-jax.vmap(lambda A, p=p: contraction.firing_rate_rate(A, p=p))(As) for p in (1, INF)]
    sampled = [norms.lognorm(Js, p) for p in (1, INF)]
    return exact, sampled


def tight_transcription(rng, count, n=6, samples=1000):
    """osLip_p(f_FR), f_FR = −x + tanh(Ax + u): −firing_rate_rate (exact, slope-box maximum)
    vs μ_p(D f_FR(x)) at random states and at states built to realise the maximising slope
    vertex (slope 1 where Ax + u = 0, ≈ 0 where Ax + u = 40)."""
    As = rng.standard_normal((count, n, n))
    us = rng.standard_normal((count, n))
    X = 3 * rng.standard_normal((samples, n))
    dg = np.diagonal(As, 0, 1, 2)
    off_rows = np.sum(np.abs(As), 2) - np.abs(dg)
    off_cols = np.sum(np.abs(As), 1) - np.abs(dg)
    d_inf = np.where(np.max(dg + off_rows, -1, keepdims=True) > 0, 1.0, 0.0) * np.ones((1, n))
    j = np.argmax(np.maximum(dg, 0) + off_cols, -1)
    d_one = np.ones((count, n))
    d_one[np.arange(count), j] = np.where(dg[np.arange(count), j] >= 0, 1.0, 0.0)
    built = []
    for d in (d_one, d_inf):
        z = np.where(d == 1, 0.0, 40.0)
        built.append(np.linalg.solve(As, (z - us)[..., None])[..., 0])
    states = np.concatenate(
        [np.broadcast_to(X, (count, samples, n)), built[0][:, None], built[1][:, None]], 1
    )
    slopes = 1 - np.tanh(np.einsum("bij,bsj->bsi", As, states) + us[:, None]) ** 2
    Js = -np.eye(n) + slopes[..., :, None] * As[:, None]
    exact, mus = (tuple(np.asarray(v) for v in vs) for vs in _transcription(As, Js))
    out = {}
    for k, name in enumerate(("1", "∞")):
        sampled = np.max(mus[k][:, :samples], -1)
        out[name] = dict(
            excess=float(np.max(sampled - exact[k])),
            built=float(np.max(np.abs(mus[k][:, samples + k] - exact[k]))),
            sampling_gap=float(np.mean(exact[k] - sampled)),
        )
    return dict(by_p=out, count=count, n=n, samples=samples)
