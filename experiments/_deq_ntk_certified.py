"""Seed 004 §3.3 where its conditions hold: a constructed thesis monDEQ on which Condition 1
(Thm 3.3.1) and Condition 2 (Thm 3.3.5) hold as printed, checked with `contractax.convergence`.

On it: gradient flow (diffrax) against L(t) ≤ exp(−λ₀²t/2)L(0) (Thm 3.3.1); GD with
η ∈ {1, ½, ¼, ⅛}·η_max against L(k+1) ≤ (1 − ηλ₀²/4)L(k) (Thm 3.3.5), and at every step the
bounds of Lemmas 3.3.4, 3.3.6–3.3.10 against the measured quantities.

Why a constructed instance: (3.18) needs λ₀² ≥ 20‖X‖_F²‖U‖₂², while λ₀² ≤ ‖Z‖_F²/N ≤
‖X‖_F²‖U‖₂²/(m²N) (Lemma 3.3.3), so Condition 2 can hold only for m < 1/√(20N) and a
well-conditioned Z; (3.16)–(3.17) and Condition 1 scale with √(2L₀), so the targets must start
close to the outputs. The instance: N = 4 orthonormal inputs, n = 2N, U = [Pᵀ; −Pᵀ] (so
ReLU(Ux_i) = e_i), A, B ~ 0.02·N(0, 1/n), u ~ 0.01·N(0, 1/n), m = 0.05, y = ŷ(0) + ρ·r with
‖r‖ = 1, ρ = 2e-4, balls of radius 0.1.

Compute functions return plain data, judge functions `Claim`s, draw functions figures."""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from contractax import convergence as cv
from contractax.models import MonotoneDEQ
from experiments._report import Claim

SRC = "004"
M, NSAMP, RHO, RADIUS = 0.05, 4, 2e-4, 0.1
FRACS = (1.0, 0.5, 0.25, 0.125)


def _claim(section, statement, expected, measured, passed, method, items=(), reason=""):
    return Claim(f"{SRC} {section}", statement, expected, measured, passed, method, items, reason)


_certify = eqx.filter_jit(cv.certify)
_outputs = eqx.filter_jit(lambda net, x: jax.vmap(net)(x))


def instance(seed=0):
    """The constructed monDEQ, inputs x (N, d), targets y and the balls' radii."""
    N, n = NSAMP, 2 * NSAMP
    k = jax.random.split(jax.random.PRNGKey(seed), 6)
    P = jnp.linalg.qr(jax.random.normal(k[0], (N, N)))[0]
    x = P.T
    net = MonotoneDEQ(
        N, n, "scalar", use_bias=False, m=M, tol=1e-12, max_steps=500, throw=False, key=k[1]
    )
    draws = (
        0.02 * jax.random.normal(k[2], (n, n)) / np.sqrt(n),
        0.02 * jax.random.normal(k[3], (n, n)) / np.sqrt(n),
        jnp.concatenate([P.T, -P.T], 0),
        0.01 * jax.random.normal(k[4], (n,)) / np.sqrt(n),
    )
    net = eqx.tree_at(lambda t: (t.A, t.B, t.U, t.C), net, draws)
    r = jax.random.normal(k[5], (N,))
    y = _outputs(net, x) + RHO * r / jnp.linalg.norm(r)
    return net, x, y, cv.Radii(RADIUS, RADIUS, RADIUS, RADIUS)


def _loss(net, x, y):
    return 0.5 * jnp.sum((jax.vmap(net)(x) - y) ** 2)


def _fro(a):
    return jnp.linalg.norm(a.reshape(-1))


@eqx.filter_jit
def _record(net, net0, x, y, eta, cert):
    """One GD step from `net` and every measured quantity and bound at it."""
    grads = jax.grad(_loss)(net, x, y)
    new = jax.tree_util.tree_map(lambda a, g: a - eta * g, net, grads)
    z, z1 = jax.vmap(net.features)(x), jax.vmap(new.features)(x)
    yk, y1, g = z @ net.C, z1 @ new.C, z @ new.C
    lk = 0.5 * jnp.sum((yk - y) ** 2)
    terms = cv.loss_terms(yk, y1, g, y)
    bounds = cv.loss_term_bounds(eta, cert.lambda0, lk, cert.x_norm, cert.norms, cert.radii)
    steps = cv.lemma337(
        eta, cert.x_norm, jnp.linalg.norm(yk - y), cert.lambda0, cert.norms, cert.radii, M
    )
    op = lambda a: jnp.linalg.norm(a, 2) if a.ndim == 2 else jnp.linalg.norm(a)
    moved = (new.U - net.U, new.C - net.C, new.A - net.A, new.B - net.B, new.W - net.W)
    l334 = cv.lemma334(new, net, cert.x_norm)
    dist = [_fro(a - b) for a, b in ((net.A, net0.A), (net.B, net0.B), (net.U, net0.U))]
    return new, {
        "loss": lk,
        "loss_next": 0.5 * jnp.sum((y1 - y) ** 2),
        "I": jnp.stack(terms),
        "I_bound": jnp.stack(bounds),
        "step": jnp.stack([op(a) for a in moved]),
        "step_bound": jnp.stack(steps),
        "l336": op(moved[4]) / cv.lemma336(net.A, moved[2], moved[3]),
        "l334": jnp.stack([_fro(z1 - z) / l334.z, jnp.linalg.norm(y1 - yk) / l334.yhat]),
        "smin": cv.lambda0(z),
        "dist": jnp.stack(dist + [jnp.linalg.norm(net.C - net0.C)]),
    }


