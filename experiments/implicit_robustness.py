"""Well-posed implicit networks on real handwritten digits: the weighted μ∞ parametrisation, the
averaged iteration, the ℓ∞ Lipschitz bound, Lipschitz-regularised (robust) training and its
accuracy–robustness trade-off, a monotone DEQ of the same size, and the interconnection theorem
(seed 001; seed 004 §2.3, §3.2)."""

from __future__ import annotations

import math
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import contractax as cx
from experiments._report import Claim, Result

TITLE = (
    "Implicit networks: μ∞ parametrisation, Lipschitz bound, robust training (seed 001, 004 §2.3)"
)

EPS_PGD = 0.1  # ℓ∞ radius (pixels scaled to [0, 1]) used for the trade-off claim
EPS_CERT = 0.02  # radius of the certified-accuracy side of the trade-off claim


def _to64(model):
    return jax.tree.map(lambda v: v.astype(jnp.float64) if eqx.is_inexact_array(v) else v, model)


def _mu64(T, d, gamma):
    """μ_{∞,η}(A) of the A the parameters define, evaluated in float64 NumPy (row formula)."""
    T, eta = np.asarray(T, np.float64), np.exp(np.asarray(d, np.float64))
    A = gamma * np.eye(len(eta)) + eta[:, None] * T / eta[None, :] - np.diag(np.abs(T).sum(1))
    off = np.abs(A) * eta[None, :] / eta[:, None]
    return float(np.max(np.diag(A) + off.sum(1) - np.diag(off))), A, eta


def _pair_ratio(y, u):
    """max over all pairs i < j of ‖y_i − y_j‖∞ / ‖u_i − u_j‖∞ (blocked to bound memory)."""
    best = 0.0
    for i in range(0, len(u), 128):
        dy = np.abs(y[i : i + 128, None, :] - y[None, :, :]).max(-1)
        du = np.abs(u[i : i + 128, None, :] - u[None, :, :]).max(-1)
        mask = du > 0
        best = max(best, float((dy[mask] / du[mask]).max()))
    return best


def _pair_ratio_l2(y, u):
    best = 0.0
    for i in range(0, len(u), 128):
        dy = np.linalg.norm(y[i : i + 128, None, :] - y[None, :, :], axis=-1)
        du = np.linalg.norm(u[i : i + 128, None, :] - u[None, :, :], axis=-1)
        mask = du > 0
        best = max(best, float((dy[mask] / du[mask]).max()))
    return best


def _averaged_iteration_check(net, u, steps):
    """Run the averaged iteration in float64 NumPy; worst one-step ratio of successive
    differences in ‖·‖_{∞,η} and the steps to reach 1e-8."""
    mu, A, eta = _mu64(net.T, net.d, net.gamma)
    B, b = np.asarray(net.B, np.float64), np.asarray(net.b, np.float64)
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
    # steps until ‖x_{k+1} − x_k‖ ≤ 1e-8 (a-priori: ρ^k ‖x_1 − x_0‖ ≤ 1e-8)
    reached = (diffs <= 1e-8).argmax(0)
    predicted = np.ceil(np.log(1e-8 / diffs[0]) / np.log(rho))
    return rho, float(ratios.max()), reached, predicted, diffs


def _train_inn(data, lam, gamma, epochs, key, mu_log):
    net = cx.models.ImplicitNetwork(64, 100, 10, gamma=gamma, key=key, dtype=jnp.float32, tol=1e-4)

    def loss(m, x, y):
        return cx.train.cross_entropy(m, x, y) + lam * m.lipschitz_bound()

    def on_epoch(m):
        mu_log.append(_mu64(m.T, m.d, gamma)[0])

    on_epoch(net)
    net, hist = cx.train.train(
        net,
        data.x_train.astype(np.float32),
        data.y_train,
        optimizer=optax.adam(3e-3),
        loss_fn=loss,
        epochs=epochs,
        batch_size=64,
        key=jax.random.fold_in(key, 1),
        eval_fn=on_epoch,
        progress=False,
    )
    return net, hist


