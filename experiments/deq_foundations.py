"""DEQ foundations (Hieu 2022, seed 004, §2 and App. B): expressiveness, solver memory, unrolled
error, well-posedness, and the closed-form gradients of the monotone DEQ (§3.2.3).

A feed-forward net of any connectivity is one DEQ layer (§2.1.1) and a weight-tied, input-
injected net of the same depth (App. B, Thm B.0.1), both checked to float64 precision against
the net; the solver state of Broyden with every update kept (as in Bai et al. 2019) against the
library's limited-memory Broyden and Anderson (§2.1.2); the float32 unrolled gradient against the
implicit one and a float64 reference (§2.1.3); the cited large-scale results (§2.2, not
reproducible here); eq. 2.8 and eq. 2.6 on random and non-normal Jacobians (§2.3.1); Lemma
2.3.2 by brute force (§2.3.2); Lemmas 3.2.1–3.2.3 and App. C.0.2 against autodiff of
`cx.models.MonotoneDEQ`.

Compute functions live in `_deq_foundations_nets` and `_deq_foundations_theory`, the judge
functions here return `Claim`s naming the CLAIMS.md items, `_deq_foundations_draw.draw`
returns the figures.
"""

from __future__ import annotations

import time

import numpy as np

from experiments import _deq_foundations_nets as nets, _deq_foundations_theory as theory
from experiments._cache import cached
from experiments._deq_foundations_draw import draw
from experiments._report import Claim, Result

TITLE = "DEQ foundations: expressiveness, solver memory, unrolled error, well-posedness (004 §2, App. B)"


def _claim(source, statement, expected, measured, passed, method, items=(), reason=""):
    passed = None if passed is None else bool(passed)
    return Claim(source, statement, expected, measured, passed, method, items=items, reason=reason)


# ----------------------------------------------------------------------------- judge


def judge_expressiveness(e, w, tol=1e-12):
    d = e["dist"]
    L = e["L"]
    exact_at_l = d[L - 1] <= tol and d[L] <= tol and all(x > 1e-3 for x in d[: L - 1])
    solvers = ", ".join(f"{k} {v:.1e}" for k, v in e["err"].items())
    short = w["short_output_err"] / w["scale"]
    return [
        _claim(
            "004 §2.1.1 (Bai et al. 2019a)",
            "any deep network (any depth, any connectivity) is a single DEQ layer z* = f(z*, x) "
            "with the same number of parameters",
            f"fixed_point's z* = every layer of the net (max abs err ≤ {tol:g}); Picard from 0 "
            "exact after exactly L steps and not before; one fixed point; non-zero DEQ parameters "
            "= net parameters",
            f"L = {L} (widths {e['widths']}, {'/'.join(e['acts'])}, skips x→h₂, h₁→h₃): max err "
            f"{solvers}; ‖z_k − z*‖∞ for k = 1…{L + 1}: "
            + ", ".join(f"{x:.1e}" for x in d)
            + f" (cx.fixed_point's Picard stops after {max(e['num_steps']['Picard'])} steps)"
            + f"; from 8 random starts after L steps {e['unique_err']:.1e}; residual "
            f"{e['residual']:.1e}; parameters {e['deq_nonzero']} non-zero = {e['net_params']} "
            f"(dense block matrix {e['deq_dense']})",
            max(e["err"].values()) <= tol
            and exact_at_l
            and e["unique_err"] <= tol
            and e["deq_nonzero"] == e["net_params"],
            "Random net h_i = σ_i(Σ_j W_ij h_j + b_i) in float64; DEQ cell f(z, x) = σ(Az + Bx + b) "
            "on z = [h₁; …; h_L] with A strictly block lower triangular (σ blockwise), solved by "
            f"cx.models.DEQ (tol 1e-13) on {e['batch']} inputs; A nilpotent ⇒ Picard is exact "
            "after L steps from any start.",
            ("004-1",),
        ),
        _claim(
            "004 App. B, Thm B.0.1 (Bai et al. 2019a)",
            "an L-layer net z^{[i+1]} = σ^{[i]}(W^{[i]}z^{[i]} + b^{[i]}) is a weight-tied, "
            "input-injected net z̃^{[i+1]} = σ(W_z z̃^{[i]} + W_x x + b̃) of the same depth L",
            f"after L steps of cx.models.repeat every block of z̃ = the layer (≤ {tol:g}); "
            "after L − 1 steps the output is still wrong (the depth is needed)",
            f"L = {w['L']}: block errors "
            + ", ".join(f"{x:.1e}" for x in w["block_err"])
            + f"; output error after L − 1 steps {short:.2f} of the output scale",
            max(w["block_err"]) <= tol and short > 1e-3,
            "W_z block sub-diagonal (W^{[i]} below the diagonal), W_x = [W^{[0]}; 0], b̃ the "
            "stacked biases, σ the layers' non-linearities blockwise (tanh/relu/tanh/identity); "
            f"z̃^{{[0]}} = 0, {w['batch']} random inputs, float64.",
            ("004-41",),
        ),
    ]


