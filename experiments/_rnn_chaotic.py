"""Seed 002 §3 and App. A.1 (Ribeiro et al. 2020): the chaotic LSTM (used by `rnn_memory`).

The data-generating LSTM of Fig. 1 along θ(s) = sθ_true: its orbit diagram, the cost against the
s = 1 output and the largest Lyapunov exponent over s (Fig. 1); the cost on the plane
θ(s1, s2) = s1θ_true + s2θ_random (Fig. 7); and Theorem 1 on it, ‖∇V_N‖ and a sampled Lipschitz
quotient of V_N against N for s = 0.5 (contractive) and s = 1 (chaotic). Each part is a compute
function returning plain data, a judge function returning `Claim`s and a draw function returning
a figure and its caption.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import contractax as cx
from experiments._cache import cached
from experiments._report import Claim

SRC = "002"
N_S = 5000  # values of s on [0.5, 2] (plus s = 1), as the released code
REGION = (0.9, 1.45)  # where the seed sees an intricate cost (Fig. 1(b))


# --------------------------------------------------------------------------- Fig. 1: along s


def sweep(quick: bool) -> dict:
    """Orbit diagram, cost and λ₁ along θ(s) = sθ_true (cached; NumPy arrays)."""
    sub, lyap_steps = (5, 2000) if quick else (1, 10_000)
    return cached(
        f"rnn_memory/chaotic_sweep_{N_S}_{sub}_{lyap_steps}", lambda: _sweep(sub, lyap_steps)
    )


def _sweep(sub: int, lyap_steps: int) -> dict:
    step, theta, x0 = cx.models.chaotic_lstm()
    s = jnp.sort(jnp.append(jnp.linspace(0.5, 2.0, N_S - 1), 1.0))  # as the released code
    i1 = int(jnp.argmin(jnp.abs(s - 1.0)))
    t0 = time.perf_counter()
    pts = jax.jit(
        lambda s: cx.rnn.orbit_diagram(step, lambda a: a * theta, s, x0[None], 200, 100).points
    )(s)[:, 0]  # (S, 100, 4)
    seconds = time.perf_counter() - t0
    h = pts[..., :2]
    cost = np.asarray(jnp.mean((h - h[i1]) ** 2, axis=(1, 2)))  # MSE against the s = 1 output
    s_l = s[::sub]
    lam = np.asarray(
        jax.jit(
            jax.vmap(
                lambda a: cx.rnn.lyapunov_spectrum(step, x0, a * theta, lyap_steps, 500, k=1)[0]
            )
        )(s_l)
    )
    lam1 = float(cx.rnn.lyapunov_spectrum(step, x0, theta, 20_000, burn_in=1000, k=1)[0])
    step_p, theta_p, _ = cx.models.chaotic_lstm(printed=True)
    lam_p = float(cx.rnn.lyapunov_spectrum(step_p, x0, theta_p, 20_000, burn_in=1000, k=1)[0])
    return dict(
        s=np.asarray(s),
        h1=np.asarray(pts[..., 0]),  # (S, 100): the first output, last 100 of 200 steps
        target=np.asarray(h[i1]),  # (100, 2): the s = 1 output the costs compare with
        cost=cost,
        is_min=np.asarray(cx.rnn.local_minima(jnp.asarray(cost))),
        s_lyap=np.asarray(s_l),
        lam=lam,
        lam1=lam1,
        lam1_printed=lam_p,
        sub=sub,
        lyap_steps=lyap_steps,
        orbit_diagram_seconds=seconds,
    )


def sweep_claims(d: dict) -> list[Claim]:
    """Fig. 1: s = 1 is chaotic, the cost is intricate in the region, smooth where λ₁ < 0."""
    s, is_min, lam1, lam_p = d["s"], d["is_min"], d["lam1"], d["lam1_printed"]
    region = (s >= REGION[0]) & (s <= REGION[1])
    dens_in = is_min[region].sum() / (REGION[1] - REGION[0])
    dens_out = is_min[~region].sum() / (1.5 - 0.55)
    lam_i = np.interp(s, d["s_lyap"], d["lam"])
    neg = lam_i < 0
    f_neg, f_pos = is_min[neg].mean(), is_min[~neg].mean()
    fixed = np.ptp(d["h1"], axis=1) < 1e-6
    return [
        Claim(
            f"{SRC} §3.1, Fig. 1(a); erratum 1",
            "The data-generating LSTM (s = 1) is chaotic",
            "λ₁ > 0 (≈ +0.17 per step with the code's weights)",
            f"λ₁ = {lam1:+.4f} per step (printed weights: {lam_p:+.4f})",
            0.1 < lam1 < 0.25,
            "QR method with jvp, 20 000 steps after 1 000 burn-in, x0 = 0.5·1; pass if 0.1 < λ₁ < 0.25",
            items=("002-1", "002-2"),
        ),
        Claim(
            f"{SRC} §3.1, Fig. 1(b)",
            "The cost is intricate (many local minima) for 0.9 ≲ s ≲ 1.45",
            "local-minimum density in [0.9, 1.45] ≥ 10× the density elsewhere on [0.5, 2]",
            f"{is_min[region].sum()} minima in [0.9, 1.45] ({dens_in:.0f} per unit s) vs "
            f"{is_min[~region].sum()} elsewhere ({dens_out:.0f} per unit s)",
            dens_in >= 10 * dens_out,
            f"{N_S} values of s, 200 steps, first 100 discarded; strict interior minima of the curve",
            items=("002-2", "002-3"),
        ),
        Claim(
            f"{SRC} §3.1–3.2",
            "The cost is smooth where the dynamics are not chaotic (λ₁ < 0)",
            "fraction of grid points that are local minima where λ₁ < 0 ≤ 1/5 of that where λ₁ ≥ 0",
            f"{f_neg:.3f} ({is_min[neg].sum()}/{neg.sum()}) vs {f_pos:.3f} "
            f"({is_min[~neg].sum()}/{(~neg).sum()}); on the {fixed.sum()} s with a fixed-point "
            f"attractor: {is_min[fixed].sum()} minima",
            f_neg <= 0.2 * f_pos,
            f"λ₁(s) on every {d['sub']}th s ({d['lyap_steps']} steps), interpolated to the cost grid",
            items=("002-4",),
        ),
    ]


def sweep_metrics(d: dict) -> dict:
    s, is_min = d["s"], d["is_min"]
    region = (s >= REGION[0]) & (s <= REGION[1])
    lam_i = np.interp(s, d["s_lyap"], d["lam"])
    return {
        "orbit_diagram_seconds": d["orbit_diagram_seconds"],
        "lambda1_s1_code_weights": d["lam1"],
        "lambda1_s1_printed_weights": d["lam1_printed"],
        "minima_in_region": int(is_min[region].sum()),
        "minima_outside": int(is_min[~region].sum()),
        "fraction_s_lambda_positive_in_region": float((lam_i[region] > 0).mean()),
        "fraction_s_lambda_positive_outside": float((lam_i[~region] > 0).mean()),
    }


def sweep_figure(d: dict):
    """Fig. 1(a), 1(b) and λ₁(s) stacked over a shared s axis."""
    import matplotlib.pyplot as plt

    s = d["s"]
    fig, ax = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    ax[0].scatter(np.repeat(s, d["h1"].shape[1]), d["h1"].ravel(), s=0.02, c="k")
    ax[0].set_ylabel("first output h₁\n(last 100 of 200 steps)")
    ax[1].semilogy(s, d["cost"] + 1e-12, lw=0.6)
    ax[1].set_ylabel("MSE cost V(s·θ_true)")
    ax[2].plot(d["s_lyap"], d["lam"], lw=0.8)
    ax[2].axhline(0, c="k", lw=0.5)
    ax[2].set_ylabel("largest Lyapunov\nexponent λ₁ (per step)")
    ax[2].set_xlabel("s  (θ = s·θ_true)")
    for a in ax:
        a.axvspan(*REGION, color="orange", alpha=0.12)
    fig.suptitle("Chaotic LSTM: orbit diagram, cost, largest Lyapunov exponent (seed Fig. 1)")
    caption = (
        "Ribeiro et al. 2020, Fig. 1 (a) and (b), with λ₁ added: along θ(s) = s·θ_true, the last "
        "100 of 200 values of the LSTM's first output (orbit diagram, top), the mean-square cost "
        "against the s = 1 output (middle) and the largest Lyapunov exponent (bottom); the shaded "
        "band is the region 0.9 ≤ s ≤ 1.45 where the seed sees an intricate cost."
    )
    return fig, caption


# -------------------------------------------------------------------------- Fig. 7: a plane


def plane(quick: bool, target: np.ndarray) -> dict:
    """Cost on θ(s1, s2) = s1θ_true + s2θ_random over [0, 2] × [-0.5, 0.5] (cached)."""
    n1 = 80 if quick else 150
    return cached(f"rnn_memory/chaotic_plane_{n1}", lambda: _plane(n1, target))


def _plane(n1: int, target) -> dict:
    step, theta, x0 = cx.models.chaotic_lstm()
    # as the released code: the grids also contain s1 = 1 and s2 = 0 exactly
    g1 = jnp.sort(jnp.append(jnp.linspace(0.0, 2.0, n1), 1.0))
    g2 = jnp.sort(jnp.append(jnp.linspace(-0.5, 0.5, n1), 0.0))
    th_rand = jax.random.uniform(jax.random.key(7), theta.shape, theta.dtype)

    def mse(th, target):
        xs = cx.rnn.unroll(step, x0, th, 200)[100:, :2]
        return jnp.mean((xs - target) ** 2)

    grid = cx.rnn.loss_slice(
        mse, jnp.asarray(target), jnp.zeros_like(theta), [theta, th_rand], [g1, g2]
    )
    return dict(n1=n1, s1=np.asarray(g1), s2=np.asarray(g2), cost=np.asarray(grid))


def plane_claims(p: dict) -> list[Claim]:
    """Fig. 7: many neighbouring grid minima around θ_true, few far from it."""
    grid = p["cost"]
    c = grid[1:-1, 1:-1]
    nb = [
        grid[1 + i : grid.shape[0] - 1 + i, 1 + j : grid.shape[1] - 1 + j]
        for i in (-1, 0, 1)
        for j in (-1, 0, 1)
        if (i, j) != (0, 0)
    ]
    m2 = np.all([c < b for b in nb], axis=0)
    s1c, s2c = np.meshgrid(p["s1"][1:-1], p["s2"][1:-1], indexing="ij")
    near = (np.abs(s1c - 1) <= 0.3) & (np.abs(s2c) <= 0.15)
    far = s1c <= 0.6
    d_near, d_far = m2[near].mean(), m2[far].mean()
    n1 = p["n1"]
    return [
        Claim(
            f"{SRC} App. A.1, Fig. 7",
            "On θ(s1,s2) = s1θ_true + s2θ_random the cost has many "
            "neighbouring local minima in a region around θ_true",
            "≥ 5 grid local minima within |s1−1| ≤ 0.3, |s2| ≤ 0.15, at ≥ 5× the density for s1 ≤ 0.6",
            f"{m2[near].sum()} minima near θ_true (density {d_near:.3f}) vs {m2[far].sum()} "
            f"for s1 ≤ 0.6 (density {d_far:.3f})",
            m2[near].sum() >= 5 and d_near >= 5 * d_far,
            f"{n1}×{n1} grid (+ s1 = 1, s2 = 0), 8-neighbour strict minima, "
            "θ_random ~ U[0,1)^16 (key 7)",
            items=("002-5",),
        )
    ]


def plane_figure(p: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    cs = ax.contourf(p["s1"], p["s2"], np.log10(p["cost"].T + 1e-12), 60)
    ax.plot([1], [0], "r*")
    fig.colorbar(cs, label="log₁₀ MSE cost")
    ax.set_xlabel("s₁  (coefficient of θ_true)")
    ax.set_ylabel("s₂  (coefficient of θ_random)")
    ax.set_title("Chaotic LSTM cost on a plane (seed Fig. 7)")
    caption = (
        "Ribeiro et al. 2020, Fig. 7: log₁₀ of the mean-square cost of the chaotic LSTM on the "
        "plane θ(s₁, s₂) = s₁θ_true + s₂θ_random (θ_random uniform on [0, 1)); the red star is "
        "θ_true, around which the cost has many neighbouring local minima."
    )
    return fig, caption


# ------------------------------------------------------------------- Theorem 1 on the LSTM


def theorem1_lstm(quick: bool) -> dict:
    """max ‖∇V_N‖ and a sampled Lipschitz quotient of V_N for N = 1..N_max at s ∈ {0.5, 1}."""
    n_max, samples = (120, 8) if quick else (300, 32)
    return cached(
        f"rnn_memory/theorem1_lstm_{n_max}_{samples}", lambda: _theorem1_lstm(n_max, samples)
    )


def _theorem1_lstm(n_max: int, samples: int) -> dict:
    step, theta, x0 = cx.models.chaotic_lstm()
    out = {"n_max": n_max, "samples": samples, "lo": 30, "by_s": {}}  # by_s: float keys
    for s in (0.5, 1.0):
        th0 = s * theta
        y = cx.rnn.unroll(step, x0, th0, n_max)[:, :2]

        def losses(th, y):
            return jnp.sum((cx.rnn.unroll(step, x0, th, n_max)[:, :2] - y) ** 2, axis=1)

        r = cx.rnn.lipschitz_vs_length(
            losses, th0, y, jax.random.key(3), radius=1e-3, num_samples=samples
        )
        xs = cx.rnn.unroll(step, x0, th0, 1000)
        n = np.asarray(r.lengths)
        out["by_s"][s] = dict(
            lengths=n,
            grad_norm=np.asarray(r.grad_norm),
            lipschitz=np.asarray(r.lipschitz),
            rate=float(cx.rnn.growth_rate(n[out["lo"] :], r.grad_norm[out["lo"] :])),
            log_lf=float(cx.rnn.entropy_bound(step, xs, th0).log_lipschitz),
        )
    return out


def theorem1_lstm_claims(d: dict, lam1: float) -> list[Claim]:
    """Theorem 1's L_f < 1 and L_f > 1 cases on the LSTM (λ₁: the s = 1 exponent of `sweep`)."""
    n_max, lo = d["n_max"], d["lo"]
    g5, rate5 = d["by_s"][0.5]["grad_norm"], d["by_s"][0.5]["rate"]
    rate1, log_lf1 = d["by_s"][1.0]["rate"], d["by_s"][1.0]["log_lf"]
    return [
        Claim(
            f"{SRC} Thm 1 (L_f < 1 case)",
            "For a contractive LSTM (s = 0.5) the cost's Lipschitz constant stays bounded in N",
            "max ‖∇V_N‖ for N > N_max/2 ≤ max for N ≤ N_max/2",
            f"{g5[n_max // 2 :].max():.3e} ≤ {g5[: n_max // 2].max():.3e}; fitted rate {rate5:+.4f}",
            g5[n_max // 2 :].max() <= g5[: n_max // 2].max(),
            f"gradients by jacfwd at {d['samples']} points uniform in a ball of radius 1e-3, "
            f"N = 1..{n_max}",
            items=("002-6",),
        ),
        Claim(
            f"{SRC} Thm 1 (L_f > 1 case)",
            "For the chaotic LSTM (s = 1) ‖∇V_N‖ grows exponentially, no faster than L_f^{2N}",
            "0 < fitted rate ≤ 2 log L_f (and ≈ λ₁)",
            f"rate {rate1:.3f} per step; λ₁ = {lam1:.3f}; 2 log L_f = {2 * log_lf1:.3f} "
            f"(L_f ≥ max‖J_t‖₂ on the orbit)",
            0 < rate1 <= 2 * log_lf1,
            f"least-squares slope of log max‖∇V_N‖ over N = {lo + 1}..{n_max}",
            items=("002-8",),
        ),
    ]


def theorem1_lstm_figure(d: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for s, r in d["by_s"].items():
        ax[0].semilogy(r["lengths"], r["grad_norm"], label=f"s = {s}")
        ax[1].semilogy(r["lengths"], r["lipschitz"], label=f"s = {s}")
    for a, t, yl in zip(
        ax,
        ("max ‖∇V_N‖ over the ball", "sampled Lipschitz quotient of V_N"),
        (
            "max ‖∇V_N(θ)‖\n(‖θ − s·θ_true‖ ≤ 1e-3)",
            "max |V_N(θ) − V_N(θ′)| / ‖θ − θ′‖\n(same ball)",
        ),
    ):
        a.set_xlabel("sequence length N")
        a.set_ylabel(yl)
        a.set_title(t)
        a.legend()
    fig.tight_layout()
    caption = (
        "Ribeiro et al. 2020, Theorem 1 (L_f < 1 and L_f > 1 cases; the paper has no figure for "
        "it): the largest gradient norm (left) and the sampled Lipschitz quotient (right) of the "
        "cost V_N in a ball of radius 1e-3 around s·θ_true, against the sequence length N, for the "
        "contractive (s = 0.5) and the chaotic (s = 1) LSTM."
    )
    return fig, caption
