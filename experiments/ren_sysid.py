"""System identification of a contracting nonlinear mass chain by a contracting REN and by an
unconstrained LSTM of about the same size (issue 17, "shown on real work" (1)).

Both models are trained with optax on the simulation error of whole input/output sequences
(noisy outputs), then compared on longer held-out sequences (test NRMSE against the noise-free
outputs), and checked for contraction: the REN by its certificate (the state Jacobian's induced
norm in the metric M ≤ the certified rate ρ < 1 at sampled states, `cx.norms.induced_norm`, in
float32 and float64, and two trajectories approaching at rate ρ), the LSTM empirically (state
Jacobian norms, spectral radii, two trajectories). Parts in `_ren_parts.py`: compute returns plain
data, `judge` returns claims, `draw` figures.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments import _ren_parts as parts
from experiments._report import Claim, Result

TITLE = (
    "REN system identification: a contracting REN vs an LSTM on a nonlinear mass chain (issue 17)"
)
SRC = "issue 17"
FIT_MARGIN = 0.05  # the REN's test NRMSE may exceed the LSTM's by at most this (fixed in advance)

QUICK = dict(n_train=16, t_train=100, n_test=8, t_test=400, steps=100, batch=16, lr=2e-2,
             nx=8, nv=16, samples=256, pairs=8)  # fmt: skip
FULL = dict(n_train=128, t_train=200, n_test=32, t_test=1000, steps=1500, batch=32, lr=1e-2,
            nx=16, nv=64, samples=4096, pairs=64)  # fmt: skip


def _lstm_hidden(n):
    """Smallest LSTM width whose parameter count (cell + linear readout) reaches n."""
    h = 1
    while 4 * h * (h + 1) + 8 * h + h + 1 < n:
        h += 1
    return h


# ----------------------------------------------------------------------------- compute


def compute(cfg):
    t0 = time.time()
    cert = parts.certify_true_system()
    data = parts.make_data(0, cfg["n_train"], cfg["t_train"], cfg["n_test"], cfg["t_test"])
    true_div = parts.true_divergence(cert, data, cfg["pairs"], seed=1)
    key = jax.random.PRNGKey(0)
    ren = parts.make_models(cfg | {"lstm_hidden": 1}, key, jnp.float32)[0]
    cfg = cfg | {"lstm_hidden": _lstm_hidden(parts.n_params(ren))}
    ren, lstm = parts.make_models(cfg, key, jnp.float32)
    out = dict(cert=cert, true_div=true_div, data=data, cfg=cfg, models={})
    for name, model in (("REN", ren), ("LSTM", lstm)):
        t = time.time()
        trained, losses = parts.train(model, data, steps=cfg["steps"], lr=cfg["lr"],
                                      batch=cfg["batch"], seed=1, dtype=jnp.float32)  # fmt: skip
        seconds = time.time() - t
        err, pred = parts.nrmse(trained, data, jnp.float32)
        k = jax.random.PRNGKey(2)
        if name == "REN":
            check = parts.ren_certificate(trained, data, cfg["samples"], k)
        else:
            check = parts.lstm_jacobian_norms(trained, data, cfg["samples"], k)
        div = parts.divergence(trained, data, cfg["pairs"], jax.random.PRNGKey(3))
        out["models"][name] = dict(params=parts.n_params(model), losses=losses, nrmse=err,
                                   pred=pred, check=check, div=div, train_seconds=seconds)  # fmt: skip
    out["seconds"] = time.time() - t0
    return out


# ----------------------------------------------------------------------------- judge


def judge(r):
    cert, td, cfg = r["cert"], r["true_div"], r["cfg"]
    ren, lstm = r["models"]["REN"], r["models"]["LSTM"]
    rc, rd = ren["check"], ren["div"]
    lc, ld = lstm["check"], lstm["div"]
    claims = [
        Claim(
            f"{SRC} (true system)",
            "the two-mass chain with tanh-softened springs and dampers, sampled with Euler "
            "sub-steps, is contracting: ‖I + hJ‖_{2,P} < 1 at all 16 slope vertices",
            "certified per-sample rate ρ < 1; simulated pairs ‖Δz_t‖_P ≤ ρᵗ‖Δz_0‖_P",
            f"ρ = {cert['rate']:.4f} (per sub-step {cert['rate_sub']:.6f}, cond P = "
            f"{cert['cond_P']:.2f}); max_t ratio/ρᵗ = {td['excess']:.3f} over {cfg['pairs']} pairs",
            cert["rate"] < 1 and td["excess"] <= 1 + 1e-9,
            "Euler-sub-step Jacobians are affine in the 4 slopes, the induced norm convex: the "
            "vertex maximum bounds every state; P from minimising that maximum (Adam on a "
            "Cholesky factor), the check exact in float64.",
        ),
        Claim(
            f"{SRC} (REN, certified)",
            "the learned REN is contracting in its metric M at all sampled states, in float32 "
            "and float64",
            "max ‖∂x⁺/∂x‖_{2,M} ≤ ρ < 1 over all samples",
            "; ".join(f"{k}: max {v['max_norm']:.4f} ≤ ρ = {v['rate']:.6f}" for k, v in rc.items())
            + f" ({cfg['samples']} samples)",
            all(v["max_norm"] <= v["rate"] < 1 for v in rc.values()),
            "Half the (x, u) samples are states visited along the test rollouts, half random "
            "states 3× as spread out; Jacobians by jacfwd through the fixed-point solve "
            "(implicit forward mode); (M, ρ) = model.contraction_metric(); cx.norms.induced_norm.",
        ),
        Claim(
            f"{SRC} (REN, trajectories)",
            "two REN trajectories from different initial states under the same test input "
            "approach each other at least at the certified rate",
            "max over pairs and t ≥ 1 of ‖Δx_t‖_M / (ρᵗ‖Δx_0‖_M) ≤ 1",
            f"{rd['excess']:.4f} (ρ = {rd['rate']:.6f}; final ratio {rd['final']:.2e}, "
            f"T = {cfg['t_test']})",
            rd["excess"] <= 1 + 1e-9,
            f"{cfg['pairs']} pairs, x₀ ~ 3N(0, I), float64 rollouts by REN.simulate.",
        ),
        Claim(
            f"{SRC} (fit)",
            "the REN's fit on longer held-out sequences is comparable to the LSTM's",
            f"test NRMSE(REN) ≤ NRMSE(LSTM) + {FIT_MARGIN}",
            f"REN {ren['nrmse']:.4f} ({ren['params']} parameters), LSTM {lstm['nrmse']:.4f} "
            f"({lstm['params']} parameters, hidden {cfg['lstm_hidden']})",
            ren["nrmse"] <= lstm["nrmse"] + FIT_MARGIN,
            f"Trained on {cfg['n_train']} sequences of {cfg['t_train']} samples, tested on "
            f"{cfg['n_test']} new sequences of {cfg['t_test']}; NRMSE = RMS error / std of the "
            "noise-free test output after a washout of 20 samples.",
        ),
        Claim(
            f"{SRC} (LSTM, empirical)",
            "the unconstrained LSTM, trained the same way, also stays contracting (it has no "
            "certificate; empirical tests only)",
            "2-norm of the state Jacobian < 1 at all visited states, and two trajectories "
            "from random (h, c) ∈ (−1, 1) converge (final ratio < 1e-3)",
            f"max ‖J‖₂ visited {lc['max_norm_visited']:.3f}, random {lc['max_norm_random']:.3f} "
            f"(> 1 at {100 * lc['frac_above_1']:.0f}% of samples); max spectral radius visited "
            f"{lc['max_radius_visited']:.3f}, random {lc['max_radius_random']:.3f}; two-trajectory "
            f"final ratio {ld['final']:.2e}",
            lc["max_norm_visited"] < 1 and ld["final"] < 1e-3,
            "Same samples as the REN row; a spectral radius > 1 at a state rules out contraction "
            "in every constant metric there (‖J‖ ≥ ρ(J)); ‖J‖₂ > 1 only rules out the identity "
            "metric. The trajectory test is empirical on the test inputs, not a certificate.",
        ),
    ]
    return claims


# ----------------------------------------------------------------------------- draw


def draw(r):
    data, ren, lstm = r["data"], r["models"]["REN"], r["models"]["LSTM"]
    figs = {}
    fig, axs = plt.subplots(2, 1, figsize=(8, 5), sharex=False)
    t = np.arange(data["y_test"].shape[1]) * parts.TS
    axs[0].plot(t, data["y_test"][0], "k", lw=1.5, label="true (noise-free)")
    axs[0].plot(t, ren["pred"][0], lw=1, label=f"REN (NRMSE {ren['nrmse']:.3f})")
    axs[0].plot(t, lstm["pred"][0], lw=1, ls="--", label=f"LSTM (NRMSE {lstm['nrmse']:.3f})")
    axs[0].set_ylabel("q₂ (held-out input)")
    axs[0].set_xlabel("t (s)")
    axs[0].legend(fontsize=7)
    axs[1].semilogy(ren["losses"], label="REN")
    axs[1].semilogy(lstm["losses"], label="LSTM")
    axs[1].set_xlabel("Adam step")
    axs[1].set_ylabel("training simulation MSE (normalised)")
    axs[1].legend(fontsize=7)
    fig.tight_layout()
    figs["fit"] = fig

    fig, axs = plt.subplots(1, 2, figsize=(9, 3.6))
    rd, ld, td = ren["div"], lstm["div"], r["true_div"]
    steps = np.arange(rd["ratio"].shape[1])
    axs[0].semilogy(steps, rd["ratio"].T, color="C0", lw=0.6)
    axs[0].semilogy(steps, rd["bound"], "C0--", lw=2, label="REN: ρᵗ (certified)")
    axs[0].semilogy(steps, ld["ratio"].T, color="C1", lw=0.6)
    axs[0].semilogy(steps, td["ratio"].T, color="k", lw=0.6)
    axs[0].semilogy(steps, td["bound"], "k:", lw=2, label="true system: ρᵗ")
    axs[0].plot([], [], "C0", label="REN ‖Δx‖_M")
    axs[0].plot([], [], "C1", label="LSTM ‖Δx‖₂")
    axs[0].plot([], [], "k", label="true ‖Δz‖_P")
    axs[0].set_ylim(1e-12, 10)
    axs[0].set_xlabel("sample t")
    axs[0].set_ylabel("distance / initial distance")
    axs[0].legend(fontsize=7)
    rn = r["models"]["REN"]["check"]["float64"]
    axs[1].hist(rn["norms"], bins=40, alpha=0.7, label="REN ‖J‖_{2,M}")
    axs[1].hist(lstm["check"]["norms"], bins=40, alpha=0.7, label="LSTM ‖J‖₂")
    axs[1].axvline(rn["rate"], color="C0", ls="--", label="REN certified ρ")
    axs[1].axvline(1.0, color="k", lw=0.8)
    axs[1].set_xlabel("state-Jacobian norm at sampled states")
    axs[1].legend(fontsize=7)
    fig.tight_layout()
    figs["contraction"] = fig
    return figs


CAPTIONS = {
    "fit": "Top: one held-out test sequence (longer than the training ones), true noise-free "
    "output and the free-run simulations of the trained REN and LSTM. Bottom: training "
    "simulation error. (No paper figure: the REN paper's system-identification benchmarks "
    "are F16 / Wiener–Hammerstein measurements, not bundled here.)",
    "contraction": "Left: distance between two trajectories from different initial states under "
    "the same input, REN in its metric M with the certified envelope ρᵗ, LSTM in ℓ2, true system "
    "in its certificate metric P. Right: state-Jacobian norms at the sampled states.",
}


def run(quick: bool = True, **overrides) -> Result:
    """Quick or full sizes; keyword `overrides` replace entries of `QUICK`/`FULL` (smoke tests)."""
    cfg = (QUICK if quick else FULL) | overrides
    r = compute(cfg)
    ren, lstm = r["models"]["REN"], r["models"]["LSTM"]
    cfg = r["cfg"]
    metrics = dict(
        true_system=dict(
            rate=r["cert"]["rate"],
            rate_sub=r["cert"]["rate_sub"],
            P=r["cert"]["P"],
            divergence_excess=r["true_div"]["excess"],
            noise_std=r["data"]["noise_std"],
        ),  # fmt: skip
        config=cfg,
        seconds=r["seconds"],
    )
    for name, m in r["models"].items():
        check = {k: v for k, v in m["check"].items() if k != "norms"}
        if name == "REN":
            check = {k: {kk: vv for kk, vv in v.items() if kk != "norms"} for k, v in check.items()}
        metrics[name] = dict(params=m["params"], nrmse=m["nrmse"], final_loss=m["losses"][-1],
                             train_seconds=m["train_seconds"], check=check,
                             divergence_final=m["div"]["final"],
                             divergence_excess=m["div"].get("excess"))  # fmt: skip
    method = (
        "True system: two unit masses in a chain (wall–spring–m₁–spring–m₂), spring force "
        f"kd + a·tanh(d) (k = {parts.K}, a = {parts.A}), damper force cv + b·tanh(v) to ground "
        f"(c = {parts.C}, b = {parts.B}), force input on m₁, output q₂; sample time {parts.TS} s "
        f"with {parts.SUB} explicit-Euler sub-steps. Inputs: piecewise-constant levels uniform in "
        "[−3, 3] held 8 samples; training outputs with white noise of 5% of their std. Models "
        f"(float32): ContractingREN(1, n = {cfg['nx']}, q = {cfg['nv']}, 1), ReLU, ᾱ = 1, "
        f"ε = 1e-3 ({ren['params']} parameters) and LSTMCell(1, {cfg['lstm_hidden']}) + linear "
        f"readout ({lstm['params']} parameters, the smallest width with at least the REN's count). "
        f"Both start at x = 0; Adam with cosine decay from lr {cfg['lr']} (gradient clip 10), "
        f"{cfg['steps']} steps on minibatches of {cfg['batch']} of the {cfg['n_train']} training "
        f"sequences (length {cfg['t_train']}); test on {cfg['n_test']} new sequences of length "
        f"{cfg['t_test']}. Quick mode: the sizes above are small (about a minute of CPU); full mode "
        f"uses {FULL['n_train']} × {FULL['t_train']} training samples, n = {FULL['nx']}, "
        f"q = {FULL['nv']}, {FULL['steps']} steps, {FULL['samples']} Jacobian samples — the scale "
        "of the REN paper's simulated examples, not of its F16 benchmark. Wall time of this run: "
        f"{r['seconds']:.1f} s (REN training {ren['train_seconds']:.1f} s, LSTM "
        f"{lstm['train_seconds']:.1f} s)."
    )
    return Result(claims=judge(r), figures=draw(r), captions=CAPTIONS, metrics=metrics,
                  method=method)  # fmt: skip