def judge_memory(mem):
    it = np.asarray(mem["iterations"], float)
    full = np.asarray(mem["state_bytes"]["Broyden, all updates (thesis)"], float)
    slope = np.polyfit(it, full, 1)[0]
    want = 2 * mem["n"] * mem["itemsize"]  # one u and one v of length n per update
    temp = mem["temp_bytes"]
    t_full = np.asarray(temp["Broyden, all updates (thesis)"], float)
    t_it = np.asarray(mem["temp_iterations"], float)
    t_slope, t_icpt = np.polyfit(t_it, t_full, 1)
    resid = np.max(np.abs(t_full - (t_slope * t_it + t_icpt))) / np.max(t_full)
    flat = {k: max(v) / min(v) for k, v in mem["state_bytes"].items() if "thesis" not in k}
    t_flat = {k: max(v) / min(v) for k, v in temp.items() if "thesis" not in k and len(v) > 1}
    growth = lambda v: f"{v[0] / 1024:.1f} → {v[-1] / 1024:.1f} KiB"  # noqa: E731
    return [
        _claim(
            "004 §2.1.2",
            "Broyden's memory grows linearly with the number of iterations (all low-rank updates "
            "stored); Anderson acceleration is lightweight",
            f"Broyden keeping every update: state slope = 2n·{mem['itemsize']} B per iteration "
            "(±1%), compiled temp memory linear in K (residual ≤ 5%) and growing; Anderson(5) and "
            "the library's Broyden(16) constant (max/min ≤ 1.01)",
            f"n = {mem['n']}, K = {mem['iterations']}: Broyden (all updates) state "
            f"{growth(full)} (slope {slope:.0f} B/iteration, expected {want}); compiled temp "
            f"{growth(t_full)} over K = {mem['temp_iterations']} (slope {t_slope:.0f} B/iteration, "
            f"fit residual {100 * resid:.1f}%); Broyden(16) state {flat['Broyden(16) (contractax)']:.2f}×, "
            f"Anderson(5) {flat['Anderson(5)']:.2f}× over K; "
            + ", ".join(f"{k} temp {v:.2f}×" for k, v in t_flat.items())
            + f"; at K = {int(it[-1])}: Anderson(5) {mem['state_bytes']['Anderson(5)'][-1] / 1024:.1f} "
            f"KiB, Broyden(16) {mem['state_bytes']['Broyden(16) (contractax)'][-1] / 1024:.1f} KiB",
            abs(slope / want - 1) <= 0.01
            and resid <= 0.05
            and t_slope > 0
            and all(v <= 1.01 for v in flat.values())
            and all(v <= 1.01 for v in t_flat.values()),
            "State bytes from jax.eval_shape of the solver's init; temp bytes from XLA's "
            "memory_analysis of jit(fixed_point(...).value) at max_steps = K (CPU). The thesis's "
            "(Bai et al.'s) Broyden is cx.Broyden(memory=K) run for K steps (no restart); "
            "contractax's default Broyden is limited-memory (16 updates, then a restart), so its "
            "memory does not grow — the growth is the full method's, not the library's.",
            ("004-3",),
        )
    ]


