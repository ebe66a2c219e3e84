"""Seed 003 §1 and App. A: gradient descent on scalar maps (Examples 1–2) and Lemma 2.

Compute functions return plain data, judge functions `Claim`s naming the CLAIMS.md items, draw
functions figures (see `experiments.step_size`)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import contractax as cx
from experiments._report import Claim

SRC = "003"


def _claim(section, statement, expected, measured, passed, method, items=()):
    return Claim(f"{SRC} {section}", statement, expected, measured, passed, method, items=items)


# ----------------------------------------------------------------------------- compute


def example1():
    """f = ⅔|x|^{3/2}: 4 step sizes × 200 random starts, and the start x₀ = δ² ∈ S."""
    deltas = jnp.array([0.05, 0.1, 0.2, 0.5])
    x0s = jax.random.uniform(jax.random.PRNGKey(1), (200,), minval=-3.0, maxval=3.0)
    f = lambda x: (2.0 / 3.0) * jnp.abs(x) ** 1.5

    def one(delta, x0):
        tr = cx.gd.run(f, x0, delta, 3000, burn_in=2936)
        return cx.gd.classify(tr), jnp.abs(tr.final), tr.values

    orbit, amp, vals = cx.sweep.grid(one, {"delta": deltas, "x0": x0s})
    rel = jnp.abs(amp / (deltas[:, None] ** 2 / 4) - 1)
    first = jax.vmap(lambda d: cx.gd.run(f, d**2, d, 1).final)(deltas)
    later = jax.vmap(lambda d: cx.gd.run(f, d**2, d, 200).final)(deltas)
    return {
        "deltas": np.asarray(deltas),
        "runs": int(rel.size),
        "period2_runs": int(jnp.sum((orbit.code == 1) & (orbit.period == 2))),
        "max_rel_err": float(jnp.max(rel)),
        "x1_from_delta_sq": np.asarray(first),
        "x200_from_delta_sq": np.asarray(later),
        "tail": np.asarray(vals[:, 0, -8:]),  # first start, last 8 iterates, per δ
    }


def example2():
    """f = x^L, L ∈ {4, 6}: convergence on a (δ, x₀) grid against x₀^{L−2} = 2/(Lδ)."""
    out = {"deltas": np.geomspace(1e-3, 1e-1, 25), "x0s": np.linspace(0.05, 3.0, 60)}
    deltas, x0s = jnp.asarray(out["deltas"]), jnp.asarray(out["x0s"])
    for L in (4, 6):
        f = (lambda L: lambda x: x**L)(L)

        def one(delta, x0, f=f):
            tr = cx.gd.run(f, x0, delta, 2000, burn_in=1936)
            return cx.gd.classify(tr).code, jnp.abs(tr.final) < x0

        code, shrink = cx.sweep.grid(one, {"delta": deltas, "x0": x0s})
        predicted = x0s[None, :] ** (L - 2) * L * deltas[:, None] / 2 < 1
        measured = (code != 3) & shrink
        out[L] = {
            "measured_conv": np.asarray(measured),
            "agree": int(jnp.sum(predicted == measured)),
            "points": int(predicted.size),
            "n_diverged": int(jnp.sum(code == 3)),
        }
    return out


def lemma2(n_draws=64):
    return {k: float(v) for k, v in _lemma2(n_draws).items()} | {"draws": n_draws}


@functools.partial(jax.jit, static_argnums=0)
def _lemma2(n_draws):
    """App. A Lemma 2: f(X) = Σ A_i X B_i with PSD A_i, B_i; λ_max(f) against the Rayleigh
    bound Σ(uᵀA_iu)(vᵀB_iv)/(‖u‖²‖v‖²) for random u, v and for the top eigenvector's factors."""
    k = jax.random.split(jax.random.PRNGKey(19), 4)
    m, n, L = 3, 4, 3
    pa = jax.random.normal(k[0], (L, m, m))
    pb = jax.random.normal(k[1], (L, n, n))
    A = pa @ jnp.swapaxes(pa, 1, 2)
    B = pb @ jnp.swapaxes(pb, 1, 2)
    # vec(A X B) = (Bᵀ ⊗ A) vec(X) (column-major vec)
    F = sum(jnp.kron(B[i].T, A[i]) for i in range(L))
    lam = jnp.linalg.eigvalsh(0.5 * (F + F.T))
    u = jax.random.normal(k[2], (n_draws, m))
    v = jax.random.normal(k[3], (n_draws, n))
    q = jnp.einsum("si,lij,sj->sl", u, A, u) * jnp.einsum("si,lij,sj->sl", v, B, v)
    bound = q.sum(1) / (jnp.sum(u**2, 1) * jnp.sum(v**2, 1))
    return {
        "lam_max": lam[-1],
        "max_bound": jnp.max(bound),
        "symmetric_err": jnp.max(jnp.abs(F - F.T)),
        "lam_min": lam[0],
    }


