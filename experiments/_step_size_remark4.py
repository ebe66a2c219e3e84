"""Seed 003 Remark 4 and §1/§5: identity-initialised deep linear networks are zero-initialised
linear residual networks, and a loss plateau under full-batch GD is an oscillation, not noise.

Remark 4: with W_i = I + V_i, gradient descent on ½‖W_L⋯W_1 − R‖²_F from W_i = I and on
½‖(I + V_L)⋯(I + V_1) − R‖²_F from V_i = 0 are the same iteration, so Theorem 2's large step
sizes carry over to residual networks. Checked on the two parametrisations run separately (not
through the identity W = I + V): the trajectories agree, and the stability threshold measured
on the residual network itself equals δ_c.

§1 (Figure 1's reading) and §5: "the parameters are oscillating around a local optimum right
before the step size is changed. Once the step size is decreased … the training error [falls
sharply]." Full-batch GD has no noise, so a plateau there cannot be SGD noise: at δ above the
threshold the loss stops decreasing on a 2-cycle around the optimum; lowering δ makes it
plummet, while keeping δ leaves it where it was. A slowly converging iterate would instead be
slowed further by a smaller step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import contractax as cx
from contractax.models import DeepLinear, deep_linear_loss
from experiments._report import Claim
from experiments._step_size_identity import spd

SRC = "003"


class _Residual(cx.models.DeepLinear):
    """The linear residual network x ↦ (I + V_L)⋯(I + V_1)x, stored by its V_i."""

    def product(self):
        n = self.weights[0].shape[0]
        out = jnp.eye(n, dtype=self.weights[0].dtype)
        for v in self.weights:
            out = (jnp.eye(n, dtype=v.dtype) + v) @ out
        return out


def _residual_loss(model, R):
    return 0.5 * jnp.sum((model.product() - R) ** 2)


def _stack(p, args):
    return jnp.stack(p.weights)


# ----------------------------------------------------------------------------- compute


def remark4(quick: bool) -> dict:
    """Both parametrisations from W = I / V = 0; the residual network's own threshold; the
    plateau-then-drop run (δ₁ = 1.05 δ_c for K₁ steps, then δ₂ = δ_c/2 or δ₁ again)."""
    L, n = 3, 3
    R, _ = spd([2.0, 1.0, 0.5], jax.random.PRNGKey(7))
    dc = float(cx.gd.deep_linear_global_bound(R, L))
    steps = 400 if quick else 2000
    deep0 = DeepLinear([n] * (L + 1))
    res0 = _Residual(weights=[jnp.zeros((n, n))] * L)
    agree = []
    for ratio in (0.5, 0.9, 1.05):
        a = cx.gd.run(deep_linear_loss, deep0, ratio * dc, steps, args=R, record=_stack)
        b = cx.gd.run(_residual_loss, res0, ratio * dc, steps, args=R, record=_stack)
        agree.append(
            {
                "ratio": ratio,
                "max_diff": float(jnp.max(jnp.abs(a.values - (jnp.eye(n)[None, None] + b.values)))),
                "loss_diff": float(jnp.max(jnp.abs(a.loss - b.loss))),
            }
        )
    # The residual network's own stability threshold (no reference to W = I + V).
    ratios = jnp.linspace(0.9, 1.1, 81 if quick else 401)
    tail = 4000 if quick else 20000

    def kind(ratio):
        tr = cx.gd.run(_residual_loss, res0, ratio * dc, tail, args=R, burn_in=tail - 64)
        return cx.gd.classify(tr, max_period=16).code

    codes = np.asarray(cx.sweep.grid(kind, {"ratio": ratios}))
    r = np.asarray(ratios)
    bad = int(np.argmax(codes != 0)) if (codes != 0).any() else len(r) - 1
    threshold = 0.5 * (r[bad - 1] + r[bad]) if bad > 0 else float(r[0])

    # Plateau then drop.
    k1, k2 = (3000, 100) if quick else (20000, 300)
    d1, d2 = 1.05 * dc, 0.5 * dc
    ph1 = cx.gd.run(deep_linear_loss, deep0, d1, k1, args=R, record=lambda p, a: p.product())
    orbit = cx.gd.classify(ph1, max_period=16)
    drop = cx.gd.run(deep_linear_loss, ph1.final, d2, k2, args=R, record=lambda p, a: p.product())
    keep = cx.gd.run(deep_linear_loss, ph1.final, d1, k2, args=R, record=lambda p, a: p.product())
    dist = lambda tr: np.asarray(jnp.linalg.norm(tr.values - R[None], axis=(-2, -1)))
    return {
        "L": L,
        "delta_c": dc,
        "steps": steps,
        "agree": agree,
        "threshold_ratio": float(threshold),
        "grid_step": float(r[1] - r[0]),
        "k1": k1,
        "k2": k2,
        "orbit": (cx.gd.ORBIT_KINDS[int(orbit.code)], int(orbit.period)),
        "loss1": np.asarray(ph1.loss),
        "loss_drop": np.asarray(drop.loss),
        "loss_keep": np.asarray(keep.loss),
        "dist1": dist(ph1),
        "dist_drop": dist(drop),
    }


# ----------------------------------------------------------------------------- judge


def judge_remark4(d: dict) -> list[Claim]:
    worst = max(a["max_diff"] for a in d["agree"])
    thr, h = d["threshold_ratio"], d["grid_step"]
    l1 = d["loss1"]
    half = len(l1) // 2
    pair = lambda x: 0.5 * (x[:-1:2] + x[1::2])[-1]  # mean over the last 2-cycle
    plateau, early = pair(l1), pair(l1[:half])
    after, kept = pair(d["loss_drop"]), pair(d["loss_keep"])
    ratio_drop, ratio_keep = after / plateau, kept / plateau
    stalled = abs(plateau - early) / plateau
    return [
        Claim(
            f"{SRC} Remark 4",
            "Identity initialisation of a deep linear network is zero initialisation of a linear "
            "residual network: GD on the two parametrisations is the same iteration, so the "
            "residual network from V = 0 reaches the optimum up to the same largest step δ_c",
            "the trajectories W_i[k] and I + V_i[k] agree (≤ 1e-10) at δ/δ_c ∈ {0.5, 0.9, 1.05}; "
            "the residual network's own measured threshold = δ_c within the grid step",
            f"max |W_i[k] − (I + V_i[k])| = {worst:.1e} over {d['steps']} steps; residual "
            f"threshold δ*/δ_c = {thr:.4f} (grid step {h:.4f})",
            worst <= 1e-10 and abs(thr - 1.0) <= h,
            f"L = {d['L']}, 3×3 layers, R = Q diag(2, 1, 0.5) Qᵀ, δ_c = {d['delta_c']:.4f}; the "
            "residual network ½‖(I + V_L)⋯(I + V_1) − R‖²_F is its own loss (its gradient is "
            "autodiff of that product, not mapped from the deep linear one); threshold = first "
            "δ of the grid whose orbit (cx.gd.classify, last 64 of "
            f"{4000 if d['steps'] == 400 else 20000} steps) is not converged, float64.",
            items=("003-20",),
        ),
        Claim(
            f"{SRC} §1 (reading of Figure 1), §5",
            "A training-loss plateau can be an oscillation around an optimum rather than noise or "
            "slow convergence: with full-batch (noise-free) GD above the threshold the loss stalls "
            "on a 2-cycle; lowering the step size makes it plummet, keeping it does not",
            "phase 1 (δ₁ = 1.05 δ_c) ends on a periodic orbit with the loss stalled (relative "
            "change over its second half ≤ 1e-3); after δ₂ = δ_c/2 the loss falls ≥ 100× within "
            "K₂ steps, while continuing at δ₁ keeps it within 2× of the plateau",
            f"phase 1: {d['orbit'][0]} (period {d['orbit'][1]}), plateau loss {plateau:.3e} "
            f"(change over the second half {stalled:.1e}); after {d['k2']} steps at δ₂: "
            f"×{ratio_drop:.1e}; at δ₁: ×{ratio_keep:.2f}; distance ‖W_L⋯W_1 − R‖_F "
            f"{d['dist1'][-1]:.3f} → {d['dist_drop'][-1]:.1e}",
            d["orbit"][0] == "periodic"
            and stalled <= 1e-3
            and ratio_drop <= 1e-2
            and 0.5 <= ratio_keep <= 2.0,
            f"deep linear network from W_i = I (L = {d['L']}, the same R), exact gradients "
            f"(no minibatch noise), K₁ = {d['k1']} steps at δ₁ then K₂ = {d['k2']} at δ₂ or δ₁; "
            "loss = mean over the last two iterates (one period). A stand-in for the seed's "
            "ResNet/CIFAR-10 curve (003-1, not reproduced): the mechanism, on the model where "
            "δ_c is known exactly.",
            items=("003-20",),
        ),
    ]


def draw_remark4(d: dict):
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    k1 = d["k1"]
    k = np.arange(1, k1 + 1)
    k_after = k1 + np.arange(1, d["k2"] + 1)
    last = slice(-3 * d["k2"], None)
    ax[0].semilogy(k[last], d["loss1"][last], color="k", lw=0.8, label="δ₁ = 1.05 δ_c")
    ax[0].semilogy(k_after, d["loss_keep"], color="tab:red", lw=0.8, label="keep δ₁")
    ax[0].semilogy(k_after, d["loss_drop"], color="tab:blue", lw=1.2, label="drop to δ_c/2")
    ax[0].axvline(k1, color="0.5", ls=":")
    ax[0].set_xlabel(f"GD step k (full batch; phase 1 has {k1} steps)")
    ax[0].set_ylabel("training loss ½‖W_L⋯W_1 − R‖²_F")
    ax[0].legend(fontsize=8)
    zoom = slice(-200, None)
    ax[1].plot(k[zoom], d["loss1"][zoom], ".-", color="k", lw=0.5, ms=2)
    ax[1].set_xlabel("GD step k (last 200 of phase 1)")
    ax[1].set_ylabel("training loss")
    fig.tight_layout()
    return fig


CAPTION = (
    "Nar & Sastry 2018, §1/§5 (the reading of Figure 1, on a deep linear network): full-batch GD "
    "at δ₁ = 1.05 δ_c stalls on a 2-cycle (right: the last 200 losses alternate), and lowering "
    "the step to δ_c/2 at the dotted line makes the loss plummet (blue), while keeping δ₁ does "
    "not (red). No noise is involved."
)