def judge_unrolled(u):
    ks = np.asarray(u["ks"])
    rows, accum = [], []
    for c in u["cases"]:
        conv = int(np.argmax(c["truncation"] < c["roundoff"]))  # first K past convergence
        grow = float(c["roundoff"][-1] / c["roundoff"][conv])
        accum.append(grow)
        rows.append(
            f"{c['kind']} W (ρ = {c['rho']}, ‖W‖₂ = {c['norm']:.2f}): total error "
            + ", ".join(f"{x:.1e}" for x in c["total"])
            + f"; round-off {c['roundoff'][conv]:.1e} at K = {ks[conv]} → "
            f"{c['roundoff'][-1]:.1e} at K = {ks[-1]} (×{grow:.2f}); float32 implicit "
            f"{c['implicit32']:.1e}"
        )
    return [
        _claim(
            "004 §2.1.3",
            "differentiating through the solver's iterations: as the number of unrolling steps "
            "increases, the numerical error accumulates",
            "float32 round-off of the unrolled gradient (vs float64 unrolled at the same K) grows "
            "with K beyond convergence: ×≥ 2 between the first converged K and the largest K",
            f"K = {ks.tolist()}: " + "; ".join(rows),
            max(accum) >= 2,
            f"z ← tanh(Wz + x), n = {u['n']}, loss cᵀz_K, ∂/∂W by backpropagation through K "
            "Picard steps from 0 (one masked scan, float32 and float64); reference: float64 "
            "implicit gradient (cx.fixed_point, tol 1e-13); float32 implicit at tol 1e-6. The "
            "error falls with K while the truncation dominates and then stays at the float32 "
            "level: in a contracting iteration the backward recursion damps old round-off, so "
            "it does not accumulate here (the seed's example, hyperparameter optimisation through "
            "SGD (Maclaurin et al. 2015), is not a contraction).",
            ("004-6",),
        )
    ]


def judge_cited():
    return [
        _claim(
            "004 §2.2 (Bai et al. 2019a, 2020)",
            "DEQ-Transformer on WikiText-103 matches explicit models with up to 88% less memory; "
            "MDEQ is competitive on ImageNet classification and Cityscapes segmentation",
            "perplexity and memory of a DEQ-Transformer on WikiText-103; ImageNet top-1 and "
            "Cityscapes mIoU of an MDEQ",
            "",
            None,
            "cited results of other papers",
            ("004-7",),
            reason="needs WikiText-103 (≈ 500 MB of text), ImageNet (≈ 150 GB) and Cityscapes "
            "(registration-only download), none of which is on this machine, and multi-GPU "
            "training for days (Bai et al. used 8 GPUs); contractax has no Transformer, "
            "multiscale or convolutional-segmentation DEQ. The memory claim's mechanism (implicit "
            "backward in constant memory) is checked as 004-4 in fixed_points.",
        )
    ]


