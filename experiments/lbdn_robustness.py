"""Certified ℓ2 robustness on handwritten digits: Lipschitz-bounded deep networks (sandwich layers)
at several γ against the μ∞-parametrised ImplicitNetwork and a MonotoneDEQ (issue 17, "shown on
real work" (2)).

Every model is trained with cross-entropy (the ImplicitNetwork with the Lipschitz regulariser of
seed 001), then evaluated on the same test images: clean accuracy, accuracy under an ℓ2 PGD attack
of radius ε, and certified accuracy from each model's own Lipschitz bound (`_lbdn_parts`
docstring). The empirical Lipschitz ratios over the PGD pairs (and, for the LBDNs and in full mode
for all, over pairs found by gradient ascent on the ratio) are checked against the bounds.
"""

from __future__ import annotations

import hashlib
import time

import jax
import matplotlib.pyplot as plt
import numpy as np

import contractax as cx
from experiments import _lbdn_parts as parts
from experiments._cache import cached
from experiments._report import Claim, Result

TITLE = "LBDN certified robustness on digits: sandwich networks vs ImplicitNetwork and MonotoneDEQ (issue 17)"
SRC = "issue 17"
EPS_STAR = 0.5  # the ℓ2 radius of the Pareto panel and of the comparison claims

QUICK = dict(gammas=[1.0, 4.0, 16.0], lbdn_sizes=(64, 64, 10), width=64, epochs=6,
             inn_epochs=2, mon_epochs=1, lr=5e-3, lam=0.01, n_eval=100, eps=[0.25, 0.5, 1.0],
             pgd_steps=5, ascent_pairs=16, ascent_steps=15, ascent_all=False)  # fmt: skip
FULL = dict(gammas=[0.5, 1.0, 2.0, 4.0, 8.0, 16.0], lbdn_sizes=(64, 256, 128, 10), width=100,
            epochs=40, inn_epochs=40, mon_epochs=40, lr=3e-3, lam=0.01, n_eval=449,
            eps=[0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5], pgd_steps=40, ascent_pairs=128,
            ascent_steps=100, ascent_all=True)  # fmt: skip


# ----------------------------------------------------------------------------- compute


def mode_key(quick: bool, overrides: dict) -> str:
    """The cache folder of a run: its mode, plus a digest of any `overrides` (smoke tests)."""
    mode = "quick" if quick else "full"
    if overrides:
        digest = hashlib.sha1(repr(sorted(overrides.items())).encode()).hexdigest()[:10]
        mode += f"-custom-{digest}"
    return mode


def one_model(kind, gamma, i, data, cfg):
    """Train one classifier and measure it: accuracies, certificates, Lipschitz ratios (plain
    data only, so the finished model's results can be cached)."""
    t = time.time()
    epochs = {"LBDN": "epochs", "ImplicitNetwork": "inn_epochs", "MonotoneDEQ": "mon_epochs"}
    c = cfg | {"epochs": cfg[epochs[kind]]}
    net, losses = parts.train_model(kind, data, c, jax.random.PRNGKey(10 + i), gamma, cfg["lam"])
    train_s = time.time() - t
    ev = parts.evaluate(kind, net, data, cfg)
    norm, lip = parts.bound(kind, parts.to64(net))
    ratio_pgd = parts.pgd_pair_ratio(kind, net, ev)
    ratio_asc = None
    # ratio ascent: every model in full mode; in quick mode only the first (smallest) γ
    if cfg["ascent_all"] or (kind == "LBDN" and gamma == cfg["gammas"][0]):
        x = ev["x"][: cfg["ascent_pairs"]]
        ratio_asc = parts.ratio_ascent(kind, net, x, jax.random.PRNGKey(99), cfg["ascent_steps"])
    label = f"LBDN γ={gamma:g}" if kind == "LBDN" else kind
    return dict(kind=kind, gamma=gamma, label=label, clean=ev["clean"], pgd=ev["pgd"],
                certified=ev["certified"], kappa=ev["kappa"], norm=norm, lipschitz=lip,
                ratio_pgd=ratio_pgd, ratio_ascent=ratio_asc, losses=losses,
                train_seconds=train_s, seconds=time.time() - t)  # fmt: skip


