"""Compute and draw functions of `experiments.lognorms`: closed forms vs brute force, the
forward step, rates against the weight scale, and trajectories of a contracting network.

Every compute function returns plain data (floats, lists, NumPy arrays); the claims are judged
in `experiments.lognorms`.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from contractax import contraction, norms
from experiments._lognorms_theory import _inf, _iterate

INF = math.inf
PNAME = {1: "1", 2: "2", INF: "∞"}


def vertices(n, lo=0.0, hi=1.0):
    """All 2ⁿ vertices of the box [lo, hi]ⁿ, shape (2ⁿ, n)."""
    return jnp.asarray(list(itertools.product([lo, hi], repeat=n)))


def _brute_force(A, dmin, dmax, p, w, side):
    n = A.shape[-1]

    def one(d):
        M = (d[:, None] * A if side == "left" else A * d[None, :]) - jnp.eye(n)
        return norms.lognorm(M, p, w)

    return jnp.max(jax.vmap(one)(vertices(n, dmin, dmax)))


def slope_box(key, count, n):
    """Closed-form max log norm over the slope box vs brute force over all 2ⁿ vertices."""
    rows = []
    for p in (1, INF):
        for side in ("left", "right"):
            k1, k2, key = jax.random.split(key, 3)
            As = jax.random.normal(k1, (count, n, n))
            etas = jnp.exp(0.5 * jax.random.normal(k2, (count, n)))
            closed = jax.jit(
                jax.vmap(lambda A, w: norms.max_lognorm_over_slopes(A, 0.1, 1.0, p, w, side, C=1.0))
            )(As, etas)
            brute = jax.jit(jax.vmap(lambda A, w: _brute_force(A, 0.1, 1.0, p, w, side)))(As, etas)
            err = float(jnp.max(jnp.abs(closed - brute) / (1 + jnp.abs(brute))))
            rows.append((PNAME[p], side, err))
    return dict(rows=rows, worst=max(r[2] for r in rows), count=count, n=n)


def optimal_weights(key, count, n):
    """inf over diagonal weights of μ_{p,η}(M) vs the spectral abscissa α(M), M Metzler."""
    M = jnp.abs(jax.random.normal(key, (count, n, n))) - 2.0 * jnp.eye(n)
    alpha = norms.spectral_abscissa(M)
    errs = {}
    for p in (1, 2, INF):
        _, value = jax.jit(jax.vmap(lambda m: norms.optimal_weight(m, p)))(M)
        errs[PNAME[p]] = float(jnp.max(jnp.abs(value - alpha)))
    gap = float(jnp.mean(norms.lognorm(M, INF) - alpha))
    return dict(errors=errs, worst=max(errs.values()), unweighted_gap=gap, count=count, n=n)


def _table1_mu(s, W, p, n):
    """Seed 000 Table 1's μ column for D_x f = −I + dg(s) w, written out by hand."""
    sW = s[:, :, None] * W
    if p == 2:
        return jnp.max(jnp.linalg.eigvalsh(-jnp.eye(n) + 0.5 * (sW + jnp.swapaxes(sW, -1, -2))), -1)
    if p == 1:
        return -1 + jnp.max(jnp.sum(jnp.abs(sW), axis=-2), axis=-1)
    return -1 + jnp.max(s * jnp.sum(jnp.abs(W), axis=-1), axis=-1)


def table1(key, count, n):
    """Seed 000 Table 1: ẋ = −x + σ(wx + ρ), logistic σ (L_σ' = 1/4), ‖w‖_p < 4 ⇒ contraction."""
    out = {}
    for p in (1, 2, INF):
        k1, k2, k3, key = jax.random.split(key, 4)
        W = jax.random.normal(k1, (count, n, n)) * (1 - jnp.eye(n))  # w_ii = 0 as in eq. 7.1
        target = jax.random.uniform(k2, (count,), minval=0.05, maxval=3.999)
        W = W * (target / norms.induced_norm(W, p))[:, None, None]
        rate = jax.vmap(lambda w: contraction.firing_rate_rate(w, dmin=0.0, dmax=0.25, p=p))
        rates = rate(W)
        u = 3 * jax.random.normal(k3, (count, n))
        s = jax.nn.sigmoid(u) * (1 - jax.nn.sigmoid(u))
        J = -jnp.eye(n) + s[:, :, None] * W
        formula_err = float(jnp.max(jnp.abs(_table1_mu(s, W, p, n) - norms.lognorm(J, p))))
        # sufficiency, not necessity: how many with ‖w‖_p in [4, 8) still contract?
        W2 = W / (target / jax.random.uniform(k2, (count,), minval=4.0, maxval=8.0))[:, None, None]
        beyond = float(jnp.mean(rate(W2) > 0))
        out[PNAME[p]] = dict(
            min_rate=float(jnp.min(rates)),
            formula_err=formula_err,
            fraction_contracting_beyond=beyond,
        )
    return dict(by_p=out, count=count, n=n)