def gd(quick):
    """GD at η = f·η_max for f in FRACS; stops at divergence (L > 100 L₀) or round-off."""
    net0, x, y, radii = instance()
    cert = _certify(net0, x, y, radii)
    steps = 12 if quick else 40
    out = {"certificate": jax.tree_util.tree_map(np.asarray, cert._asdict()), "runs": {}}
    for f in FRACS:
        eta = float(cert.condition2.eta_max) * f
        net, recs = net0, []
        for _ in range(steps):
            net, rec = _record(net, net0, x, y, jnp.asarray(eta), cert)
            recs.append({k: np.asarray(v) for k, v in rec.items()})
            last = float(rec["loss_next"])
            if not np.isfinite(last) or last > 100 * float(cert.loss0) or last < 1e-14 * cert.loss0:
                break
        out["runs"][f] = {"eta": eta} | {k: np.stack([r[k] for r in recs]) for k in recs[0]}
    return out


def flow(quick):
    """Gradient flow dθ/dt = −∇L(θ) by diffrax (Tsit5, rtol 1e-9) over t ∈ [0, 24/λ₀²]."""
    net0, x, y, radii = instance()
    cert = _certify(net0, x, y, radii)
    lam = float(cert.lambda0)
    t1 = 24.0 / lam**2
    ts = jnp.linspace(0.0, t1, 25 if quick else 97)
    dyn, static = eqx.partition(net0, eqx.is_inexact_array)
    field = lambda t, p, args: jax.tree_util.tree_map(
        jnp.negative, jax.grad(lambda q: _loss(eqx.combine(q, static), x, y))(p)
    )
    solve = jax.jit(
        lambda p: diffrax.diffeqsolve(
            diffrax.ODETerm(field),
            diffrax.Tsit5(),
            0.0,
            t1,
            t1 / 200,
            dyn,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.PIDController(rtol=1e-9, atol=1e-12),
            max_steps=20000,
        )
    )
    sol = solve(dyn)

    @jax.jit
    @jax.vmap
    def measure(p):
        n = eqx.combine(p, static)
        d = [_fro(a - b) for a, b in ((n.A, net0.A), (n.B, net0.B), (n.U, net0.U), (n.C, net0.C))]
        return _loss(n, x, y), jnp.stack(d), cv.lambda0(jax.vmap(n.features)(x))

    losses, dist, smin = (np.asarray(v) for v in measure(sol.ys))
    return {
        "ts": np.asarray(ts),
        "loss": losses,
        "bound": np.asarray(cv.flow_bound(cert.lambda0, ts, cert.loss0)),
        "dist": dist,
        "smin": smin,
        "lambda0": lam,
        "condition1": jax.tree_util.tree_map(np.asarray, cert.condition1._asdict()),
        "num_steps": int(sol.stats["num_steps"]),
    }


# ----------------------------------------------------------------------------- judge

_METHOD = (
    "constructed thesis monDEQ (N = 4 orthonormal digits-free inputs, n = 8, m = 0.05, "
    "U = [Pᵀ; −Pᵀ], small A, B, u, targets ŷ(0) + 2e-4·r), balls of radius 0.1; conditions and "
    "bounds from cx.convergence (certify, loss_terms, loss_term_bounds, lemma334/336/337), float64"
)


def _hyp_ok(run, cert):
    """Steps k at which Hypotheses 1–3 hold for every k' ≤ k (the lemmas' premises)."""
    lam, r = float(cert["lambda0"]), RADIUS
    q = 1 - run["eta"] * lam**2 / 4
    k = np.arange(len(run["loss"]))
    ok = (
        np.all(run["dist"] <= r, axis=1)
        & (run["smin"] >= lam / 2)
        & (run["loss"] <= max(q, 0.0) ** k * run["loss"][0] * (1 + 1e-9))
    )
    return np.cumprod(ok).astype(bool)


