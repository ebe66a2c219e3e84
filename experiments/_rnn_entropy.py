"""Seed 002 §4 (Ribeiro et al. 2020): the state entropy H_t itself, estimated over an ensemble.

Eq. 8–9 and Fig. 2 say how the entropy of the state distribution changes along the map. The
per-step chain log|det J| ≤ Σ log‖v_i‖ ≤ N_x log L_f is a fact of linear algebra; what can fail
is its use for H_t. Here H_t is *estimated* (Kozachenko–Leonenko kNN and the Gaussian estimator
of `cx.entropy`) for an ensemble of states pushed through three maps — the LSTM of Fig. 1 at
s = 0.5 (L_f < 1 on the orbit), a rotation (a periodic oscillator, L_f = 1) and the chaotic LSTM
at s = 1 (L_f > 1) — and compared with the bound and with Fig. 2's three regimes.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

import contractax as cx
from experiments._cache import cached
from experiments._report import Claim

SRC = "002"
OMEGA = 2 * math.pi / 7  # the oscillator's rotation angle per step: every orbit has period 7


def _rotation(x, omega):
    c, s = jnp.cos(omega), jnp.sin(omega)
    return jnp.stack([c * x[0] - s * x[1], s * x[0] + c * x[1]])


def _on_attractor(step, x0, theta, burn: int):
    return jax.lax.fori_loop(0, burn, lambda _, x: step(x, theta), x0)


def entropy_regimes(quick: bool) -> dict:
    """H_t (kNN) for the three regimes, and a linear-regime Gaussian check of the change of
    variables H_{t+1} − H_t = E log|det J_t| on a tiny cloud."""
    n, steps = (1000, 30) if quick else (4000, 60)

    def compute():
        step, theta, x0 = cx.models.chaotic_lstm()
        key = jax.random.PRNGKey(20)
        out = {"n": n, "steps": steps}
        for name, s in (("contractive", 0.5), ("chaotic", 1.0)):
            xa = _on_attractor(step, x0, s * theta, 500)
            cloud = xa + 1e-3 * jax.random.normal(key, (n, 4))
            tr = cx.entropy.ensemble_entropy(step, cloud, s * theta, steps)
            sv = jnp.linalg.svd(jax.jacfwd(step)(xa, s * theta), compute_uv=False)
            out[name] = _as_dict(tr) | {"sigma_min_J": float(sv[-1])}
        # the change of variables, one step from 8 points of the chaotic orbit, on clouds so
        # small that the map is linear on them (σ = 1e-6; 1e-5 shows the error's trend)
        orbit = cx.rnn.unroll(step, _on_attractor(step, x0, theta, 500), theta, 400)[::50]
        for sig in (1e-5, 1e-6):
            gaps = []
            for xa in orbit:
                tiny = xa + sig * jax.random.normal(key, (n, 4))
                lin = cx.entropy.ensemble_entropy(step, tiny, theta, 1, method="gaussian")
                gaps.append(float(jnp.diff(lin.entropy)[0] - lin.mean_log_det[0]))
            out[f"cov_gap_{sig:g}"] = np.asarray(gaps)
        ring = jnp.array([1.0, 0.0]) + 0.1 * jax.random.normal(key, (n, 2))
        out["oscillator"] = _as_dict(
            cx.entropy.ensemble_entropy(_rotation, ring, jnp.asarray(OMEGA), steps)
        )
        return out

    return cached(f"rnn_memory/entropy_regimes_{n}_{steps}", compute)


def _as_dict(tr) -> dict:
    return {
        "entropy": np.asarray(tr.entropy),
        "mean_log_det": np.asarray(tr.mean_log_det),
        "log_lipschitz": np.asarray(tr.log_lipschitz),
        "state_dim": tr.state_dim,
    }


def entropy_claims(d: dict) -> list[Claim]:
    """Eq. 9 (as derived) against the estimate, the change of variables, and Fig. 2's regimes."""
    return _bound_claims(d) + _regime_claims(d)


def _method(d: dict) -> str:
    return (
        f"{d['n']} states from a Gaussian cloud (σ = 1e-3) around the attractor point (after 500 "
        f"steps), pushed {d['steps']} steps; Ĥ_t by the Kozachenko–Leonenko estimator (k = 3); "
        "L_f per step as the ensemble's max ‖J_t‖₂. The oscillator is a rotation by 2π/7 of a "
        "cloud of σ = 0.1 around (1, 0)."
    )