def compute(cfg, quick=True, overrides=None):
    """Every model a cached part `lbdn_robustness/<mode>/<model>` (resumable full runs)."""
    t0 = time.time()
    data = cx.data.load_digits_split(seed=0)
    runs = [("LBDN", g) for g in cfg["gammas"]] + [("ImplicitNetwork", None), ("MonotoneDEQ", None)]
    prefix = f"lbdn_robustness/{mode_key(quick, overrides or {})}"
    out = []
    for i, (kind, gamma) in enumerate(runs):
        name = f"LBDN_g{gamma:g}" if kind == "LBDN" else kind
        t = time.perf_counter()
        out.append(
            cached(f"{prefix}/{name}", lambda k=kind, g=gamma, i=i: one_model(k, g, i, data, cfg))
        )
        if not quick:
            print(f"  lbdn_robustness {name}: {time.perf_counter() - t:.1f} s", flush=True)
    return dict(runs=out, seconds=time.time() - t0)


# ----------------------------------------------------------------------------- judge


def _fmt(a):
    return "/".join(f"{100 * v:.0f}" for v in a)


def judge(r, cfg):
    runs, eps = r["runs"], cfg["eps"]
    k = eps.index(EPS_STAR)
    lbdn = [x for x in runs if x["kind"] == "LBDN"]
    others = [x for x in runs if x["kind"] != "LBDN"]
    ordered = all(
        np.all(x["certified"] <= x["pgd"]) and np.all(x["pgd"] <= x["clean"]) for x in runs
    )

    def ratio(x):
        return max(v for v in (x["ratio_pgd"], x["ratio_ascent"]) if v is not None)

    lo, hi = lbdn[0], lbdn[-1]
    best = max(lbdn, key=lambda x: x["certified"][k])
    return [
        Claim(
            f"{SRC} (certificates sound)",
            "certified accuracy ≤ PGD accuracy ≤ clean accuracy for every model and ε",
            "holds for all models and all ε (a certificate that over-claims would break it)",
            "; ".join(
                f"{x['label']}: clean {100 * x['clean']:.0f}, PGD {_fmt(x['pgd'])}, "
                f"certified {_fmt(x['certified'])}"
                for x in runs
            )
            + f" (% at ε = {', '.join(f'{e:g}' for e in eps)})",
            ordered,
            f"First {cfg['n_eval']} test images for every number; ℓ2 PGD with {cfg['pgd_steps']} "
            "normalised-gradient steps of 2.5ε/steps from the clean image, projected on the ball "
            "and the [0, 1] box; adversarial points re-evaluated in float64.",
        ),
        Claim(
            f"{SRC} (LBDN bound)",
            "the empirical ℓ2 Lipschitz ratio of each trained LBDN never exceeds its γ",
            "max ‖f(a) − f(b)‖₂/‖a − b‖₂ ≤ γ over PGD pairs and gradient-ascent pairs",
            "; ".join(
                f"γ={x['gamma']:g}: PGD {x['ratio_pgd']:.4g}"
                + (f", ascent {x['ratio_ascent']:.4g}" if x["ratio_ascent"] is not None else "")
                for x in lbdn
            ),
            all(ratio(x) <= x["gamma"] * (1 + 1e-9) for x in lbdn),
            f"Float64 outputs; pairs (x, x_adv) of every ε, plus {cfg['ascent_pairs']} pairs "
            f"(x, x + 0.05 N(0, I)) moved by {cfg['ascent_steps']} Adam steps on the log ratio "
            + ("(every γ)." if cfg["ascent_all"] else "(smallest γ only in quick mode)."),
        ),
        Claim(
            f"{SRC} (equilibrium-model bounds)",
            "the ImplicitNetwork's ℓ∞ bound and the MonotoneDEQ's ℓ2 bound hold on the measured pairs",
            "max ratio (in the bound's norm) ≤ bound",
            "; ".join(
                f"{x['label']} (ℓ{'∞' if x['norm'] != 2 else '2'}): {ratio(x):.4g} ≤ "
                f"{x['lipschitz']:.4g}"
                for x in others
            ),
            all(ratio(x) <= x["lipschitz"] * (1 + 1e-9) for x in others),
            "Float64 models re-solved with tol 1e-11; PGD pairs"
            + (" and gradient-ascent pairs." if cfg["ascent_all"] else " only in quick mode."),
        ),
        Claim(
            f"{SRC} (γ trade-off)",
            "γ trades clean accuracy for certified robustness: the smallest γ certifies more at "
            f"ε = {EPS_STAR}, the largest γ is at least as accurate on clean data",
            f"cert(γ={lo['gamma']:g}) > cert(γ={hi['gamma']:g}) at ε = {EPS_STAR}; "
            f"clean(γ={hi['gamma']:g}) ≥ clean(γ={lo['gamma']:g})",
            f"certified {100 * lo['certified'][k]:.1f}% vs {100 * hi['certified'][k]:.1f}%; clean "
            f"{100 * hi['clean']:.1f}% vs {100 * lo['clean']:.1f}%",
            lo["certified"][k] > hi["certified"][k] and hi["clean"] >= lo["clean"],
            f"γ ∈ {cfg['gammas']}, same architecture, training and images.",
        ),
        Claim(
            f"{SRC} (LBDN vs equilibrium models)",
            f"at ε = {EPS_STAR} the best LBDN certifies more test images than the ImplicitNetwork "
            "and the MonotoneDEQ",
            "certified(best LBDN) > certified(INN) and > certified(monDEQ)",
            f"{best['label']} {100 * best['certified'][k]:.1f}%; "
            + "; ".join(f"{x['label']} {100 * x['certified'][k]:.1f}%" for x in others),
            all(best["certified"][k] > x["certified"][k] for x in others),
            "The INN's ℓ∞→ℓ∞ bound certifies ℓ2 balls through ‖δ‖∞ ≤ ‖δ‖₂ (margin > 2Lε); the "
            "monDEQ's ℓ2 bound ‖C‖₂‖U‖₂/m and the LBDN's γ through margin > √2Lε.",
        ),
    ]


