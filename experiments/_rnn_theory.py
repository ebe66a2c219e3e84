"""Seed 002 §3.2 and App. B–C (Ribeiro et al. 2020): the cases of Theorem 1 the chaotic LSTM does
not reach, Definition 2's consequence, the forward sensitivities and Lemma 2.

Theorem 1's L_f = 1 case (L_V = O(N), L'_V = O(N³)) and part 2 (β-smoothness L'_V) are measured
on the scaled rotation x_{t+1} = a R(θ) x_t, whose cost V_N(θ) = (1/N) Σ_t ‖x_t(θ) − x_t(θ₀)‖²
and its θ-derivatives are computed by forward-mode differentiation through `cx.rnn.unroll` for
every N ≤ N_max at once; a < 1 contracts (L_f = a in x), a = 1 is an isometry (a periodic
oscillator), a > 1 expands.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import contractax as cx
from experiments._cache import cached
from experiments._report import Claim

SRC = "002"
THETA0 = 0.3
SCALES = (0.9, 1.0, 1.05)


def _rotation_step(x, args):
    a, th = args
    c, s = jnp.cos(th), jnp.sin(th)
    return a * jnp.stack([c * x[0] - s * x[1], s * x[0] + c * x[1]])


def _costs(th, a, n_max):
    """V_N(θ) for N = 1..n_max (one unroll, cumulative means)."""
    x0 = jnp.array([1.0, 0.0])
    err = jnp.sum(
        (
            cx.rnn.unroll(_rotation_step, x0, (a, th), n_max)
            - cx.rnn.unroll(_rotation_step, x0, (a, jnp.asarray(THETA0)), n_max)
        )
        ** 2,
        axis=1,
    )
    return jnp.cumsum(err) / jnp.arange(1, n_max + 1)


def theorem1_rotation(quick: bool) -> dict:
    """max over Ω_θ = [θ₀ − ½, θ₀ + ½] of |V_N'| and |V_N''| for every N, per scale a."""
    n_max, grid = (512, 801) if quick else (2048, 4001)
    ths = THETA0 + jnp.linspace(-0.5, 0.5, grid)
    d1 = jax.jacfwd(_costs)
    d2 = jax.jacfwd(d1)

    @jax.jit
    def lipschitz(a):
        g1 = jax.vmap(lambda t: d1(t, a, n_max))(ths)
        g2 = jax.vmap(lambda t: d2(t, a, n_max))(ths)
        return jnp.max(jnp.abs(g1), axis=0), jnp.max(jnp.abs(g2), axis=0)

    def compute():
        out = {"n_max": n_max, "grid": grid, "by_a": {}}  # by_a: float keys
        for a in SCALES:
            lv, lv2 = lipschitz(jnp.asarray(a))
            out["by_a"][a] = {"L_V": np.asarray(lv), "L2_V": np.asarray(lv2)}
        return out

    return cached(f"rnn_memory/theorem1_rotation_{n_max}_{grid}", compute)


def _slope(y, lo, hi):
    """Least-squares slope of log y against log N on N ∈ [lo, hi]."""
    n = np.arange(1, len(y) + 1)[lo - 1 : hi]
    return float(np.polyfit(np.log(n), np.log(y[lo - 1 : hi]), 1)[0])


def _rate(y, lo, hi):
    """Least-squares slope of log y against N on N ∈ [lo, hi] (an exponential rate)."""
    n = np.arange(1, len(y) + 1)[lo - 1 : hi]
    return float(np.polyfit(n, np.log(y[lo - 1 : hi]), 1)[0])