def judge_det(db):
    rows = db["rows"]
    ratio = min(float(r["ratio"].min()) for r in rows.values())
    corr = min(float(r["smin_norm_gap"].min()) for r in rows.values())
    ce, bey = db["counterexample"], db["beyond"]
    nor = rows["normal"]
    nn = {k: r for k, r in rows.items() if k != "normal"}
    viol = sum(int(np.sum(r["smin_gap"] < -1e-12)) for r in nn.values())
    total = sum(len(r["smin_gap"]) for r in nn.values())
    printed_ok = (
        viol == 0
        and ce["smin"] >= ce["rho"] - 1e-12
        and all(float(np.max(np.abs(r["norm_over_rho"] - 1))) <= 1e-9 for r in nn.values())
    )
    return [
        _claim(
            "004 §2.3.1 eq. 2.8",
            "|det(I − J_f)| ≥ (1 − ρ(J_f))^d > 0: I − J_f is invertible whenever ρ(J_f) < 1",
            "min |det(I − J)|/(1 − ρ)^d ≥ 1 on every J with ρ < 1 (normal and non-normal); the "
            "hypothesis ρ < 1 is needed (fails at ρ > 1)",
            f"min ratio {ratio:.3f} over {db['count']} J (d = {db['d']}; ‖J‖₂/ρ up to "
            f"{max(float(r['norm_over_rho'].max()) for r in rows.values()):.1f}, so ρ < 1 suffices "
            f"without contraction in ℓ2); J = diag(1, 3) (ρ = 3): |det| = {bey['det']:.0f} < "
            f"(1 − ρ)² = {bey['bound']:.0f}",
            ratio >= 1 - 1e-9 and bey["det"] < bey["bound"],
            "J symmetric, Gaussian and upper triangular with a large strict part (3·N(0, 1)), each "
            "scaled to ρ ∈ U(0.05, 0.98); float64 (NumPy eig/svd/det). The inequality follows "
            "from |det(I − J)| = Π|1 − λ_i| ≥ Π(1 − |λ_i|).",
            ("004-8",),
        ),
        _claim(
            "004 §2.3.1 eq. 2.6 and the step to eq. 2.8",
            "‖J_f‖₂ = ρ(J_f) (eq. 2.6), and the minimum singular value of I − J_f is 1 − ρ(J_f), "
            "so Π σ_i(I − J_f) ≥ (1 − ρ)^d",
            "‖J‖₂ = ρ(J) and σ_min(I − J) ≥ 1 − ρ(J) on every J (as printed)",
            f"true only for normal J (‖J‖₂/ρ = {float(nor['norm_over_rho'].min()):.6f}–"
            f"{float(nor['norm_over_rho'].max()):.6f}); σ_min(I − J) < 1 − ρ on {viol}/{total} "
            f"non-normal J (by up to {-min(float(r['smin_gap'].min()) for r in nn.values()):.2f}); "
            f"J = [[0.5, 4], [0, 0.5]]: ρ = 0.5, ‖J‖₂ = {ce['norm']:.2f}, σ_min(I − J) = "
            f"{ce['smin']:.3f} < 0.5, yet |det| = {ce['det']:.2f} ≥ {ce['bound']:.2f}; the correct "
            f"step σ_min(I − J) ≥ 1 − ‖J‖₂ holds on every J (min gap {corr:.1e})",
            printed_ok,
            "Same matrices. eq. 2.6 conflates the spectral norm (largest singular value) with the "
            "spectral radius; they agree for normal J only. The conclusion of eq. 2.8 survives "
            "(via eigenvalues), its printed proof does not; see docs/errata.md.",
            ("004-8",),
        ),
    ]


def judge_monotone(mo):
    c, m = mo["cases"], mo["m"]
    keys = list(c)
    psd, neg, strong, weak, half = (c[k] for k in keys)
    tight = max(abs(v["min_eig_gap"]) for v in c.values())
    ok = (
        psd["draws_below_0"] == 0
        and neg["draws_below_0"] == mo["draws"]
        and strong["draws_below_m"] == 0
        and weak["draws_below_m"] == mo["draws"]
        and half["draws_below_m"] == mo["draws"]
        and half["draws_below_0"] == 0
        and mo["mondeq_min"] >= m - 1e-12
    )
    return [
        _claim(
            "004 §2.3.2 Lemma 2.3.2",
            "F(x) = Mx + h is monotone iff M + Mᵀ ⪰ 0, and strongly monotone (parameter m: "
            "⟨F(x) − F(y), x − y⟩ ≥ m‖x − y‖²) iff sym(M) ⪰ mI; so monDEQ's F = (I − W)z − Ux "
            "with I − W ⪰ mI is m-strongly monotone",
            "no sampled pair violates monotonicity when sym(M) ⪰ 0 (nor m-strong when sym(M) ⪰ "
            "mI); every M outside the condition has a violating pair; the sampled minimum "
            "quotient equals λ_min(sym M)",
            f"{mo['draws']} M per case, {mo['pairs']} pairs each: sym ⪰ 0: "
            f"{psd['draws_below_0']} M with a violation; λ_min = −0.1: {neg['draws_below_0']}; "
            f"sym ⪰ {m}I: {strong['draws_below_m']} below m; λ_min = {m - 0.05:.2f}: "
            f"{weak['draws_below_m']} below m; min quotient − λ_min within {tight:.1e}; "
            f"printed 'M + Mᵀ ⪰ mI' gives only m/2 (min quotient {half['min_quotient']:.3f}, "
            f"{half['draws_below_m']} of {mo['draws']} below m); monDEQ I − W (random A, B): "
            f"min quotient {mo['mondeq_min']:.3f} ≥ m = {m}",
            ok,
            f"n = {mo['n']}; sym(M) = S with λ_min(S) set exactly, plus a random skew part; pairs "
            "(x, y) ~ N(0, I) and one pair along the bottom eigenvector of S; float64. The lemma "
            "as printed says 'strongly monotone if W + Wᵀ ⪰ mI', which gives parameter m/2; the "
            "§2.3.2 text then uses sym(I − W) ⪰ mI (parameter m), the form checked here.",
            ("004-10",),
        )
    ]


