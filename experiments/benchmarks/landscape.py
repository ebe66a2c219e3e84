"""A 51×51 filter-normalised loss surface of an MLP on sklearn digits, peers in one process:
`cx.landscape.surface` called eagerly (compiled once, reused; chunk picked from memory, and a
sweep of fixed chunks), a Python loop over a jitted loss (the usual way, as in Li et al.'s code),
and the bare cost of 2601 forward passes (one jitted loss call at a fixed point, timed, times
2601). Ratios: surface / bare (goal ≤ 1.2) and loop / surface (goal ≥ 1)."""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import contractax as cx
from contractax.data import load_digits_split
from experiments.benchmarks._common import timeit


def _problem(nb=512):
    data = load_digits_split(seed=0, dtype=np.float32)
    xs, ys = jnp.asarray(data.x_train[:nb]), jnp.asarray(data.y_train[:nb])
    model = eqx.nn.MLP(64, 10, 128, 2, key=jax.random.PRNGKey(0))
    dyn, static = eqx.partition(model, eqx.is_inexact_array)

    def loss(p, args):
        x, y = args
        logits = jax.vmap(eqx.combine(p, static))(x)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    d1 = cx.landscape.random_direction(jax.random.PRNGKey(1), dyn)
    d2 = cx.landscape.random_direction(jax.random.PRNGKey(2), dyn)
    return dyn, loss, d1, d2, (xs, ys)


def run(quick: bool = True) -> dict:
    nb = 512
    dyn, loss, d1, d2, data = _problem(nb)
    grid = 51
    g = jnp.linspace(-1.0, 1.0, grid)
    reps = 3 if quick else 7
    out = {"problem": f"MLP 64-128-128-10 on {nb} digits, {grid}×{grid} grid, float32"}
    eager = lambda c: lambda: cx.landscape.surface(loss, dyn, d1, d2, g, g, args=data, chunk_size=c)
    out["surface_auto_chunk"] = timeit(eager(None), repeats=reps)
    chunks = (8, 16, 32, 64, 128, 256, grid * grid) if not quick else (16, 64, 256, grid * grid)
    for c in chunks:
        out[f"surface_chunk_{c}"] = timeit(eager(c), repeats=reps)
    point = jax.jit(
        lambda p, a, b: loss(
            jax.tree_util.tree_map(lambda c, u, v: c + a * u + b * v, p, d1, d2), data
        )
    )
    one = jax.jit(lambda p: loss(p, data))
    single = timeit(lambda: one(dyn), repeats=50)
    out["bare_2601_forward_s"] = single["median_s"] * grid * grid

    def loop():
        return jnp.stack([point(dyn, a, b) for a in np.asarray(g) for b in np.asarray(g)])

    loop()  # compile
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        loop().block_until_ready()
        times.append(time.perf_counter() - t)
    out["python_loop_s"] = float(np.median(times))
    auto = out["surface_auto_chunk"]["median_s"]
    out["ratio_surface_auto_over_bare"] = auto / out["bare_2601_forward_s"]
    out["ratio_loop_over_surface_auto"] = out["python_loop_s"] / auto
    out["ratio_best_fixed_chunk_over_bare"] = (
        min(out[f"surface_chunk_{c}"]["median_s"] for c in chunks) / out["bare_2601_forward_s"]
    )
    return out