def _lipschitz_over_box(A, n, alpha, p):
    """Exact Lipschitz constant of x ↦ x + α(−x + tanh(Ax + u)) over the slope box [0, 1]ⁿ."""
    return jnp.max(
        jax.vmap(
            lambda d: norms.induced_norm(jnp.eye(n) + alpha * (-jnp.eye(n) + d[:, None] * A), p)
        )(vertices(n))
    )


def forward_step(key, count, n, alpha_grid=24):
    """Forward step x ↦ x + αF(x), F(x) = −x + tanh(Ax + u): at α* (factor, exact and sampled
    Lipschitz constants) and over a grid of α in (0, 1.25 α_max), α_max the slide's range."""
    out = {}
    for p in (INF, 2):
        k1, k2, k3, key = jax.random.split(key, 4)
        A = jax.random.normal(k1, (n, n))
        A = 0.8 * A / norms.induced_norm(A, INF)  # μ∞(A) < 1: a contracting firing-rate field
        u = jax.random.normal(k2, (n,))
        c = contraction.firing_rate_rate(A, p=p)
        lip = jnp.max(
            jax.vmap(lambda d: norms.induced_norm(-jnp.eye(n) + d[:, None] * A, p))(vertices(n))
        )
        alpha, factor = contraction.averaged_step(c, lip, p)
        exact = _lipschitz_over_box(A, n, alpha, p)
        X = 3 * jax.random.normal(k3, (2, count, n))
        T = lambda x: x + alpha * (-x + jnp.tanh(x @ A.T + u))
        ratio = norms.vector_norm(T(X[0]) - T(X[1]), p) / norms.vector_norm(X[0] - X[1], p)
        kappa = float(lip / c)
        a_max = 2 / (float(c) * kappa**2) if p == 2 else 1 / (float(c) * kappa * (1 + kappa))
        grid = np.linspace(0.02, 1.25, alpha_grid) * a_max
        lips = jax.vmap(lambda a: _lipschitz_over_box(A, n, a, p))(jnp.asarray(grid))
        factors = contraction.averaged_step_factor(jnp.asarray(grid), c, lip, p)
        out[PNAME[p]] = dict(
            rate=float(c),
            lipschitz=float(lip),
            kappa=kappa,
            alpha=float(alpha),
            factor=float(factor),
            exact_lip=float(exact),
            sampled_lip=float(jnp.max(ratio)),
            alpha_max=a_max,
            grid=grid,
            grid_lip=np.asarray(lips),
            grid_factor=np.asarray(factors),
        )
    return dict(by_p=out, count=count, n=n)


def forward_step_asymptotics(kappas=(10.0, 100.0, 1000.0)):
    """κ⁴ × (library − slide expansion) for α*_nE, ℓ*_nE and ℓ*_E at c = 1, ℓ = κ: bounded as κ
    grows iff the expansions' terms up to κ⁻³ are right."""
    rows = []
    for kappa in kappas:
        a_ne, f_ne = contraction.averaged_step(1.0, kappa, INF)
        a_e, f_e = contraction.averaged_step(1.0, kappa, 2)
        rows.append(
            dict(
                kappa=kappa,
                alpha_nE=kappa**4 * (float(a_ne) - (1 / (2 * kappa**2) - 3 / (8 * kappa**3))),
                factor_nE=kappa**4 * (float(f_ne) - (1 - 1 / (4 * kappa**2) + 1 / (8 * kappa**3))),
                alpha_E=float(a_e) * kappa**2,  # α*_E = 1/(cκ²) exactly
                factor_E=kappa**4 * (float(f_e) - (1 - 1 / (2 * kappa**2))),
            )
        )
    return rows


