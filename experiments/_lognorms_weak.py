"""Compute and draw functions of `experiments.lognorms` for weak and semi-contraction, the
scalar and Euclidean equivalences, the RNN classes and ℓ∞-vs-ℓ2 robustness (seed 001, Bullo
2022: "Scalar maps and vector fields", "Weakly contracting systems", "Contraction theory for
networks", "Semi-contracting systems", "Contractivity of recurrent neural networks",
"Robustness of INNs"). Each returns plain data; `lognorms` judges it.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from contractax import contraction, norms, semicontraction as sc

INF = math.inf


def _rk4(f, x0, dt, steps):
    """RK4 of ẋ = f(x) for a batch of starts x0 (b, n); returns (steps + 1, b, n)."""

    def step(x, _):
        a = f(x)
        b = f(x + dt / 2 * a)
        c = f(x + dt / 2 * b)
        x = x + dt / 6 * (a + 2 * b + 2 * c + f(x + dt * c))
        return x, x

    _, xs = jax.lax.scan(step, x0, None, length=steps)
    return jnp.concatenate([x0[None], xs])


def _ratio(xs, ys, p, weight=None, R=None):
    """‖x(t) − y(t)‖ / ‖x(0) − y(0)‖ (or in the semi-norm ‖R·‖), shape (T, b)."""
    d = xs - ys
    if R is not None:
        d = d @ R.T
    nrm = np.asarray(norms.vector_norm(d, p, weight))
    return nrm / nrm[:1]


# ----------------------------------------------------------------------------- 001-8


def scalar(rng, count=4000):
    """F(x) = −2x + sin(3x): osLip b = 1 (F' = −2 + 3cos 3x ≤ 1); the three equivalent forms
    from samples, Lip ≥ b, the Grönwall bound e^{bt} on pairs of solutions (tight near the
    unstable equilibrium x = 0), and F = −x³ (weakly decreasing ⇔ b = 0)."""
    F = lambda x, _=None: -2.0 * x + jnp.sin(3.0 * x)
    x = jnp.asarray(rng.uniform(-3, 3, (count, 1)))
    y = x + jnp.asarray(rng.normal(0, 0.05, (count, 1)))
    lo, hi = jnp.minimum(x, y), jnp.maximum(x, y)
    der = float(sc.sampled_oslip(F, x))
    quot = float(jnp.max((F(hi) - F(lo)) / (hi - lo)))
    pair = float(sc.oslip_from_pairs(F, x, y))
    lip = float(jnp.max(jnp.abs(jax.vmap(jax.grad(F))(x[:, 0]))))
    cube = lambda z, _=None: -(z**3)
    weak = float(sc.oslip_from_pairs(cube, x, y))
    starts = jnp.asarray(np.concatenate([rng.uniform(-2, 2, (64, 1)), [[1e-4]]]))
    twins = starts + jnp.asarray(np.concatenate([rng.normal(0, 0.1, (64, 1)), [[-2e-4]]]))
    dt, steps = 0.01, 200
    traj = np.asarray(_rk4(F, jnp.concatenate([starts, twins]), dt, steps))
    r = _ratio(traj[:, :65], traj[:, 65:], 2)
    env = np.exp(1.0 * dt * np.arange(steps + 1))[:, None]
    return dict(
        b=1.0,
        derivative=der,
        quotient=quot,
        pairing=pair,
        lipschitz=lip,
        weak=weak,
        gronwall=float(np.max(r / env)),
        tight=float(r[100, -1] / env[100, 0]),
        count=count,
    )


# ----------------------------------------------------------------------------- 001-9


def euclidean(rng, n=4, count=400):
    """Hopfield F(x) = −x + A tanh(x) + u with a non-diagonal P: osLip_{2,P} is exact by the
    2ⁿ slope vertices; ❶ pairs, ❷ the LMI at every vertex and sampled Jacobians, ❸ D⁺ of
    ‖x(t) − y(t)‖_P along RK4 solutions, all against it."""
    A = rng.standard_normal((n, n))
    A = 0.4 * A / np.linalg.norm(A, 2)
    u = rng.standard_normal(n)
    G = rng.standard_normal((n, n))
    P = G @ G.T / n + np.eye(n)
    F = lambda x, _=None: -x + jnp.tanh(x) @ A.T + u
    c = float(contraction.hopfield_rate(A, p=2, weight=P))
    verts = np.array(list(itertools.product([0.0, 1.0], repeat=n)))
    Js = -np.eye(n) + A[None] * verts[:, None, :]
    lmi = [np.max(np.linalg.eigvals(np.linalg.solve(P, P @ J + J.T @ P)).real) for J in Js]
    worst = int(np.argmax(lmi))
    # states realising the worst vertex: x_i = 0 (slope 1) or 30 (slope ≈ 0)
    xv = np.where(verts[worst] > 0, 0.0, 30.0)
    L = np.linalg.cholesky(P)  # P = L Lᵀ; the worst direction v maximises vᵀPJv / vᵀPv
    Mt = L.T @ Js[worst] @ np.linalg.inv(L.T)
    w = np.linalg.eigh(0.5 * (Mt + Mt.T))[1][:, -1]
    v = np.linalg.solve(L.T, w)
    xs = np.concatenate([3 * rng.standard_normal((count, n)), xv[None]])
    ys = np.concatenate([3 * rng.standard_normal((count, n)), (xv + 1e-6 * v)[None]])
    xs, ys = jnp.asarray(xs), jnp.asarray(ys)
    pair = float(sc.oslip_from_pairs(F, xs, ys, None, 2, P))
    jac = float(sc.sampled_oslip(F, xs, None, 2, P))
    # D⁺‖x − y‖_P = lim (‖Δ + h(F(x) − F(y))‖ − ‖Δ‖)/h, Δ formed once (no x + hF(x)). The
    # P-norm is smooth at Δ ≠ 0, so D⁺ is the two-sided derivative: a central difference
    # (error O(h²), ~1e-10 at h = 1e-5) instead of the one-sided quotient, whose O(h) bias from
    # the norm's curvature (~1e-8 at h = 1e-8 on the 1e-6 pair) exceeds the 1e-9 tolerance.
    h = 1e-5
    d = xs - ys
    df = jax.vmap(F)(xs) - jax.vmap(F)(ys)
    d0 = np.asarray(norms.vector_norm(d, 2, P))
    dh = np.asarray(norms.vector_norm(d + h * df, 2, P))
    dm = np.asarray(norms.vector_norm(d - h * df, 2, P))
    dplus = float(np.max((dh - dm) / (2 * h * d0)))
    traj = np.asarray(_rk4(F, jnp.concatenate([xs[:64], ys[:64]]), 0.01, 300))
    r = _ratio(traj[:, :64], traj[:, 64:], 2, P)
    env = np.exp(-c * 0.01 * np.arange(301))[:, None]
    return dict(
        c=c,
        lmi=float(-0.5 * max(lmi)),  # largest c with PDF + DFᵀP ⪯ −2cP at every vertex
        pair=-pair,
        jac=-jac,
        dplus=-dplus,
        decay=float(np.max(r / env)),
        n=n,
        count=count,
    )


# ----------------------------------------------------------------------------- 001-10


def convex(rng, n=5, count=2000):
    """V(x) = ½xᵀQx + Σ softplus(x_i): m = λ_min(Q) (softplus'' → 0 far out); F = ∇V + Sx
    (S skew) is m-monotone but not a gradient."""
    G = rng.standard_normal((n, n))
    Q = G @ G.T / n + 0.3 * np.eye(n)
    m = float(np.linalg.eigvalsh(Q)[0])
    S = rng.standard_normal((n, n))
    S = S - S.T
    V = lambda x: 0.5 * x @ Q @ x + jnp.sum(jax.nn.softplus(x))
    gV = jax.grad(V)
    F = lambda x, _=None: gV(x) + S @ x
    q = np.linalg.eigh(Q)[1][:, 0]
    far = 20.0 * np.ones(n)  # softplus'' ≈ 2e-9 there: the Hessian is ≈ Q
    xs = np.concatenate([3 * rng.standard_normal((count, n)), far[None]])
    ys = np.concatenate([3 * rng.standard_normal((count, n)), (far + 0.1 * q)[None]])
    xs, ys = jnp.asarray(xs), jnp.asarray(ys)
    d = ys - xs
    bregman = jax.vmap(lambda x, y: V(y) - V(x) - gV(x) @ (y - x))(xs, ys)
    convexity = float(jnp.min(2 * bregman / jnp.sum(d * d, -1)))
    neg_grad = float(sc.oslip_from_pairs(lambda x, _: -gV(x), xs, ys))
    mono = jax.vmap(lambda x, y: (F(x) - F(y)) @ (x - y))(xs, ys) / jnp.sum(d * d, -1)
    neg_F = float(sc.sampled_oslip(lambda x, _: -F(x), xs))
    return dict(
        m=m,
        convexity=convexity,
        neg_grad=neg_grad,
        monotone=float(jnp.min(mono)),
        neg_F=neg_F,
        n=n,
        count=count,
    )


# ----------------------------------------------------------------------------- 001-18, 19


def _kuramoto(W, omega):
    return lambda th, _=None: omega - jnp.sum(W * jnp.sin(th[..., :, None] - th[..., None, :]), -1)


def _graph(rng, n):
    W = np.abs(rng.standard_normal((n, n)))
    W = (W + W.T) * (1 - np.eye(n)) / n
    return W, np.diag(W.sum(1)) - W


def _ctm(n, v=1.0, w=0.5, cap=4.0, inflow=0.6):
    """Daganzo's cell transmission model on a line of n cells: flow φ_i = min(v x_i,
    w(cap − x_{i+1})) into the next cell, constant inflow, free outflow v x_n."""

    def f(x, _=None):
        phi = jnp.minimum(v * x[..., :-1], w * (cap - x[..., 1:]))
        zero = jnp.zeros(x.shape[:-1] + (1,))
        into = jnp.concatenate([zero + inflow, phi], -1)
        out = jnp.concatenate([phi, v * x[..., -1:]], -1)
        return into - out

    return f


def weak_examples(rng, n=5, dt=0.01, steps=600, starts=16):
    """The slide's five weakly contracting examples, each simulated by RK4 from pairs of starts:
    max distance ratio (≤ 1 means non-expanding) and the sampled osLip along the solutions."""
    out = {}
    # 1 mutualistic Lotka–Volterra ẋ = x ∘ (r + Ax) in log coordinates z = log x:
    # ż = r + A e^z, Jacobian A dg(e^z) (Persidskii type); ℓ1 weakly contracting iff μ₁(A) ≤ 0
    Am = np.abs(rng.standard_normal((n, n))) * (1 - np.eye(n)) / n
    Am = Am - np.diag(Am.sum(0) + 0.1)  # Metzler, column sums −0.1
    r = rng.uniform(0.5, 1.0, n)
    lv = lambda z, _=None: r + jnp.exp(z) @ Am.T
    z0 = rng.normal(0, 1, (2 * starts, n))
    # 2 Kuramoto in an arc of width < π/2 (ℓ1 and ℓ∞)
    W, _ = _graph(rng, n)
    omega = rng.normal(0, 0.02, n)
    ku = _kuramoto(W, omega)
    th0 = rng.uniform(0, 1.0, (2 * starts, n))
    # 3 cell transmission model, 4 nonlinear compartmental, 5 saddle-point
    ctm = _ctm(n)
    x0c = rng.uniform(0, 4, (2 * starts, n))
    Fl = np.abs(rng.standard_normal((n, n))) * (1 - np.eye(n))
    k = rng.uniform(0, 0.3, n)

    def comp(x, _=None):
        s = x / (1 + x)  # monotone flows F_ij (x_j/(1 + x_j)) from j to i; outflow k_j x_j
        return s @ Fl.T - s * Fl.sum(0) - k * x

    x0m = rng.uniform(0, 3, (2 * starts, n))
    Ac = rng.standard_normal((2, n))

    def saddle(s, _=None):  # L(x, λ) = Σ log cosh x_i + λᵀ(A x − 1)
        x, lam = s[..., :n], s[..., n:]
        return jnp.concatenate([-jnp.tanh(x) - lam @ Ac, x @ Ac.T - 1.0], -1)

    s0 = rng.normal(0, 2, (2 * starts, n + 2))
    cases = [
        ("Lotka–Volterra (log coords)", lv, z0, 1, None),
        ("Kuramoto, ℓ1", ku, th0, 1, None),
        ("Kuramoto, ℓ∞", ku, th0, INF, None),
        ("cell transmission (line)", ctm, x0c, 1, None),
        ("compartmental", comp, x0m, 1, None),
        ("saddle point", saddle, s0, 2, None),
    ]
    for name, f, x0, p, w in cases:
        traj = np.asarray(jax.jit(lambda x: _rk4(f, x, dt, steps))(jnp.asarray(x0)))
        ratio = _ratio(traj[:, :starts], traj[:, starts:], p, w)
        samples = jnp.asarray(traj[:: steps // 10].reshape(-1, x0.shape[-1]))
        oslip = float(sc.sampled_oslip(f, samples, None, p, w))
        out[name] = dict(
            p="∞" if p == INF else str(p),
            ratio=float(np.max(ratio)),
            final=float(np.median(ratio[-1])),
            oslip=oslip,
            curve=np.median(ratio, 1),
        )
    arc = float(np.max(np.ptp(np.asarray(_rk4(ku, jnp.asarray(th0), dt, steps)), -1)))
    return dict(cases=out, arc=arc, dt=dt, steps=steps, starts=starts, n=n)


def invariance(rng, n=5, count=200):
    """Conservation ηᵀf = const and translation invariance f(x + αξ) = f(x): osLip ≥ 0 in
    every norm (Df has the eigenvalue 0); with a Metzler Jacobian μ_{1,η} = 0 resp.
    μ_{∞,ξ} = 0 (contractax's ‖x‖_{∞,ξ} = max|x_i|/ξ_i is the slide's ‖·‖_{∞,[ξ]⁻¹})."""
    eta = rng.uniform(0.5, 2.0, n)
    xi = rng.uniform(0.5, 2.0, n)
    Fl = np.abs(rng.standard_normal((n, n))) * (1 - np.eye(n))

    def closed(x, _=None):  # conserves Σ η_i x_i: flows between compartments of weights η
        s = x / (1 + x)
        return (s @ Fl.T - s * Fl.sum(0)) / eta

    W, _ = _graph(rng, n)

    def shifted(x, _=None):  # f(x + αξ) = f(x): Kuramoto in the coordinates x_i/ξ_i
        return xi * _kuramoto(W, 0.0)(x / xi)

    xs_c = jnp.asarray(rng.uniform(0, 3, (count, n)))
    xs_t = jnp.asarray(xi * rng.uniform(0, 1.0, (count, n)))
    J_c = jax.vmap(jax.jacfwd(closed))(xs_c)
    J_t = jax.vmap(jax.jacfwd(shifted))(xs_t)
    rw = rng.uniform(0.3, 3.0, n)
    P = np.diag(rw) + 0.2 * np.ones((n, n))
    norms_ = [(1, None), (2, None), (INF, None), (1, rw), (INF, rw), (2, P)]
    min_os = min(float(jnp.min(norms.lognorm(J, p, w))) for J in (J_c, J_t) for p, w in norms_)
    cons = float(jnp.max(jnp.abs(jnp.asarray(eta) @ J_c)))
    trans = float(jnp.max(jnp.abs(J_t @ jnp.asarray(xi))))
    mu_c = float(jnp.max(jnp.abs(norms.lognorm(J_c, 1, eta))))
    mu_t = float(jnp.max(jnp.abs(norms.lognorm(J_t, INF, xi))))
    # a pair y = x + εξ keeps its distance: the non-strict bound osLip ≥ 0 is attained
    x0 = xs_t[:8]
    traj = np.asarray(_rk4(shifted, jnp.concatenate([x0, x0 + 0.05 * xi]), 0.01, 300))
    keep = _ratio(traj[:, :8], traj[:, 8:], INF, xi)
    return dict(
        min_oslip=min_os,
        conservation=cons,
        translation=trans,
        mu_conserved=mu_c,
        mu_translation=mu_t,
        keep=float(np.max(np.abs(keep - 1))),
        count=count,
        n=n,
    )


# ----------------------------------------------------------------------------- 001-20


def semi(rng, n=6, dt=0.01, steps=500, starts=16):
    """Kuramoto in the consensus semi-norm ‖Rx‖₂: μ_R(−L(cos)) ≤ −λ₂(L) cos γ in an arc of
    width γ, = −λ₂ at synchrony; simulated pairs decay at least at λ₂ cos γ and, near sync,
    at ≈ λ₂. Plus the ℓ1 semi-norm of a path incidence on the complete graph: −Kn exactly."""
    W, L = _graph(rng, n)
    lam2 = float(np.linalg.eigvalsh(L)[1])
    omega = rng.normal(0, 0.02, n)
    f = _kuramoto(W, omega)
    R = sc.consensus_basis(n)
    th0 = jnp.asarray(rng.uniform(0, 1.0, (2 * starts, n)))
    traj = np.asarray(jax.jit(lambda x: _rk4(f, x, dt, steps))(th0))
    gamma = float(np.max(np.ptp(traj, -1)))
    samples = jnp.asarray(traj[::50].reshape(-1, n))
    mu = float(sc.sampled_oslip(f, samples, None, 2, None, R))
    ratio = _ratio(traj[:, :starts], traj[:, starts:], 2, None, R)
    c = lam2 * math.cos(gamma)
    ts = dt * np.arange(steps + 1)
    bound = float(np.max(ratio / np.exp(-c * ts)[:, None]))
    late = slice(steps // 2, steps + 1)
    fit = -np.polyfit(ts[late], np.log(np.median(ratio[late], 1)), 1)[0]
    sync = float(sc.semi_lognorm(-jnp.asarray(L), R))
    K = 0.7
    Lc = K * (n * np.eye(n) - np.ones((n, n)))
    B = np.eye(n - 1, n) - np.eye(n - 1, n, 1)
    l1 = float(sc.semi_lognorm(-jnp.asarray(Lc), jnp.asarray(B), 1))
    as_norm = float(norms.lognorm(-jnp.asarray(L), 2))
    return dict(
        lam2=lam2,
        gamma=gamma,
        mu=mu,
        c=c,
        bound=bound,
        fit=float(fit),
        sync=sync,
        l1=l1,
        l1_expected=-K * n,
        as_norm=as_norm,
        curve=np.median(ratio, 1),
        ts=ts,
        n=n,
    )


# ----------------------------------------------------------------------------- 001-21


def rnn_classes(rng, n=4, dt=0.01, steps=300, starts=16):
    """The four RNN classes: library rate vs brute force over the 2ⁿ slope vertices, vs sampled
    Jacobians (never better), and RK4 pairs (distance ≤ e^{−ct})."""
    act = lambda x: x + 0.5 * jnp.tanh(x)  # slopes in [1, 1.5]
    A = rng.standard_normal((n, n))
    A = 0.3 * A / np.max(np.sum(np.abs(A), 1))
    Ap = A - 2.0 * np.eye(n)
    u = rng.standard_normal(n)
    verts = np.array(list(itertools.product([1.0, 1.5], repeat=n)))
    cases = {
        "Hopfield ẋ = −x + AΦ(x) + u, ℓ1": (
            lambda x, _=None: -x + jnp.tanh(x) @ A.T + u,
            contraction.hopfield_rate(A, p=1),
            lambda d: -np.eye(n) + A * d,
            1,
            (0.0, 1.0),
        ),
        "firing rate ẋ = −x + Φ(Ax + u), ℓ∞": (
            lambda x, _=None: -x + jnp.tanh(x @ A.T + u),
            contraction.firing_rate_rate(A),
            lambda d: -np.eye(n) + d[:, None] * A,
            INF,
            (0.0, 1.0),
        ),
        "Persidskii ẋ = AΦ(x), ℓ1": (
            lambda x, _=None: act(x) @ Ap.T,
            contraction.persidskii_rate(Ap, dmin=1.0, dmax=1.5, p=1),
            lambda d: Ap * d,
            1,
            (1.0, 1.5),
        ),
        "ẋ = Ax − Φ(x), ℓ∞": (
            lambda x, _=None: x @ A.T - act(x),
            contraction.lure_rate(A, dmin=1.0, dmax=1.5),
            lambda d: A - np.diag(d),
            INF,
            (1.0, 1.5),
        ),
    }
    out = {}
    x0 = jnp.asarray(2 * rng.standard_normal((2 * starts, n)))
    ts = dt * np.arange(steps + 1)
    for name, (f, rate, J, p, (lo, hi)) in cases.items():
        ds = lo + (hi - lo) * (verts - 1.0) / 0.5
        brute = -max(float(norms.lognorm(jnp.asarray(J(d)), p)) for d in ds)
        sampled = float(contraction.sampled_rate(f, 3 * x0, None, p))
        traj = np.asarray(jax.jit(lambda x, f=f: _rk4(f, x, dt, steps))(x0))
        ratio = _ratio(traj[:, :starts], traj[:, starts:], p)
        out[name] = dict(
            rate=float(rate),
            brute=brute,
            sampled=sampled,
            decay=float(np.max(ratio / np.exp(-float(rate) * ts)[:, None])),
        )
    return dict(cases=out, n=n)


# ----------------------------------------------------------------------------- 001-37


def robustness(rng, n_in=784, n=64, n_out=10, eps=0.01, restarts=4, iters=40):
    """x = tanh(Ax + Bu + b), y = Cx with ‖A‖∞ = 0.5 (μ∞(A) ≤ 0.5, Picard converges); a
    perturbation δ of ℓ∞ size ε spread over all n_in inputs (‖δ‖₂ = √n_in ε): the ℓ∞ bound
    Lip∞ε on ‖Δy‖∞ against the ℓ2 route ‖Δy‖∞ ≤ ‖Δy‖₂ ≤ Lip₂√n_in ε, and the measured worst
    case by sign-gradient ascent (a lower bound on the true worst case)."""
    A = rng.standard_normal((n, n))
    A = 0.5 * A / np.max(np.sum(np.abs(A), 1))
    B = rng.standard_normal((n, n_in)) / np.sqrt(n_in)
    C = rng.standard_normal((n_out, n)) / np.sqrt(n)
    b = 0.1 * rng.standard_normal(n)
    u0 = rng.uniform(0, 1, n_in)
    A_, B_, C_, b_ = (jnp.asarray(v) for v in (A, B, C, b))

    def out(u):
        x = jnp.zeros(n)
        x = jax.lax.fori_loop(0, 80, lambda _, x: jnp.tanh(A_ @ x + B_ @ u + b_), x)
        return C_ @ x

    y0 = out(jnp.asarray(u0))
    mu_inf, mu_2 = float(norms.lognorm(A_, INF)), float(norms.lognorm(A_, 2))
    row_sum = lambda M: float(np.max(np.sum(np.abs(M), 1)))  # ‖M‖∞ of a rectangular M
    lip_inf = row_sum(B) * row_sum(C) / (1 - max(mu_inf, 0.0))
    svd = lambda M: float(np.linalg.norm(M, 2))
    lip_2 = svd(B) * svd(C) / (1 - max(mu_2, 0.0)) if mu_2 < 1 else math.inf

    def attack(key, k, sign):
        loss = lambda d: sign * (out(jnp.asarray(u0) + d) - y0)[k]
        g = jax.grad(loss)
        d = eps * jnp.sign(jax.random.normal(key, (n_in,)))
        d = jax.lax.fori_loop(0, iters, lambda _, d: eps * jnp.sign(g(d) + 1e-30), d)
        return loss(d)

    keys = jax.random.split(jax.random.PRNGKey(37), restarts)
    ks = jnp.repeat(jnp.arange(n_out), 2)
    signs = jnp.tile(jnp.array([1.0, -1.0]), n_out)
    worst = jax.jit(jax.vmap(jax.vmap(attack, (None, 0, 0)), (0, None, None)))(keys, ks, signs)
    return dict(
        mu_inf=mu_inf,
        mu_2=mu_2,
        lip_inf=lip_inf,
        lip_2=lip_2,
        bound_inf=lip_inf * eps,
        bound_2=lip_2 * math.sqrt(n_in) * eps,
        measured=float(jnp.max(worst)),
        eps=eps,
        n_in=n_in,
        n=n,
        n_out=n_out,
        restarts=restarts,
        iters=iters,
    )


# ----------------------------------------------------------------------------- draw


def draw(weak, semi_):
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figs, caps = {}, {}
    fig, axs = plt.subplots(1, 2, figsize=(10, 3.8))
    t = weak["dt"] * np.arange(weak["steps"] + 1)
    for name, c in weak["cases"].items():
        axs[0].plot(t, c["curve"], label=f"{name} (ℓ{c['p']})")
    axs[0].axhline(1, color="k", lw=0.6)
    axs[0].set(xlabel="time t", ylabel="median ‖x(t) − y(t)‖ / ‖x(0) − y(0)‖")
    axs[0].set_title("weakly contracting examples")
    axs[0].legend(fontsize=7)
    s = semi_
    axs[1].semilogy(s["ts"], s["curve"], label="median ‖R(x − y)‖₂ ratio (Kuramoto)")
    axs[1].semilogy(s["ts"], np.exp(-s["c"] * s["ts"]), "k--", label="e^{−λ₂ cos γ · t}")
    axs[1].semilogy(s["ts"], np.exp(-s["lam2"] * s["ts"]), "r:", label="e^{−λ₂ t}")
    axs[1].set(xlabel="time t", ylabel="semi-norm distance ratio")
    axs[1].set_title(f"semi-contraction, n = {s['n']}")
    axs[1].legend(fontsize=7)
    fig.tight_layout()
    figs["weak_semi_contraction"] = fig
    caps["weak_semi_contraction"] = (
        "Bullo 2022, slides 'Weakly contracting systems' and 'Semi-contracting systems' (no "
        "figure there): left, the distance between two RK4 solutions of the slide's weakly "
        "contracting examples (median over pairs) never exceeds its initial value; right, "
        "Kuramoto oscillators in the consensus semi-norm ‖Rx‖₂ decay at least like "
        "e^{−λ₂ cos γ t} (γ the largest phase arc) and, near synchrony, like e^{−λ₂ t}."
    )
    return figs, caps