def judge_gd(o):
    cert = o["certificate"]
    c2 = cert["condition2"]
    lam = float(cert["lambda0"])
    cond = (
        f"λ₀ = {lam:.4g}; Condition 2 ratios 3.16 = {float(c2[1]):.3g}, 3.17 = {float(c2[2]):.3g}, "
        f"3.18 = {float(c2[3]):.3g} (≥ 1: holds = {bool(c2[5])}); η_max = {float(c2[4]):.4g}"
    )
    per, ok_all = [], True
    for f, run in o["runs"].items():
        q = 1 - run["eta"] * lam**2 / 4
        ratio = run["loss_next"] / run["loss"]
        bad = ratio > q * (1 + 1e-9)
        ok_all &= not bad.any()
        first = int(np.argmax(bad)) if bad.any() else -1
        per.append(
            f"η = {f:g}·η_max: bound factor {q:.3g}, measured L(k+1)/L(k) max {ratio.max():.3g} "
            f"over {len(ratio)} steps" + (f", first violated at k = {first}" if first >= 0 else "")
        )
    claims = [
        _claim(
            "Thm 3.3.5, Condition 2",
            "If λ₀ satisfies Condition 2 (3.16–3.18), n ≥ N and η ≤ η_max, GD on the monDEQ "
            "satisfies L(k+1) ≤ (1 − ηλ₀²/4)L(k) at every step",
            "Condition 2 holds on the instance, then the per-step bound at every step for "
            "η = η_max, η_max/2, η_max/4, η_max/8",
            cond + ". " + "; ".join(per),
            bool(c2[5]) and ok_all,
            _METHOD + "; full-batch GD, stopped at divergence (L > 100 L₀) or round-off (L < "
            "1e-14 L₀). η_max = 4/λ₀² here, where the bound claims L(1) ≤ 0; the u-block alone "
            "is linear regression with kernel ZᵀZ, whose mode σ_min(Z)² = λ₀² has factor "
            "1 − ηλ₀² = −3",
            ("004-29", "004-30"),
        )
    ]
    # lemmas at the steps where their premises (Hypotheses 1–3 up to k) hold
    names = ("I₁ (L3.3.8)", "I₂ (L3.3.9)", "I₃ (L3.3.10)")
    worst_i = np.full(3, -np.inf)
    worst_step = np.full(5, -np.inf)
    worst_336, worst_334, nsteps, decomp = -np.inf, np.full(2, -np.inf), 0, 0.0
    for run in o["runs"].values():
        ok = _hyp_ok(run, cert)
        nsteps += int(ok.sum())
        if not ok.any():
            continue
        I, B = run["I"][ok], run["I_bound"][ok]
        # I₃'s bound is negative: measured/bound ≥ 1 means it holds; report bound − measured
        worst_i[:2] = np.maximum(worst_i[:2], (I[:, :2] / B[:, :2]).max(0))
        worst_i[2] = max(worst_i[2], ((I[:, 2] - B[:, 2]) / np.abs(B[:, 2])).max())
        worst_step = np.maximum(worst_step, (run["step"][ok] / run["step_bound"][ok]).max(0))
        worst_336 = max(worst_336, run["l336"][ok].max())
        worst_334 = np.maximum(worst_334, run["l334"][ok].max(0))
        dl = run["loss_next"][ok] - run["loss"][ok]
        decomp = max(decomp, float(np.max(np.abs(I.sum(1) - dl) / np.abs(dl))))
    claims += [
        _claim(
            "Lemmas 3.3.4, 3.3.6, 3.3.7",
            "Perturbation and step bounds along GD: ‖ΔW‖₂ ≤ 2‖A‖‖ΔA‖ + ‖ΔA‖² + 2‖ΔB‖ (3.3.6); "
            "‖ΔU‖, ‖Δu‖, ‖ΔA‖, ‖ΔB‖, ‖ΔW‖ ≤ the Lemma 3.3.7 bounds; ‖Z(k+1) − Z(k)‖_F and "
            "‖ŷ(k+1) − ŷ(k)‖ ≤ Lemma 3.3.4",
            "every measured/bound ratio ≤ 1 at the steps where Hypotheses 1–3 hold",
            f"over {nsteps} steps: Lemma 3.3.6 max ratio {worst_336:.3g}; Lemma 3.3.7 max "
            "ratios (U, u, A, B, W) "
            + ", ".join(f"{v:.3g}" for v in worst_step)
            + f"; Lemma 3.3.4 (Z, ŷ) {worst_334[0]:.3g}, {worst_334[1]:.3g}",
            bool(worst_336 <= 1 and np.all(worst_step <= 1) and np.all(worst_334 <= 1)),
            _METHOD + "; spectral norms of the measured one-step changes",
            ("004-31", "004-28"),
        ),
        _claim(
            "Lemmas 3.3.8–3.3.10",
            "The loss change splits as I₁ + I₂ + I₃ with I₁ ≤ L(ηC₁₁ + η²λ₀²C₁₂)², "
            "I₂ ≤ 2L(η(C₁₁ − λ̄_U²‖X‖²) + η²λ₀²C₁₂), I₃ ≤ −ηλ₀²L/2",
            "each measured term ≤ its bound at the steps where Hypotheses 1–3 hold",
            f"over {nsteps} steps (identity I₁+I₂+I₃ = ΔL to {decomp:.1e}): "
            + ", ".join(f"{n} measured/bound max {v:.3g}" for n, v in zip(names[:2], worst_i))
            + f", {names[2]} max (measured − bound)/|bound| {worst_i[2]:.3g} (≤ 0 holds)",
            bool(worst_i[0] <= 1 and worst_i[1] <= 1 and worst_i[2] <= 0),
            _METHOD + ". C₁₁ = ‖X‖²(λ̄_u² + 4λ̄_Uu² + 4λ̄_UuA² + λ̄_U²), C₁₂ = ‖X‖²λ̄_UuA²/4 as "
            "printed: they carry no 1/m factors, although Lemma 3.3.7's step bounds (which do) "
            "are what the proof inserts",
            ("004-31",),
        ),
    ]
    return claims