def rate_vs_scale(key, n, count=120):
    """Rates of ẋ = −x + tanh(sA₀x + u) against s: ℓ1, ℓ2, ℓ∞, optimally weighted ℓ∞ and
    the slide's closed form −α(−I + ⌈A⌉_M) (d_min = 0, C = I)."""
    A0 = jax.random.normal(key, (n, n)) / math.sqrt(n)
    scales = jnp.linspace(0.05, 3.0, count)
    rates = {}
    for p in (1, 2, INF):
        rates[f"ℓ{PNAME[p]}"] = jax.vmap(lambda s: contraction.firing_rate_rate(s * A0, p=p))(
            scales
        )
    rates["optimally weighted ℓ∞"] = jax.vmap(lambda s: contraction.optimal_rate(s * A0)[1])(scales)
    rates["−α(−I + ⌈A⌉_M)"] = jax.vmap(
        lambda s: -norms.spectral_abscissa(-jnp.eye(n) + norms.metzler_majorant(s * A0))
    )(scales)
    rates = {k: np.asarray(v) for k, v in rates.items()}
    crossing = {
        k: float(scales[int(np.argmax(v <= 0))]) if bool(np.any(v <= 0)) else None
        for k, v in rates.items()
    }
    w, ref = rates["optimally weighted ℓ∞"], rates["−α(−I + ⌈A⌉_M)"]
    return dict(
        scales=np.asarray(scales),
        rates=rates,
        crossing=crossing,
        dominates=bool(np.all(w >= rates["ℓ∞"] - 1e-10)),
        closed_form_err=float(np.max(np.abs(w - ref))),
        n=n,
    )


def trajectories(rng, n=6, starts=16, t1=12.0, dt=0.01, period=2.0):
    """RK4 runs of ẋ = −x + tanh(Ax + u(t)) with ‖A‖∞ = 0.7: constant u (equilibrium and its
    Lyapunov functions ‖x − x*‖, ‖F(x)‖ in ℓ∞ and ℓ2) and u(t) = u₀ + u₁ sin(2πt/T)
    (entrainment: the T-shift of a solution is a solution, so ‖x(t+T) − x(t)‖ decays at the
    contraction rate and the solution becomes T-periodic)."""
    A = rng.standard_normal((n, n))
    A = 0.7 * A / np.max(np.sum(np.abs(A), 1))
    u0, u1 = rng.standard_normal((2, n))
    x0 = 3 * rng.standard_normal((starts, n))
    steps = int(round(t1 / dt))

    @jax.jit
    def simulate(x0, amp):
        f = lambda t, x: -x + jnp.tanh(x @ A.T + u0 + amp * jnp.sin(2 * jnp.pi * t / period) * u1)

        def step(carry, _):
            t, x = carry
            a = f(t, x)
            b = f(t + dt / 2, x + dt / 2 * a)
            c = f(t + dt / 2, x + dt / 2 * b)
            d = f(t + dt, x + dt * c)
            x = x + dt / 6 * (a + 2 * b + 2 * c + d)
            return (t + dt, x), x

        _, xs = jax.lax.scan(step, (0.0, x0), None, length=steps)
        rates = [contraction.firing_rate_rate(A, p=p) for p in (INF, 2)]
        return jnp.concatenate([x0[None], xs]), rates

    ts = dt * np.arange(steps + 1)
    G = lambda x: np.tanh(x @ A.T + u0)
    xstar, _ = _iterate(G, x0.copy(), 1.0, 300)  # Picard from every start: ‖A‖∞ < 1
    xs, rates = simulate(x0, 0.0)
    xs, rates = np.asarray(xs), [float(r) for r in rates]
    out = dict(ts=ts, spread=float(np.max(np.abs(xstar - xstar[0]))), n=n, starts=starts, t1=t1)
    for (p, name), c in zip(((INF, "∞"), (2, "2")), rates):
        env = np.exp(-c * ts)[:, None]
        d = np.linalg.norm(xs - xstar[0], ord=p, axis=-1)
        v = np.linalg.norm(G(xs) - xs, ord=p, axis=-1)
        out[name] = dict(
            rate=c,
            dist_ratio=float(np.max(d / (env * d[0]))),
            field_ratio=float(np.max(v / (env * v[0]))),
            final=float(np.max(d[-1])),
            dist=d[:, 0] / d[0, 0],
            field=v[:, 0] / v[0, 0],
        )
    per = int(round(period / dt))
    xp = np.asarray(simulate(x0, 1.0)[0])[:, :2]
    c = rates[0]
    gap = _inf(xp[:, 0] - xp[:, 1])
    defect = _inf(xp[per:, 0] - xp[:-per, 0])
    out["entrain"] = dict(
        rate=c,
        pair_ratio=float(np.max(gap / (np.exp(-c * ts) * gap[0]))),
        defect_ratio=float(np.max(defect / (np.exp(-c * ts[:-per]) * defect[0]))),
        final_defect=float(defect[-1] / defect[0]),
        amplitude=float(np.max(np.ptp(xp[-per:, 0], axis=0))),
        gap=gap / gap[0],
        defect=defect / defect[0],
        period=period,
    )
    return out


