"""Figures of `experiments.implicit_robustness`, each with its caption."""

from __future__ import annotations

import numpy as np


def draw(runs, mon, avg, inter, eps, eps_pgd, eps_cert, data_name="digits"):
    """The four figures and their captions; `data_name` is "digits" or "mnist"."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figs, caps = {}, {}
    where = "here also MNIST" if data_name == "mnist" else "here the sklearn digits"
    pgd_i, cert_i = eps.index(eps_pgd), eps.index(eps_cert)

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for key, lab, mk in (
        ("pgd", f"PGD, ε = {eps_pgd}", "o"),
        ("certified_full", f"certified, ε = {eps_cert}", "s"),
    ):
        idx = pgd_i if key == "pgd" else cert_i
        xs = [100 * r["rep"][key][idx] for r in runs]
        ys = [100 * r["rep"]["clean_full"] for r in runs]
        ax.plot(xs, ys, marker=mk, label=f"ImplicitNetwork, {lab}")
        for r, xv, yv in zip(runs, xs, ys):
            ax.annotate(
                f"λ={r['lam']}", (xv, yv), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
    ax.plot(
        [100 * mon["rep"]["pgd"][pgd_i]],
        [100 * mon["rep"]["clean_full"]],
        "k^",
        label=f"MonotoneDEQ, PGD ε = {eps_pgd}",
    )
    ax.set_xlabel("robust accuracy (%)")
    ax.set_ylabel("clean accuracy (%)")
    ax.set_title(f"Accuracy–robustness trade-off across λ ({data_name}, n = 100)")
    ax.legend(fontsize=7)
    figs["pareto"] = fig
    caps["pareto"] = (
        "Bullo 2022, slide 'Robustness of INNs: tradeoff between accuracy and robustness' "
        "(Pareto curve, there on MNIST): clean against robust test accuracy of ℓ∞-contracting "
        "implicit networks trained with Lipschitz penalty λ on "
        + ("MNIST" if data_name == "mnist" else "sklearn digits")
        + ", with PGD and "
        "certified robustness, and a monotone DEQ of the same size."
    )

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for r in runs:
        (ln,) = ax.plot(eps, 100 * r["rep"]["pgd"], "-o", label=f"λ={r['lam']} PGD")
        ax.plot(
            eps,
            100 * r["rep"]["certified_full"],
            "--s",
            color=ln.get_color(),
            label=f"λ={r['lam']} certified",
        )
    ax.plot(eps, 100 * mon["rep"]["pgd"], "k-^", label="monDEQ PGD")
    ax.set_xlabel("ℓ∞ radius ε (pixels in [0, 1])")
    ax.set_ylabel("test accuracy under attack (%)")
    ax.legend(fontsize=6, ncol=2)
    ax.set_title("PGD (upper) and certified (lower) robust accuracy")
    figs["accuracy_vs_eps"] = fig
    caps["accuracy_vs_eps"] = (
        "Bullo 2022, slide 'Robustness of INNs: clean performance vs. robustness' (there on "
        f"MNIST; {where}): accuracy under an ℓ∞ PGD attack (an upper estimate of robust accuracy) and "
        "certified accuracy from the Lipschitz bound (a lower one) against the radius ε, per λ."
    )

    fig, axs = plt.subplots(1, 2, figsize=(9, 3.6))
    labels = [str(r["lam"]) for r in runs]
    axs[0].bar(labels, [r["lip"] for r in runs], label="bound")
    axs[0].bar(labels, [r["ratio"] for r in runs], label="max test-pair ratio")
    axs[0].set_yscale("log")
    axs[0].set_xlabel("Lipschitz penalty λ")
    axs[0].set_ylabel("ℓ∞ Lipschitz constant u → y")
    axs[0].set_title("ℓ∞ Lipschitz bound vs measured")
    axs[0].legend(fontsize=7)
    diffs = avg["diffs"]
    axs[1].semilogy(diffs[:, :20])
    axs[1].semilogy(
        diffs[0, :].max() * avg["rho"] ** np.arange(len(diffs)), "k--", lw=2, label="ρᵏ"
    )
    axs[1].set_ylim(1e-12, 10)
    axs[1].set_xlabel("iteration k")
    axs[1].set_ylabel("‖x(k+1) − x(k)‖ in ℓ∞,η")
    axs[1].set_title("averaged iteration (20 test inputs)")
    axs[1].legend()
    fig.tight_layout()
    figs["lipschitz_and_iteration"] = fig
    caps["lipschitz_and_iteration"] = (
        "Bullo 2022, slide 'Well-posedness and robustness of ℓ∞-contracting INNs' (no figure "
        "there): left, the Lipschitz bound ‖D⁻¹B‖∞‖CD‖∞/(1 − μ∞,η(A)₊) against the largest "
        "ratio over all test pairs; right, successive differences of the averaged iteration at "
        "α* against the predicted factor ρᵏ."
    )

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for r in inter:
        (ln,) = ax.semilogy(r["ts"], r["dist"], label=f"s={r['s']}, −α(Γ)={r['cert']:.2f}")
        if r["cert"] > 0:
            ax.semilogy(r["ts"], np.exp(-r["cert"] * r["ts"]), ":", color=ln.get_color())
    ax.set_xlabel("time t")
    ax.set_ylabel("‖x(t) − y(t)‖ / ‖x(0) − y(0)‖ (Perron-weighted ℓ∞)")
    ax.set_title("Interconnected firing-rate subsystems (dotted: exp(α(Γ)t))")
    ax.legend(fontsize=7)
    figs["interconnection"] = fig
    caps["interconnection"] = (
        "Bullo 2022, slide 'Networks of contracting systems' (no figure there): distance of two "
        "trajectories of five coupled firing-rate subsystems for coupling scales s; where the "
        "gain matrix Γ is Metzler–Hurwitz the distance decays at least like exp(α(Γ)t) (dotted)."
    )
    return figs, caps