# ----------------------------------------------------------------------------- judge


def judge_example1(e):
    first = e["x1_from_delta_sq"]
    d = e["deltas"]
    ratio200 = np.round(np.abs(e["x200_from_delta_sq"]) / d**2 * 4, 3)
    return [
        _claim(
            "§1, Example 1",
            "GD on f = ⅔|x|^{3/2} from random starts ends in the 2-cycle ±δ²/4",
            "every random start: period 2, |x_k| → δ²/4",
            f"{e['period2_runs']}/{e['runs']} runs period 2; max | |x_T|/(δ²/4) − 1 | = "
            f"{e['max_rel_err']:.1e}",
            e["period2_runs"] == e["runs"] and e["max_rel_err"] < 1e-8,
            "4 step sizes × 200 starts ~ U(−3, 3), 3000 steps, orbit classified on the last 64",
            ("003-2",),
        ),
        _claim(
            "§1, Example 1",
            "from x₀ = δ² (in the countable set S) GD reaches the minimum",
            "x₁ = 0 (to rounding)",
            f"max |x₁|/δ² = {float(np.max(np.abs(first) / d**2)):.1e}; after 200 steps "
            f"|x|/(δ²/4) = {ratio200}",
            bool(np.all(np.abs(first) <= 1e-12 * d**2)),
            "x₀ = δ² for the same 4 step sizes. In floating point the rounding residue of x₁ is "
            "repelled by the unstable origin (the map's slope is infinite there) back to the "
            "2-cycle, which is why S has measure zero in practice too",
            ("003-3",),
        ),
    ]


def judge_example2(e):
    agree = sum(e[L]["agree"] for L in (4, 6))
    total = sum(e[L]["points"] for L in (4, 6))
    return [
        _claim(
            "§1, Example 2",
            "f = x^L: GD converges iff x₀^{L−2} < 2/(Lδ), diverges above",
            "100% agreement with the threshold",
            f"{agree}/{total} grid points agree",
            agree == total,
            "L ∈ {4, 6}, 25 δ (log 1e-3..1e-1) × 60 x₀ ∈ [0.05, 3], 2000 steps; "
            "'converges' = not diverged and |x_T| < x₀",
            ("003-4",),
        )
    ]


def judge_lemma2(e):
    return [
        _claim(
            "App. A, Lemma 2",
            "f(X) = Σ A_iXB_i with PSD A_i, B_i is symmetric PSD and λ_max(f) ≥ "
            "Σ(uᵀA_iu)(vᵀB_iv)/(‖u‖²‖v‖²) for every u, v ≠ 0",
            "λ_min(f) ≥ 0, f = fᵀ and λ_max(f) ≥ the bound for every draw",
            f"λ_max = {e['lam_max']:.4f} ≥ max over {e['draws']} draws {e['max_bound']:.4f}; "
            f"λ_min = {e['lam_min']:.2e}; ‖F − Fᵀ‖_max = {e['symmetric_err']:.1e}",
            e["lam_max"] >= e["max_bound"] * (1 - 1e-12)
            and e["lam_min"] >= -1e-10
            and e["symmetric_err"] < 1e-10,
            "m = 3, n = 4, three random PSD pairs A_i = P_iP_iᵀ, B_i = Q_iQ_iᵀ; f as the 12×12 "
            "matrix Σ B_iᵀ ⊗ A_i; u, v ~ N(0, I). The lemma is the step from the Hessian of the "
            "deep linear loss to Theorem 1's bound (checked on the minima by the Theorem 1 row)",
            ("003-19",),
        )
    ]


# ----------------------------------------------------------------------------- draw


def draw_example1(e):
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for i, d in enumerate(e["deltas"]):
        ax.plot(e["tail"][i] / (d**2 / 4), "o-", label=f"δ = {d}", alpha=0.7)
    ax.axhline(1.0, color="gray", lw=0.5)
    ax.axhline(-1.0, color="gray", lw=0.5)
    ax.set(
        xlabel="iteration (last 8 of 3000)",
        ylabel="x_k / (δ²/4)",
        title="Example 1: the 2-cycle ±δ²/4",
    )
    ax.legend(fontsize=7)
    return fig


def draw_example2(e):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, L in zip(axes, (4, 6)):
        ax.pcolormesh(e["x0s"], e["deltas"], e[L]["measured_conv"], shading="auto", cmap="RdYlGn")
        xx = np.linspace(0.05, 3.0, 200)
        ax.plot(xx, 2 / (L * xx ** (L - 2)), "k--", label=f"x₀^{L - 2} = 2/({L}δ)")
        ax.set(
            yscale="log",
            ylim=(1e-3, 1e-1),
            xlabel="x₀",
            ylabel="step size δ",
            title=f"Example 2, f = x^{L} (green: converges)",
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
