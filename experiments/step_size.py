"""Seed 003 (Nar & Sastry, *Step Size Matters in Deep Learning*): gradient descent as a map.

Examples 1–2 (a 2-cycle at ±δ²/4; the threshold x₀^{L−2} = 2/(Lδ)); deep linear networks from
the identity: bifurcation diagram against δ/δ_c (Corollary 1), the measured stability threshold,
Theorem 2's linear rate and Theorem 3's limit; Theorem 1 over rescaled solutions against the
Lyapunov radius; Corollary 2 over random initialisations; two-layer ReLU (Theorem 4 and the
converging / oscillating step-size pair of Figure 2).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import contractax as cx
from contractax.models import DeepLinear, TwoLayerReLU, deep_linear_loss, two_layer_loss
from experiments._report import Claim, Result

TITLE = "Step size matters: GD orbits, deep-linear stability thresholds, two-layer ReLU"
SRC = "003"


def _spd(eigs, key):
    q, _ = jnp.linalg.qr(jax.random.normal(key, (len(eigs), len(eigs))))
    return q @ jnp.diag(jnp.asarray(eigs, float)) @ q.T, q


# ------------------------------------------------------------------------ Examples 1 and 2


def _example1(quick, metrics, claims, figs):
    deltas = jnp.array([0.05, 0.1, 0.2, 0.5])
    x0s = jax.random.uniform(jax.random.PRNGKey(1), (200,), minval=-3.0, maxval=3.0)
    f = lambda x: (2.0 / 3.0) * jnp.abs(x) ** 1.5

    def one(delta, x0):
        tr = cx.gd.run(f, x0, delta, 3000, burn_in=2936)
        return cx.gd.classify(tr), jnp.abs(tr.final), tr.values

    orbit, amp, vals = cx.sweep.grid(one, {"delta": deltas, "x0": x0s})
    rel = jnp.abs(amp / (deltas[:, None] ** 2 / 4) - 1)
    n2 = int(jnp.sum((orbit.code == 1) & (orbit.period == 2)))
    worst = float(jnp.max(rel))
    # the countable set S: x0 = delta^2 reaches the origin in one step
    first = jax.vmap(lambda d: cx.gd.run(f, d**2, d, 1).final)(deltas)
    later = jax.vmap(lambda d: cx.gd.run(f, d**2, d, 200).final)(deltas)
    metrics["example1"] = {
        "deltas": deltas,
        "period2_runs": n2,
        "max_rel_err": worst,
        "x1_from_delta_sq": first,
        "x200_from_delta_sq": later,
    }
    claims.append(
        Claim(
            f"{SRC} §1, Example 1",
            "GD on f = ⅔|x|^{3/2} from random starts ends in the 2-cycle ±δ²/4",
            "every random start: period 2, |x_k| → δ²/4",
            f"{n2}/{rel.size} runs period 2; max | |x_T|/(δ²/4) − 1 | = {worst:.1e}",
            n2 == rel.size and worst < 1e-8,
            "4 step sizes × 200 starts ~ U(−3, 3), 3000 steps, orbit classified on the last 64",
        )
    )
    claims.append(
        Claim(
            f"{SRC} §1, Example 1",
            "from x₀ = δ² (in the countable set S) GD reaches the minimum",
            "x₁ = 0 (to rounding)",
            f"max |x₁|/δ² = {float(jnp.max(jnp.abs(first) / deltas**2)):.1e}; "
            f"after 200 steps |x|/(δ²/4) = {np.round(np.asarray(jnp.abs(later) / deltas**2 * 4), 3)}",
            bool(jnp.all(jnp.abs(first) <= 1e-12 * deltas**2)),
            "x₀ = δ² for the same 4 step sizes. In floating point the rounding residue of x₁ is "
            "repelled by the unstable origin (the map's slope is infinite there) back to the "
            "2-cycle, which is why S has measure zero in practice too",
        )
    )
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for i, d in enumerate(np.asarray(deltas)):
        ax.plot(np.asarray(vals[i, 0, -8:]) / (d**2 / 4), "o-", label=f"δ = {d}", alpha=0.7)
    ax.axhline(1.0, color="gray", lw=0.5)
    ax.axhline(-1.0, color="gray", lw=0.5)
    ax.set(xlabel="last iterations", ylabel="x_k / (δ²/4)", title="Example 1: the 2-cycle ±δ²/4")
    ax.legend(fontsize=7)
    figs["example1_two_cycle"] = fig


def _example2(quick, metrics, claims, figs):
    out = {}
    agree, total = 0, 0
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, L in zip(axes, (4, 6)):
        deltas = jnp.geomspace(1e-3, 1e-1, 25)
        x0s = jnp.linspace(0.05, 3.0, 60)
        f = lambda x: x**L

        def one(delta, x0):
            tr = cx.gd.run(f, x0, delta, 2000, burn_in=1936)
            return cx.gd.classify(tr).code, jnp.abs(tr.final) < x0

        code, shrink = cx.sweep.grid(one, {"delta": deltas, "x0": x0s})
        ratio = x0s[None, :] ** (L - 2) * L * deltas[:, None] / 2
        predicted_conv = ratio < 1
        measured_conv = (code != 3) & shrink
        agree += int(jnp.sum(predicted_conv == measured_conv))
        total += predicted_conv.size
        out[L] = {"n_diverged": int(jnp.sum(code == 3)), "n_points": int(code.size)}
        ax.pcolormesh(
            np.asarray(x0s),
            np.asarray(deltas),
            np.asarray(measured_conv),
            shading="auto",
            cmap="RdYlGn",
        )
        xx = np.linspace(0.05, 3.0, 200)
        ax.plot(xx, 2 / (L * xx ** (L - 2)), "k--", label="x₀^{L−2} = 2/(Lδ)")
        ax.set(
            yscale="log",
            ylim=(1e-3, 1e-1),
            xlabel="x₀",
            ylabel="δ",
            title=f"Example 2, f = x^{L} (green: converges)",
        )
        ax.legend(fontsize=7)
    figs["example2_threshold"] = fig
    metrics["example2"] = out
    claims.append(
        Claim(
            f"{SRC} §1, Example 2",
            "f = x^L: GD converges iff x₀^{L−2} < 2/(Lδ), diverges above",
            "100% agreement with the threshold",
            f"{agree}/{total} grid points agree",
            agree == total,
            "L ∈ {4, 6}, 25 δ (log 1e-3..1e-1) × 60 x₀ ∈ [0.05, 3], 2000 steps; "
            "'converges' = not diverged and |x_T| < x₀",
        )
    )


# ------------------------------------------------------------------------ deep linear networks


def _record_product(p, args):
    return p.product()


def _identity_sweep(quick, metrics, claims, figs):
    """Bifurcation diagram and measured threshold against δ_c = 2/(L ρ^{2(L−1)/L})."""
    depths = (2, 3, 5) if quick else (2, 3, 4, 6, 8)
    rhos = (2.0, 4.0) if quick else (1.5, 2.0, 4.0, 8.0)
    ratios = jnp.linspace(0.5, 1.6, 441 if quick else 1101)  # step 0.0025 (0.001 full)
    steps = 4000 if quick else 20000
    n = 3
    rows, fig_rows = [], []
    t0 = time.perf_counter()
    for L in depths:
        for rho in rhos:
            R, q = _spd([rho, 1.0, 0.5], jax.random.PRNGKey(7))
            dc = cx.gd.deep_linear_global_bound(R, L)
            u = q[:, 0]

            def one(ratio, R=R, dc=dc, L=L, u=u):
                tr = cx.gd.run(
                    deep_linear_loss,
                    DeepLinear([n] * (L + 1)),
                    ratio * dc,
                    steps,
                    args=R,
                    burn_in=steps - 64,
                    record=_record_product,
                    record_loss=False,
                )
                top = jnp.einsum("i,tij,j->t", u, tr.values, u)
                return cx.gd.classify(tr, max_period=16), top

            orbit, top = cx.sweep.grid(one, {"ratio": ratios})
            code, period = np.asarray(orbit.code), np.asarray(orbit.period)
            conv = code == 0
            r = np.asarray(ratios)
            first_bad = int(np.argmax(~conv)) if (~conv).any() else len(r) - 1
            thr = 0.5 * (r[first_bad - 1] + r[first_bad]) if first_bad > 0 else r[0]
            above = (r > 1.0) & (r <= 1.02)
            p2_above = bool(np.all((code[above] == 1) & (period[above] == 2)))
            p4 = r[(code == 1) & (period == 4)]
            rows.append(
                {
                    "L": L,
                    "rho": rho,
                    "delta_c": float(dc),
                    "threshold_ratio": float(thr),
                    "all_converge_below": bool(conv[r < 1.0].all()),
                    "period2_just_above": p2_above,
                    "first_period4_ratio": float(p4.min()) if p4.size else None,
                    "kinds": {k: int(np.sum(code == i)) for i, k in enumerate(cx.gd.ORBIT_KINDS)},
                }
            )
            fig_rows.append((L, rho, r, np.asarray(top)))
    metrics["identity_sweep"] = rows
    metrics["identity_sweep_seconds"] = time.perf_counter() - t0
    errs = [abs(row["threshold_ratio"] - 1) for row in rows]
    claims.append(
        Claim(
            f"{SRC} §2, Corollary 1; §3",
            "From the identity (SPD R), the measured stability "
            "threshold equals δ_c = 2/(L ρ(R)^{2(L−1)/L})",
            "within 1% for every (L, ρ)",
            f"max |δ*/δ_c − 1| = {max(errs):.4f} over {len(rows)} (L, ρ) "
            f"(L ∈ {list(depths)}, ρ ∈ {list(rhos)})",
            max(errs) <= 0.01,
            f"δ/δ_c on a grid of step {float(ratios[1] - ratios[0]):.4f}, {steps} steps, "
            "threshold = midpoint between the last converged and first non-converged grid point",
        )
    )
    p2 = [row["period2_just_above"] for row in rows]
    claims.append(
        Claim(
            f"{SRC} §1, §2 (Remark 1)",
            "Just above δ_c GD converges to a period-2 orbit, not to a minimum",
            "period 2 for all δ/δ_c ∈ (1, 1.02]",
            f"{sum(p2)}/{len(p2)} (L, ρ) configurations",
            all(p2),
            "orbit classified on the last 64 iterates of the product W_L⋯W_1",
        )
    )
    p4 = [row["first_period4_ratio"] for row in rows]
    claims.append(
        Claim(
            f"{SRC} §1 (orbits); issue",
            "Further above δ_c the orbit period doubles (period 4)",
            "a period-4 orbit at some δ > δ_c for every (L, ρ)",
            "first period-4 δ/δ_c: " + ", ".join("none" if v is None else f"{v:.3f}" for v in p4),
            all(v is not None for v in p4),
            "same sweep",
        )
    )

    ncol = len(rhos)
    fig, axes = plt.subplots(
        len(depths), ncol, figsize=(4 * ncol, 2.4 * len(depths)), squeeze=False
    )
    for ax, (L, rho, r, top) in zip(axes.ravel(), fig_rows):
        ax.plot(np.repeat(r, top.shape[1]), top.ravel(), ",k", alpha=0.6)
        ax.axvline(1.0, color="r", lw=0.7)
        ax.set(
            title=f"L = {L}, ρ = {rho}",
            xlabel="δ / δ_c",
            ylabel="uᵀ R̂ u (last 64)",
            ylim=(0, 2.5 * rho),
        )
    fig.tight_layout()
    figs["deep_linear_bifurcation"] = fig


def _theorems_2_3(quick, metrics, claims, figs):
    L, n = 3, 3
    R, q = _spd([3.0, 1.0, 0.4], jax.random.PRNGKey(3))
    lam = jnp.array([3.0, 1.0, 0.4])
    bound = cx.gd.identity_init_bound(R, L)
    steps = 300
    ok_all = True
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for frac in (1.0, 0.5):
        delta = frac * bound
        tr = cx.gd.run(
            deep_linear_loss,
            DeepLinear([n] * (L + 1)),
            delta,
            steps,
            args=R,
            record=lambda p, a: jnp.stack(p.weights),
            record_loss=False,
        )
        w = jnp.einsum("ia,tlij,jb->tlab", q, tr.values, q)  # (T, L, n, n) in R's eigenbasis
        diag = jnp.diagonal(w, axis1=-2, axis2=-1)
        err = jnp.abs(diag - lam ** (1 / L))  # (T, L, n)
        beta = cx.gd.identity_init_rate(lam, L, delta)
        k = jnp.arange(1, steps + 1)[:, None, None]
        bnd = beta**k * jnp.abs(1 - lam ** (1 / L))
        offdiag = float(jnp.max(jnp.abs(w - jax.vmap(jax.vmap(jnp.diag))(diag))))
        ok = bool(jnp.all(err <= bnd * (1 + 1e-9) + 1e-14)) and offdiag < 1e-10
        ok_all &= ok
        ax.semilogy(np.asarray(jnp.max(err, axis=(1, 2))), label=f"δ = {frac}·bound, error")
        ax.semilogy(np.asarray(jnp.max(bnd, axis=(1, 2))), "--", label=f"δ = {frac}·bound, βᵏ")
    ax.set(
        xlabel="k",
        ylabel="max |w_i[k] − λ^{1/L}|",
        title="Theorem 2: linear rate (L = 3)",
        ylim=(1e-16, 2),
    )
    ax.legend(fontsize=7)
    figs["theorem2_rate"] = fig
    claims.append(
        Claim(
            f"{SRC} §3, Theorem 2 (Lemma 3)",
            "From W_i = I with δ ≤ min{1/L, 1/(Lρ^{2(L−1)/L})}, "
            "each W_i → R^{1/L} linearly: |w_i[k] − λ^{1/L}| ≤ β(δ)^k |1 − λ^{1/L}|",
            "the bound holds at every k, eigenvalue and layer",
            f"{'holds' if ok_all else 'violated'} for δ ∈ {{bound, bound/2}}, bound = "
            f"{float(bound):.4f}",
            ok_all,
            f"R = Q diag(3, 1, 0.4) Qᵀ, L = 3, {steps} steps; errors in R's eigenbasis",
        )
    )

    res, res_diag, offdiag = [], [], []
    Rn, qn = _spd([2.0, 0.5, -1.0], jax.random.PRNGKey(4))
    ev = jnp.array([-1.0, 0.5, 2.0])  # eigh order
    r_plus = qn @ jnp.diag(jnp.maximum(jnp.array([2.0, 0.5, -1.0]), 0)) @ qn.T
    for L3 in (2, 3):
        d = cx.gd.identity_init_bound(Rn, L3)
        fin = cx.gd.run(
            deep_linear_loss,
            DeepLinear([n] * (L3 + 1)),
            d,
            20000,
            args=Rn,
            every=20000,
            record_loss=False,
        ).final
        res.append(float(jnp.linalg.norm(fin.product() - r_plus) / jnp.linalg.norm(r_plus)))
        w = jnp.einsum("ia,lij,jb->lab", qn, jnp.stack(fin.weights), qn)
        offdiag.append(
            float(jnp.max(jnp.abs(w - jax.vmap(jnp.diag)(jnp.diagonal(w, axis1=1, axis2=2)))))
        )
        # the same GD restricted to its invariant manifold W_i = Q diag(w_i) Qᵀ (exact
        # arithmetic stays on it): L scalar layers per eigenvalue
        lam3 = jnp.array([2.0, 0.5, -1.0])
        wd = cx.gd.run(
            lambda w, a: 0.5 * jnp.sum((jnp.prod(w, axis=0) - a) ** 2),
            jnp.ones((L3, n)),
            d,
            20000,
            args=lam3,
            every=20000,
        ).final
        res_diag.append(
            float(
                jnp.linalg.norm(jnp.prod(wd, axis=0) - jnp.maximum(lam3, 0))
                / jnp.linalg.norm(jnp.maximum(lam3, 0))
            )
        )
    del ev
    metrics["theorem3"] = {
        "matrix_gd_rel_err": res,
        "invariant_manifold_rel_err": res_diag,
        "matrix_gd_offdiag_in_eigenbasis": offdiag,
    }
    claims.append(
        Claim(
            f"{SRC} §3, Theorem 3",
            "With λ_min(R) < 0 and identity init, R̂ → the closest PSD "
            "matrix to R in Frobenius norm (GD restricted to its invariant commuting manifold, i.e. "
            "exact arithmetic)",
            "‖R̂ − R₊‖_F / ‖R₊‖_F < 1e-6",
            "L = 2: {:.1e}; L = 3: {:.1e}".format(*res_diag),
            max(res_diag) < 1e-6,
            "R = Q diag(2, 0.5, −1) Qᵀ, δ = the Theorem 3 bound, 20 000 steps of the per-eigenvalue "
            "scalar GD (the exact-arithmetic trajectory of the matrix GD from W_i = I)",
        )
    )
    claims.append(
        Claim(
            f"{SRC} §3, Theorem 3",
            "The same limit for full 3×3 matrix GD in float64",
            "‖R̂ − R₊‖_F / ‖R₊‖_F < 1e-6",
            "L = 2: {:.1e}; L = 3: {:.1e} (off-diagonal part in R's eigenbasis: {:.1e}, {:.1e})".format(
                *res, *offdiag
            ),
            max(res) < 1e-6,
            "same R, δ, steps, full matrices. For L = 3 the commuting manifold is transversally "
            "unstable near the saddle w = 0 of the negative eigen-direction: rounding errors of "
            "1e-16 in the off-diagonal entries grow to O(1) by step ~800 and GD leaves the manifold "
            "(here it fits the negative eigenvalue with non-symmetric layers), so in floating point "
            "the theorem's conclusion does not hold",
        )
    )


def _theorem1(quick, metrics, claims, figs):
    """Theorem 1 over the rescaled solutions {α_i Ŵ_i}, ∏α_i = 1, against the Lyapunov radius."""
    L = 3
    R, _ = _spd([2.0, 1.0, 0.5], jax.random.PRNGKey(5))
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
    unstable = np.asarray(rad > 1 + 1e-8)
    above = np.asarray(deltas[None, :] > b1[:, None])
    near = np.asarray(jnp.abs(deltas[None, :] / b1[:, None] - 1) < 1e-6)
    agree = int(np.sum((unstable == above) | near))
    balanced = float(b1[jnp.argmin(jnp.abs(a - 1))])
    metrics["theorem1"] = {
        "agree": agree,
        "points": int(unstable.size),
        "ambiguous": int(near.sum()),
        "max_bound_over_delta_c": float(jnp.max(b1) / dc),
    }
    claims.append(
        Claim(
            f"{SRC} §2, Theorem 1",
            "On rescaled solutions {α_iŴ_i} (∏α_i = 1) the Lyapunov "
            "radius ρ(I − δ∇²f) exceeds 1 exactly when δ exceeds 2/Σ p²_{j−1}q²_{j+1}",
            "agreement at every (α, δ) grid point",
            f"{agree}/{unstable.size} agree ({int(near.sum())} within 1e-6 of the bound)",
            agree == unstable.size,
            f"R SPD (eigenvalues 2, 1, 0.5), L = 3, α = (a, 1, 1/a), {a.size} a ∈ [0.5, 2] × "
            f"{deltas.size} δ ∈ [0.2, 1.3]·δ_c; radius from Lanczos on Hessian-vector products "
            "(exact size 27); unstable = radius > 1 + 1e-8",
        )
    )
    claims.append(
        Claim(
            f"{SRC} §2, Corollary 1",
            "The Theorem 1 bound never exceeds δ_c and equals it at the balanced solution",
            "max_a bound(a) = δ_c at a = 1",
            f"max bound/δ_c = {float(jnp.max(b1) / dc):.10f}; at a = 1: {balanced / float(dc):.10f}",
            bool(jnp.max(b1) <= dc * (1 + 1e-9)) and abs(balanced / float(dc) - 1) < 1e-9,
            "same family",
        )
    )
    fig, ax = plt.subplots(figsize=(6, 3.5))
    A, D = np.meshgrid(np.asarray(a), np.asarray(deltas / dc), indexing="ij")
    ax.scatter(A[unstable], D[unstable], s=4, c="tab:red", label="radius > 1 (unstable)")
    ax.scatter(A[~unstable], D[~unstable], s=4, c="tab:green", label="radius = 1 (stable)")
    ax.plot(np.asarray(a), np.asarray(b1 / dc), "k-", label="Theorem 1 bound")
    ax.set(
        xscale="log",
        xlabel="rescaling a  (α = (a, 1, 1/a))",
        ylabel="δ / δ_c",
        title="Theorem 1 over the minimum manifold",
    )
    ax.legend(fontsize=7, loc="lower center")
    figs["theorem1_rescaling"] = fig


def _corollary2(quick, metrics, claims, figs):
    L, n = 3, 3
    R, _ = _spd([3.0, 1.0, 0.5], jax.random.PRNGKey(6))
    dc = cx.gd.deep_linear_global_bound(R, L)
    seeds = jnp.arange(32 if quick else 128)
    ratios = jnp.linspace(0.2, 2.0, 19)
    steps = 3000 if quick else 20000

    def one(seed, ratio):
        net = DeepLinear([n] * (L + 1), init="normal", key=jax.random.PRNGKey(seed))
        tr = cx.gd.run(
            deep_linear_loss,
            net,
            ratio * dc,
            steps,
            args=R,
            burn_in=steps - 64,
            record=_record_product,
            record_loss=False,
        )
        rho = jnp.linalg.norm(tr.final.product(), ord=2)
        return cx.gd.classify(tr).code, rho

    code, rho = cx.sweep.grid(one, {"seed": seeds, "ratio": ratios})
    conv = np.asarray(code == 0)
    bound = np.asarray(cx.gd.converged_spectral_bound(ratios * dc, L))[None, :]
    ok = np.asarray(rho) <= bound * (1 + 1e-8)
    n_conv = int(conv.sum())
    n_ok = int((ok & conv).sum())
    n_conv_above = int(conv[:, np.asarray(ratios) > 1].sum())
    metrics["corollary2"] = {
        "converged": n_conv,
        "satisfy": n_ok,
        "converged_above_delta_c": n_conv_above,
        "runs": int(conv.size),
    }
    claims.append(
        Claim(
            f"{SRC} §2, Corollary 2",
            "Whenever GD converges with step δ, ρ(R̂) ≤ (2/(Lδ))^{L/(2L−2)}",
            "every converged run satisfies the bound",
            f"{n_ok}/{n_conv} converged runs satisfy it ({conv.size} runs; {n_conv_above} converged "
            "with δ > δ_c, necessarily not to R)",
            n_conv > 0 and n_ok == n_conv,
            f"R SPD (ρ = 3), L = 3, {seeds.size} normal initialisations × 19 δ ∈ [0.2, 2]·δ_c, "
            f"{steps} steps",
        )
    )


# ------------------------------------------------------------------------ two-layer ReLU


def _target(x):
    """A piecewise-continuous target on [0, 1] (values in the seed figure's 1.8–3.8 range)."""
    return jnp.where(
        x < 0.35,
        3.0 + 0.5 * jnp.sin(6 * jnp.pi * x),
        jnp.where(x < 0.7, 2.0 + 1.5 * (x - 0.35) / 0.35, 3.6 - 1.2 * (x - 0.7)),
    )


def _two_layer(quick, metrics, claims, figs):
    N, r = 1000, 20
    xs = (jnp.arange(1, N + 1) / N)[:, None]
    ys = _target(xs)
    net0 = TwoLayerReLU(1, r, 1, key=jax.random.PRNGKey(2018))
    seed_loss = lambda p, data: 2.0 * two_layer_loss(p, data)  # the seed's Σ|·|² (no ½)
    steps = 60000 if quick else 400000
    n_d = 10 if quick else 26
    deltas = jnp.sort(
        jnp.concatenate([jnp.geomspace(1e-4, 6e-4, n_d - 2), jnp.array([2e-4, 3e-4])])
    )
    rtol = 1e-5  # 'converged': per-step parameter change below 1e-5 of the parameter scale

    def flat(p, args):
        return jnp.concatenate([p.W.ravel(), p.V.ravel()])

    def one(delta):
        tr = cx.gd.run(
            seed_loss, net0, delta, steps, args=(xs, ys), burn_in=steps - 64, record=flat
        )
        orbit = cx.gd.classify(tr, rtol=rtol)
        strict = cx.gd.classify(tr, rtol=1e-7).code
        pred = jax.vmap(tr.final)(xs)
        g = jax.grad(seed_loss)(tr.final, (xs, ys))
        nxt = jax.tree_util.tree_map(lambda a, b: a - delta * b, tr.final, g)
        prev = jax.vmap(nxt)(xs)  # the next iterate: the other half of a 2-cycle
        lam = cx.gd.sharpness(seed_loss, tr.final, (xs, ys), num_iters=41)
        return orbit, strict, pred, prev, tr.loss[-1], lam, tr.final

    t0 = time.perf_counter()
    orbit, strict, pred, prev, loss, lam, finals = cx.sweep.grid(one, {"delta": deltas})
    loss = np.asarray(loss)  # blocks until the sweep is done
    metrics["two_layer_seconds"] = time.perf_counter() - t0
    code, period = np.asarray(orbit.code), np.asarray(orbit.period)
    d = np.asarray(deltas)
    kinds = [cx.gd.ORBIT_KINDS[c] + (f"({p})" if c == 1 else "") for c, p in zip(code, period)]
    strict_kinds = [cx.gd.ORBIT_KINDS[c] for c in np.asarray(strict)]
    metrics["two_layer"] = {
        "deltas": d,
        "kinds": kinds,
        "kinds_rtol_1e-7": strict_kinds,
        "final_loss": loss,
        "sharpness": np.asarray(lam),
        "delta_times_sharpness": d * np.asarray(lam),
    }
    pair = None
    for i in range(len(d) - 1):
        if code[i] == 0 and code[i + 1] == 1 and period[i + 1] == 2:
            pair = (i, i + 1)
    i2, i3 = int(np.argmin(np.abs(d - 2e-4))), int(np.argmin(np.abs(d - 3e-4)))
    seed_pair = f"δ = 2e-4: {kinds[i2]}, δ = 3e-4: {kinds[i3]}"
    claims.append(
        Claim(
            f"{SRC} §4, Figure 2",
            "A small change of step size turns convergence into a period-2 "
            "oscillation between f̂_odd and f̂_even",
            "a pair δ₁ < δ₂ on the grid: δ₁ converges, δ₂ ends in a 2-cycle (seed: 2e-4 / 3e-4)",
            (
                f"pair found: δ₁ = {d[pair[0]]:.3g} converges, δ₂ = {d[pair[1]]:.3g} 2-cycle"
                if pair
                else "no adjacent converged / 2-cycle pair"
            )
            + f"; {seed_pair}; all: "
            + ", ".join(f"{x:.2g}: {k}" for x, k in zip(d, kinds)),
            pair is not None,
            f"W ∈ R^{{1×20}}, V ∈ R^{{20}}, b ∈ R^{{20}} ~ N(0, 1) (one draw, b shared), N = 1000, "
            f"x_i = i/N, loss Σ|·|² as the seed, our piecewise target, {steps} full-batch steps, "
            f"{n_d} δ in [1e-4, 6e-4] plus 2e-4, 3e-4; orbit of (W, V) over the last 64 steps with "
            f"rtol {rtol} (with rtol 1e-7 the kinds are {strict_kinds}: the runs keep drifting "
            "slowly, δ·λ_max(∇²f) sits near 2, the edge of stability)",
        )
    )
    conv = code == 0
    bound = np.asarray(jax.vmap(lambda p: cx.gd.relu_step_bound(xs, p))(pred)) / 2  # Σ loss: /2
    ok = bool(np.all(d[conv] <= bound[conv]))
    edge = bool(np.all(d[conv] * np.asarray(lam)[conv] <= 2 * (1 + 1e-3)))
    claims.append(
        Claim(
            f"{SRC} §4, Theorem 4",
            "At a solution GD converged to, max_i ‖x_i‖‖f̂(x_i)‖ ≤ 1/δ",
            "holds for every converged run",
            f"{'holds' if ok else 'violated'} for {int(conv.sum())} "
            f"converged runs; max δ·max‖x‖‖f̂‖·2 = "
            f"{float(np.max(d[conv] / bound[conv])) if conv.any() else float('nan'):.4f}",
            ok and bool(conv.any()),
            "for the seed's loss without ½ the condition reads 2δ max‖x‖‖f̂‖ ≤ 1; also checked: "
            f"δ·λ_max(∇²f) ≤ 2 at converged runs: {edge}",
        )
    )
    if pair is not None:
        i, j = pair
        fig = _pair_figure(
            xs, ys, pred, prev, i, j, f"δ = {d[i]:.3g}: converged", f"δ = {d[j]:.3g}: 2-cycle"
        )
    else:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.3), sharey=True)
        for ax in axes:
            ax.set(xlabel="x")
    figs["two_layer_relu_pair"] = fig
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.semilogx(d, code + 0.1 * (period == 2), "o")
    ax.set(
        yticks=range(4),
        yticklabels=cx.gd.ORBIT_KINDS,
        xlabel="δ",
        title="two-layer ReLU: outcome vs step size",
    )
    figs["two_layer_relu_outcomes"] = fig
    if conv.any():
        _two_layer_continuation(
            quick,
            metrics,
            claims,
            figs,
            finals,
            d,
            conv,
            np.asarray(lam),
            seed_loss,
            (xs, ys),
            flat,
            rtol,
        )


