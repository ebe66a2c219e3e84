"""Seed 003 (Nar & Sastry, *Step Size Matters in Deep Learning*): gradient descent as a map.

Examples 1–2 (a 2-cycle at ±δ²/4; the threshold x₀^{L−2} = 2/(Lδ)) and Lemma 2
(`_step_size_maps`); deep linear networks from the identity: bifurcation diagram against δ/δ_c
(Corollary 1), Theorem 2's linear rate, Theorem 3's limit and Lemma 4 (`_step_size_identity`);
Theorem 1 over rescaled solutions against the Lyapunov radius, Corollary 2 over random
initialisations and Remark 3 (`_step_size_minima`); Remark 4 and the plateau-then-drop
reading of §1/§5 (`_step_size_remark4`); two-layer ReLU (Theorem 4 and the converging
/ oscillating step-size pair of Figure 2, `_step_size_relu`). Compute functions return plain
data, judge functions `Claim`s naming the CLAIMS.md items, draw functions figures.
"""

from __future__ import annotations

import time

from experiments import (
    _step_size_identity as identity,
    _step_size_maps as maps,
    _step_size_minima as minima,
    _step_size_relu as relu,
    _step_size_remark4 as remark4,
)
from experiments._cache import cached
from experiments._report import Claim, Result

TITLE = "Step size matters: GD orbits, deep-linear stability thresholds, two-layer ReLU"

CAPTIONS = {
    "example1_two_cycle": "Nar & Sastry 2018, §1 Example 1: the last iterates of GD on "
    "f = ⅔|x|^(3/2), scaled by δ²/4, alternate between +1 and −1 (the 2-cycle ±δ²/4) for each "
    "step size δ.",
    "example2_threshold": "Nar & Sastry 2018, §1 Example 2: where GD on f = x^L converges (green) "
    "over start x₀ and step size δ, against the predicted threshold x₀^(L−2) = 2/(Lδ) (dashed).",
    "deep_linear_bifurcation": "Nar & Sastry 2018, §2 Corollary 1 / §3 (no figure in the paper): "
    "bifurcation diagram of GD on deep linear networks from the identity — the top eigen-"
    "component of the product W_L⋯W_1 over the last 64 iterates against δ/δ_c; the red line is "
    "δ_c = 2/(Lρ^(2(L−1)/L)), above which the orbit is a 2-cycle, then period 4.",
    "theorem2_rate": "Nar & Sastry 2018, §3 Theorem 2 / Lemma 3: the error of each layer's "
    "eigenvalue from the identity against the linear-rate bound β(δ)^k |1 − λ^(1/L)| (dashed), for "
    "δ at the theorem's bound and half of it.",
    "theorem1_rescaling": "Nar & Sastry 2018, §2 Theorem 1: over the rescaled minima α = "
    "(a, 1, 1/a), the Lyapunov radius ρ(I − δ∇²f) is above 1 (red) exactly above the bound "
    "2/Σp²q² (black), which peaks at δ_c at the balanced minimum a = 1.",
    "remark3_identity_vs_random": "Nar & Sastry 2018, §3 Remark 3: the fraction of GD runs that "
    "reach the optimum R from the identity (black) and from 32 normal initialisations (dashed) "
    "at each δ/δ_c.",
    "two_layer_relu_pair": "Nar & Sastry 2018, §4 Figure 2 (our target and draw): the target and "
    "the two-layer ReLU fit at two step sizes — the adjacent converged / 2-cycle pair of the δ "
    "grid when there is one, else the seed's δ = 2e-4 and 3e-4 with the outcome each gave here; "
    "on the right the last iterate and the next (f̂_even, f̂_odd), which differ only on a 2-cycle.",
    "two_layer_relu_outcomes": "Nar & Sastry 2018, §4: the orbit kind of GD on the two-layer ReLU "
    "network at each step size of the grid (no figure in the paper).",
    "remark4_plateau_drop": remark4.CAPTION,
    "two_layer_relu_continuation": "Nar & Sastry 2018, §4 Figure 2, the mechanism: restarted "
    "from a converged solution with sharpness λ, a step 0.97·2/λ stays converged (left) while a "
    "step just above 2/λ ends in the 2-cycle f̂_even ↔ f̂_odd (right).",
}

