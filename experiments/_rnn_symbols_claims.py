"""Widely-separated-symbols part of the seed-002 reproduction (used by `rnn_memory`): judge, draw.

The judge functions take the plain data of `_rnn_symbols` (training histories, orbit-diagram
outputs, cost curves) and return `Claim`s naming the items of seeds/CLAIMS.md; the draw functions
return a figure and its caption (Ribeiro et al. 2020, Fig. 3, 4, 5/8/9).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import contractax as cx
from experiments._report import Claim
from experiments._rnn_symbols import SYMBOLS

SRC = "002"
NONE_FAILED = "no start failed on validation (see the Fig. 3 row)"


def _failed(t: dict) -> bool:
    """Whether some start fails on validation (≤ 30%), as Fig. 3's bad run."""
    trn = np.array([a for a, _ in t["finals"]])
    val = np.array([v for _, v in t["finals"]])
    return bool(np.any((trn >= 0.9) & (val <= 0.3)) or np.any(val <= 0.3))


def _spreads(o: dict) -> dict:
    """Per run/input: the first output's spread over starts and time, at each s."""
    return {k: np.ptp(v.reshape(v.shape[0], -1), axis=1) for k, v in o.items() if "/" in k}


def training_claims(t: dict) -> list[Claim]:
    """Fig. 3: success depends on the start; the good run jumps, the bad one creeps."""
    cfg, finals, good, bad = t["cfg"], t["finals"], t["good"], t["bad"]
    val = np.array([v for _, v in finals])
    failed = _failed(t)
    r_good, r_bad = _rise(t["runs"][good][2][:, 1]), _rise(t["runs"][bad][2][:, 0])
    return [
        Claim(
            f"{SRC} §5, Fig. 3",
            "Training on widely separated symbols succeeds or fails depending on "
            "the initial weights",
            "some starts reach ≈100% validation accuracy, others stay ≤ 25–30%",
            "final (train, val) accuracy per start: "
            + ", ".join(f"({a:.2f}, {v:.2f})" for a, v in finals),
            bool(val.max() >= 0.95) and failed,
            f"{cfg['seeds']} starts; LSTM hidden {cfg['hidden']}, Adam lr {cfg['lr']}, clip 0.25, "
            f"batch {cfg['batch']}, {cfg['epochs']} epochs, length {cfg['length']}, windows "
            f"{cfg['windows']}; pass needs one start ≥ 95% and one ≤ 30% validation accuracy",
            items=("002-14", "002-15", "002-16"),
        ),
        Claim(
            f"{SRC} §5, Fig. 3",
            "The good run finds its solution abruptly; the bad run converges slowly and steadily",
            "good: validation accuracy rises from 10% to 90% of its gain in ≤ 10% of the epochs; "
            "bad: training accuracy takes ≥ 30% of the epochs",
            f"good start {good}: {r_good:.2f}; bad start {bad}: {r_bad:.2f}"
            if failed
            else NONE_FAILED,
            failed and r_good <= 0.1 and r_bad >= 0.3,
            "rise times on the per-epoch accuracy curves of the Fig. 3 row (gain above 25%)",
            items=("002-17",),
        ),
    ]


def _rise(curve, lo=0.1, hi=0.9):
    """Epochs the curve takes from lo to hi of its rise above chance (0.25), as a fraction."""
    gain = curve - 0.25
    top = gain.max()
    if top <= 0:
        return float("nan")
    t_lo = int(np.argmax(gain >= lo * top))
    t_hi = int(np.argmax(gain >= hi * top))
    return (t_hi - t_lo) / len(curve)


