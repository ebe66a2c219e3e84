"""Compute and draw functions of `experiments.fixed_points` (plain data in, plain data out)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import contractax as cx
from experiments.benchmarks._common import compiled_memory


def _orth(n, key):
    return jnp.linalg.qr(jax.random.normal(key, (n, n)))[0]


def certificate(n, rhos, tols):
    """Picard stopped at `tol` on an affine map (‖A‖₂ = ρ) and a tanh DEQ (W = ρ·orthogonal):
    true error e vs the a-posteriori bound ‖f(z) − z‖/(1 − ρ)."""
    Q = _orth(n, jax.random.PRNGKey(0))
    b = jax.random.normal(jax.random.PRNGKey(1), (n,))
    s = jnp.linspace(1.0, 0.2, n)

    def affine(rho, tol):
        A = rho * Q * s[None, :]  # ‖A‖₂ = rho
        sol = cx.fixed_point(
            lambda z, a: a @ z + b,
            jnp.zeros(n),
            A,
            solver=cx.Picard(),
            tol=tol,
            contraction=rho,
            max_steps=5000,
        )
        zs = jnp.linalg.solve(jnp.eye(n) - A, b)
        return jnp.linalg.norm(sol.value - zs), sol.stats["error_bound"]

    W0 = _orth(n, jax.random.PRNGKey(2))
    x = jax.random.normal(jax.random.PRNGKey(3), (n,))

    def deq(rho, tol):  # tanh is 1-Lipschitz, so Lip(f) ≤ ‖W‖₂ = rho
        f = lambda z, W: jnp.tanh(W @ z + x)
        W = rho * W0
        sol = cx.fixed_point(
            f, jnp.zeros(n), W, solver=cx.Picard(), tol=tol, contraction=rho, max_steps=5000
        )
        ref = cx.fixed_point(f, jnp.zeros(n), W, solver=cx.Anderson(), tol=1e-14, max_steps=5000)
        return jnp.linalg.norm(sol.value - ref.value), sol.stats["error_bound"]

    rows = []
    for name, fn in (("affine", affine), ("tanh DEQ", deq)):
        for tol in tols:
            e, bd = jax.jit(jax.vmap(lambda r: fn(r, tol)))(rhos)
            rows.append(dict(problem=name, tol=tol, error=np.asarray(e), bound=np.asarray(bd)))
    return dict(rows=rows, rho=np.asarray(rhos), n=n, tols=list(tols))


def picard_rate(n, rhos):
    """Per-step residual factor (r_K/r_0)^{1/K} of Picard on f = ρQz + b (Q orthogonal)."""
    Q = _orth(n, jax.random.PRNGKey(4))
    b = jax.random.normal(jax.random.PRNGKey(5), (n,))

    def residual(rho, steps):
        f = lambda z, a: a @ z + b
        sol = cx.fixed_point(
            f, jnp.zeros(n), rho * Q, solver=cx.Picard(), tol=1e-300, max_steps=steps
        )  # never met: exactly `steps` steps
        return sol.stats["abs_residual"]

    # K per ρ keeps ρ^K ≥ 1e-8, above the float64 round-off floor of the residual
    Ks = [int(min(40, 8 / -np.log10(float(r)))) for r in rhos]
    measured = np.asarray(
        [
            (jax.jit(residual, static_argnums=1)(r, K) / residual(r, 0)) ** (1.0 / K)
            for r, K in zip(rhos, Ks)
        ]
    )
    return dict(rho=np.asarray(rhos), measured=measured, steps=Ks, n=n)


def acceleration(n, batch):
    """f evaluations to tol 1e-10 of Picard, Relaxed, Anderson and Broyden on a tanh DEQ."""
    Q = _orth(n, jax.random.PRNGKey(6))
    W = (Q * jnp.linspace(-0.5, 0.97, n)[None, :]) @ Q.T
    X = 0.3 * jax.random.normal(jax.random.PRNGKey(7), (batch, n))
    f = lambda z, a: jnp.tanh(a[0] @ z + a[1])
    solvers = {
        "Picard": cx.Picard(),
        "Relaxed(0.8)": cx.Relaxed(0.8),
        "Anderson(5)": cx.Anderson(),
        "Broyden(16)": cx.Broyden(),
    }
    evals, ok = {}, {}
    for name, s in solvers.items():
        sol = jax.jit(
            jax.vmap(
                lambda x, s=s: cx.fixed_point(
                    f, jnp.zeros(n), (W, x), solver=s, tol=1e-10, max_steps=5000
                )
            )
        )(X)
        ok[name] = bool(jnp.all(sol.result == cx.RESULTS.successful))
        evals[name] = np.asarray(sol.stats["num_evals"], float)
    return dict(evals=evals, converged=ok, n=n, batch=batch)


def _monotone_problem(n, m=0.5):
    k = jax.random.split(jax.random.PRNGKey(8), 3)
    A = jax.random.normal(k[0], (n, n)) / jnp.sqrt(n)
    B = jax.random.normal(k[1], (n, n)) / jnp.sqrt(n)
    W = (1 - m) * jnp.eye(n) - A.T @ A + B - B.T
    u = jax.random.normal(k[2], (n,))
    L = float(jnp.linalg.norm(jnp.eye(n) - W, 2))
    mm = float(jnp.min(jnp.linalg.eigvalsh(jnp.eye(n) - (W + W.T) / 2)))
    return W, u, L, mm


def splitting(n, m=0.5):
    """Forward–backward and Peaceman–Rachford on a monotone DEQ z = relu(Wz + u)."""
    W, u, L, mm = _monotone_problem(n, m)
    relu = lambda v, a: jax.nn.relu(v)
    sols = {}
    for name, s in [
        ("FB α=m/L²", cx.ForwardBackward(mm / L**2)),
        ("FB α=1.5m/L²", cx.ForwardBackward(1.5 * mm / L**2)),
        ("PR α=0.2", cx.PeacemanRachford(0.2)),
        ("PR α=1", cx.PeacemanRachford(1.0)),
        ("PR α=5", cx.PeacemanRachford(5.0)),
    ]:
        sols[name] = jax.jit(
            lambda W, u, s=s: cx.solvers.monotone_solve(
                W, u, relu, solver=s, tol=1e-12, max_steps=20000
            )
        )(W, u)
    ref = sols["PR α=1"].value
    return dict(
        converged=all(bool(s.result == cx.RESULTS.successful) for s in sols.values()),
        max_diff=max(float(jnp.max(jnp.abs(s.value - ref))) for s in sols.values()),
        residual=float(jnp.max(jnp.abs(jax.nn.relu(W @ ref + u) - ref))),
        steps={k: int(s.stats["num_steps"]) for k, s in sols.items()},
        m=m,
        m_measured=mm,
        L=L,
        n=n,
    )


def fb_lipschitz(n, m=0.5, pairs=200):
    """Prop. 3: Lipschitz factor of T_α(z) = relu(z − α((I − W)z − u)) for α ∈ (0, 2m/L²):
    sampled pair ratios, the exact ‖I − α(I − W)‖₂ (relu is 1-Lipschitz) and the bound."""
    W, u, L, mm = _monotone_problem(n, m)
    alphas = np.linspace(0.1, 1.9, 10) * mm / L**2
    keys = jax.random.split(jax.random.PRNGKey(9), pairs)

    def ratio(alpha, key):
        z1, z2 = jax.random.normal(key, (2, n))
        T = lambda z: jax.nn.relu(z - alpha * ((z - W @ z) - u))
        return jnp.linalg.norm(T(z1) - T(z2)) / jnp.linalg.norm(z1 - z2)

    emp = np.asarray(
        jax.jit(jax.vmap(lambda a: jnp.max(jax.vmap(lambda kk: ratio(a, kk))(keys))))(
            jnp.asarray(alphas)
        )
    )
    lin = np.asarray([float(jnp.linalg.norm(jnp.eye(n) - a * (jnp.eye(n) - W), 2)) for a in alphas])
    bound = np.sqrt(1 - 2 * alphas * mm + alphas**2 * L**2)
    return dict(alphas=alphas, sampled=emp, linear=lin, bound=bound, m=mm, L=L, pairs=pairs)


def memory(n, batch, steps_list):
    """XLA temp bytes of jit(grad) through fixed_point for growing max_steps: implicit
    (Anderson, Picard) vs unrolled (Picard)."""
    Q = _orth(n, jax.random.PRNGKey(10))
    X = 0.3 * jax.random.normal(jax.random.PRNGKey(11), (batch, n))
    f = lambda z, a: jnp.tanh(a["W"] @ z + a["x"])
    params = {"W": 0.95 * Q}
    mem = {}
    for name, solver, adj in [
        ("implicit (Anderson)", cx.Anderson(), cx.ImplicitAdjoint()),
        ("implicit (Picard)", cx.Picard(), cx.ImplicitAdjoint()),
        ("unrolled (Picard)", cx.Picard(), cx.UnrolledAdjoint()),
    ]:
        out = []
        for ms in steps_list:

            def loss(p, ms=ms, solver=solver, adj=adj):
                z = jax.vmap(
                    lambda x: (
                        cx.fixed_point(
                            f, jnp.zeros(n), dict(p, x=x), solver=solver, adjoint=adj, max_steps=ms
                        ).value
                    )
                )(X)
                return jnp.sum(z**2)

            out.append(compiled_memory(jax.jit(jax.grad(loss)), params)["temp_bytes"])
        mem[name] = out
    return dict(temp_bytes=mem, steps=list(steps_list), n=n, batch=batch)


# ----------------------------------------------------------------------------- draw


def draw(cert, rate, acc, fb, mem):
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import matplotlib.ticker  # noqa: PLC0415

    figs, caps = {}, {}
    r = cert["rho"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for row in cert["rows"]:
        ax.plot(r, row["bound"] / row["error"], "o-", label=f"{row['problem']}, tol={row['tol']:g}")
    rr = np.linspace(float(r.min()), float(r.max()), 100)
    ax.plot(rr, (1 + rr) / (1 - rr), "k--", label="(1+ρ)/(1−ρ)")
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.set(
        xlabel="contraction factor ρ",
        ylabel="error bound / true error",
        yscale="log",
        title="Banach certificate",
    )
    ax.legend(fontsize=7)
    figs["certificate"] = fig
    caps["certificate"] = (
        "Bullo 2022, slide 'Banach contraction theorem' (no figure there): the a-posteriori "
        "bound ‖f(z) − z‖/(1 − ρ) of contractax.fixed_point divided by the true error, on an "
        "affine map and a tanh DEQ; it stays between 1 (a valid bound) and (1 + ρ)/(1 − ρ)."
    )
    fig, ax = plt.subplots(figsize=(4, 3.5))
    ax.plot(rate["rho"], rate["measured"], "o", label="measured")
    ax.plot([0, 1], [0, 1], "k--", label="ρ")
    ax.set(xlabel="ρ = Lip(f)", ylabel="per-step residual factor", title="Picard rate")
    ax.legend()
    figs["picard_rate"] = fig
    caps["picard_rate"] = (
        "Bullo 2022, slide 'Banach contraction theorem': the measured per-step factor of the "
        "Picard residual on f(z) = ρQz + b (Q orthogonal) lies on the diagonal ρ = Lip(f)."
    )
    ev = acc["evals"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(list(ev), [v.mean() for v in ev.values()], yerr=[v.std() for v in ev.values()])
    ax.set(xlabel="solver", ylabel="f evaluations to tol 1e-10", title=f"tanh DEQ, n={acc['n']}")
    figs["evaluations"] = fig
    caps["evaluations"] = (
        "Hieu 2022 (thesis) §2.1.2 (no figure there): mean number of f evaluations (± one "
        f"standard deviation over {acc['batch']} inputs) to reach tol 1e-10 on a tanh DEQ; "
        "Anderson and Broyden need fewer than naive (Picard) iteration."
    )
    a = fb["alphas"] * fb["L"] ** 2 / fb["m"]
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.plot(a, fb["bound"], "k-", label="√(1 − 2αm + α²L²)")
    ax.plot(a, fb["linear"], "s", label="‖I − α(I − W)‖₂")
    ax.plot(a, fb["sampled"], "o", label="max sampled ratio")
    ax.set(xlabel="α · L²/m", ylabel="Lipschitz factor of T_α", title="FB splitting (Prop. 3)")
    ax.legend(fontsize=8)
    figs["fb_lipschitz"] = fig
    caps["fb_lipschitz"] = (
        "Hieu 2022 (thesis) §3.2.2, Prop. 3 (no figure there): the Lipschitz factor of the "
        "forward–backward map of a monotone DEQ over α ∈ (0, 2m/L²): sampled pair ratios ≤ the "
        "exact norm of its linear part ≤ the bound √(1 − 2αm + α²L²) < 1."
    )
    steps = mem["steps"]
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for k, v in mem["temp_bytes"].items():
        ax.plot(steps, np.asarray(v) / 2**20, "o-", label=k)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="max_steps of the forward solve",
        ylabel="gradient temp memory (MiB)",
        title="Memory of the gradient",
    )
    ax.set_xticks(steps)
    ax.set_xticklabels([str(s) for s in steps])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=8)
    figs["memory"] = fig
    caps["memory"] = (
        "Hieu 2022 (thesis) §2.1.3 (no figure there): XLA temporary memory of the compiled "
        "gradient through a fixed-point solve against its step budget: constant with implicit "
        "differentiation, growing with backpropagation through the unrolled solver."
    )
    return figs, caps