def _two_layer_continuation(
    quick, metrics, claims, figs, finals, d, conv, lam, loss_fn, data, flat, rtol
):
    """Restart from the converged solution with the largest δ at δ = factor · 2/λ_max."""
    xs, ys = data
    i = int(np.flatnonzero(conv)[-1])
    base = jax.tree_util.tree_map(lambda a: a[i], finals)
    edge = 2.0 / lam[i]
    factors = jnp.array([0.97, 0.99, 1.01, 1.03, 1.1, 1.2])
    steps = 20000 if quick else 100000

    def one(factor):
        tr = cx.gd.run(
            loss_fn, base, factor * edge, steps, args=data, burn_in=steps - 64, record=flat
        )
        g = jax.grad(loss_fn)(tr.final, data)
        nxt = jax.tree_util.tree_map(lambda a, b: a - factor * edge * b, tr.final, g)
        return cx.gd.classify(tr, rtol=rtol), jax.vmap(tr.final)(xs), jax.vmap(nxt)(xs)

    orbit, pred, prev = cx.sweep.grid(one, {"factor": factors})
    code, period = np.asarray(orbit.code), np.asarray(orbit.period)
    kinds = [cx.gd.ORBIT_KINDS[c] + (f"({p})" if c == 1 else "") for c, p in zip(code, period)]
    metrics["two_layer_continuation"] = {
        "base_delta": d[i],
        "sharpness": lam[i],
        "factors": factors,
        "kinds": kinds,
    }
    f = np.asarray(factors)
    below_ok = bool(np.all(code[f < 1] == 0))
    two = np.flatnonzero((f > 1) & (code == 1) & (period == 2))
    claims.append(
        Claim(
            f"{SRC} §4, Figure 2 (mechanism)",
            "At a converged solution with sharpness λ, a step "
            "just below 2/λ stays converged, a step just above ends in a 2-cycle f̂_odd ↔ f̂_even",
            "factor·2/λ: converged for factors < 1, period 2 for some factor > 1",
            f"base δ = {d[i]:.3g}, 2/λ = {edge:.4g}; "
            + ", ".join(f"{x:.2f}: {k}" for x, k in zip(f, kinds)),
            below_ok and two.size > 0,
            f"restart from the grid's converged run with the largest δ, {steps} steps per factor, "
            f"orbit of (W, V) with rtol {rtol}. Just above 1 the run can still settle, because it "
            "drifts along the valley to flatter points before the instability grows",
        )
    )
    j0 = int(np.argmin(np.abs(f - 0.97)))
    j1 = int(two[0]) if two.size else int(np.argmin(np.abs(f - 1.03)))
    figs["two_layer_relu_continuation"] = _pair_figure(
        xs,
        ys,
        pred,
        prev,
        j0,
        j1,
        f"δ = {f[j0]:.2f}·2/λ = {f[j0] * edge:.3g}: {kinds[j0]}",
        f"δ = {f[j1]:.2f}·2/λ = {f[j1] * edge:.3g}: {kinds[j1]}",
    )