def _evaluate(net, data, eps, n_pgd, pgd_steps, lipschitz):
    x32 = data.x_test.astype(np.float32)
    rep = cx.train.robustness_report(
        net, x32[:n_pgd], data.y_test[:n_pgd], eps, lipschitz=lipschitz, pgd_steps=pgd_steps
    )
    # certified accuracy on the whole test set, from float64 logits
    logits = np.asarray(cx.train.predict(net, jnp.asarray(data.x_test)))
    rep["certified_full"] = cx.train.certified_accuracy(logits, data.y_test, lipschitz, eps)
    rep["clean_full"] = float(np.mean(logits.argmax(-1) == data.y_test))
    rep["logits64"] = logits
    return rep


def _interconnection(key, k=5, ni=4, couplings=(0.1, 0.3, 0.6, 1.0, 1.5), t1=6.0, dt=0.01):
    """Random network of k firing-rate subsystems of size ni coupled through B_ij: rate
    certificate −α(Γ) vs the full network's rate in the Perron-weighted norm vs simulation."""
    ks = jax.random.split(key, 4)
    As = 0.25 * jax.random.normal(ks[0], (k, ni, ni)) / math.sqrt(ni)
    Bs = jax.random.normal(ks[1], (k, k, ni, ni)) / (math.sqrt(ni) * k)
    rows = []
    for s in couplings:
        Bm = s * Bs * (1 - jnp.eye(k))[:, :, None, None]
        rates = jax.vmap(lambda A: cx.contraction.firing_rate_rate(A, p=jnp.inf))(As)
        gains = jnp.max(jnp.sum(jnp.abs(Bm), -1), -1)  # ‖B_ij‖∞ (tanh is 1-Lipschitz)
        cert = float(cx.contraction.interconnection_rate(rates, gains))
        Afull = Bm.transpose(0, 2, 1, 3).reshape(k * ni, k * ni)
        Afull = Afull + jax.scipy.linalg.block_diag(*As)
        Gamma = gains * (1 - jnp.eye(k)) - jnp.diag(rates)
        # Perron weights of Γ for the ∞-norm: max_i ‖x_i‖∞ / η_i
        eta, _ = cx.norms.optimal_weight(Gamma, jnp.inf)
        eta_full = jnp.repeat(eta, ni)
        full = float(cx.contraction.firing_rate_rate(Afull, p=jnp.inf, weight=eta_full))
        # simulate two trajectories (RK4) and fit their weighted distance decay
        u = jax.random.normal(ks[2], (k * ni,))
        x0 = jax.random.normal(ks[3], (2, k * ni)) * 2.0

        def f(x, Afull=Afull, u=u):
            return -x + jnp.tanh(x @ Afull.T + u)

        def rk4(x, _):
            a = f(x)
            b = f(x + 0.5 * dt * a)
            c = f(x + 0.5 * dt * b)
            d = f(x + dt * c)
            x = x + dt / 6 * (a + 2 * b + 2 * c + d)
            return x, x

        _, xs = jax.lax.scan(rk4, x0, None, length=int(t1 / dt))
        dist = jnp.max(jnp.abs(xs[:, 0] - xs[:, 1]) / eta_full, -1)
        d0 = jnp.max(jnp.abs(x0[0] - x0[1]) / eta_full)
        ts = dt * jnp.arange(1, len(dist) + 1)
        # worst observed exponent: max_t log(d(t)/d(0)) / t  ≤ −rate
        worst = float(jnp.max(jnp.log(dist / d0) / ts))
        rows.append(
            dict(
                s=s,
                cert=cert,
                full=full,
                worst_exp=worst,
                ts=np.asarray(ts),
                dist=np.asarray(dist / d0),
            )
        )
    return rows


QUICK = dict(
    gammas=[0.5],
    lams=[0.0, 0.003, 0.01],
    epochs=10,
    eps=[0.01, 0.02, 0.05, 0.1],
    n_pgd=100,
    pgd_steps=10,
)
FULL = dict(
    gammas=[0.5, 0.9],
    lams=[0.0, 0.001, 0.003, 0.01, 0.03, 0.1],
    epochs=40,
    eps=[0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15],
    n_pgd=449,
    pgd_steps=40,
)


