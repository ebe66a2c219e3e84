"""Fixed-point solve and gradient: contractax vs jaxopt and optimistix on the same problems.

Problems (float32, one example per row, `vmap` over the batch for every library):

* DEQ layer z = tanh(W z + U x + b), n = 256, batch 128, ‖W‖₂ = 0.9.
* Monotone DEQ z = relu(W z + U x + b), W = (1 − m)I − AᵀA + B − Bᵀ (seed 004 Prop. 1),
  solved by contractax's Peaceman–Rachford / forward–backward splitting and, for the peers
  (which have no splitting), by their fixed-point solvers on the forward–backward map
  z ↦ relu(z − α((I − W)z − Ux − b)), which has the same fixed point.

Measured: forward time, solve + gradient time (loss = mean of c·z*, gradient in W, U, b),
function evaluations, final relative residual, and XLA's compiled temp memory of the gradient
as `max_steps` grows. Peers: `jaxopt.AndersonAcceleration(implicit_diff=True)` and
`optimistix.fixed_point(FixedPointIteration, adjoint=ImplicitAdjoint())` with defaults.
Tolerances: contractax tol = 1e-5 relative (‖f(z) − z‖ ≤ tol·max(‖z‖, 1)); jaxopt tol =
1e-5·‖z*‖ (its test is absolute in ℓ2); optimistix rtol = atol = 1e-5 (its test is per element).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jaxopt
import optimistix as optx

import contractax as cx

from ._common import compiled_memory, timeit

TOL = 1e-5


def _deq_problem(n, d, batch, key, kind="symmetric", in_scale=0.3):
    k = jax.random.split(key, 5)
    Q = jnp.linalg.qr(jax.random.normal(k[0], (n, n)))[0]
    if kind == "orthogonal":  # eigenvalues on the circle |λ| = 0.95: acceleration cannot help
        W = 0.95 * Q
    else:  # symmetric, eigenvalues uniform in [-0.5, 0.97]: slow Picard, room to accelerate
        W = (Q * jnp.linspace(-0.5, 0.97, n)[None, :]) @ Q.T
    params = {
        "W": W,
        "U": in_scale * jax.random.normal(k[1], (n, d)) / jnp.sqrt(d),
        "b": 0.1 * in_scale * jax.random.normal(k[2], (n,)),
    }
    X = jax.random.normal(k[3], (batch, d))
    c = jax.random.normal(k[4], (n,)) / jnp.sqrt(n)
    f = lambda z, a: jnp.tanh(a["W"] @ z + a["U"] @ a["x"] + a["b"])
    return f, params, X, c


def _mon_problem(n, d, batch, key, m=0.5):
    k = jax.random.split(key, 5)
    A = jax.random.normal(k[0], (n, n)) / jnp.sqrt(n)
    B = jax.random.normal(k[1], (n, n)) / jnp.sqrt(n)
    W = (1 - m) * jnp.eye(n) - 0.3 * A.T @ A + 0.5 * (B - B.T)
    params = {
        "W": W,
        "U": jax.random.normal(k[2], (n, d)) / jnp.sqrt(d),
        "b": 0.1 * jax.random.normal(k[3], (n,)),
    }
    X = jax.random.normal(k[4], (batch, d))
    c = jax.random.normal(k[0], (n,)) / jnp.sqrt(n)
    L = jnp.linalg.norm(jnp.eye(n) - W, 2)
    alpha = float(m / L**2)  # forward–backward step inside (0, 2m/L²)
    f = lambda z, a: jax.nn.relu(z - alpha * ((z - a["W"] @ z) - a["U"] @ a["x"] - a["b"]))
    return f, params, X, c, alpha


def _contractax(f, solver, adjoint=cx.ImplicitAdjoint()):
    def one(params, x, max_steps):
        n = params["W"].shape[0]
        sol = cx.fixed_point(
            f,
            jnp.zeros(n),
            dict(params, x=x),
            solver=solver,
            adjoint=adjoint,
            tol=TOL,
            max_steps=max_steps,
        )
        return sol.value, sol.stats["num_evals"]

    return one


def _monotone(solver, adjoint=cx.ImplicitAdjoint()):
    relu = lambda v, alpha: jax.nn.relu(v)

    def one(params, x, max_steps):
        u = params["U"] @ x + params["b"]
        sol = cx.solvers.monotone_solve(
            params["W"], u, relu, solver=solver, adjoint=adjoint, tol=TOL, max_steps=max_steps
        )
        return sol.value, sol.stats["num_evals"]

    return one


def _jaxopt(f, zscale):
    def one(params, x, max_steps):
        n = params["W"].shape[0]
        aa = jaxopt.AndersonAcceleration(
            f, history_size=5, maxiter=max_steps, tol=TOL * zscale, implicit_diff=True
        )
        z, state = aa.run(jnp.zeros(n), dict(params, x=x))
        return z, state.iter_num + 1

    return one


def _optx(f):
    def one(params, x, max_steps):
        n = params["W"].shape[0]
        sol = optx.fixed_point(
            f,
            optx.FixedPointIteration(rtol=TOL, atol=TOL),
            jnp.zeros(n),
            dict(params, x=x),
            max_steps=max_steps,
            throw=False,
            adjoint=optx.ImplicitAdjoint(),
        )
        return sol.value, sol.stats["num_steps"] + 1

    return one


def _measure(name, one, f, params, X, c, max_steps, repeats):
    fwd = jax.jit(lambda p: jax.vmap(lambda x: one(p, x, max_steps))(X))

    def loss(p):
        z, _ = jax.vmap(lambda x: one(p, x, max_steps))(X)
        return jnp.mean(z @ c)

    grad = jax.jit(jax.grad(loss))
    z, evals = fwd(params)
    rel = jax.vmap(
        lambda zz, x: (
            jnp.linalg.norm(f(zz, dict(params, x=x)) - zz) / jnp.maximum(jnp.linalg.norm(zz), 1.0)
        )
    )(z, X)
    t_f = timeit(lambda: fwd(params), repeats=repeats)
    t_g = timeit(lambda: grad(params), repeats=repeats)
    g = grad(params)
    return {
        "name": name,
        "forward_s": t_f["min_s"],
        "solve_grad_s": t_g["min_s"],
        "forward_median_s": t_f["median_s"],
        "solve_grad_median_s": t_g["median_s"],
        "evals_mean": float(jnp.mean(evals)),
        "evals_max": float(jnp.max(evals)),
        "max_rel_residual": float(jnp.max(rel)),
        "grad_finite": bool(all(jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(g))),
        "grad": g,
    }


def _compare(rows, ref_name):
    ref = rows[ref_name]["grad"]
    for r in rows.values():
        num = sum(
            jnp.sum((a - b) ** 2)
            for a, b in zip(jax.tree_util.tree_leaves(r["grad"]), jax.tree_util.tree_leaves(ref))
        )
        den = sum(jnp.sum(b**2) for b in jax.tree_util.tree_leaves(ref))
        r["grad_rel_diff_vs_" + ref_name] = float(jnp.sqrt(num / den))
    for r in rows.values():
        r.pop("grad")


def _ratios(rows, ours, peers):
    best = min(ours, key=lambda k: rows[k]["solve_grad_s"])
    fastest_peer = min(peers, key=lambda k: rows[k]["solve_grad_s"])
    return {
        "contractax_best": best,
        "fastest_peer": fastest_peer,
        "solve_grad_ratio": rows[best]["solve_grad_s"] / rows[fastest_peer]["solve_grad_s"],
        "forward_ratio": min(rows[k]["forward_s"] for k in ours)
        / min(rows[k]["forward_s"] for k in peers),
        "goal_met (ratio <= 0.7)": rows[best]["solve_grad_s"] / rows[fastest_peer]["solve_grad_s"]
        <= 0.7,
    }


def _memory(f, params, X, c, steps_list, variants):
    out = {}
    for name, one in variants.items():
        mem = []
        for ms in steps_list:

            def loss(p, ms=ms, one=one):
                z, _ = jax.vmap(lambda x: one(p, x, ms))(X)
                return jnp.mean(z @ c)

            mem.append(compiled_memory(jax.jit(jax.grad(loss)), params).get("temp_bytes", -1))
        out[name] = dict(zip(map(str, steps_list), mem))
    return out


def run(quick: bool = True) -> dict:
    n, d, batch = 256, 64, 128
    repeats = 3 if quick else 10
    key = jax.random.PRNGKey(0)

    f, params, X, c = _deq_problem(n, d, batch, key)
    zscale = float(jnp.sqrt(n) * 0.5)
    deq = {
        "contractax Picard": _contractax(f, cx.Picard()),
        "contractax Anderson": _contractax(f, cx.Anderson(history=5)),
        "contractax Broyden": _contractax(f, cx.Broyden(memory=16)),
        "jaxopt Anderson (implicit)": _jaxopt(f, zscale),
        "optimistix FixedPointIteration (implicit)": _optx(f),
    }
    rows = {k: _measure(k, v, f, params, X, c, 200, repeats) for k, v in deq.items()}
    _compare(rows, "contractax Anderson")
    deq_ratios = _ratios(
        rows,
        [k for k in rows if k.startswith("contractax")],
        [k for k in rows if not k.startswith("contractax")],
    )
    steps_list = [25, 50, 100] if quick else [25, 50, 100, 200, 400]
    mem = _memory(
        f,
        params,
        X[:16],
        c,
        steps_list,
        {
            "contractax Anderson + ImplicitAdjoint": _contractax(f, cx.Anderson()),
            "contractax Picard + UnrolledAdjoint": _contractax(
                f, cx.Picard(), cx.UnrolledAdjoint()
            ),
            "jaxopt Anderson (implicit)": _jaxopt(f, zscale),
            "optimistix FixedPointIteration (implicit)": _optx(f),
        },
    )

    fm, pm, Xm, cm, alpha = _mon_problem(n, d, batch, jax.random.PRNGKey(1))
    mon = {
        "contractax PeacemanRachford": _monotone(cx.solvers.PeacemanRachford(1.0)),
        "contractax ForwardBackward": _monotone(cx.solvers.ForwardBackward(alpha)),
        "contractax Anderson (FB map)": _contractax(fm, cx.Anderson(history=5)),
        "jaxopt Anderson (FB map, implicit)": _jaxopt(fm, zscale),
        "optimistix FixedPointIteration (FB map, implicit)": _optx(fm),
    }
    mrows = {k: _measure(k, v, fm, pm, Xm, cm, 2000, repeats) for k, v in mon.items()}
    _compare(mrows, "contractax PeacemanRachford")
    mon_ratios = _ratios(
        mrows,
        [k for k in mrows if k.startswith("contractax")],
        [k for k in mrows if not k.startswith("contractax")],
    )
    return {
        "config": {
            "n": n,
            "d": d,
            "batch": batch,
            "tol": TOL,
            "dtype": "float32",
            "quick": quick,
            "deq_max_steps": 200,
            "monotone_max_steps": 2000,
            "fb_alpha": alpha,
        },
        "deq": rows,
        "deq_ratios": deq_ratios,
        "grad_temp_bytes_vs_max_steps": mem,
        "monotone": mrows,
        "monotone_ratios": mon_ratios,
    }
