"""A 51×51 filter-normalised loss surface of an MLP on sklearn digits: one compiled program
(`cx.landscape.surface`, vmapped and chunked) vs a Python loop over a jitted loss (the usual
way, as in Li et al.'s code), vs the bare cost of 2601 forward passes (one jitted loss call at
a fixed point, timed, times 2601)."""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import contractax as cx
from contractax.data import load_digits_split
from experiments.benchmarks._common import compiled_memory, timeit


def run(quick: bool = True) -> dict:
    data = load_digits_split(seed=0, dtype=np.float32)
    nb = 512
    xs, ys = jnp.asarray(data.x_train[:nb]), jnp.asarray(data.y_train[:nb])
    model = eqx.nn.MLP(64, 10, 128, 2, key=jax.random.PRNGKey(0))
    dyn, static = eqx.partition(model, eqx.is_inexact_array)

    def loss(p, args):
        x, y = args
        logits = jax.vmap(eqx.combine(p, static))(x)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    d1 = cx.landscape.random_direction(jax.random.PRNGKey(1), dyn)
    d2 = cx.landscape.random_direction(jax.random.PRNGKey(2), dyn)
    grid = 51
    g = jnp.linspace(-1.0, 1.0, grid)
    out = {"problem": f"MLP 64-128-128-10 on {nb} digits, {grid}×{grid} grid, float32"}
    for chunk in (None, 256):
        surf = jax.jit(
            lambda p, a, b, c=chunk: cx.landscape.surface(
                loss, p, a, b, g, g, args=(xs, ys), chunk_size=c
            )
        )
        out[f"one_program_chunk_{chunk}"] = timeit(
            lambda s=surf: s(dyn, d1, d2), repeats=3 if quick else 5
        ) | {"memory": compiled_memory(surf, dyn, d1, d2)}
    point = jax.jit(
        lambda p, a, b: loss(
            jax.tree_util.tree_map(lambda c, u, v: c + a * u + b * v, p, d1, d2), (xs, ys)
        )
    )
    one = jax.jit(lambda p: loss(p, (xs, ys)))
    single = timeit(lambda: one(dyn), repeats=50)
    out["bare_2601_forward_s"] = single["median_s"] * grid * grid

    def loop():
        vals = [point(dyn, a, b) for a in np.asarray(g) for b in np.asarray(g)]
        return jnp.stack(vals)

    loop()  # compile
    t = time.perf_counter()
    loop()
    out["python_loop_s"] = time.perf_counter() - t
    best = min(out["one_program_chunk_None"]["median_s"], out["one_program_chunk_256"]["median_s"])
    out["ratio_one_program_over_bare"] = best / out["bare_2601_forward_s"]
    out["speedup_one_program_vs_loop"] = out["python_loop_s"] / best
    return out
