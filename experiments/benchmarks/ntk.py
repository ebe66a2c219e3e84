"""Empirical NTK: Jacobian contraction vs NTK-vector products vs a brute-force `jacrev` J Jᵀ
on an MLP (3×512, N = 64, O = 10); and the NTK of a DEQ through the implicit layer vs through
the unrolled solver at equal accuracy. Time (median of repeats, compile excluded) and XLA's
compiled temp memory. neural-tangents, the usual peer, is archived and does not install on
current JAX, so the peer is the plain-JAX J Jᵀ."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

import contractax as cx
from experiments.benchmarks._common import compiled_memory, timeit


def _brute(model, xs):
    dyn, st = eqx.partition(model, eqx.is_inexact_array)
    jac = jax.vmap(jax.jacrev(lambda p, x: eqx.combine(p, st)(x)), (None, 0))(dyn, xs)
    j = jnp.concatenate(
        [a.reshape(a.shape[0], a.shape[1], -1) for a in jax.tree_util.tree_leaves(jac)], -1
    )
    return jnp.einsum("iop,jop->ij", j, j)


def _mlp_section(quick):
    n, o, width, d = 64, 10, 512, 64
    mlp = eqx.nn.MLP(d, o, width, 3, key=jax.random.PRNGKey(0))
    model, static = eqx.partition(mlp, eqx.is_inexact_array)  # arrays only: plain jax.jit
    xs = jax.random.normal(jax.random.PRNGKey(1), (n, d))
    apply_fn = lambda p, x: eqx.combine(p, static)(x)
    ntk = cx.ntk.empirical_ntk
    fns = {
        "jacobian": jax.jit(lambda m, x: ntk(apply_fn, m, x, method="jacobian")),
        "ntk_vp": jax.jit(lambda m, x: ntk(apply_fn, m, x, method="ntk_vp")),
        "auto": jax.jit(lambda m, x: ntk(apply_fn, m, x)),
        "jacobian_chunk16": jax.jit(
            lambda m, x: ntk(apply_fn, m, x, method="jacobian", chunk_size=16)
        ),
        "brute_jacrev_JJt": jax.jit(lambda m, x: _brute(eqx.combine(m, static), x)),
    }
    ref = fns["brute_jacrev_JJt"](model, xs)
    out = {
        "problem": f"MLP depth 3, width {width}, in {d}, out {o}, N = {n}, float32, traced "
        f"outputs; {sum(a.size for a in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array)))} parameters"
    }
    for name, fn in fns.items():
        k = fn(model, xs)
        out[name] = timeit(lambda fn=fn: fn(model, xs), repeats=3 if quick else 10) | {
            "rel_err_vs_brute": float(jnp.linalg.norm(k - ref) / jnp.linalg.norm(ref)),
            "memory": compiled_memory(fn, model, xs),
        }
    base = out["brute_jacrev_JJt"]["median_s"]
    out["speedup_vs_brute"] = {k: base / out[k]["median_s"] for k in fns}
    return out


def _deq_section(quick):
    h, d, o, n = 64, 32, 10, 32
    rho = 0.9  # ‖W‖₂: the Picard map contracts slowly, as trained DEQs do
    k = jax.random.split(jax.random.PRNGKey(2), 4)
    w = jax.random.normal(k[0], (h, h))
    p = {
        "W": rho * w / jnp.linalg.norm(w, 2),
        "U": jax.random.normal(k[1], (h, d)) / d**0.5,
        "b": jnp.zeros(h),
        "V": jax.random.normal(k[2], (o, h)) / h**0.5,
    }
    xs = jax.random.normal(k[3], (n, d))
    cell = lambda z, a: jnp.tanh(a["W"] @ z + a["U"] @ a["x"] + a["b"])

    def implicit(tol, max_steps=400):
        def f(q, x):
            sol = cx.fixed_point(
                cell,
                jnp.zeros(h),
                {**q, "x": x},
                solver=cx.Anderson(),
                adjoint=cx.ImplicitAdjoint(),
                tol=tol,
                max_steps=max_steps,
            )
            return q["V"] @ sol.value

        return f

    def unrolled(steps):
        def f(q, x):
            z = jax.lax.fori_loop(0, steps, lambda _, z: cell(z, {**q, "x": x}), jnp.zeros(h))
            return q["V"] @ z

        return f

    kern = lambda fn: jax.jit(lambda q, x: cx.ntk.empirical_ntk(fn, q, x, method="jacobian"))
    ref = kern(implicit(1e-7, 2000))(p, xs)
    err = lambda kk: float(jnp.linalg.norm(kk - ref) / jnp.linalg.norm(ref))
    imp = kern(implicit(1e-5))
    e_imp = err(imp(p, xs))
    out = {
        "problem": f"tanh DEQ cell h={h}, ‖W‖₂={rho}, in {d}, out {o}, N = {n}, float32; "
        "reference kernel: implicit with tol 1e-7"
    }
    out["implicit_tol1e-5"] = timeit(lambda: imp(p, xs), repeats=3) | {
        "rel_err": e_imp,
        "memory": compiled_memory(imp, p, xs),
    }
    chosen = None
    for steps in (25, 50, 100, 150, 200, 300, 400):
        un = kern(unrolled(steps))
        e = err(un(p, xs))
        out[f"unrolled_{steps}"] = {"rel_err": e}
        if e <= e_imp:
            chosen = steps
            out[f"unrolled_{steps}"] |= timeit(lambda un=un: un(p, xs), repeats=3) | {
                "memory": compiled_memory(un, p, xs)
            }
            break
    out["unrolled_steps_at_equal_accuracy"] = chosen
    if chosen is not None:
        out["speedup_implicit_vs_unrolled"] = (
            out[f"unrolled_{chosen}"]["median_s"] / out["implicit_tol1e-5"]["median_s"]
        )
    return out


def run(quick: bool = True) -> dict:
    return {"mlp": _mlp_section(quick), "deq": _deq_section(quick)}