def judge_flow(o):
    c1 = o["condition1"]
    holds = bool(c1["holds"])
    ratio = o["loss"] / o["bound"]
    inside = bool(np.all(o["dist"] <= RADIUS))
    ok = holds and bool(np.all(ratio <= 1 + 1e-6))
    return [
        _claim(
            "Thm 3.3.1, Condition 1",
            "Under Condition 1 (3.8–3.9), n ≥ N, gradient flow gives L(t) ≤ exp(−λ₀²t/2) L(0)",
            "Condition 1 holds, then L(t)/(exp(−λ₀²t/2)L(0)) ≤ 1 at every saved time",
            f"λ₀ = {o['lambda0']:.4g}; ratios 3.8 = {float(c1['ratio_3_8']):.3g}, 3.9 = "
            f"{float(c1['ratio_3_9']):.3g} (holds = {holds}); max L(t)/bound {ratio.max():.3g} "
            f"over t ∈ [0, 24/λ₀²] ({len(ratio)} times, L(T)/L(0) = {o['loss'][-1] / o['loss'][0]:.2g}"
            f", bound {o['bound'][-1] / o['bound'][0]:.2g}); stays in the balls: {inside} "
            f"(max distance {o['dist'].max():.2g} ≤ {RADIUS}); min σ_min(Z(t))/λ₀ "
            f"{o['smin'].min() / o['lambda0']:.3g}",
            ok,
            _METHOD + f"; gradient flow by diffrax Tsit5 (rtol 1e-9, {o['num_steps']} steps)",
            ("004-27",),
        )
    ]


# ----------------------------------------------------------------------------- draw


def draw(g, fl):
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    ax = axes[0]
    ax.semilogy(fl["ts"] * fl["lambda0"] ** 2, fl["loss"], label="gradient flow L(t)")
    ax.semilogy(fl["ts"] * fl["lambda0"] ** 2, fl["bound"], "--", label="exp(−λ₀²t/2) L(0)")
    ax.set(xlabel="λ₀² t", ylabel="loss ½‖ŷ − y‖²", title="Thm 3.3.1 (Condition 1 holds)")
    ax.legend(fontsize=7)
    ax = axes[1]
    lam = float(g["certificate"]["lambda0"])
    for f, run in g["runs"].items():
        ls = np.concatenate([run["loss"][:1], run["loss_next"]])
        k = np.arange(len(ls))
        (line,) = ax.semilogy(k, ls / ls[0], "o-", ms=3, label=f"η = {f:g}·η_max")
        q = max(1 - run["eta"] * lam**2 / 4, 1e-16)
        ax.semilogy(k, q**k, "--", color=line.get_color(), lw=0.8)
    ax.set(xlabel="GD step k", ylabel="L(k)/L(0)", title="Thm 3.3.5 (Condition 2 holds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