def orbit_claims(t: dict, o: dict) -> list[Claim]:
    """Fig. 5/8/9: the good run's fixed points under p, q; the bad run's distinct values."""
    spread_s = _spreads(o)
    at_final = {k: float(v[0]) for k, v in spread_s.items()}  # s = 0 is θ_final
    sp_pq = max(at_final["good/p"], at_final["good/q"])
    sp_a = at_final["good/a"]
    failed, hid = _failed(t), o["hidden"]
    everywhere = min(float(np.mean(spread_s[f"bad/{n}"] >= 1e-3)) for n in SYMBOLS)
    starts = f"8 starts in [-1,1]^{2 * hid}"
    return [
        Claim(
            f"{SRC} §5, Fig. 5, 8",
            "In the good run, a constant relevant symbol drives the network to "
            "a fixed point, a constant distractor leaves distinct (remembered) values",
            "spread of the first output over starts/time at θ_final: input a ≥ 10× inputs p, q",
            f"spread p/q = {sp_pq:.2e}, a = {sp_a:.2e} (start {t['good']})",
            sp_a >= 10 * sp_pq,
            f"8 random starts in [-1,1]^{2 * hid}, {o['steps']} steps, last "
            f"{o['steps'] - o['burn']} kept",
            items=("002-14", "002-20", "002-22"),
        ),
        Claim(
            f"{SRC} §5, Fig. 5, 9",
            "In the bad run the network gives distinct output values for every input and every "
            "0 ≤ s ≤ 1",
            "first-output spread over starts and time ≥ 1e-3 at ≥ 90% of the s grid, for p, q, a",
            f"fraction of s with distinct values (worst input): {everywhere:.2f}"
            if failed
            else NONE_FAILED,
            failed and everywhere >= 0.9,
            f"the orbit diagrams of the Fig. 5 row ({starts})",
            items=("002-21",),
        ),
    ]


def boundary_claims(t: dict, ly: dict) -> list[Claim]:
    """§1, §7: the hypothesis that solutions with long-term memory lie near region (ii)."""
    lam = {k: float(np.max(v)) for k, v in ly.items() if "/" in k}
    shown = ", ".join(f"{k} {v:+.1e}" for k, v in lam.items())
    memory = t["finals"][t["good"]][1] >= 0.95  # the good start solves the task on validation
    return [
        Claim(
            f"{SRC} §1, §7 (hypothesis)",
            "A solution with long-term memory lies close to region (ii), the boundary (L_f ≈ 1) "
            "between contracting dynamics (smooth cost, no memory) and exploding ones",
            "the good run (≥ 95% validation accuracy) at θ_final, under the distractor input a "
            "(the input it must remember through): largest Lyapunov exponent |λ₁| ≤ 0.05 per "
            "step, i.e. neither contracting nor chaotic",
            f"max λ₁ over 8 starts (run/input): {shown} (good start {t['good']}, validation "
            f"accuracy {t['finals'][t['good']][1]:.2f}; bad start {t['bad']}, for contrast only)",
            memory and abs(lam["good/a"]) <= 0.05,
            f"cx.rnn.lyapunov_spectrum (QR method, k = 1) of the state map (h, c) ↦ LSTM(u, h, c) "
            f"under a constant one-hot input, float32, {ly['steps']} steps after {ly['burn']}, "
            "from the 8 starts of the Fig. 5 row; the ±0.05 band (λ₁ ≈ 0 as L_f ≈ 1) is this "
            "report's reading of a qualitative hypothesis, fixed before measuring",
            items=("002-27",),
        )
    ]


def orbit_metrics(o: dict) -> dict:
    return {k: float(v[0]) for k, v in _spreads(o).items()}


def line_minima(c: dict) -> dict:
    """Interior local minima of each cost curve (lower than both neighbours by 1e-5 of its range,
    above float32 rounding of the averaged loss)."""
    out = {}
    for k, v in c.items():
        if "/" in k:
            tol = 1e-5 * float(np.ptp(v))
            out[k] = np.flatnonzero(np.asarray(cx.rnn.local_minima(jnp.asarray(v), tol)))
    return out


