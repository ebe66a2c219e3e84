"""Theorem checks of `experiments.implicit_robustness` on the trained networks and on random
matrices: the averaged iteration, the ℓ∞ INN's contraction rate, the parametrisations (both
directions), dropout submatrices, the INN motivations and the interconnection theorem (seed 001;
seed 004 Prop. 1). Each returns plain data."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

import contractax as cx

INF = math.inf


def averaged_iteration(p, u, steps):
    """The averaged iteration at α* = 1/(1 − min_i(a_ii)₋) in float64 NumPy: worst one-step
    ratio of successive differences in ‖·‖_{∞,η}, and steps to 1e-8 vs the a-priori count."""
    A, B, b, eta = p["A"], p["B"], p["b"], p["eta"]
    mu = float(
        np.max(np.diag(A) + (np.abs(A) * eta[None, :] / eta[:, None]).sum(1) - np.abs(np.diag(A)))
    )
    alpha = 1.0 / (1.0 - min(np.diag(A).min(), 0.0))
    rho = 1.0 - (1.0 - max(mu, 0.0)) * alpha
    inj = u @ B.T + b[None, :]
    x = np.zeros_like(inj)
    diffs = []
    for _ in range(steps):
        x_new = (1 - alpha) * x + alpha * np.maximum(x @ A.T + inj, 0.0)
        diffs.append(np.max(np.abs(x_new - x) / eta[None, :], axis=1))
        x = x_new
    diffs = np.stack(diffs)  # (steps, batch)
    valid = diffs[:-1] > 1e-11
    ratios = np.where(valid, diffs[1:] / np.where(valid, diffs[:-1], 1.0), 0.0)
    reached = (diffs <= 1e-8).argmax(0)
    predicted = np.ceil(np.log(1e-8 / diffs[0]) / np.log(rho))
    return dict(
        rho=rho, worst_ratio=float(ratios.max()), reached=reached, predicted=predicted, diffs=diffs
    )


def inn_rate(p, u, starts=2, t1=6.0, dt=0.01, seed=0):
    """ẋ = −x + relu(Ax + Bu + b) (the INN's recurrent network): the library's exact ℓ∞,η rate
    (slopes in [0, 1]) vs the slide's 1 − μ∞,η(A)₊, and RK4 trajectory pairs started apart."""
    A, B, b, eta = (jnp.asarray(p[k]) for k in ("A", "B", "b", "eta"))
    rate = float(jax.jit(lambda A, eta: cx.contraction.firing_rate_rate(A, weight=eta))(A, eta))
    mu = float(cx.norms.lognorm(A, INF, eta))
    rng = np.random.default_rng(seed)
    inj = np.asarray(u @ np.asarray(B).T + np.asarray(b))  # (k, n)
    An = np.asarray(A)
    x = np.repeat(inj[:, None], starts, 1) + 2 * rng.standard_normal((len(inj), starts, len(eta)))
    f = lambda x: -x + np.maximum(x @ An.T + inj[:, None], 0.0)
    e = np.asarray(eta)
    d0 = np.max(np.abs(x[:, 0] - x[:, 1]) / e, -1)
    worst = -np.inf
    steps = int(round(t1 / dt))
    for k in range(1, steps + 1):
        a = f(x)
        b_ = f(x + dt / 2 * a)
        c = f(x + dt / 2 * b_)
        d = f(x + dt * c)
        x = x + dt / 6 * (a + 2 * b_ + 2 * c + d)
        dist = np.max(np.abs(x[:, 0] - x[:, 1]) / e, -1)
        worst = max(worst, float(np.max(np.log(dist / d0) / (k * dt))))
    return dict(rate=rate, formula=1 - max(mu, 0.0), mu=mu, worst_exponent=worst, inputs=len(inj))


def parametrisations(rng, count=500, n=12, gamma=0.5, m=0.5):
    """Both directions of μ∞,η(A) ≤ γ ⇔ A = γI + DTD⁻¹ − diag(|T|𝟙) (seed 001) and of
    I − W ⪰ mI ⇔ W = (1 − m)I − AᵀA + B − Bᵀ (seed 004 Prop. 1), on random matrices."""
    eta = np.exp(0.5 * rng.standard_normal((count, n)))
    d = np.log(eta)
    T = rng.standard_normal((count, n, n))
    par = jax.jit(jax.vmap(lambda T, d: cx.models.mu_infinity_parametrisation(T, d, gamma)))
    mu = jax.jit(jax.vmap(lambda A, e: cx.norms.lognorm(A, INF, e)))
    forward = float(np.max(np.asarray(mu(par(T, d), eta)) - gamma))  # ⇐
    # ⇒: any A with μ∞,η(A) ≤ γ; Ã = D⁻¹AD has rows ≤ γ; T = Ã off the diagonal,
    # t_ii = (ã_ii + Σ_{j≠i}|ã_ij| − γ)/2 ≤ 0 reproduces ã_ii = γ + t_ii − |t_ii| − Σ_{j≠i}|t_ij|
    A = rng.standard_normal((count, n, n))
    mus = np.asarray(mu(A, eta))
    target = gamma - rng.uniform(0, 1, count)
    A[:, np.arange(n), np.arange(n)] += (target - mus)[:, None]
    At = A * eta[:, None, :] / eta[:, :, None]  # D⁻¹AD
    row = np.diagonal(At, 0, 1, 2) + np.sum(np.abs(At), -1) - np.abs(np.diagonal(At, 0, 1, 2))
    Tb = At.copy()
    Tb[:, np.arange(n), np.arange(n)] = (row - gamma) / 2
    back = float(np.max(np.abs(np.asarray(par(Tb, d)) - A)))
    # seed 004 Prop. 1: ⇐ on random (A, B); ⇒ with the library's converse on random W
    A4, B4 = rng.standard_normal((2, count, n, n)) / math.sqrt(n)
    W = np.asarray(
        jax.jit(jax.vmap(lambda a, b: cx.models.monotone_parametrisation(a, b, m)))(A4, B4)
    )
    sym = lambda M: 0.5 * (M + np.swapaxes(M, -1, -2))
    margin = float(np.min(np.linalg.eigvalsh(sym(np.eye(n) - W))) - m)
    R = rng.standard_normal((count, n, n)) / math.sqrt(n)
    K = rng.standard_normal((count, n, n))
    W2 = np.eye(n) * (1 - m) - R @ np.swapaxes(R, -1, -2) - (K - np.swapaxes(K, -1, -2))
    conv = jax.jit(jax.vmap(lambda w: cx.models.monotone_parameters(w, m)))
    Ab, Bb = conv(W2)
    W2b = np.asarray(
        jax.jit(jax.vmap(lambda a, b: cx.models.monotone_parametrisation(a, b, m)))(Ab, Bb)
    )
    return dict(
        mu_forward=forward,
        mu_back=back,
        mu_targets=(float(target.min()), float(target.max())),
        mon_forward=margin,
        mon_back=float(np.max(np.abs(W2b - W2))),
        count=count,
        n=n,
        gamma=gamma,
        m=m,
    )


def dropout(p, rng, masks=300, keep=0.5):
    """μ∞,η of principal submatrices A_SS (random neuron subsets S) vs μ∞,η(A). Each A_SS is
    embedded block-diagonally beside −10³·I (which cannot attain the maximum), so one jitted
    contractax.norms.lognorm serves every subset size."""
    A, eta = p["A"], p["eta"]
    n = len(eta)
    S = rng.uniform(size=(masks, n)) < keep
    keepm = S[:, :, None] & S[:, None, :]
    sub = np.where(keepm, A[None], 0.0) - 1e3 * np.eye(n)[None] * ~S[:, :, None]
    mu = jax.jit(jax.vmap(lambda M: cx.norms.lognorm(M, INF, jnp.asarray(eta))))
    subs = np.asarray(mu(sub))
    full = float(cx.norms.lognorm(jnp.asarray(A), INF, jnp.asarray(eta)))
    return dict(
        full=full,
        worst_excess=float(np.max(subs - full)),
        masks=masks,
        mean_size=float(np.mean(S.sum(1))),
    )


def motivations(p, u, x_star, rng, layers=3, width=8, m_in=5, t1=40.0, dt=0.02):
    """Seed 001 'INN motivations': (1) a feedforward net is an INN with block-strictly-lower
    triangular A, solved exactly by fixed_point; (3) the neural ODE ẋ = −x + Φ(Ax + Bu + b)
    of the trained INN converges to the INN's fixed point."""
    Ws = [rng.standard_normal((width, m_in if i == 0 else width)) for i in range(layers)]
    bs = [rng.standard_normal(width) for _ in range(layers)]
    v = rng.standard_normal((16, m_in))
    h = v
    for i in range(layers):
        h = np.tanh(h @ Ws[i].T + bs[i])
        if i == 0:
            first = h
    ff = h
    N = layers * width
    A = np.zeros((N, N))
    for i in range(1, layers):
        A[i * width : (i + 1) * width, (i - 1) * width : i * width] = Ws[i]
    Bm = np.zeros((N, m_in))
    Bm[:width] = Ws[0]
    bb = np.concatenate(bs)
    sol = jax.jit(
        jax.vmap(
            lambda x: cx.fixed_point(
                lambda z, x: jnp.tanh(A @ z + Bm @ x + bb),
                jnp.zeros(N),
                x,
                solver=cx.Picard(),
                tol=1e-13,
                max_steps=50,
            )
        )
    )(v)
    z = np.asarray(sol.value)
    ff_err = float(np.max(np.abs(z[:, -width:] - ff)))
    first_err = float(np.max(np.abs(z[:, :width] - first)))
    # neural ODE limit of the trained INN (explicit Euler would do; RK4 for accuracy)
    An, inj = p["A"], u @ p["B"].T + p["b"]
    f = lambda x: -x + np.maximum(x @ An.T + inj, 0.0)
    x = np.zeros_like(inj)
    for _ in range(int(round(t1 / dt))):
        a = f(x)
        b_ = f(x + dt / 2 * a)
        c = f(x + dt / 2 * b_)
        d = f(x + dt * c)
        x = x + dt / 6 * (a + 2 * b_ + 2 * c + d)
    ode_err = float(np.max(np.abs(x - x_star) / p["eta"]))
    start = float(np.max(np.abs(x_star) / p["eta"]))
    return dict(
        ff_err=ff_err,
        first_err=first_err,
        ff_steps=int(np.max(np.asarray(sol.stats["num_steps"]))),
        layers=layers,
        ode_err=ode_err,
        ode_start=start,
        t1=t1,
        inputs=len(u),
    )


def interconnection(key, k=5, ni=4, couplings=(0.1, 0.3, 0.6, 1.0, 1.5), t1=6.0, dt=0.01):
    """Random network of k firing-rate subsystems of size ni coupled through B_ij: rate
    certificate −α(Γ) vs the full network's rate in the Perron-weighted norm vs simulation.
    One compiled function of the coupling scale s, mapped over the scales."""
    ks = jax.random.split(key, 4)
    As = 0.25 * jax.random.normal(ks[0], (k, ni, ni)) / math.sqrt(ni)
    Bs = jax.random.normal(ks[1], (k, k, ni, ni)) / (math.sqrt(ni) * k)
    u = jax.random.normal(ks[2], (k * ni,))
    x0 = jax.random.normal(ks[3], (2, k * ni)) * 2.0
    n_steps = int(t1 / dt)

    def one(s):
        Bm = s * Bs * (1 - jnp.eye(k))[:, :, None, None]
        rates = jax.vmap(lambda A: cx.contraction.firing_rate_rate(A, p=jnp.inf))(As)
        gains = jnp.max(jnp.sum(jnp.abs(Bm), -1), -1)  # ‖B_ij‖∞ (tanh is 1-Lipschitz)
        cert = cx.contraction.interconnection_rate(rates, gains)
        Afull = Bm.transpose(0, 2, 1, 3).reshape(k * ni, k * ni)
        Afull = Afull + jax.scipy.linalg.block_diag(*As)
        Gamma = gains * (1 - jnp.eye(k)) - jnp.diag(rates)
        eta, _ = cx.norms.optimal_weight(Gamma, jnp.inf)  # Perron weights: max_i ‖x_i‖∞/η_i
        eta_full = jnp.repeat(eta, ni)
        full = cx.contraction.firing_rate_rate(Afull, p=jnp.inf, weight=eta_full)

        def f(x):
            return -x + jnp.tanh(x @ Afull.T + u[None, :])

        def rk4(x, _):
            a = f(x)
            b = f(x + 0.5 * dt * a)
            c = f(x + 0.5 * dt * b)
            d = f(x + dt * c)
            x = x + dt / 6 * (a + 2 * b + 2 * c + d)
            return x, x

        _, xs = jax.lax.scan(rk4, x0, None, length=n_steps)
        dist = jnp.max(jnp.abs(xs[:, 0] - xs[:, 1]) / eta_full, -1)
        d0 = jnp.max(jnp.abs(x0[0] - x0[1]) / eta_full)
        return cert, full, dist / d0

    cert, full, rel = jax.jit(jax.vmap(one))(jnp.asarray(couplings, As.dtype))
    ts = dt * np.arange(1, n_steps + 1)
    rows = []
    for i, s in enumerate(couplings):
        dist = np.asarray(rel[i])
        worst = float(np.max(np.log(dist) / ts))  # ≤ −rate
        rows.append(
            dict(s=s, cert=float(cert[i]), full=float(full[i]), worst_exp=worst, ts=ts, dist=dist)
        )
    return rows
