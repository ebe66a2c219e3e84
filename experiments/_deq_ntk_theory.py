"""Seed 004 §2.5–2.6.1, the GD theory the thesis recalls, measured on problems whose constants
are known: the descent lemma and the 2L(L₀ − L*)/ε² count (Prop. 2, Thm 2.5.1), the rate
(1 − μ/L)^t under strong convexity and under PL as defined in Def. 2.5.3 (Thms 2.5.3–2.5.4),
and the path-length bound 2√(L(θ₀)/μ) (§2.6.1), with the calculators of `contractax.convergence`.

Compute functions return plain data, judge functions `Claim`s (see `experiments.deq_ntk`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from contractax import convergence as cv
from experiments._report import Claim

SRC = "004"
EPS = (0.3, 0.1, 0.03)


def _claim(section, statement, expected, measured, passed, method, items=(), reason=""):
    return Claim(f"{SRC} {section}", statement, expected, measured, passed, method, items, reason)


def _gd(loss, theta, eta, steps):
    """The GD iterates θ_0 … θ_steps, stacked on axis 0 (one compiled scan)."""

    def step(t, _):
        t = t - eta * jax.grad(loss)(t)
        return t, t

    run = jax.jit(lambda t0: jax.lax.scan(step, t0, None, length=steps)[1])
    return jnp.concatenate([theta[None], run(theta)])


def compute():
    out = {}
    # nonconvex Cauchy regression ½Σlog(1 + (aᵢᵀθ − bᵢ)²), A wide: L = λmax(AᵀA), L* = 0
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    A, b = jax.random.normal(k1, (8, 20)), 3 * jax.random.normal(k2, (8,))
    loss = lambda t: 0.5 * jnp.sum(jnp.log1p((A @ t - b) ** 2))
    L = float(jnp.linalg.eigvalsh(A.T @ A)[-1])
    path = _gd(loss, jnp.zeros(20), 1 / L, 400)
    vals = np.asarray(jax.vmap(loss)(path))
    gn = np.asarray(jnp.linalg.norm(jax.vmap(jax.grad(loss))(path), axis=1))
    out["descent"] = {
        "L": L,
        "slack": float(np.min(vals[:-1] - vals[1:] - 0.5 / L * gn[:-1] ** 2)),
        "reached": [int(np.argmax(gn <= e)) if (gn <= e).any() else -1 for e in EPS],
        "bound": [float(cv.descent_iterations(L, vals[0], 0.0, e)) for e in EPS],
    }
    # strongly convex quadratic, μ = 0.5, L = 4 (Thm 2.5.3)
    H = jnp.diag(jnp.array([0.5, 1.0, 2.0, 4.0]))
    q = lambda t: 0.5 * t @ H @ t
    gaps = np.asarray(jax.vmap(q)(_gd(q, jnp.ones(4), 0.25, 60)))
    out["sc"] = {
        "ratio": float(np.max(gaps / cv.linear_rate_bound(0.5, 4.0, np.arange(61), gaps[0])))
    }
    # Thm 2.5.4 with Def. 2.5.3 as printed: f = ½(x² + 10y²), inf ‖∇f‖²/f = 2, L = 10
    f = lambda t: 0.5 * (t[0] ** 2 + 10 * t[1] ** 2)
    fv = np.asarray(jax.vmap(f)(_gd(f, jnp.array([1.0, 0.0]), 0.1, 30)))
    ks = np.arange(31)
    out["pl"] = {
        "printed": float(np.max(fv / cv.linear_rate_bound(2.0, 10.0, ks, fv[0]))),
        "standard": float(np.max(fv / cv.linear_rate_bound(1.0, 10.0, ks, fv[0]))),
        "t_first": int(np.argmax(fv > cv.linear_rate_bound(2.0, 10.0, ks, fv[0]) * (1 + 1e-12))),
    }
    # path length ≤ 2√(L₀/μ), μ = inf ‖∇L‖²/L (Def. 2.6.1): quadratics and x² + 3 sin²x
    paths = []
    for a, bq, x0 in ((1.0, 10.0, (1.0, 1.0)), (1.0, 100.0, (3.0, 0.1)), (0.2, 1.0, (1.0, -2.0))):
        fq = lambda t, a=a, bq=bq: 0.5 * (a * t[0] ** 2 + bq * t[1] ** 2)
        p = _gd(fq, jnp.array(x0), 1 / bq, 2000)
        paths.append(float(cv.path_length(p) / cv.path_length_radius(fq(p[0]), 2 * a)))
    g = lambda t: jnp.sum(t**2 + 3 * jnp.sin(t) ** 2)
    grid = jnp.linspace(-20, 20, 40001)
    grid = grid[jnp.abs(grid) > 1e-3]
    mu = float(jnp.min(jax.vmap(lambda t: cv.pl_ratio(lambda s: g(s[None]), t))(grid)))
    for x0 in (1.0, 3.0, 7.0):
        p = _gd(g, jnp.array([x0]), 1 / 8.0, 400)
        paths.append(float(cv.path_length(p) / cv.path_length_radius(g(p[0]), mu)))
    out["path"] = {"ratios": paths, "mu_sin": mu}
    return out


def judge(o):
    d, pl = o["descent"], o["pl"]
    reach = ", ".join(
        f"ε={e:g}: reached at t={r} ≤ {b:.3g}" for e, r, b in zip(EPS, d["reached"], d["bound"])
    )
    paths = o["path"]["ratios"]
    return [
        _claim(
            "§2.5 Prop. 2, Thm 2.5.1",
            "GD with η = 1/L on an L-smooth function: L(θ_t) − L(θ_{t+1}) ≥ (η/2)‖∇L‖² and an "
            "ε-critical point within 2L(L₀ − L*)/ε² iterations",
            "descent slack ≥ 0 at every step; first t with ‖∇L‖ ≤ ε at most the bound",
            f"L = {d['L']:.4g}; min slack {d['slack']:.2e}; {reach}",
            d["slack"] >= -1e-12 and all(0 <= r <= b for r, b in zip(d["reached"], d["bound"])),
            "nonconvex Cauchy regression ½Σlog(1 + (Aθ − b)²), A ∈ R^{8×20} Gaussian (L* = 0, "
            "L = λmax(AᵀA) since the loss's curvature is ≤ 1), 400 steps, float64",
            ("004-13",),
        ),
        _claim(
            "§2.5 Thm 2.5.3",
            "μ-strongly convex, L-smooth: L_t − L* ≤ (1 − μ/L)^t (L₀ − L*) with step 1/L",
            "measured gap / bound ≤ 1 for t ≤ 60",
            f"max ratio {o['sc']['ratio']:.4g}",
            o["sc"]["ratio"] <= 1 + 1e-12,
            "quadratic with Hessian diag(0.5, 1, 2, 4): μ = 0.5, L = 4, θ₀ = 1",
            ("004-13",),
        ),
        _claim(
            "§2.5 Def. 2.5.3, Thm 2.5.4",
            "If ‖∇L‖² ≥ μL (PL, Def. 2.5.3 as printed) and L is L-smooth, GD with step 1/L gives "
            "L_t ≤ (1 − μ/L)^t L₀",
            "measured L_t / bound ≤ 1",
            f"max ratio {pl['printed']:.4g} (first exceeded at t = {pl['t_first']}); with the "
            f"usual PL form ½‖∇L‖² ≥ μL (μ = 1 here) the ratio is {pl['standard']:.4g}",
            pl["printed"] <= 1 + 1e-12,
            "f = ½(x² + 10y²) from (1, 0): the largest μ of Def. 2.5.3 is inf ‖∇f‖²/f = 2, L = 10; "
            "GD gives f_t = 0.81^t f₀ against the bound 0.8^t f₀ — Def. 2.5.3 lacks the ½ of "
            "Lemma 2.5.2's form, which the rate needs",
            ("004-13",),
        ),
        _claim(
            "§2.6.1 path length",
            "Under μ-PL* (Def. 2.6.1) with η ≤ 1/β, the GD path length is ≤ 2√(L(θ₀)/μ) = R",
            "path length / R ≤ 1 on every run",
            "ratios " + ", ".join(f"{v:.3g}" for v in paths),
            all(v <= 1 for v in paths),
            "GD with η = 1/β on ½(ax² + by²) for (a, b) = (1, 10), (1, 100), (0.2, 1) (μ = 2a "
            "exactly) and on the nonconvex PL function x² + 3sin²x (β = 8, μ = inf f′²/f = "
            f"{o['path']['mu_sin']:.3g} on a 4·10⁴-point grid of [−20, 20]) from x₀ = 1, 3, 7",
            ("004-18",),
        ),
    ]
