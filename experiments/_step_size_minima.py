"""Seed 003 §2–3: which minima a step size can reach — Theorem 1 over rescaled solutions
against the Lyapunov radius (and Corollary 1's bound), Corollary 2 over random
initialisations, and Remark 3 (identity against random initialisation at the same δ).

Compute functions return plain data, judge functions `Claim`s naming the CLAIMS.md items, draw
functions figures (see `experiments.step_size`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import contractax as cx
from contractax.models import DeepLinear, deep_linear_loss
from experiments._report import Claim
from experiments._step_size_identity import record_product, spd

SRC = "003"


def _claim(section, statement, expected, measured, passed, method, items=()):
    return Claim(f"{SRC} {section}", statement, expected, measured, passed, method, items=items)


# ----------------------------------------------------------------------------- compute


def theorem1(quick):
    """Theorem 1 over the rescaled solutions {α_i Ŵ_i}, ∏α_i = 1, against the Lyapunov radius."""
    L = 3
    R, _ = spd([2.0, 1.0, 0.5], jax.random.PRNGKey(5))
    ev, vec = jnp.linalg.eigh(R)
    root = vec @ jnp.diag(ev ** (1 / L)) @ vec.T
    dc = cx.gd.deep_linear_global_bound(R, L)
    a = jnp.geomspace(0.5, 2.0, 41 if quick else 121)
    deltas = dc * jnp.linspace(0.2, 1.3, 23 if quick else 56)

    def point(a, delta):
        net = DeepLinear(weights=[a * root, root, root / a])
        b1 = cx.gd.deep_linear_step_bound(net.weights)
        rad = cx.gd.lyapunov_radius(deep_linear_loss, net, delta, R, num_iters=None)
        return b1, rad

    b1, rad = cx.sweep.grid(point, {"a": a, "delta": deltas})
    b1 = b1[:, 0]
    return {
        "a": np.asarray(a),
        "deltas": np.asarray(deltas),
        "delta_c": float(dc),
        "bound": np.asarray(b1),
        "unstable": np.asarray(rad > 1 + 1e-8),
        "above": np.asarray(deltas[None, :] > b1[:, None]),
        "near": np.asarray(jnp.abs(deltas[None, :] / b1[:, None] - 1) < 1e-6),
        "balanced": float(b1[jnp.argmin(jnp.abs(a - 1))]),
    }


def _deep_runs(R, L, ratios, steps, seeds):
    """GD at δ = ratio·δ_c from normal initialisations (one per seed) and from the identity:
    orbit code, ρ(R̂) and ‖R̂ − R‖_F/‖R‖_F per (init, ratio)."""
    n = R.shape[0]
    dc = cx.gd.deep_linear_global_bound(R, L)

    def one(net, ratio):
        tr = cx.gd.run(
            deep_linear_loss,
            net,
            ratio * dc,
            steps,
            args=R,
            burn_in=steps - 64,
            record=record_product,
            record_loss=False,
        )
        prod = tr.final.product()
        rel = jnp.linalg.norm(prod - R) / jnp.linalg.norm(R)
        return cx.gd.classify(tr).code, jnp.linalg.norm(prod, ord=2), rel

    def random(seed, ratio):
        return one(DeepLinear([n] * (L + 1), init="normal", key=jax.random.PRNGKey(seed)), ratio)

    code, rho, rel = cx.sweep.grid(random, {"seed": seeds, "ratio": ratios})
    icode, _, irel = cx.sweep.grid(
        lambda ratio: one(DeepLinear([n] * (L + 1)), ratio), {"ratio": ratios}
    )
    return dc, *(np.asarray(v) for v in (code, rho, rel, icode, irel))


def corollary2(quick):
    """Corollary 2 (converged ⇒ ρ(R̂) ≤ (2/(Lδ))^{L/(2L−2)}) and Remark 3 (from the identity
    GD reaches R at every δ < δ_c; random initialisations less often)."""
    L = 3
    R, _ = spd([3.0, 1.0, 0.5], jax.random.PRNGKey(6))
    ratios = jnp.linspace(0.2, 2.0, 19)
    steps = 3000 if quick else 20000
    seeds = jnp.arange(32 if quick else 128)
    dc, code, rho, rel, icode, irel = _deep_runs(R, L, ratios, steps, seeds)
    return {
        "ratios": np.asarray(ratios),
        "steps": steps,
        "delta_c": float(dc),
        "code": code,
        "rho": rho,
        "reached_R": (code == 0) & (rel < 1e-6),
        "identity_reached_R": (icode == 0) & (irel < 1e-6),
        "bound": np.asarray(cx.gd.converged_spectral_bound(ratios * dc, L)),
    }


# ----------------------------------------------------------------------------- judge


def judge_theorem1(t):
    agree = int(np.sum((t["unstable"] == t["above"]) | t["near"]))
    size = t["unstable"].size
    mx = float(np.max(t["bound"]) / t["delta_c"])
    bal = t["balanced"] / t["delta_c"]
    return [
        _claim(
            "§2, Theorem 1",
            "On rescaled solutions {α_iŴ_i} (∏α_i = 1) the Lyapunov radius ρ(I − δ∇²f) exceeds "
            "1 exactly when δ exceeds 2/Σ p²_{j−1}q²_{j+1}: a fixed δ reaches only part of the "
            "minima",
            "agreement at every (α, δ) grid point",
            f"{agree}/{size} agree ({int(t['near'].sum())} within 1e-6 of the bound)",
            agree == size,
            f"R SPD (eigenvalues 2, 1, 0.5), L = 3, α = (a, 1, 1/a), {t['a'].size} a ∈ [0.5, 2] "
            f"× {t['deltas'].size} δ ∈ [0.2, 1.3]·δ_c; radius from Lanczos on Hessian-vector "
            "products (exact size 27); unstable = radius > 1 + 1e-8",
            ("003-5", "003-6"),
        ),
        _claim(
            "§2, Corollary 1",
            "The Theorem 1 bound never exceeds δ_c and equals it at the balanced solution",
            "max_a bound(a) = δ_c at a = 1",
            f"max bound/δ_c = {mx:.10f}; at a = 1: {bal:.10f}",
            mx <= 1 + 1e-9 and abs(bal - 1) < 1e-9,
            "same family",
            ("003-6", "003-8"),
        ),
    ]


def judge_corollary2(c):
    conv = c["code"] == 0
    ok = c["rho"] <= c["bound"][None, :] * (1 + 1e-8)
    r = c["ratios"]
    n_conv, n_ok = int(conv.sum()), int((ok & conv).sum())
    frac_random = c["reached_R"].mean(0)  # per δ
    ident = c["identity_reached_R"]
    below = r < 1
    remark3 = (
        bool(ident[below].all())
        and bool(np.all(frac_random <= ident))
        and bool(np.any(frac_random[below] < 1))
    )
    return [
        _claim(
            "§2, Corollary 2",
            "Whenever GD converges with step δ, ρ(R̂) ≤ (2/(Lδ))^{L/(2L−2)}",
            "every converged run satisfies the bound",
            f"{n_ok}/{n_conv} converged runs satisfy it ({conv.size} runs; "
            f"{int(conv[:, r > 1].sum())} converged with δ > δ_c, necessarily not to R)",
            n_conv > 0 and n_ok == n_conv,
            f"R SPD (ρ = 3), L = 3, {conv.shape[0]} normal initialisations × {r.size} δ ∈ "
            f"[0.2, 2]·δ_c, {c['steps']} steps",
            ("003-10",),
        ),
        _claim(
            "§3, Remark 3",
            "From the identity GD reaches the global optimum R at every δ < δ_c; a random "
            "initialisation is less likely to at the same δ",
            "identity reaches R at every δ/δ_c < 1; the random fraction ≤ the identity's at "
            "every δ and < 1 somewhere below δ_c",
            "identity reaches R at "
            f"{int(ident[below].sum())}/{int(below.sum())} δ < δ_c; random fraction per δ/δ_c: "
            + ", ".join(f"{x:.2f}: {f:.2f}" for x, f in zip(r, frac_random)),
            remark3,
            "the Corollary 2 runs; 'reaches R' = converged with ‖R̂ − R‖_F/‖R‖_F < 1e-6",
            ("003-14",),
        ),
    ]


# ----------------------------------------------------------------------------- draw


def draw_theorem1(t):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    A, D = np.meshgrid(t["a"], t["deltas"] / t["delta_c"], indexing="ij")
    u = t["unstable"]
    ax.scatter(A[u], D[u], s=4, c="tab:red", label="radius > 1 (unstable)")
    ax.scatter(A[~u], D[~u], s=4, c="tab:green", label="radius = 1 (stable)")
    ax.plot(t["a"], t["bound"] / t["delta_c"], "k-", label="Theorem 1 bound")
    ax.set(
        xscale="log",
        xlabel="rescaling a  (α = (a, 1, 1/a))",
        ylabel="δ / δ_c",
        title="Theorem 1 over the minimum manifold",
    )
    ax.legend(fontsize=7, loc="lower center")
    return fig


def draw_remark3(c):
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.plot(c["ratios"], c["identity_reached_R"].astype(float), "ko-", label="identity init")
    ax.plot(c["ratios"], c["reached_R"].mean(0), "s--", label="normal init (fraction)")
    ax.axvline(1.0, color="r", lw=0.7)
    ax.set(
        xlabel="δ / δ_c",
        ylabel="fraction of runs reaching R",
        title="Remark 3: identity vs random initialisation",
        ylim=(-0.05, 1.05),
    )
    ax.legend(fontsize=7)
    return fig
