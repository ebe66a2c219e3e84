"""Seed 002 (Ribeiro et al.): long-term memory vs smoothness of the cost of recurrent networks.

Chaotic LSTM (Fig. 1, 7): orbit diagram, cost along θ(s) = sθ_true and largest Lyapunov exponent
over s; Theorem 1 (‖∇V_N‖ and a sampled Lipschitz estimate against N); the entropy bound
(eq. 8–9); and the widely-separated-symbols task (Fig. 3–5): LSTM training from several
starts, orbit diagrams under constant inputs and the cost between θ_init and θ_final.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import contractax as cx
from experiments._report import Claim, Result
from experiments._rnn_entropy import CAPTION, entropy_claims, entropy_figure, entropy_regimes
from experiments._rnn_symbols import symbols
from experiments._rnn_theory import (
    CAPTION as THEOREM1_CAPTION,
    contraction_claims,
    lemma2_claims,
    theorem1_claims,
    theorem1_figure,
    theorem1_rotation,
)
from experiments._rnn_wikitext import wikitext_rows

TITLE = "RNN long-term memory vs smoothness: chaotic LSTM, Theorem 1, entropy, separated symbols"
SRC = "002"


# ----------------------------------------------------------------------------- chaotic LSTM


def _chaotic(quick, metrics, claims, figs):
    step, theta, x0 = cx.models.chaotic_lstm()
    n_s = 5000
    s = jnp.sort(jnp.append(jnp.linspace(0.5, 2.0, n_s - 1), 1.0))  # as the released code
    i1 = int(jnp.argmin(jnp.abs(s - 1.0)))
    t0 = time.perf_counter()
    pts = jax.jit(
        lambda s: cx.rnn.orbit_diagram(step, lambda a: a * theta, s, x0[None], 200, 100).points
    )(s)[:, 0]  # (S, 100, 4)
    metrics["orbit_diagram_seconds"] = time.perf_counter() - t0
    h = pts[..., :2]
    cost = np.asarray(jnp.mean((h - h[i1]) ** 2, axis=(1, 2)))  # MSE against the s = 1 output
    sub = 5 if quick else 1
    lyap_steps = 2000 if quick else 10_000
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
    metrics |= {"lambda1_s1_code_weights": lam1, "lambda1_s1_printed_weights": lam_p}
    claims.append(
        Claim(
            f"{SRC} §3.1, Fig. 1(a); erratum 1",
            "The data-generating LSTM (s = 1) is chaotic",
            "λ₁ > 0 (≈ +0.17 per step with the code's weights)",
            f"λ₁ = {lam1:+.4f} per step (printed weights: {lam_p:+.4f})",
            0.1 < lam1 < 0.25,
            "QR method with jvp, 20 000 steps after 1 000 burn-in, x0 = 0.5·1; pass if 0.1 < λ₁ < 0.25",
            items=("002-1", "002-2"),
        )
    )

    s_np = np.asarray(s)
    is_min = np.asarray(cx.rnn.local_minima(jnp.asarray(cost)))
    region = (s_np >= 0.9) & (s_np <= 1.45)
    dens_in = is_min[region].sum() / (1.45 - 0.9)
    dens_out = is_min[~region].sum() / (1.5 - 0.55)
    claims.append(
        Claim(
            f"{SRC} §3.1, Fig. 1(b)",
            "The cost is intricate (many local minima) for 0.9 ≲ s ≲ 1.45",
            "local-minimum density in [0.9, 1.45] ≥ 10× the density elsewhere on [0.5, 2]",
            f"{is_min[region].sum()} minima in [0.9, 1.45] ({dens_in:.0f} per unit s) vs "
            f"{is_min[~region].sum()} elsewhere ({dens_out:.0f} per unit s)",
            dens_in >= 10 * dens_out,
            f"{n_s} values of s, 200 steps, first 100 discarded; strict interior minima of the curve",
            items=("002-2", "002-3"),
        )
    )
    lam_i = np.interp(s_np, np.asarray(s_l), lam)
    neg = lam_i < 0
    f_neg, f_pos = is_min[neg].mean(), is_min[~neg].mean()
    spread = np.ptp(np.asarray(pts[..., 0]), axis=1)
    fixed = spread < 1e-6
    claims.append(
        Claim(
            f"{SRC} §3.1–3.2",
            "The cost is smooth where the dynamics are not chaotic (λ₁ < 0)",
            "fraction of grid points that are local minima where λ₁ < 0 ≤ 1/5 of that where λ₁ ≥ 0",
            f"{f_neg:.3f} ({is_min[neg].sum()}/{neg.sum()}) vs {f_pos:.3f} "
            f"({is_min[~neg].sum()}/{(~neg).sum()}); on the {fixed.sum()} s with a fixed-point "
            f"attractor: {is_min[fixed].sum()} minima",
            f_neg <= 0.2 * f_pos,
            f"λ₁(s) on every {sub}th s ({lyap_steps} steps), interpolated to the cost grid",
            items=("002-4",),
        )
    )
    metrics |= {
        "minima_in_region": int(is_min[region].sum()),
        "minima_outside": int(is_min[~region].sum()),
        "fraction_s_lambda_positive_in_region": float((lam_i[region] > 0).mean()),
        "fraction_s_lambda_positive_outside": float((lam_i[~region] > 0).mean()),
    }

    fig, ax = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    ax[0].scatter(np.repeat(s_np, 100), np.asarray(pts[..., 0]).ravel(), s=0.02, c="k")
    ax[0].set_ylabel("$h_1$ (last 100 of 200)")
    ax[1].semilogy(s_np, cost + 1e-12, lw=0.6)
    ax[1].set_ylabel("MSE cost $V(s\\theta_{true})$")
    ax[2].plot(np.asarray(s_l), lam, lw=0.8)
    ax[2].axhline(0, c="k", lw=0.5)
    ax[2].set_ylabel("$\\lambda_1$ per step")
    ax[2].set_xlabel("s")
    for a in ax:
        a.axvspan(0.9, 1.45, color="orange", alpha=0.12)
    fig.suptitle("Chaotic LSTM: orbit diagram, cost, largest Lyapunov exponent (seed Fig. 1)")
    figs["chaotic_lstm"] = fig

    # Fig. 7: θ(s1, s2) = s1 θ_true + s2 θ_random on [0, 2] × [-0.5, 0.5].
    n1 = 80 if quick else 150
    # as the released code: the grids also contain s1 = 1 and s2 = 0 exactly
    g1 = jnp.sort(jnp.append(jnp.linspace(0.0, 2.0, n1), 1.0))
    g2 = jnp.sort(jnp.append(jnp.linspace(-0.5, 0.5, n1), 0.0))
    th_rand = jax.random.uniform(jax.random.key(7), theta.shape, theta.dtype)
    target = h[i1]

    def mse(th, target):
        xs = cx.rnn.unroll(step, x0, th, 200)[100:, :2]
        return jnp.mean((xs - target) ** 2)

    grid = np.asarray(
        cx.rnn.loss_slice(mse, target, jnp.zeros_like(theta), [theta, th_rand], [g1, g2])
    )
    c = grid[1:-1, 1:-1]
    nb = [
        grid[1 + i : grid.shape[0] - 1 + i, 1 + j : grid.shape[1] - 1 + j]
        for i in (-1, 0, 1)
        for j in (-1, 0, 1)
        if (i, j) != (0, 0)
    ]
    m2 = np.all([c < b for b in nb], axis=0)
    s1c, s2c = np.meshgrid(np.asarray(g1)[1:-1], np.asarray(g2)[1:-1], indexing="ij")
    near = (np.abs(s1c - 1) <= 0.3) & (np.abs(s2c) <= 0.15)
    far = s1c <= 0.6
    d_near, d_far = m2[near].mean(), m2[far].mean()
    claims.append(
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
    )
    fig, ax = plt.subplots(figsize=(7, 5))
    cs = ax.contourf(np.asarray(g1), np.asarray(g2), np.log10(grid.T + 1e-12), 60)
    ax.plot([1], [0], "r*")
    fig.colorbar(cs, label="log10 MSE")
    ax.set_xlabel("$s_1$ (×θ_true)")
    ax.set_ylabel("$s_2$ (×θ_random)")
    ax.set_title("Chaotic LSTM cost on a plane (seed Fig. 7)")
    figs["loss_2d"] = fig
    return step, theta, x0


# ----------------------------------------------------------------------- Theorem 1, entropy


def _theorem1(step, theta, x0, quick, metrics, claims, figs):
    n_max = 120 if quick else 300
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    out = {}
    for s in (0.5, 1.0):
        th0 = s * theta
        y = cx.rnn.unroll(step, x0, th0, n_max)[:, :2]

        def losses(th, y):
            return jnp.sum((cx.rnn.unroll(step, x0, th, n_max)[:, :2] - y) ** 2, axis=1)

        r = cx.rnn.lipschitz_vs_length(
            losses, th0, y, jax.random.key(3), radius=1e-3, num_samples=8 if quick else 32
        )
        xs = cx.rnn.unroll(step, x0, th0, 1000)
        log_lf = float(cx.rnn.entropy_bound(step, xs, th0).log_lipschitz)
        n = np.asarray(r.lengths)
        lo = 30
        rate = float(cx.rnn.growth_rate(n[lo:], r.grad_norm[lo:]))
        out[s] = (r, rate, log_lf)
        ax[0].semilogy(n, np.asarray(r.grad_norm), label=f"s = {s}")
        ax[1].semilogy(n, np.asarray(r.lipschitz), label=f"s = {s}")
    for a, t in zip(ax, ("max ‖∇V_N‖ over the ball", "sampled Lipschitz quotient of V_N")):
        a.set_xlabel("sequence length N")
        a.set_title(t)
        a.legend()
    figs["lipschitz_vs_length"] = fig
    r5, rate5, _ = out[0.5]
    g5 = np.asarray(r5.grad_norm)
    claims.append(
        Claim(
            f"{SRC} Thm 1 (L_f < 1 case)",
            "For a contractive LSTM (s = 0.5) the cost's Lipschitz constant stays bounded in N",
            "max ‖∇V_N‖ for N > N_max/2 ≤ max for N ≤ N_max/2",
            f"{g5[n_max // 2 :].max():.3e} ≤ {g5[: n_max // 2].max():.3e}; fitted rate {rate5:+.4f}",
            g5[n_max // 2 :].max() <= g5[: n_max // 2].max(),
            f"gradients by jacfwd at 8 points uniform in a ball of radius 1e-3, N = 1..{n_max}",
            items=("002-6",),
        )
    )
    r1, rate1, log_lf1 = out[1.0]
    lam1 = metrics["lambda1_s1_code_weights"]
    claims.append(
        Claim(
            f"{SRC} Thm 1 (L_f > 1 case)",
            "For the chaotic LSTM (s = 1) ‖∇V_N‖ grows exponentially, no faster than L_f^{2N}",
            "0 < fitted rate ≤ 2 log L_f (and ≈ λ₁)",
            f"rate {rate1:.3f} per step; λ₁ = {lam1:.3f}; 2 log L_f = {2 * log_lf1:.3f} "
            f"(L_f ≥ max‖J_t‖₂ on the orbit)",
            0 < rate1 <= 2 * log_lf1,
            f"least-squares slope of log max‖∇V_N‖ over N = {lo + 1}..{n_max}",
            items=("002-8",),
        )
    )
    metrics |= {"thm1_rate_s05": rate5, "thm1_rate_s1": rate1, "log_Lf_s1": log_lf1}


def run(quick: bool = True) -> Result:
    """Run the seed-002 reproduction; quick mode shrinks the symbol task (see `Result.method`)."""
    metrics, claims, figs = {}, [], {}
    t0 = time.perf_counter()
    step, theta, x0 = _chaotic(quick, metrics, claims, figs)
    _theorem1(step, theta, x0, quick, metrics, claims, figs)
    metrics["seconds_chaotic_and_theorem"] = time.perf_counter() - t0
    rot = theorem1_rotation(quick)
    claims += theorem1_claims(rot) + contraction_claims(quick) + lemma2_claims()
    figs["theorem1_rotation"] = theorem1_figure(rot)
    ent = entropy_regimes(quick)
    claims += entropy_claims(ent)
    figs["entropy_regimes"] = entropy_figure(ent)
    claims += wikitext_rows(quick)
    cfg = symbols(quick, metrics, claims, figs)
    metrics["seconds_total"] = time.perf_counter() - t0
    method = (
        "Chaotic LSTM with the released code's weights (erratum 1 of seeds/README.md): 5000 "
        "values of s in [0.5, 2] (plus s = 1), 200 steps from h0 = c0 = 0.5·1, first 100 "
        "discarded, as one vmapped lax.scan; the cost is the MSE of (h1, h2) against the s = 1 "
        "output (seed Fig. 1). λ₁(s) by the QR method with jvp "
        f"({'every 5th s, 2 000' if quick else 'every s, 10 000'} steps after 500). "
        f"The plane of Fig. 7 on a {'80×80' if quick else '150×150'} grid. Theorem 1: V_N(θ) = "
        "(1/N) Σ‖h_t(θ) − h_t(θ0)‖² for θ in a ball of radius 1e-3 around θ0 = sθ_true; "
        "gradients by forward mode. Entropy: see the rows of §4. Separated symbols: "
        f"LSTM hidden {cfg['hidden']} + linear, Adam, clip 0.25, batch 100, "
        f"{cfg['seeds']} starts. "
        + (
            "Quick mode shrinks this task to length 40, windows [3,7] and [15,19], 500+500 "
            "sequences, lr 1e-2 divided by 10 at epoch 30, 50 epochs, so that real training fits in a "
            "minute on a CPU; the seed uses length 150, windows [10,19], [40,49], 1000+1000 "
            "sequences, lr 1e-3 divided by 10 at epochs 500/1000/2000 (the full mode)."
            if quick
            else "Full mode uses the seed's sizes (length 150, 1000+1000 sequences, "
            "lr 1e-3 with decay at 500/1000/2000 epochs, 2500 epochs)."
        )
    )
    return Result(
        claims=claims,
        figures=figs,
        metrics=metrics,
        method=method,
        captions={"entropy_regimes": CAPTION, "theorem1_rotation": THEOREM1_CAPTION},
    )