def _bound_claims(d: dict) -> list[Claim]:
    """Eq. 9 as derived, on the estimated H_t, and the change of variables it bounds."""
    worst, rows, method = -np.inf, [], _method(d)
    for name in ("contractive", "oscillator", "chaotic"):
        r = d[name]
        slack = np.diff(r["entropy"]) - r["state_dim"] * r["log_lipschitz"]
        worst = max(worst, float(np.max(slack)))
    rows.append(
        Claim(
            f"{SRC} §4, eq. (8)–(9)",
            "The estimated state entropy changes by at most N_x log L_f per step "
            "(eq. 9 in the direction its derivation gives: H_{t+1} ≤ H_t + N_x log L_f)",
            "max_t (Ĥ_{t+1} − Ĥ_t − N_x log L_f) ≤ 0 (1e-9 for round-off) in all three regimes",
            f"max = {worst:.3g} nats",
            worst <= 1e-9,
            method,
            items=("002-11", "002-12"),
        )
    )
    e5, e6 = (float(np.max(np.abs(d[f"cov_gap_{s}"]))) for s in ("1e-05", "1e-06"))
    rows.append(
        Claim(
            f"{SRC} §4, change of variables before eq. (8)",
            "H_{t+1} = H_t + E log|det ∂x_{t+1}/∂x_t| for the chaotic LSTM (the identity "
            "that eq. 8–9 bound)",
            "Gaussian-estimated ΔĤ equals the ensemble mean log|det J| to 1e-2 nats at 8 "
            "points of the orbit, and the gap shrinks with the cloud",
            f"max gap {e6:.1e} nats at σ = 1e-6 ({e5:.1e} at σ = 1e-5)",
            e6 <= 1e-2 and e6 < e5,
            "Clouds of σ = 1e-5 and 1e-6 (the map is linear on them), one step each, from 8 "
            "points 50 steps apart on the s = 1 orbit. At s = 0.5 the identity does not apply: "
            f"the map is singular at its fixed point (σ_min(J) = "
            f"{d['contractive']['sigma_min_J']:.0e}), so H_t → −∞.",
            items=("002-12",),
        )
    )
    return rows


def _regime_claims(d: dict) -> list[Claim]:
    """Fig. 2: the entropy decays (L_f < 1), stays (L_f = 1), grows (L_f > 1)."""
    rows, method = [], _method(d)
    h = {k: d[k]["entropy"] for k in ("contractive", "oscillator", "chaotic")}
    drop = h["contractive"][-1] - h["contractive"][0]
    drift = float(np.max(np.abs(h["oscillator"] - h["oscillator"][0])))
    rise = h["chaotic"][-1] - h["chaotic"][0]
    true_rate = float(np.mean(d["chaotic"]["mean_log_det"]))
    rows.append(
        Claim(
            f"{SRC} §4, Fig. 2",
            "The entropy decays for a contracting system and stays constant when L_f = 1 "
            "(a periodic oscillator)",
            "Ĥ_T − Ĥ_0 < −1 nat for s = 0.5; |Ĥ_t − Ĥ_0| ≤ 0.1 nat for the oscillator",
            f"s = 0.5: {drop:+.1f} nats over {d['steps']} steps; oscillator: max drift "
            f"{drift:.3f} nats",
            drop < -1 and drift <= 0.1,
            method + " The s = 0.5 LSTM contracts to a fixed point (λ₁ < 0) but its ‖J‖₂ there "
            "is ≈ 3.3: L_f < 1 holds only in an adapted norm, not in the 2-norm of eq. 8.",
            items=("002-13",),
        )
    )
    rows.append(
        Claim(
            f"{SRC} §4, Fig. 2",
            "The entropy increases with time when L_f > 1 (the chaotic LSTM at s = 1)",
            "the differential entropy grows: E log|det J_t| > 0 (the exact rate of "
            "H_t) and Ĥ_T > Ĥ_0",
            f"kNN estimate {rise:+.1f} nats over {d['steps']} steps, but the exact rate "
            f"E log|det J_t| = {true_rate:+.2f} nats/step: the chaotic attractor is "
            "dissipative, so H_t falls",
            true_rate > 0 and rise > 0,
            "The bound (eq. 9 as derived) allows growth when L_f > 1 but does not force it; "
            "the seed's text reads eq. 9 as a lower bound (printed direction). The kNN estimate "
            "rises only because at finite N it resolves the spread along the unstable direction, "
            "not the collapse across the stable ones. " + method,
            items=("002-13",),
        )
    )
    return rows


def entropy_figure(d: dict):
    """Fig. 2 measured: Ĥ_t for the three regimes, with H_0 + t N_x log L_f; and the caption."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, label), c in zip(
        (
            ("contractive", "LSTM s = 0.5 (stable fixed point)"),
            ("oscillator", "rotation (L_f = 1)"),
            ("chaotic", "LSTM s = 1 (chaotic)"),
        ),
        ("C0", "C2", "C1"),
    ):
        r = d[name]
        t = np.arange(len(r["entropy"]))
        bound = r["entropy"][0] + np.concatenate(
            [[0.0], np.cumsum(r["state_dim"] * r["log_lipschitz"])]
        )
        ax.plot(t, r["entropy"], c=c, label=f"{label}: Ĥ_t (kNN)")
        ax.plot(t, bound, c=c, ls=":", label=f"{label}: Ĥ_0 + Σ N_x log L_f")
    ax.set_ylim(min(d["contractive"]["entropy"].min(), -40) - 5, 40)
    ax.set_xlabel("t (steps)")
    ax.set_ylabel("entropy Ĥ_t (nats)")
    ax.legend(fontsize=7)
    ax.set_title("State entropy of an ensemble (seed 002, Fig. 2 measured)")
    return fig, CAPTION


CAPTION = (
    "Ribeiro et al. 2020, Fig. 2, measured: the kNN-estimated entropy of an ensemble of states "
    "for a contracting LSTM, a rotation and the chaotic LSTM, with the upper bound "
    "Ĥ_0 + Σ N_x log L_f (dotted) of eq. 9 as derived."
)