def judge_kronecker(jac, tol=1e-10):
    rows = []
    for j in jac:
        e = j["errors"]
        main = {k: v for k, v in e.items() if "printed" not in k}
        printed = {k: v for k, v in e.items() if "printed" in k}
        rows.append((j, main, printed))
    worst = max(max(m.values()) for _, m, _ in rows)
    printed_min = min(min(p.values()) for _, _, p in rows)
    c02_min = min(min(j["c02"].values()) for j in jac)
    fd = max(j["fd_err"] for j in jac)
    size = "; ".join(f"n = {j['n']}, N = {j['N']}, d = {j['d']}" for j in jac)
    return [
        _claim(
            "004 §3.2.3 Lemmas 3.2.1–3.2.2",
            "∂g/∂vec Z = I − D(I_N ⊗ W), ∂g/∂vec A = −D(Zᵀ ⊗ I_n)P_A, ∂g/∂vec B = −D(Zᵀ ⊗ "
            "I_n)P_B, ∂g/∂vec U = −D(Xᵀ ⊗ I_n), P_A = −(I + K⁽ⁿ⁾)(I ⊗ Aᵀ), P_B = I − K⁽ⁿ⁾; "
            "∂vec Z/∂θ = Q⁻¹D(·)P (Lemma 3.2.2); ∂L/∂u = Z(ŷ − y)",
            f"every closed form = autodiff of cx.models.MonotoneDEQ (rel. err ≤ {tol:g})",
            f"{size}: max rel. err {worst:.1e} ("
            + ", ".join(f"{k} {v:.0e}" for k, v in rows[0][1].items() if k.startswith("dZ"))
            + f"); autodiff vs central difference {fd:.0e}",
            worst <= tol and fd <= 1e-6,
            "The thesis's model (no bias, scalar readout), float64, solved to tol 1e-13; Lemma "
            "3.2.1 against jax.jacobian of g(Z) = Z − ReLU(WZ + UX) at the equilibrium, Lemma 3.2.2 "
            "against jax.jacobian of z*(θ) through the library's implicit adjoint (∂/∂W with W "
            "free through the forward–backward map), vec stacking columns; K⁽ⁿ⁾ built explicitly.",
            ("004-22",),
        ),
        _claim(
            "004 §3.2.3 Lemma 3.2.3 and App. C.0.2 (as printed)",
            "∂L/∂θ = (ŷ − y)ᵀ(uᵀ ⊗ I_N)Q⁻¹D(·)P (Lemma 3.2.3, Prop. 4); App. C.0.2: ∂vec Z/∂vec W "
            "= −Q⁻¹D[I_m ⊗ Z], ∂/∂A = Q⁻¹D[I_m ⊗ Z]P_A with P_A = (I + K)(I ⊗ Aᵀ), ∂/∂B = "
            "−Q⁻¹D[I_m ⊗ Z]P_B, ∂/∂U = −Q⁻¹D[I_m ⊗ X]",
            f"the printed forms = autodiff (rel. err ≤ {tol:g})",
            f"(uᵀ ⊗ I_N): rel. err ≥ {printed_min:.2f} (the column-stacking form is I_N ⊗ uᵀ: "
            f"err ≤ {max(v for k, v in rows[0][1].items() if 'I_N⊗' in k):.0e}); C.0.2's signs "
            "with Lemma 3.2.2's Kronecker factor: rel. err "
            + ", ".join(
                f"{k.split(',')[0]} {v:.2f}" for k, v in jac[0]["c02"].items() if "signs" in k
            )
            + " (exactly −1 × the truth); "
            + "; ".join(
                f"{k} {v:.2f}" for j in jac for k, v in j["c02"].items() if "as printed" in k
            )
            + " (n = N; for n ≠ N [I_m ⊗ Z] has the wrong shape)",
            printed_min <= tol and c02_min <= tol,
            "Same instances. Lemma 3.2.2 (main text) has the right signs; App. C.0.2 flips all "
            "four and writes [I_m ⊗ Z] for [Zᵀ ⊗ I_n]; Lemma 3.2.3's readout factor (uᵀ ⊗ I_N) "
            "maps vec(Zᵀ), not the vec(Z) of Lemmas 3.2.1–3.2.2. The thesis's later bounds use "
            "only ‖(uᵀ ⊗ I_N)‖ = ‖u‖, equal for both forms. See docs/errata.md.",
            ("004-22",),
        ),
    ]