def cost_line_claims(t: dict, c: dict) -> list[Claim]:
    """Fig. 4: an intricate training cost in both runs; a minimum lost on validation."""
    minima, n = line_minima(c), len(c["s"])
    n_min = [len(minima["good/train"]), len(minima["bad/train"])]
    tr_min, va_min = minima["bad/train"], minima["bad/validation"]
    lost = [int(m) for m in tr_min if not np.any(np.abs(va_min - m) <= 3)]
    failed = _failed(t)
    return [
        Claim(
            f"{SRC} §5, Fig. 4",
            "The training cost between θ_init and θ_final is intricate, with "
            "several local minima, in both runs",
            "≥ 2 interior local minima on the training cost",
            f"good run: {n_min[0]}, bad run: {n_min[1]} local minima on {n} points",
            min(n_min) >= 2,
            f"cross-entropy (float32) on {c['k']} training sequences at each of {n} s; a minimum "
            "must be lower than both neighbours by 1e-5 of the curve's range",
            items=("002-14", "002-18"),
        ),
        Claim(
            f"{SRC} §5, Fig. 4",
            "In the bad run a local minimum of the training cost disappears on validation",
            "a training-cost minimum on θ(s) with no validation minimum within ±3 grid points, "
            "in a start that fails on validation",
            (
                f"{len(lost)} of {len(tr_min)} training minima of start {t['bad']} have no "
                "validation minimum nearby"
                if failed
                else NONE_FAILED
            ),
            failed and len(lost) >= 1,
            f"the curves of the Fig. 4 row ({n} points of θ(s))",
            items=("002-19",),
        ),
    ]


def training_figure(t: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for sd, (_, _, h) in enumerate(t["runs"]):
        ax[0].plot(h[:, 0], label=f"start {sd}")
        ax[1].plot(h[:, 1], label=f"start {sd}")
    for a, title in zip(ax, ("training accuracy", "validation accuracy")):
        a.set_title(title)
        a.set_xlabel("epoch")
        a.set_ylabel(title)
        a.axhline(0.25, c="k", lw=0.5, ls=":")
    ax[0].legend()
    caption = (
        "Ribeiro et al. 2020, Fig. 3: accuracy on the training (left) and validation (right) "
        "sequences of the widely-separated-symbols task per epoch, one curve per initial weight "
        "vector; the dotted line is chance (25%)."
    )
    return fig, caption


def orbit_figure(t: dict, o: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(3, 2, figsize=(10, 8), sharex=True)
    for col, lab in enumerate(("good", "bad")):
        for row, name in enumerate(SYMBOLS):
            y0 = o[f"{lab}/{name}"]
            for m in range(y0.shape[1]):
                ax[row, col].scatter(
                    np.repeat(o["s"], y0.shape[2]), y0[:, m].ravel(), s=0.1, c=f"C{m}"
                )
            ax[row, col].set_ylabel(f"first output\n(constant input {name})")
        ax[0, col].set_title(f"{lab} run (start {t[lab]}): first output")
        ax[2, col].set_xlabel("s  (θ = s·θ_init + (1−s)·θ_final)")
    caption = (
        "Ribeiro et al. 2020, Fig. 5 (and the first-output rows of Fig. 8 and 9): orbit diagrams "
        "of the trained network's first output under a constant input p, q or a (rows), along "
        "θ(s) = s·θ_init + (1−s)·θ_final, for the best (left) and the worst (right) start on "
        f"validation; each colour is one of 8 random initial states, the last "
        f"{o['steps'] - o['burn']} of {o['steps']} steps kept."
    )
    return fig, caption


def cost_line_figure(t: dict, c: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for col, lab in enumerate(("good", "bad")):
        for nm in ("train", "validation"):
            ax[col].plot(c["s"], c[f"{lab}/{nm}"], label=nm)
        ax[col].set_title(f"{lab} run (start {t[lab]}): cost along θ(s)")
        ax[col].set_xlabel("s  (0 = θ_final, 1 = θ_init)")
        ax[col].set_ylabel("cross-entropy cost")
        ax[col].legend()
    caption = (
        "Ribeiro et al. 2020, Fig. 4: the cross-entropy on training and validation sequences "
        "along θ(s) = s·θ_init + (1−s)·θ_final for the best (left) and the worst (right) start."
    )
    return fig, caption