# ----------------------------------------------------------------------------- draw


def draw(r, cfg):
    runs, eps = r["runs"], cfg["eps"]
    k = eps.index(EPS_STAR)
    fig, axs = plt.subplots(1, 2, figsize=(10, 4))
    for i, x in enumerate(runs):
        col = f"C{i}"
        axs[0].plot(eps, 100 * x["pgd"], "-o", color=col, ms=3, label=f"{x['label']} PGD")
        axs[0].plot(eps, 100 * x["certified"], "--s", color=col, ms=3, label="certified")
    axs[0].set_xlabel("ℓ2 radius ε")
    axs[0].set_ylabel("accuracy (%)")
    axs[0].set_title("PGD (solid, upper) and certified (dashed, lower)")
    axs[0].legend(fontsize=6, ncol=2)
    lbdn = [x for x in runs if x["kind"] == "LBDN"]
    axs[1].plot([100 * x["certified"][k] for x in lbdn], [100 * x["clean"] for x in lbdn], "-o",
                color="C0", label="LBDN, certified")  # fmt: skip
    axs[1].plot([100 * x["pgd"][k] for x in lbdn], [100 * x["clean"] for x in lbdn], ":o",
                color="C0", mfc="none", label="LBDN, PGD")  # fmt: skip
    for x in lbdn:
        axs[1].annotate(f"γ={x['gamma']:g}", (100 * x["certified"][k], 100 * x["clean"]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")  # fmt: skip
    for x, mk in zip([x for x in runs if x["kind"] != "LBDN"], ("s", "^")):
        axs[1].plot(
            100 * x["certified"][k],
            100 * x["clean"],
            mk,
            color="k",
            label=f"{x['label']}, certified",
        )
        axs[1].plot(
            100 * x["pgd"][k],
            100 * x["clean"],
            mk,
            color="k",
            mfc="none",
            label=f"{x['label']}, PGD",
        )
    axs[1].set_xlabel(f"robust accuracy at ε = {EPS_STAR} (%)")
    axs[1].set_ylabel("clean accuracy (%)")
    axs[1].set_title("Accuracy–robustness trade-off (Pareto)")
    axs[1].legend(fontsize=6)
    fig.tight_layout()
    return {"pareto": fig}


CAPTIONS = {
    "pareto": "Left: ℓ2 PGD accuracy (an upper bound on robust accuracy) and certified accuracy "
    "(a lower bound) against ε for each model on digits. Right: clean vs robust accuracy at "
    f"ε = {EPS_STAR} across γ for the LBDN (filled: certified, hollow: PGD) and for the "
    "ImplicitNetwork and MonotoneDEQ: the trade-off curve of Bullo's slides (seed 001, "
    "robustness of INNs) and of Wang & Manchester 2023, Fig. 3 (certified accuracy vs γ), "
    "here on the 8×8 sklearn digits instead of MNIST/CIFAR-10.",
}


def run(quick: bool = True, **overrides) -> Result:
    """Quick or full grid; keyword `overrides` replace entries of `QUICK`/`FULL` (smoke tests)."""
    cfg = (QUICK if quick else FULL) | {"progress": not quick} | overrides
    r = compute(cfg, quick, overrides)
    metrics = dict(
        config=cfg,
        seconds=r["seconds"],
        runs=[{k: v for k, v in x.items()} for x in r["runs"]],
    )
    method = (
        "Data: sklearn digits (1797 8×8 images in [0, 1]), split seed 0 (1348 train / 449 test). "
        f"Models (float32 training, Adam lr {cfg['lr']}, batch 64, cross-entropy): "
        f"LBDN{tuple(cfg['lbdn_sizes'])} of sandwich layers at γ ∈ {cfg['gammas']} "
        f"({cfg['epochs']} epochs); ImplicitNetwork(64, {cfg['width']}, 10, μ∞ ≤ 0.5) with "
        f"λ = {cfg['lam']} × its ℓ∞ Lipschitz bound added to the loss ({cfg['inn_epochs']} "
        "epochs); "
        f"MonotoneDEQ(64, {cfg['width']}, 10, m = 0.5) ({cfg['mon_epochs']} epochs). Threat "
        f"model ℓ2, ε ∈ {cfg['eps']}; PGD with {cfg['pgd_steps']} steps; the first "
        f"{cfg['n_eval']} test images. Quick mode is a small smoke-size run (one narrow hidden "
        f"layer, few epochs, 5 PGD steps); full mode uses LBDN{FULL['lbdn_sizes']}, γ ∈ "
        f"{FULL['gammas']}, {FULL['epochs']} epochs, 40 PGD steps on all test images and "
        "ratio ascent on every model, each model a cached part (resumable) — a digits-sized version of Wang & Manchester's MNIST "
        "setting (they report MNIST/CIFAR-10; no digits numbers exist to compare with). "
        f"Wall time of this run: {r['seconds']:.1f} s ("
        + ", ".join(f"{x['label']} {x['seconds']:.1f} s" for x in r["runs"])
        + ")."
    )
    return Result(claims=judge(r, cfg), figures=draw(r, cfg), captions=CAPTIONS, metrics=metrics,
                  method=method)  # fmt: skip
