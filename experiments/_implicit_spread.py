"""Seed 001 §Robustness of INNs (item 001-37): on the trained ℓ∞-contracting INNs, is the ℓ∞
Lipschitz certificate more informative than any ℓ2 one for perturbations spread over every pixel?

A perturbation δ with ‖δ‖∞ = ε on all n_in inputs has ‖δ‖₂ = √n_in·ε, so an ℓ2 certificate
bounds ‖Δy‖∞ ≤ ‖Δy‖₂ ≤ L₂√n_in·ε, where L₂ is any valid ℓ2 Lipschitz constant of u ↦ y; every such
L₂ is at least ‖J(u)‖₂ at every input u, J = C(I − DA)⁻¹DB the Jacobian at the equilibrium
(D = diag(Φ′(Ax* + Bu + b))). The ℓ∞ certificate is Lip∞·ε with the library's bound
‖D_η⁻¹B‖∞‖CD_η‖∞/(1 − μ∞,η(A)₊). So Lip∞ < √n_in·max_u ‖J(u)‖₂ means the ℓ∞ certificate beats
every ℓ2 certificate, not only a particular ℓ2 bound; ‖J(u)‖∞ ≤ Lip∞ checks the ℓ∞ one is sound.
"""

from __future__ import annotations

import numpy as np

from experiments._report import Claim


def jacobians(p, u, x_star):
    """J(u) = C(I − DA)⁻¹DB at the equilibria `x_star` of the ReLU INN with parameters `p`."""
    A, B, b, C = (np.asarray(p[k], dtype=float) for k in ("A", "B", "b", "C"))
    n = A.shape[0]
    out = []
    for ui, xi in zip(u, x_star):
        d = (A @ xi + B @ ui + b > 0).astype(float)
        out.append(C @ np.linalg.solve(np.eye(n) - d[:, None] * A, d[:, None] * B))
    return np.stack(out)


def spread(all_runs, u):
    """Per model: Lip∞, max ‖J‖₂ and ‖J‖∞ over the first test inputs, √n_in, and the ℓ2 bound
    ‖B‖₂‖C‖₂/(1 − ‖A‖₂) where ‖A‖₂ < 1."""
    rows = []
    for r in all_runs:
        p, xs = r["params"], np.asarray(r["x_star"], dtype=float)
        J = jacobians(p, np.asarray(u[: len(xs)], dtype=float), xs)
        two = lambda M: float(np.linalg.norm(M, 2))
        a2 = two(p["A"])
        rows.append(
            dict(
                gamma=r["gamma"],
                lam=r["lam"],
                lip_inf=float(r["lip"]),
                j2=max(two(j) for j in J),
                jinf=max(float(np.max(np.sum(np.abs(j), 1))) for j in J),
                sqrt_n=float(np.sqrt(J.shape[2])),
                a2=a2,
                l2_bound=two(p["B"]) * two(p["C"]) / (1 - a2) if a2 < 1 else float("inf"),
                points=len(xs),
            )
        )
    return rows


def judge(rows):
    beats = [r["lip_inf"] < r["sqrt_n"] * r["j2"] for r in rows]
    sound = all(r["jinf"] <= r["lip_inf"] * (1 + 1e-9) for r in rows)
    fmt = lambda r: (
        f"γ={r['gamma']}, λ={r['lam']}: Lip∞ {r['lip_inf']:.3g} vs √n‖J‖₂ "
        f"{r['sqrt_n'] * r['j2']:.3g} (‖J‖∞ {r['jinf']:.3g}, ‖A‖₂ {r['a2']:.2f})"
    )
    return [
        Claim(
            "001 §Robustness of INNs (ℓ∞ vs ℓ2 Lipschitz)",
            "for wide-spread input perturbations the ℓ∞ input–output Lipschitz constant is "
            "informative where the ℓ2 one is not: on the trained ℓ∞-contracting INNs the ℓ∞ "
            "certificate Lip∞·ε is smaller than any ℓ2 certificate √n_in·L₂·ε",
            "Lip∞ < √n_in·max_u ‖J(u)‖₂ (a lower bound on every ℓ2 Lipschitz constant) on every "
            "trained model, and ‖J(u)‖∞ ≤ Lip∞",
            f"{sum(beats)} of {len(rows)} models: " + "; ".join(fmt(r) for r in rows),
            all(beats) and sound,
            f"J(u) = C(I − DA)⁻¹DB at the float64 equilibria of the first {rows[0]['points']} "
            f"test images (n_in = {int(round(rows[0]['sqrt_n'] ** 2))}), D the ReLU pattern; "
            "Lip∞ is the bound the training penalises; the ℓ2 bound ‖B‖₂‖C‖₂/(1 − ‖A‖₂) exists "
            f"only where ‖A‖₂ < 1 ({sum(r['a2'] < 1 for r in rows)} of {len(rows)} models). "
            "The lognorms row for this item uses an untrained random INN instead.",
            items=("001-37",),
        )
    ]