def theorem1_claims(d: dict) -> list[Claim]:
    n = d["n_max"]
    lo, hi = n // 4, n
    one, small, big = d["by_a"][1.0], d["by_a"][0.9], d["by_a"][1.05]
    s1, s2 = _slope(one["L_V"], lo, hi), _slope(one["L2_V"], lo, hi)
    flat1 = small["L_V"][-1] / small["L_V"][n // 2 - 1]
    flat2 = small["L2_V"][-1] / small["L2_V"][n // 2 - 1]
    r2 = _rate(big["L2_V"], lo, hi)
    method = (
        f"x_{{t+1}} = a R(θ) x_t, x₀ = (1, 0), θ₀ = {THETA0}; L_V(N) and L'_V(N) are the maxima "
        f"of |V_N'| and |V_N''| over {d['grid']} points of Ω_θ = [θ₀ − ½, θ₀ + ½], by forward-mode "
        f"differentiation through cx.rnn.unroll for N = 1..{n}; log–log slopes fitted on "
        f"N ∈ [{lo}, {hi}]. L_f = a is the Lipschitz constant in x; the theorem's L_f is joint in "
        "(x, θ), larger than a, so comparing with a is the stricter reading."
    )
    return [
        Claim(
            f"{SRC} Thm 1.1 (L_f = 1 case)",
            "For L_f = 1 the cost's Lipschitz constant grows at most linearly: L_V = O(N)",
            "log–log slope of L_V(N) ≤ 1.1 for the isometric rotation (a = 1)",
            f"slope {s1:.3f}",
            s1 <= 1.1,
            method,
            items=("002-7",),
        ),
        Claim(
            f"{SRC} Thm 1.2 (β-smoothness)",
            "L'_V = O(1) for L_f < 1, O(N³) for L_f = 1, O(L_f^{3N}) for L_f > 1",
            "a = 0.9: L'_V(N_max)/L'_V(N_max/2) ≤ 1.05; a = 1: log–log slope ≤ 3.1; a = 1.05: "
            "exponential rate of L'_V ≤ 3 log a",
            f"a = 0.9: ratio {flat2:.4f} (L_V: {flat1:.4f}); a = 1: slope {s2:.3f}; a = 1.05: "
            f"rate {r2:.4f} ≤ 3 log a = {3 * np.log(1.05):.4f}",
            flat2 <= 1.05 and s2 <= 3.1 and r2 <= 3 * np.log(1.05),
            method + " For a = 1.05, the exponential rate (slope of log L'_V against N).",
            items=("002-9",),
        ),
    ]


def contraction_claims(quick: bool) -> list[Claim]:
    """Definition 2: a contractive map has one fixed point that every trajectory reaches; and the
    forward sensitivities of App. B agree with reverse-mode Jacobians of the unrolled map."""
    key = jax.random.PRNGKey(7)
    k1, k2, k3 = jax.random.split(key, 3)
    w = jax.random.normal(k1, (6, 6))
    w = 0.8 * w / jnp.linalg.norm(w, 2)
    b = jax.random.normal(k2, (6,))
    step = lambda x, th: jnp.tanh(th[0] * w @ x + b)  # noqa: E731  (‖J‖₂ ≤ 0.8 θ₀)
    starts = 3 * jax.random.normal(k3, (64, 6))
    ends = jax.vmap(lambda x: cx.rnn.unroll(step, x, jnp.array([1.0]), 200)[-1])(starts)
    sol = cx.fixed_point(step, jnp.zeros(6), jnp.array([1.0]), solver=cx.Picard(), tol=1e-12)
    spread = float(jnp.max(jnp.linalg.norm(ends - sol.value, axis=1)))
    ok = bool(sol.result == cx.RESULTS.successful)

    chaotic, theta, x0 = cx.models.chaotic_lstm()
    n = 60 if quick else 200
    sens = cx.rnn.forward_sensitivities(chaotic, x0, theta, n)
    ref = jax.jacrev(lambda th: cx.rnn.unroll(chaotic, x0, th, n))(theta)
    rel = float(jnp.max(jnp.abs(sens.D - ref)) / jnp.max(jnp.abs(ref)))
    return [
        Claim(
            f"{SRC} §3.2, Def. 2",
            "A contractive system has a unique fixed point and every trajectory converges to it",
            "64 random starts (σ = 3) all within 1e-9 of the fixed point after 200 steps",
            f"max distance {spread:.1e} (fixed point by cx.fixed_point, converged: {ok})",
            spread <= 1e-9 and ok,
            "x_{t+1} = tanh(Wx + b) with ‖W‖₂ = 0.8 (so L_f ≤ 0.8), n = 6.",
            items=("002-10",),
        ),
        Claim(
            f"{SRC} App. B, eq. (12)–(13)",
            "Forward sensitivities D_{t+1} = A_t D_t + B_t give ∂x_t/∂θ",
            "max relative difference to reverse-mode jacrev of the unrolled map ≤ 1e-8",
            f"{rel:.1e} over t = 1..{n} (chaotic LSTM, s = 1: D_t grows like e^{{0.17 t}})",
            rel <= 1e-8,
            "cx.rnn.forward_sensitivities vs jax.jacrev of cx.rnn.unroll, float64.",
            items=("002-25",),
        ),
    ]


def lemma2_claims() -> list[Claim]:
    """Lemma 2's two properties for the squared error and the sigmoid cross-entropy, sampled."""
    key = jax.random.PRNGKey(11)
    k1, k2, k3 = jax.random.split(key, 3)
    yh, zh = 3 * jax.random.normal(k1, (2, 2000, 3))
    y01 = jax.random.bernoulli(k2, 0.5, (2000, 3)).astype(yh.dtype)
    yr = jax.random.normal(k3, (2000, 3))
    sq = lambda p, y: jnp.sum((y - p) ** 2)  # noqa: E731
    bce = lambda p, y: (
        -jnp.sum(  # noqa: E731
            y * jax.nn.log_sigmoid(p) + (1 - y) * jax.nn.log_sigmoid(-p)
        )
    )
    norm = lambda v: jnp.linalg.norm(v, axis=-1)  # noqa: E731
    gap = norm(yh - zh)
    d_sq = jnp.abs(jax.vmap(sq)(yh, yr) - jax.vmap(sq)(zh, yr))
    p1_sq = bool(jnp.all(d_sq <= (2 * norm(yr) + 2 * jnp.maximum(norm(yh), norm(zh))) * gap))
    d_bce = jnp.abs(jax.vmap(bce)(yh, y01) - jax.vmap(bce)(zh, y01))
    p1_bce = bool(jnp.all(d_bce <= jnp.sqrt(3.0) * gap))  # Σ|Δ| ≤ √q‖Δ‖₂, from eq. (14)
    g_sq = jax.vmap(jax.grad(sq))(yh, yr)
    g_bce = jax.vmap(jax.grad(bce))(yh, y01)
    p2 = float(jnp.max(jnp.abs(g_sq - (2 * yh - 2 * yr)))) + float(
        jnp.max(jnp.abs(g_bce - (jax.nn.sigmoid(yh) - y01)))
    )
    return [
        Claim(
            f"{SRC} App. C, Lemma 2",
            "Both losses satisfy |l(ŷ) − l(ẑ)| < (K₁‖y‖ + K₂ max‖·‖)‖ŷ − ẑ‖ and "
            "l′(ŷ, y) = Ψ(ŷ) − K₃y with Ψ Lipschitz",
            "property 1 on 2000 random pairs (squared error K₁ = K₂ = 2; cross-entropy √q); "
            "property 2 with Ψ = 2ŷ, K₃ = 2 and Ψ = σ(ŷ), K₃ = 1 to 1e-12",
            f"property 1: squared error {p1_sq}, cross-entropy {p1_bce}; property 2: max error "
            f"{p2:.1e}",
            p1_sq and p1_bce and p2 <= 1e-12,
            "ŷ, ẑ ~ N(0, 9 I₃); y ~ N(0, I₃) for the squared error and y ∈ {0, 1}³ for the "
            "cross-entropy; derivatives by jax.grad.",
            items=("002-26",),
        )
    ]


def theorem1_figure(d: dict):
    """L_V(N) and L'_V(N) on the scaled rotation, with the orders of Theorem 1; and the caption."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    n = np.arange(1, d["n_max"] + 1)
    for a, c in zip(SCALES, ("C0", "C2", "C1")):
        ax[0].loglog(n, d["by_a"][a]["L_V"], c=c, label=f"a = {a}")
        ax[1].loglog(n, d["by_a"][a]["L2_V"], c=c, label=f"a = {a}")
    ax[0].loglog(n, 2 * n, "k:", label="∝ N")
    ax[1].loglog(n, n**2, "k:", label="∝ N²")
    ax[1].loglog(n, 0.1 * n**3, "k--", label="∝ N³ (the bound's order)")
    ax[0].set_ylim(1e-2, 1e4)
    ax[1].set_ylim(1e-2, 1e7)
    for a_, t, yl in zip(ax, ("L_V(N)", "L'_V(N)"), ("max |V_N'| on Ω_θ", "max |V_N''| on Ω_θ")):
        a_.set_xlabel("sequence length N")
        a_.set_ylabel(yl)
        a_.set_title(f"{t} for x(t+1) = a·R(θ)·x(t)")
        a_.legend(fontsize=7)
    fig.tight_layout()
    return fig, CAPTION


CAPTION = (
    "Ribeiro et al. 2020, Theorem 1 (both parts) on the scaled rotation: the Lipschitz constant "
    "of the cost (left) and of its gradient (right) against N for a contracting (a = 0.9), "
    "isometric (a = 1) and expanding (a = 1.05) map."
)