def _pair_figure(xs, ys, pred, prev, i, j, title_i, title_j):
    """Target and fit at step-size index i (left) and the alternating fits f̂_odd, f̂_even at j."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.3), sharey=True)
    axes[0].plot(xs[:, 0], ys[:, 0], "k", lw=1, label="f(x)")
    axes[0].plot(xs[:, 0], pred[i, :, 0], "b", lw=1, label="f̂(x)")
    axes[0].set_title(title_i)
    axes[1].plot(xs[:, 0], ys[:, 0], "k", lw=1, label="f(x)")
    axes[1].plot(xs[:, 0], pred[j, :, 0], "r", lw=1, label="f̂_even")
    axes[1].plot(xs[:, 0], prev[j, :, 0], "g", lw=1, label="f̂_odd")
    axes[1].set_title(title_j)
    for ax in axes:
        ax.set(xlabel="x")
        ax.legend(fontsize=7)
    return fig


def run(quick: bool = True) -> Result:
    metrics, claims, figs = {}, [], {}
    timings = {}
    for part in (
        _example1,
        _example2,
        _identity_sweep,
        _theorems_2_3,
        _theorem1,
        _corollary2,
        _two_layer,
    ):
        t0 = time.perf_counter()
        part(quick, metrics, claims, figs)
        timings[part.__name__.strip("_")] = time.perf_counter() - t0
        print(f"      {part.__name__}: {timings[part.__name__.strip('_')]:.1f} s", flush=True)
    metrics["seconds"] = timings
    method = (
        "Gradient descent x_{k+1} = x_k − δ∇f(x_k) is run with `cx.gd.run` (lax.scan) and every "
        "sweep is one compiled program through `cx.sweep.grid` (vmap over the grid). Orbits are "
        "classified by `cx.gd.classify` on the last 64 iterates (converged / period p ≤ 16 / "
        "aperiodic / diverged, rtol 1e-6 unless stated). Deep linear problems use the whitened "
        "loss ½‖W_L⋯W_1 − R‖_F² (equal to the seed's eq. (2) when (1/N)Σx_ix_iᵀ = I) with 3×3 "
        "layers and SPD targets R = Q diag(ρ, 1, 0.5) Qᵀ. The two-layer experiment uses the "
        "seed's sizes and loss (Σ, no ½) with our own random draw and our own piecewise target, "
        "so the step-size pair is searched for rather than copied (a grid of δ from the same "
        "random start, then a restart from the converged solution at δ = factor·2/λ_max). Quick "
        "mode uses fewer depths, ρ values, grid points and steps than full mode (full: L up to 8, "
        "ρ up to 8, 20 000 steps per deep-linear run, 400 000 two-layer steps); all in float64."
    )
    return Result(claims=claims, figures=figs, metrics=metrics, method=method)