# ----------------------------------------------------------------------------- draw


def draw(scale, step, shifts):
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figs, caps = {}, {}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, r in scale["rates"].items():
        style = {"ℓ1": dict(ls=":", lw=2.5), "−α(−I + ⌈A⌉_M)": dict(ls="--")}.get(name, {})
        ax.plot(scale["scales"], r, label=name, **style)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("weight scale s (A = s·A₀)")
    ax.set_ylabel("contraction rate c (> 0: contracting)")
    ax.set_title(f"ẋ = −x + tanh(sA₀x + u), n = {scale['n']}")
    ax.legend(fontsize=8)
    figs["rate_vs_scale"] = fig
    caps["rate_vs_scale"] = (
        "Bullo 2022, slides 'NonEuclidean contractivity of firing rate model' (no figure there): "
        "the exact contraction rate of a firing-rate network ẋ = −x + tanh(sA₀x + u) against the "
        "weight scale s in the ℓ1, ℓ2 and ℓ∞ norms, and with the optimal diagonal ℓ∞ weight, which "
        "coincides with the closed form −α(−I + ⌈A⌉_M) and keeps the network contracting longest."
    )
    fig, axs = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (name, s) in zip(axs, step["by_p"].items()):
        x = s["grid"] / s["alpha_max"]
        ax.plot(x, s["grid_factor"], "k-", label="factor bound (slide)")
        ax.plot(x, s["grid_lip"], "o", ms=4, label="exact Lip(Id + αF)")
        ax.axhline(1, color="gray", lw=0.8)
        ax.axvline(1, color="r", ls=":", label="end of the slide's α range")
        ax.axvline(s["alpha"] / s["alpha_max"], color="g", ls="--", label="α*")
        lo = min(float(np.min(s["grid_lip"])), float(np.min(s["grid_factor"])))
        ax.set_ylim(lo - 0.01, min(float(np.max(s["grid_factor"])), 1.5) + 0.01)
        ax.set(
            xlabel="step α / α_max",
            ylabel="contraction factor",
            title=f"forward step, ℓ{name} (κ = {s['kappa']:.2f})",
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    figs["forward_step"] = fig
    caps["forward_step"] = (
        "Bullo 2022, the two 'forward step = Euler integration' slides (no figure there): the "
        "exact Lipschitz constant of x ↦ x + αF(x), F(x) = −x + tanh(Ax + u), against the slide's "
        "factor bound, over steps α up to 1.25 times the end of the slide's range (2/(cκ²) "
        "Euclidean, 1/(cκ(1+κ)) non-Euclidean); the bound is below 1 on the whole range."
    )
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, key in (("Lim's lemma (Lip_x G < 1)", "lim"), ("one-sided (Lip_x G > 1)", "os")):
        r = shifts[key]
        ax.loglog(r["bound"], r["shift"], ".", ms=4, label=name)
    lo = min(float(np.min(shifts[k]["bound"])) for k in ("lim", "os"))
    hi = max(float(np.max(shifts[k]["bound"])) for k in ("lim", "os"))
    ax.loglog([lo, hi], [lo, hi], "k--", lw=1, label="shift = bound")
    ax.set(
        xlabel="bound on ‖x*_u − x*_v‖∞",
        ylabel="measured ‖x*_u − x*_v‖∞",
        title="equilibrium shift vs its bound",
    )
    ax.legend(fontsize=8)
    figs["equilibrium_shift"] = fig
    caps["equilibrium_shift"] = (
        "Bullo 2022, slides 'Robustness of fixed point algorithms' (no figure there): the measured "
        "distance between the fixed points of x = tanh(Ax + Bu) for two inputs u, v, against "
        "Lim's bound Lip_u G/(1 − Lip_x G)·‖u − v‖ and, for a network with Lip_x G > 1 and a "
        "disturbance D, against the one-sided bound; every point lies below the diagonal."
    )
    return figs, caps