def run(quick: bool = True, **overrides) -> Result:
    """Quick or full grid; keyword `overrides` replace entries of `QUICK`/`FULL` (smoke tests)."""
    cfg = (QUICK if quick else FULL) | overrides
    t_start = time.time()
    data = cx.data.load_digits_split(seed=0)
    key = jax.random.PRNGKey(0)
    gammas, lams, epochs = cfg["gammas"], cfg["lams"], cfg["epochs"]
    gamma = gammas[0]  # the main grid (figures, averaged-iteration check)
    eps, n_pgd, pgd_steps = cfg["eps"], cfg["n_pgd"], cfg["pgd_steps"]

    all_runs = []
    for g, lam in [(g, lam) for g in gammas for lam in lams]:
        mu_log = []
        net, hist = _train_inn(data, lam, g, epochs, key, mu_log)
        net64 = _to64(net)
        lip = float(net64.lipschitz_bound())
        rep = _evaluate(net, data, eps, n_pgd, pgd_steps, lip)
        # Lipschitz bound vs every test pair (float64 outputs, tight solves)
        sols = eqx.filter_jit(jax.vmap(lambda u: net64.equilibrium(u, tol=1e-11, max_steps=3000)))(
            jnp.asarray(data.x_test)
        )
        y64 = np.asarray(sols.value @ net64.C.T + net64.c[None, :])
        ratio = _pair_ratio(y64, data.x_test)
        all_runs.append(
            dict(
                gamma=g,
                lam=lam,
                net=net,
                hist=hist,
                mu_log=mu_log,
                lip=lip,
                rep=rep,
                ratio=ratio,
                steps=np.asarray(sols.stats["num_steps"]),
            )
        )

    runs = [r for r in all_runs if r["gamma"] == gamma]  # the main λ grid

    # averaged iteration on the λ = 0 network (float64 NumPy)
    rho, worst_ratio, reached, predicted, diffs = _averaged_iteration_check(
        runs[0]["net"], data.x_test[:200], 400
    )

    # monotone DEQ of the same size
    mon = cx.models.MonotoneDEQ(
        64,
        100,
        10,
        m=0.5,
        scale=0.3,
        key=jax.random.PRNGKey(3),
        dtype=jnp.float32,
        tol=1e-4,
        max_steps=300,
    )
    mon_margin = []

    def mon_epoch(m):
        S = np.eye(100) - np.asarray(
            cx.models.monotone_parametrisation(
                jnp.asarray(m.A, jnp.float64), jnp.asarray(m.B, jnp.float64), m.m
            )
        )
        mon_margin.append(float(np.linalg.eigvalsh(0.5 * (S + S.T)).min()) - m.m)

    mon_epoch(mon)
    mon, mon_hist = cx.train.train(
        mon,
        data.x_train.astype(np.float32),
        data.y_train,
        optimizer=optax.adam(3e-3),
        epochs=epochs,
        batch_size=64,
        key=jax.random.PRNGKey(4),
        eval_fn=mon_epoch,
        progress=False,
    )
    mon64 = _to64(mon)
    mon_lip_inf = float(mon64.lipschitz_bound(jnp.inf))
    mon_rep = _evaluate(mon, data, eps, n_pgd, pgd_steps, mon_lip_inf)
    y_mon = np.asarray(jax.jit(jax.vmap(mon64))(jnp.asarray(data.x_test)))
    mon_ratio2 = _pair_ratio_l2(y_mon, data.x_test) / float(mon64.lipschitz_bound(2))
    mon_ratio_inf = _pair_ratio(y_mon, data.x_test) / mon_lip_inf

    inter = _interconnection(jax.random.PRNGKey(5))

    # ------------------------------------------------------------------ claims
    claims = []
    clean0 = runs[0]["rep"]["clean_full"]
    claims.append(
        Claim(
            source="001 §Numerical experiments (INN, n = 100)",
            statement="an ℓ∞-contracting implicit network of order n = 100 classifies handwritten digits",
            expected="clean test accuracy ≥ 95% at λ = 0",
            measured=f"{100 * clean0:.1f}% (sklearn digits, 449 test images)",
            passed=clean0 >= 0.95,
            method=f"ImplicitNetwork(64, 100, 10, γ = {gamma}), ReLU, Adam(3e-3), {epochs} epochs, "
            "batch 64, float32 training with fixed-point tol 1e-4; accuracy from float64 logits.",
        )
    )
    mu_excess = max(max(r["mu_log"]) - r["gamma"] for r in all_runs)
    claims.append(
        Claim(
            source="001 §Training INNs (parametrisation of the μ∞ constraint)",
            statement="μ_{∞,η}(A) ≤ γ for every parameter value during training",
            expected=f"max over models and epochs of μ_{{∞,η}}(A) − γ ≤ 1e-12 (γ ∈ {gammas})",
            measured=f"{mu_excess:.2e} over {len(all_runs)} models × {epochs + 1} checkpoints",
            passed=mu_excess <= 1e-12,
            method="A = γI + D T D⁻¹ − diag(|T|𝟙), η = e^d, rebuilt from the trained float32 T, d "
            "and evaluated in float64 by the row formula max_i a_ii + Σ_{j≠i}|a_ij|η_j/η_i.",
        )
    )
    worst = max(r["ratio"] / r["lip"] for r in all_runs)
    claims.append(
        Claim(
            source="001 §Well-posedness and robustness of ℓ∞-contracting INNs",
            statement="Lip_{u→y} ≤ ‖D⁻¹B‖∞‖CD‖∞/(1 − μ_{∞,η}(A)₊) holds on every test pair",
            expected="max over all test pairs of ‖y_i − y_j‖∞/‖u_i − u_j‖∞ divided by the bound ≤ 1",
            measured=", ".join(
                f"γ={r['gamma']}, λ={r['lam']}: {r['ratio']:.3g}/{r['lip']:.3g} = "
                f"{r['ratio'] / r['lip']:.3f}"
                for r in all_runs
            ),
            passed=worst <= 1.0,
            method="all 449·448/2 test pairs, outputs in float64 with fixed-point tol 1e-11.",
        )
    )
    claims.append(
        Claim(
            source="001 §Well-posedness and robustness of ℓ∞-contracting INNs",
            statement="the averaged iteration at α* = 1/(1 − min_i(a_ii)₋) contracts with factor "
            "1 − (1 − μ∞(A)₊)/(1 − min_i(a_ii)₋)",
            expected="observed ratio ‖x_{k+1}−x_k‖_{∞,η}/‖x_k−x_{k−1}‖_{∞,η} ≤ predicted factor",
            measured=f"predicted ρ = {rho:.4f}, worst observed one-step ratio {worst_ratio:.4f}; "
            f"steps to 1e-8: mean {reached.mean():.1f} (a-priori bound mean {predicted.mean():.1f})",
            passed=worst_ratio <= rho + 1e-9 and bool(np.all(reached <= predicted)),
            method="trained λ = 0 network, 200 test inputs, 400 iterations from x₀ = 0 in float64.",
        )
    )
    pgd_i, cert_i = eps.index(EPS_PGD), eps.index(EPS_CERT)

    def trades(group):  # the smallest vs the largest λ
        first, last = group[0]["rep"], group[-1]["rep"]
        return (
            last["clean_full"] <= first["clean_full"]
            and last["pgd"][pgd_i] > first["pgd"][pgd_i]
            and last["certified_full"][cert_i] > first["certified_full"][cert_i]
        )

    trade = all(trades([r for r in all_runs if r["gamma"] == g]) for g in gammas)
    claims.append(
        Claim(
            source="001 §Robustness of INNs (clean performance vs robustness)",
            statement="larger λ trades clean accuracy for robustness",
            expected=f"λ = {lams[-1]} vs λ = 0 (for each γ): lower (or equal) clean accuracy, higher "
            f"PGD accuracy at ε = {EPS_PGD} and higher certified accuracy at ε = {EPS_CERT}",
            measured="; ".join(
                f"γ={r['gamma']}, λ={r['lam']}: clean {100 * r['rep']['clean_full']:.1f}%, PGD "
                f"{100 * r['rep']['pgd'][pgd_i]:.1f}%, certified "
                f"{100 * r['rep']['certified_full'][cert_i]:.1f}%"
                for r in all_runs
            ),
            passed=bool(trade),
            method=f"PGD: ℓ∞, {pgd_steps} sign-gradient steps of 2.5ε/steps, first {n_pgd} test images; "
            "certified: margin/(2·Lip) > ε on all test images.",
        )
    )
    claims.append(
        Claim(
            source="004 §2.3.2 (Proposition 1) and §3.2",
            statement="W = (1 − m)I − AᵀA + B − Bᵀ keeps I − W ⪰ mI during training; the monotone DEQ's "
            "ℓ2 Lipschitz bound ‖C‖₂‖U‖₂/m holds on every test pair",
            expected="min eig sym(I − W) − m ≥ −1e-10 at every epoch; max pair ratio / bound ≤ 1 (ℓ2 and ℓ∞)",
            measured=f"min margin {min(mon_margin):.2e}; ℓ2 ratio/bound {mon_ratio2:.3f}, ℓ∞ ratio/bound "
            f"{mon_ratio_inf:.3f}; clean accuracy {100 * mon_rep['clean_full']:.1f}%",
            passed=min(mon_margin) >= -1e-10 and mon_ratio2 <= 1.0 and mon_ratio_inf <= 1.0,
            method=f"MonotoneDEQ(64, 100, 10, m = 0.5), ReLU, Anderson on the forward–backward map, "
            f"{epochs} epochs Adam(3e-3); eigenvalues in float64.",
        )
    )
    ok = all(
        (r["cert"] <= 0) or (r["full"] >= r["cert"] - 1e-9 and r["worst_exp"] <= -r["cert"] + 1e-6)
        for r in inter
    )
    claims.append(
        Claim(
            source="001 §Networks of contracting systems",
            statement="contracting subsystems with Metzler–Hurwitz gain matrix form a contracting network",
            expected="whenever −α(Γ) > 0: the full network's rate in the Perron-weighted ℓ∞ norm ≥ −α(Γ), "
            "and simulated trajectories approach each other at least that fast",
            measured="; ".join(
                f"s={r['s']}: −α(Γ)={r['cert']:.3f}, full rate {r['full']:.3f}, "
                f"observed exponent {r['worst_exp']:.3f}"
                for r in inter
            ),
            passed=ok and any(r["cert"] > 0 for r in inter),
            method="5 firing-rate subsystems ẋ_i = −x_i + tanh(A_i x_i + Σ_j B_ij x_j + u_i) of size 4, "
            "coupling scale s; c_i = firing_rate_rate(A_i), γ_ij = ‖B_ij‖∞; RK4 with dt = 0.01 "
            "to t = 6, worst exponent max_t log(d(t)/d(0))/t.",
        )
    )

    # ------------------------------------------------------------------ figures
    figs = {}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for i, (key_, lab, mk) in enumerate(
        [("pgd", f"PGD, ε = {EPS_PGD}", "o"), ("certified_full", f"certified, ε = {EPS_CERT}", "s")]
    ):
        idx = pgd_i if key_ == "pgd" else cert_i
        xs = [100 * r["rep"][key_][idx] for r in runs]
        ys = [100 * r["rep"]["clean_full"] for r in runs]
        ax.plot(xs, ys, marker=mk, label=f"ImplicitNetwork, {lab}")
        for r, xv, yv in zip(runs, xs, ys):
            ax.annotate(
                f"λ={r['lam']}", (xv, yv), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
    ax.plot(
        [100 * mon_rep["pgd"][pgd_i]],
        [100 * mon_rep["clean_full"]],
        "k^",
        label=f"MonotoneDEQ, PGD ε = {EPS_PGD}",
    )
    ax.set_xlabel("robust accuracy (%)")
    ax.set_ylabel("clean accuracy (%)")
    ax.set_title("Accuracy–robustness trade-off across λ (digits, n = 100)")
    ax.legend(fontsize=7)
    figs["pareto"] = fig

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for r in runs:
        (ln,) = ax.plot(eps, 100 * r["rep"]["pgd"], "-o", label=f"λ={r['lam']} PGD")
        ax.plot(
            eps,
            100 * r["rep"]["certified_full"],
            "--s",
            color=ln.get_color(),
            label=f"λ={r['lam']} certified",
        )
    ax.plot(eps, 100 * mon_rep["pgd"], "k-^", label="monDEQ PGD")
    ax.set_xlabel("ℓ∞ radius ε")
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=6, ncol=2)
    ax.set_title("PGD (upper) and certified (lower) robust accuracy")
    figs["accuracy_vs_eps"] = fig

    fig, axs = plt.subplots(1, 2, figsize=(9, 3.6))
    axs[0].bar([str(r["lam"]) for r in runs], [r["lip"] for r in runs], label="bound")
    axs[0].bar(
        [str(r["lam"]) for r in runs], [r["ratio"] for r in runs], label="max test-pair ratio"
    )
    axs[0].set_yscale("log")
    axs[0].set_xlabel("λ")
    axs[0].set_title("ℓ∞ Lipschitz bound vs measured")
    axs[0].legend(fontsize=7)
    axs[1].semilogy(diffs[:, :20])
    axs[1].semilogy(diffs[0, :].max() * rho ** np.arange(len(diffs)), "k--", lw=2, label="ρᵏ")
    axs[1].set_ylim(1e-12, 10)
    axs[1].set_xlabel("iteration k")
    axs[1].set_title("averaged iteration ‖x_{k+1} − x_k‖_{∞,η}")
    axs[1].legend()
    fig.tight_layout()
    figs["lipschitz_and_iteration"] = fig

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for r in inter:
        (ln,) = ax.semilogy(r["ts"], r["dist"], label=f"s={r['s']}, −α(Γ)={r['cert']:.2f}")
        if r["cert"] > 0:
            ax.semilogy(r["ts"], np.exp(-r["cert"] * r["ts"]), ":", color=ln.get_color())
    ax.set_xlabel("t")
    ax.set_ylabel("‖x(t) − y(t)‖ / ‖x(0) − y(0)‖ (Perron-weighted ℓ∞)")
    ax.set_title("Interconnected firing-rate subsystems (dotted: e^{α(Γ)t})")
    ax.legend(fontsize=7)
    figs["interconnection"] = fig

    metrics = {
        "runs": [
            dict(
                gamma=r["gamma"],
                lam=r["lam"],
                lipschitz=r["lip"],
                max_pair_ratio=r["ratio"],
                clean=r["rep"]["clean_full"],
                eps=eps,
                pgd=r["rep"]["pgd"],
                certified=r["rep"]["certified_full"],
                mu_log=r["mu_log"],
                mean_steps=float(r["steps"].mean()),
                loss=r["hist"].loss,
            )
            for r in all_runs
        ],
        "mondeq": dict(
            clean=mon_rep["clean_full"],
            pgd=mon_rep["pgd"],
            certified=mon_rep["certified_full"],
            lipschitz_inf=mon_lip_inf,
            monotone_margin=mon_margin,
        ),
        "averaged_iteration": dict(rho=rho, worst_ratio=worst_ratio),
        "interconnection": [{k: v for k, v in r.items() if k not in ("ts", "dist")} for r in inter],
        "seconds": time.time() - t_start,
    }
    method = (
        f"Data: sklearn digits (1797 8×8 images scaled to [0, 1]), fixed split seed 0 (1348 train / "
        f"449 test). ImplicitNetworks with n = 100 hidden units, γ ∈ {gammas}, ReLU, trained with "
        f"cross-entropy + λ·Lipschitz bound for λ ∈ {lams}, {epochs} epochs, and a MonotoneDEQ with "
        f"n = 100, m = 0.5. The seed trains on MNIST (60K + 10K, 28×28); run it there with "
        "`cx.data.load_mnist(path)` and the same code. Training runs in float32 (fixed-point tol "
        "1e-4); every theorem check (μ, eigenvalues, Lipschitz ratios, averaged iteration) is "
        "re-evaluated in float64. Quick mode uses γ = 0.5, 3 values of λ, 10 epochs and PGD on the "
        f"first {QUICK['n_pgd']} test images with {QUICK['pgd_steps']} steps; full mode "
        f"γ ∈ {FULL['gammas']}, λ ∈ {FULL['lams']}, {FULL['epochs']} epochs, PGD with "
        f"{FULL['pgd_steps']} steps on all test images. This run: γ ∈ {gammas}, λ ∈ {lams}, "
        f"{epochs} epochs, PGD {pgd_steps} steps on {n_pgd} images."
    )
    return Result(claims=claims, figures=figs, metrics=metrics, method=method)