METHOD = (
    "Gradient descent x_{k+1} = x_k − δ∇f(x_k) is run with `cx.gd.run` (lax.scan) and every sweep "
    "is one compiled program through `cx.sweep.grid` (vmap over the grid). Orbits are classified "
    "by `cx.gd.classify` on the last 64 iterates (converged / period p ≤ 16 / aperiodic / "
    "diverged, rtol 1e-6 unless stated). Deep linear problems use the whitened loss "
    "½‖W_L⋯W_1 − R‖_F² (equal to the seed's eq. (2) when (1/N)Σx_ix_iᵀ = I) with 3×3 layers and "
    "SPD targets R = Q diag(ρ, 1, 0.5) Qᵀ. The two-layer experiment uses the seed's sizes and loss "
    "(Σ, no ½) with our own random draw and our own piecewise target, so the step-size pair is "
    "searched for rather than copied (a grid of δ from the same random start, then a restart "
    "from the converged solution at δ = factor·2/λ_max). Quick mode uses fewer depths, ρ values, "
    "grid points and steps than full mode (full: L up to 8, ρ up to 8, 20 000 steps per "
    "deep-linear run, 400 000 two-layer steps); all in float64. Not reproduced: §1 Figure 1 "
    "(ResNet-20/56 on CIFAR-10); Remark 4 / §5 are checked on deep linear networks (the "
    "residual parametrisation run on its own, and a plateau-then-drop run of full-batch GD)."
)


def _figure1() -> Claim:
    return Claim(
        "003 §1, Figure 1",
        "ResNet-20/56 on CIFAR-10: the training error drops at each step-size decrease "
        "(32k and 48k iterations)",
        "a drop of the error curve at each step-size decrease",
        "not run",
        None,
        "adapted by the seed from He et al. 2016",
        items=("003-1",),
        reason="needs the CIFAR-10 files and 64k iterations of ResNet-20/56 training (hours on "
        "a GPU); this machine has 2 CPU cores and no CIFAR-10 copy",
    )


def run(quick: bool = True) -> Result:
    mode = "quick" if quick else "full"
    seconds, data = {}, {}
    parts = {
        "example1": maps.example1,
        "example2": maps.example2,
        "lemma2": maps.lemma2,
        "identity_sweep": lambda: identity.identity_sweep(quick),
        "theorem2": identity.theorem2,
        "theorem3": identity.theorem3,
        "lemma4": lambda: identity.lemma4(quick),
        "theorem1": lambda: minima.theorem1(quick),
        "corollary2": lambda: minima.corollary2(quick),
        "two_layer": lambda: relu.two_layer(quick),
        "remark4": lambda: remark4.remark4(quick),
    }
    for name, compute in parts.items():
        t0 = time.perf_counter()
        data[name] = cached(f"step_size/{mode}/{name}", compute)
        seconds[name] = time.perf_counter() - t0
        print(f"      {name}: {seconds[name]:.1f} s", flush=True)
    d = data
    claims = (
        maps.judge_example1(d["example1"])
        + maps.judge_example2(d["example2"])
        + identity.judge_identity(d["identity_sweep"])
        + identity.judge_theorem2(d["theorem2"])
        + identity.judge_theorem3(d["theorem3"], d["lemma4"])
        + minima.judge_theorem1(d["theorem1"])
        + minima.judge_corollary2(d["corollary2"])
        + relu.judge_two_layer(d["two_layer"])
        + maps.judge_lemma2(d["lemma2"])
        + remark4.judge_remark4(d["remark4"])
        + [_figure1()]
    )
    figures = {
        "example1_two_cycle": maps.draw_example1(d["example1"]),
        "example2_threshold": maps.draw_example2(d["example2"]),
        "deep_linear_bifurcation": identity.draw_bifurcation(d["identity_sweep"]),
        "theorem2_rate": identity.draw_theorem2(d["theorem2"]),
        "theorem1_rescaling": minima.draw_theorem1(d["theorem1"]),
        "remark3_identity_vs_random": minima.draw_remark3(d["corollary2"]),
        "remark4_plateau_drop": remark4.draw_remark4(d["remark4"]),
    } | relu.draw_two_layer(d["two_layer"])
    t = d["two_layer"]
    metrics = {
        "example1": {k: v for k, v in d["example1"].items() if k != "tail"},
        "identity_sweep": [
            {k: v for k, v in r.items() if k not in ("ratios", "top")}
            for r in d["identity_sweep"]["rows"]
        ],
        "theorem3": d["theorem3"],
        "lemma2": d["lemma2"],
        "two_layer": {
            k: t[k]
            for k in ("deltas", "kinds", "kinds_rtol_1e-7", "final_loss", "sharpness")
            + ("delta_times_sharpness",)
        },
        "seconds": seconds,
    }
    captions = {k: v for k, v in CAPTIONS.items() if k in figures}
    return Result(claims=claims, figures=figures, captions=captions, metrics=metrics, method=METHOD)