# ----------------------------------------------------------------------------- run


def run(quick: bool = True) -> Result:
    t0 = time.perf_counter()
    rng = lambda i: np.random.default_rng([4004, i])  # noqa: E731
    express = nets.expressiveness(rng(0), solvers=("Picard",) if quick else ("Picard", "Anderson"))
    tied = nets.weight_tied(rng(1))
    iters = [8, 16, 32, 64, 128] if quick else [8, 16, 32, 64, 128, 256, 512]
    mem = cached(
        "deq_foundations/memory",
        lambda: nets.solver_memory(
            128 if quick else 256,
            iters,
            [8, 64] if quick else iters,
            ("Broyden, all updates (thesis)", "Anderson(5)") if quick else None,
        ),
    )
    cases = (
        [("normal", 0.95)] if quick else [("normal", 0.95), ("normal", 0.99), ("non-normal", 0.9)]
    )
    ks = [10, 30, 100, 300, 1000, 3000] if quick else [10, 30, 100, 300, 1000, 3000, 10000, 30000]
    unrolled = cached("deq_foundations/unrolled", lambda: nets.unrolled_error(cases, ks))
    det = theory.det_bound(rng(2), 300 if quick else 3000)
    mono = theory.monotone_linear(rng(3), draws=40 if quick else 200)
    sizes = [(6, 6, 4)] if quick else [(6, 6, 4), (7, 5, 4), (12, 8, 5)]
    jac = cached(
        "deq_foundations/kronecker",
        lambda: [theory.mondeq_jacobians(*s, with_w=not quick) for s in sizes],
    )
    claims = (
        judge_expressiveness(express, tied)
        + judge_memory(mem)
        + judge_unrolled(unrolled)
        + judge_cited()
        + judge_det(det)
        + judge_monotone(mono)
        + judge_kronecker(jac)
    )
    figures, captions = draw(unrolled, mem)
    metrics = dict(
        expressiveness=express,
        weight_tied=tied,
        solver_memory=mem,
        unrolled=unrolled,
        det_counterexample=det["counterexample"],
        monotone=mono["cases"],
        kronecker=[dict(n=j["n"], N=j["N"], errors=j["errors"], c02=j["c02"]) for j in jac],
        seconds=time.perf_counter() - t0,
    )
    method = (
        "Float64 unless stated. Nets: random feed-forward nets (L = 4) rebuilt as a DEQ cell with "
        "strictly block lower-triangular weights and as a weight-tied net (cx.models.repeat). "
        "Memory: solver state (eval_shape) and XLA temp bytes of the compiled forward solve. "
        "Unrolled error: float32 backpropagation through K Picard steps of a tanh DEQ against a "
        "float64 implicit gradient. eq. 2.8 / 2.6 on random normal and non-normal J; Lemma 2.3.2 "
        "by sampled pairs; Lemmas 3.2.1–3.2.3 against autodiff of the thesis's monotone DEQ. "
        "Quick mode: Picard-only DEQ solve (full: also Anderson), compiled memory at K = 8, 64 "
        "for the full Broyden and Anderson (full: every K and solver, n = 256), one unrolled case to K = 3000 (full: three cases to 30000), "
        "300 J (full 3000), 40 M per case (full 200), one Kronecker instance n = N = 6 without "
        "the autodiff reference of ∂vec Z/∂vec W (full: three sizes, with it)."
    )
    return Result(claims=claims, figures=figures, captions=captions, metrics=metrics, method=method)
