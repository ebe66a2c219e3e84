"""Does jaxopt's Anderson `mixing_frequency` serve? Evaluations to tolerance, k = 1, 2, 3, 5.

jaxopt's `AndersonAcceleration(mixing_frequency=k)` extrapolates only on every k-th step
(plain fixed-point steps in between, the history still updated). If k > 1 reduced the
number of f evaluations or the time to a given tolerance on the problems a DEQ user meets,
contractax should offer it; this measures that, in jaxopt's own implementation, on three
problems (one example per row, `vmap` over the batch, float32, tol = 1e-5 relative for every
solver):

* DEQ layer z = tanh(Wz + Ux + b), n = 256, W symmetric with eigenvalues in [−0.5, 0.97]
  (the `fixed_point` benchmark's problem), batch 32;
* x = cos x + θ, n = 64, θ uniform in [0, π/2 − 0.3] (peer case of issue 18), batch 32;
* a linear contraction z = Az + b, n = 128, A symmetric with eigenvalues in [−0.9, 0.99],
  batch 32.

Reported per solver: mean / max f evaluations to tolerance, the fraction converged within
`maxiter`, and the batched solve time (median after compiling), for jaxopt's Anderson and for
contractax's `Anderson(mixing_frequency=k)`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jaxopt

import contractax as cx

from ._common import timeit

TOL = 1e-5
MAXITER = 500
FREQUENCIES = (1, 2, 3, 5)


def _problems(batch: int):
    k = jax.random.split(jax.random.PRNGKey(0), 6)
    n = 256
    Q = jnp.linalg.qr(jax.random.normal(k[0], (n, n)))[0]
    deq = {
        "W": (Q * jnp.linspace(-0.5, 0.97, n)[None, :]) @ Q.T,
        "U": 0.3 * jax.random.normal(k[1], (n, 64)) / 8.0,
        "x": jax.random.normal(k[2], (batch, 64)),
    }
    m = 128
    P = jnp.linalg.qr(jax.random.normal(k[3], (m, m)))[0]
    lin = {
        "A": (P * jnp.linspace(-0.9, 0.99, m)[None, :]) @ P.T,
        "x": jax.random.normal(k[4], (batch, m)),
    }
    cos = {"x": jax.random.uniform(k[5], (batch, 64), maxval=jnp.pi / 2 - 0.3)}
    return {
        "deq": (lambda z, p, x: jnp.tanh(p["W"] @ z + p["U"] @ x), deq, 256),
        "cos": (lambda z, p, x: jnp.cos(z) + x, cos, 64),
        "linear": (lambda z, p, x: p["A"] @ z + x, lin, 128),
    }


def _jaxopt(f, params, n, freq):
    solver = jaxopt.AndersonAcceleration(
        fixed_point_fun=lambda z, x: f(z, params, x),
        history_size=5,
        mixing_frequency=freq,
        maxiter=MAXITER,
        tol=TOL,
        ridge=1e-6,
        implicit_diff=False,
    )

    def one(x):
        z, state = solver.run(jnp.zeros(n), x)
        rel = jnp.linalg.norm(f(z, params, x) - z) / jnp.maximum(jnp.linalg.norm(z), 1.0)
        return state.num_fun_eval, rel

    return jax.jit(jax.vmap(one))


def _contractax(f, params, n, freq):
    g = lambda z, x: f(z, params, x)
    solver = cx.Anderson(history=5, mixing_frequency=freq)

    def one(x):
        sol = cx.fixed_point(g, jnp.zeros(n), x, solver=solver, tol=TOL, max_steps=MAXITER)
        return sol.stats["num_evals"], sol.stats["residual"]

    return jax.jit(jax.vmap(one))


def run(quick: bool = True) -> dict:
    batch = 32 if quick else 128
    repeats = 3 if quick else 10
    out: dict = {"tol": TOL, "maxiter": MAXITER, "batch": batch, "problems": {}}
    for name, (f, params, n) in _problems(batch).items():
        xs = params["x"]
        rows = {}
        solvers = {f"contractax Anderson(5), mixing_frequency={k}": _contractax(f, params, n, k)
                   for k in FREQUENCIES}  # fmt: skip
        solvers |= {f"jaxopt Anderson(5), mixing_frequency={k}": _jaxopt(f, params, n, k)
                    for k in FREQUENCIES}  # fmt: skip
        for label, fn in solvers.items():
            evals, rel = fn(xs)
            # jaxopt's test is absolute in ℓ2: count as converged on the common relative rule
            ok = rel <= 1.01 * TOL
            rows[label] = {
                "evals_mean": float(jnp.mean(evals)),
                "evals_max": int(jnp.max(evals)),
                "converged_fraction": float(jnp.mean(ok)),
                "time": timeit(lambda fn=fn: fn(xs), repeats),
            }
        out["problems"][name] = rows
    out["fewest_evals"] = {
        lib: {
            p: min((r for r in rows if r.startswith(lib)), key=lambda r: rows[r]["evals_mean"])
            for p, rows in out["problems"].items()
        }
        for lib in ("contractax", "jaxopt")
    }
    return out
