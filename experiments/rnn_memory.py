"""Seed 002 (Ribeiro et al.): long-term memory vs smoothness of the cost of recurrent networks.

Read as the paper's sections: §3.1 and App. A.1, the chaotic LSTM (Fig. 1, 7) in
`_rnn_chaotic`; §3.2 and App. B–C, Theorem 1 on the LSTM (`_rnn_chaotic`) and on a scaled
rotation, Definition 2, the forward sensitivities and Lemma 2 (`_rnn_theory`); §4, the state
entropy (eq. 8–9, Fig. 2) in `_rnn_entropy`; §5 and App. A.2, the widely-separated-symbols task
(Fig. 3–5, 8, 9) in `_rnn_symbols` (compute) and `_rnn_symbols_claims` (judge, draw); §5 and
App. A.3, the Wikitext-2 language model (Fig. 6) in `_rnn_wikitext`. Every part computes plain
data, judges it into `Claim`s and draws its figures with captions; `run` only wires them.
"""

from __future__ import annotations

import time

from experiments import (
    _rnn_chaotic as chaotic,
    _rnn_entropy as entropy,
    _rnn_symbols as symbols,
    _rnn_symbols_claims as symbols_claims,
    _rnn_theory as theory,
)
from experiments._report import Result
from experiments._rnn_wikitext import wikitext_rows

TITLE = "RNN long-term memory vs smoothness: chaotic LSTM, Theorem 1, entropy, separated symbols"


def run(quick: bool = True) -> Result:
    """Run the seed-002 reproduction; quick mode shrinks the symbol task (see `Result.method`)."""
    t0 = time.perf_counter()
    sweep = chaotic.sweep(quick)
    plane = chaotic.plane(quick, sweep["target"])
    thm1 = chaotic.theorem1_lstm(quick)
    t_chaotic = time.perf_counter() - t0
    rot = theory.theorem1_rotation(quick)
    ent = entropy.entropy_regimes(quick)
    sym = symbols.train_starts(quick)
    orbits, lines = symbols.orbit_outputs(sym), symbols.cost_lines(sym)
    lyap = symbols.final_lyapunov(sym)
    claims = (
        chaotic.sweep_claims(sweep)
        + chaotic.plane_claims(plane)
        + chaotic.theorem1_lstm_claims(thm1, sweep["lam1"])
        + theory.theorem1_claims(rot)
        + theory.contraction_claims(quick)
        + theory.lemma2_claims()
        + entropy.entropy_claims(ent)
        + wikitext_rows(quick)
        + symbols_claims.training_claims(sym)
        + symbols_claims.orbit_claims(sym, orbits)
        + symbols_claims.cost_line_claims(sym, lines)
        + symbols_claims.boundary_claims(sym, lyap)
    )
    drawn = {
        "chaotic_lstm": chaotic.sweep_figure(sweep),
        "loss_2d": chaotic.plane_figure(plane),
        "lipschitz_vs_length": chaotic.theorem1_lstm_figure(thm1),
        "theorem1_rotation": theory.theorem1_figure(rot),
        "entropy_regimes": entropy.entropy_figure(ent),
        "symbols_training": symbols_claims.training_figure(sym),
        "symbols_orbits": symbols_claims.orbit_figure(sym, orbits),
        "symbols_cost_line": symbols_claims.cost_line_figure(sym, lines),
    }
    metrics = _metrics(sweep, thm1, sym, orbits, lines, t_chaotic, time.perf_counter() - t0)
    return Result(
        claims=claims,
        figures={name: fig for name, (fig, _) in drawn.items()},
        captions={name: caption for name, (_, caption) in drawn.items()},
        metrics=metrics,
        method=_method(quick, sym["cfg"]),
    )


def _metrics(sweep, thm1, sym, orbits, lines, t_chaotic, t_total) -> dict:
    minima = symbols_claims.line_minima(lines)
    return chaotic.sweep_metrics(sweep) | {
        "thm1_rate_s05": thm1["by_s"][0.5]["rate"],
        "thm1_rate_s1": thm1["by_s"][1.0]["rate"],
        "log_Lf_s1": thm1["by_s"][1.0]["log_lf"],
        "seconds_chaotic_and_theorem": t_chaotic,
        "symbols_config": sym["cfg"],
        "symbols_final_train_val_acc": sym["finals"],
        "symbols_output_spread_at_final": symbols_claims.orbit_metrics(orbits),
        "symbols_cost_line_local_minima": {k: len(v) for k, v in minima.items()},
        "seconds_total": t_total,
    }


def _method(quick: bool, cfg: dict) -> str:
    return (
        "Chaotic LSTM with the released code's weights (erratum 1 of seeds/README.md): 5000 "
        "values of s in [0.5, 2] (plus s = 1), 200 steps from h0 = c0 = 0.5·1, first 100 "
        "discarded, as one vmapped lax.scan; the cost is the MSE of (h1, h2) against the s = 1 "
        "output (seed Fig. 1). λ₁(s) by the QR method with jvp "
        f"({'every 5th s, 2 000' if quick else 'every s, 10 000'} steps after 500). "
        f"The plane of Fig. 7 on a {'80×80' if quick else '150×150'} grid. Theorem 1: V_N(θ) = "
        "(1/N) Σ‖h_t(θ) − h_t(θ0)‖² for θ in a ball of radius 1e-3 around θ0 = sθ_true; "
        "gradients by forward mode. Entropy: see the rows of §4. Separated symbols: "
        f"LSTM hidden {cfg['hidden']} + linear, Adam, clip 0.25, batch 100, "
        f"{cfg['seeds']} starts; λ₁ of the trained networks under constant inputs by the "
        "same QR method (the §1/§7 hypothesis row). "
        + (
            "Quick mode shrinks this task to length 40, windows [3,7] and [15,19], 500+500 "
            "sequences, lr 1e-2 divided by 10 at epoch 30, 50 epochs, so that real training fits in a "
            "minute on a CPU; the seed uses length 150, windows [10,19], [40,49], 1000+1000 "
            "sequences, lr 1e-3 divided by 10 at epochs 500/1000/2000 (the full mode)."
            if quick
            else "Full mode uses the seed's sizes (length 150, 1000+1000 sequences, "
            "lr 1e-3 with decay at 500/1000/2000 epochs, 2500 epochs)."
        )
    )
