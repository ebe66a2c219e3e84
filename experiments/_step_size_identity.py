"""Seed 003 §2–3: deep linear networks from the identity — the bifurcation diagram against
δ/δ_c (Corollary 1, Remark 1), Theorem 2's linear rate (Lemma 3), Theorem 3's limit and the
δ ≤ 1/(1 − λ) branch of Lemma 4.

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

SRC = "003"


def _claim(section, statement, expected, measured, passed, method, items=()):
    return Claim(f"{SRC} {section}", statement, expected, measured, passed, method, items=items)


def spd(eigs, key):
    """Q diag(eigs) Qᵀ for a random orthogonal Q (and Q)."""
    q, _ = jnp.linalg.qr(jax.random.normal(key, (len(eigs), len(eigs))))
    return q @ jnp.diag(jnp.asarray(eigs, float)) @ q.T, q


def record_product(p, args):
    return p.product()


# ----------------------------------------------------------------------------- compute


def identity_sweep(quick):
    """Bifurcation diagram and measured threshold against δ_c = 2/(L ρ^{2(L−1)/L})."""
    depths = (2, 3, 5) if quick else (2, 3, 4, 6, 8)
    rhos = (2.0, 4.0) if quick else (1.5, 2.0, 4.0, 8.0)
    ratios = jnp.linspace(0.5, 1.6, 441 if quick else 1101)  # step 0.0025 (0.001 full)
    steps = 4000 if quick else 20000
    n = 3
    rows = []
    for L in depths:
        for rho in rhos:
            R, q = spd([rho, 1.0, 0.5], jax.random.PRNGKey(7))
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
                    record=record_product,
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
            p4 = r[(code == 1) & (period == 4)]
            rows.append(
                {
                    "L": L,
                    "rho": rho,
                    "delta_c": float(dc),
                    "threshold_ratio": float(thr),
                    "all_converge_below": bool(conv[r < 1.0].all()),
                    "period2_just_above": bool(np.all((code[above] == 1) & (period[above] == 2))),
                    "first_period4_ratio": float(p4.min()) if p4.size else None,
                    "kinds": {k: int(np.sum(code == i)) for i, k in enumerate(cx.gd.ORBIT_KINDS)},
                    "ratios": r,
                    "top": np.asarray(top),
                }
            )
    return {"rows": rows, "depths": depths, "rhos": rhos, "steps": steps, "step": r[1] - r[0]}


def theorem2():
    """W_i = I, δ ∈ {bound, bound/2}: |w_i[k] − λ^{1/L}| against β(δ)^k |1 − λ^{1/L}|."""
    L, n, steps = 3, 3, 300
    R, q = spd([3.0, 1.0, 0.4], jax.random.PRNGKey(3))
    lam = jnp.array([3.0, 1.0, 0.4])
    bound = cx.gd.identity_init_bound(R, L)
    out = {"bound": float(bound), "steps": steps, "runs": []}
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
        out["runs"].append(
            {
                "frac": frac,
                "ok": bool(jnp.all(err <= bnd * (1 + 1e-9) + 1e-14)) and offdiag < 1e-10,
                "err": np.asarray(jnp.max(err, axis=(1, 2))),
                "bound": np.asarray(jnp.max(bnd, axis=(1, 2))),
            }
        )
    return out


def theorem3():
    """λ_min(R) < 0 from W_i = I at the Theorem 3 bound: full matrix GD and the same GD on its
    invariant commuting manifold (per-eigenvalue scalar GD, the exact-arithmetic trajectory)."""
    n = 3
    Rn, qn = spd([2.0, 0.5, -1.0], jax.random.PRNGKey(4))
    lam3 = jnp.array([2.0, 0.5, -1.0])
    r_plus = qn @ jnp.diag(jnp.maximum(lam3, 0)) @ qn.T
    res, res_diag, offdiag = [], [], []
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
    return {
        "matrix_gd_rel_err": res,
        "invariant_manifold_rel_err": res_diag,
        "matrix_gd_offdiag_in_eigenbasis": offdiag,
    }


def lemma4(quick):
    """Lemma 4: min ½(w_L⋯w_1 − λ)², λ < 0, w_i[0] = 1: each w_i → 0 for δ ≤ 1/(1 − λ).

    Scalar GD over δ = r/(1 − λ), r ∈ (0, 1]; the proof's invariant 0 ≤ w[k+1]/w[k] < 1 is
    checked at every step while |w| > 1e-12 (below, float64 cannot resolve it), and w_T against
    1e-2. Above 1/(1 − λ) (r ∈ (1, 2.5]) the outcome is
    recorded (the lemma says nothing there)."""
    lams = jnp.array([-0.5, -1.0, -2.0])
    ratios = jnp.concatenate([jnp.linspace(0.05, 1.0, 20), jnp.linspace(1.05, 2.5, 8)])
    steps = 20000 if quick else 100000
    out = {"lams": np.asarray(lams), "ratios": np.asarray(ratios), "steps": steps}
    for L in (2, 3):

        def one(lam, r, L=L):
            loss = lambda w, a: 0.5 * (jnp.prod(w) - a) ** 2
            tr = cx.gd.run(
                loss,
                jnp.ones(L),
                r / (1 - lam),
                steps,
                args=lam,
                record=lambda w, a: w[0],  # all w_i are equal by symmetry
                record_loss=False,
            )
            w = jnp.concatenate([jnp.ones(1), tr.values])
            f = w[1:] / w[:-1]
            # checked while float64 can resolve it: below |w| ~ 1e-12 the factor
            # 1 − δw^{L−2}(w^L − λ) rounds to 1 (L = 3) or w reaches subnormal numbers (L = 2)
            resolved = jnp.abs(w[:-1]) > 1e-12
            invariant = jnp.all(jnp.where(resolved, (f >= -1e-12) & (f < 1), True))
            return invariant, jnp.abs(w[-1])

        inv, final = cx.sweep.grid(one, {"lam": lams, "r": ratios})
        out[L] = {"invariant": np.asarray(inv), "final": np.asarray(final)}
    return out


# ----------------------------------------------------------------------------- judge


def judge_identity(s):
    rows = s["rows"]
    errs = [abs(r["threshold_ratio"] - 1) for r in rows]
    p2 = [r["period2_just_above"] for r in rows]
    p4 = [r["first_period4_ratio"] for r in rows]
    return [
        _claim(
            "§2, Corollary 1; §3, Remark 3",
            "From the identity (SPD R), the measured stability threshold equals "
            "δ_c = 2/(L ρ(R)^{2(L−1)/L}) (the bound is tight; larger ρ needs a smaller δ)",
            "within 1% for every (L, ρ)",
            f"max |δ*/δ_c − 1| = {max(errs):.4f} over {len(rows)} (L, ρ) "
            f"(L ∈ {list(s['depths'])}, ρ ∈ {list(s['rhos'])}); δ_c: "
            + ", ".join(f"{r['delta_c']:.3g}" for r in rows),
            max(errs) <= 0.01,
            f"δ/δ_c on a grid of step {s['step']:.4f}, {s['steps']} steps, threshold = midpoint "
            "between the last converged and first non-converged grid point",
            ("003-8", "003-9", "003-13"),
        ),
        _claim(
            "§1, §2 (Remark 1)",
            "Just above δ_c GD converges to a period-2 orbit, not to a minimum",
            "period 2 for all δ/δ_c ∈ (1, 1.02]",
            f"{sum(p2)}/{len(p2)} (L, ρ) configurations",
            all(p2),
            "orbit classified on the last 64 iterates of the product W_L⋯W_1",
            ("003-7",),
        ),
        _claim(
            "§1 (orbits); issue",
            "Further above δ_c the orbit period doubles (period 4)",
            "a period-4 orbit at some δ > δ_c for every (L, ρ)",
            "first period-4 δ/δ_c: "
            + ", ".join("none" if v is None else f"{v:.3f}" for v in p4)
            + "".join(
                f"; L = {r['L']}, ρ = {r['rho']:g}: no period 4, diverged at "
                f"{r['kinds']['diverged']} of {sum(r['kinds'].values())} grid points (the "
                "2-cycle is lost to divergence before it doubles)"
                for r in rows
                if r["first_period4_ratio"] is None
            ),
            all(v is not None for v in p4),
            "same sweep (not a claim of the seed: an extra)",
        ),
    ]


def judge_theorem2(t):
    ok = all(r["ok"] for r in t["runs"])
    return [
        _claim(
            "§3, Theorem 2 (Lemma 3)",
            "From W_i = I with δ ≤ min{1/L, 1/(Lρ^{2(L−1)/L})}, each W_i → R^{1/L} linearly: "
            "|w_i[k] − λ^{1/L}| ≤ β(δ)^k |1 − λ^{1/L}|",
            "the bound holds at every k, eigenvalue and layer",
            f"{'holds' if ok else 'violated'} for δ ∈ {{bound, bound/2}}, bound = {t['bound']:.4f}",
            ok,
            f"R = Q diag(3, 1, 0.4) Qᵀ, L = 3, {t['steps']} steps; errors in R's eigenbasis",
            ("003-11", "003-12"),
        )
    ]


def judge_theorem3(t, l4):
    res, res_diag, off = (
        t["matrix_gd_rel_err"],
        t["invariant_manifold_rel_err"],
        t["matrix_gd_offdiag_in_eigenbasis"],
    )
    below = l4["ratios"] <= 1.0
    inv = {L: l4[L]["invariant"][:, below] for L in (2, 3)}
    fin = {L: l4[L]["final"][:, below] for L in (2, 3)}
    ok4 = all(bool(inv[L].all()) and float(fin[L].max()) < 1e-2 for L in (2, 3))
    above = {L: int(np.sum(l4[L]["final"][:, ~below] < 1e-2)) for L in (2, 3)}  # → 0 anyway
    broken = {L: int(np.sum(~l4[L]["invariant"][:, ~below])) for L in (2, 3)}
    return [
        _claim(
            "§3, Theorem 3",
            "With λ_min(R) < 0 and identity init, R̂ → the closest PSD matrix to R in Frobenius "
            "norm (GD restricted to its invariant commuting manifold, i.e. exact arithmetic)",
            "‖R̂ − R₊‖_F / ‖R₊‖_F < 1e-6",
            "L = 2: {:.1e}; L = 3: {:.1e}".format(*res_diag),
            max(res_diag) < 1e-6,
            "R = Q diag(2, 0.5, −1) Qᵀ, δ = the Theorem 3 bound, 20 000 steps of the "
            "per-eigenvalue scalar GD (the exact-arithmetic trajectory of the matrix GD from "
            "W_i = I)",
            ("003-15",),
        ),
        _claim(
            "§3, Theorem 3",
            "The same limit for full 3×3 matrix GD in float64",
            "‖R̂ − R₊‖_F / ‖R₊‖_F < 1e-6",
            "L = 2: {:.1e}; L = 3: {:.1e} (off-diagonal part in R's eigenbasis: {:.1e}, "
            "{:.1e})".format(*res, *off),
            max(res) < 1e-6,
            "same R, δ, steps, full matrices (an extension of the seed, which works in exact "
            "arithmetic). For L = 3 the commuting manifold is transversally unstable near the "
            "saddle w = 0 of the negative eigen-direction: rounding errors of 1e-16 in the "
            "off-diagonal entries grow to O(1) by step ~800 and GD leaves the manifold (here it "
            "fits the negative eigenvalue with non-symmetric layers), so in floating point the "
            "theorem's conclusion does not hold",
        ),
        _claim(
            "App. C, Lemma 4",
            "λ < 0, w_i[0] = 1: each w_i → 0 for every δ ≤ 1/(1 − λ) (with 0 ≤ w[k+1]/w[k] < 1 "
            "at every step, as in the proof)",
            "invariant at every step and |w_T| < 1e-2 for every λ, L and δ ≤ 1/(1 − λ)",
            f"{'holds' if ok4 else 'violated'}: max |w_T| = "
            + ", ".join(f"L={L}: {float(fin[L].max()):.2e}" for L in (2, 3))
            + "; above 1/(1 − λ) |w_T| < 1e-2 anyway in "
            + ", ".join(
                f"L={L}: {above[L]}/{int(np.sum(~below)) * len(l4['lams'])}" for L in (2, 3)
            )
            + " runs (the lemma is a sufficient condition); the invariant breaks there in "
            + ", ".join(f"L={L}: {broken[L]}" for L in (2, 3))
            + " runs",
            ok4,
            f"scalar GD on ½(w_L⋯w_1 − λ)², λ ∈ {list(l4['lams'])}, L ∈ {{2, 3}}, δ = r/(1 − λ) "
            f"for 20 r ∈ [0.05, 1] and 8 r ∈ [1.05, 2.5], {l4['steps']} steps (the decay is "
            "sublinear for L = 3); the proof's invariant is checked at every step with "
            "|w[k]| > 1e-12 (below that float64 rounds the factor to 1 or w goes subnormal)",
            ("003-16",),
        ),
    ]


# ----------------------------------------------------------------------------- draw


def draw_bifurcation(s):
    rows, ncol = s["rows"], len(s["rhos"])
    fig, axes = plt.subplots(
        len(s["depths"]), ncol, figsize=(4 * ncol, 2.4 * len(s["depths"])), squeeze=False
    )
    for ax, r in zip(axes.ravel(), rows):
        top = r["top"]
        ax.plot(np.repeat(r["ratios"], top.shape[1]), top.ravel(), ",k", alpha=0.6)
        ax.axvline(1.0, color="r", lw=0.7)
        ax.set(
            title=f"L = {r['L']}, ρ = {r['rho']}",
            xlabel="δ / δ_c",
            ylabel="uᵀ R̂ u (last 64)",
            ylim=(0, 2.5 * r["rho"]),
        )
    fig.tight_layout()
    return fig


def draw_theorem2(t):
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for r in t["runs"]:
        ax.semilogy(r["err"], label=f"δ = {r['frac']}·bound, error")
        ax.semilogy(r["bound"], "--", label=f"δ = {r['frac']}·bound, βᵏ")
    ax.set(
        xlabel="GD step k",
        ylabel="max |w_i[k] − λ^(1/L)|",
        title="Theorem 2: linear rate (L = 3)",
        ylim=(1e-16, 2),
    )
    ax.legend(fontsize=7)
    return fig
