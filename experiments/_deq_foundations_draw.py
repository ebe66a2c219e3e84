"""Draw function of `experiments.deq_foundations`: the unrolled-gradient error against the number
of unrolled steps (Hieu 2022, seed 004 §2.1.3) and the solver memory against the number of
iterations (§2.1.2)."""

from __future__ import annotations

import numpy as np


def draw(u, mem):
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figs, caps = {}, {}
    ks = np.asarray(u["ks"])
    fig, axes = plt.subplots(1, len(u["cases"]), figsize=(5 * len(u["cases"]), 3.6), squeeze=False)
    for ax, c in zip(axes[0], u["cases"]):
        ax.loglog(ks, c["total"], "o-", label="float32 unrolled − reference")
        ax.loglog(
            ks, np.maximum(c["truncation"], 1e-17), "s--", label="truncation (float64 unrolled)"
        )
        ax.loglog(ks, c["roundoff"], "^-", label="round-off (float32 − float64 unrolled)")
        ax.axhline(c["implicit32"], color="k", lw=0.8, label="float32 implicit (tol 1e-6)")
        ax.set(
            xlabel="unrolled steps K",
            ylabel="relative gradient error",
            title=f"{c['kind']} W, ρ = {c['rho']}",
        )
        ax.legend(fontsize=7)
    figs["unrolled_error"] = fig
    caps["unrolled_error"] = (
        "Hieu 2022 §2.1.3 (no figure there): relative error of ∂(cᵀz_K)/∂W for a tanh DEQ, "
        "backpropagated through K Picard steps in float32, against a float64 implicit gradient, "
        "split into truncation and round-off; the round-off levels off instead of accumulating."
    )
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for name, v in mem["state_bytes"].items():
        ax.plot(mem["iterations"], np.asarray(v) / 1024, "o-", label=f"{name}: state")
    for name, v in mem["temp_bytes"].items():
        if len(v) != len(mem["temp_iterations"]):  # not measured for this solver (quick mode)
            continue
        ax.plot(mem["temp_iterations"], np.asarray(v) / 1024, "x:", label=f"{name}: compiled temp")
    ax.set(
        xlabel="iterations K (max_steps)",
        ylabel="memory (KiB)",
        xscale="log",
        yscale="log",
        title=f"solver memory, n = {mem['n']}",
    )
    ax.legend(fontsize=6)
    figs["solver_memory"] = fig
    caps["solver_memory"] = (
        "Hieu 2022 §2.1.2 (no figure there): solver-state bytes and XLA temp bytes of the forward "
        "solve against the number of iterations: Broyden keeping every update grows linearly, "
        "Anderson(5) and contractax's limited-memory Broyden(16) stay constant."
    )
    return figs, caps
