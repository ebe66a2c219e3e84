"""Deep-linear stability sweep: one compiled, sharded program vs a Python loop of jitted runs.

Each configuration runs gradient descent on ½‖W_L⋯W_1 − R‖_F² (2×2 layers, depth 4) from a
perturbed identity for `steps` steps and classifies the orbit of the last 32 iterates with
`cx.gd.classify`. The grid is (δ/δ_c, ρ(R), init scale, seed); `cx.sweep.grid` runs it as one
program (vmap + chunks + sharding over the visible devices); the same grid as one `jit(vmap)`
compiled once is timed too. The peer is the same single-run
function under `jax.jit`, called once per configuration from Python; its time for the whole
grid is extrapolated from a sample of calls. Same machine, same process, same dtype.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import contractax as cx
from contractax.models import DeepLinear, deep_linear_loss
from experiments.benchmarks._common import block, timeit

L, N = 4, 2


def _config(ratio, rho, scale, seed, steps):
    R = jnp.diag(jnp.stack([rho, jnp.ones_like(rho)]))
    dc = 2.0 / (L * rho ** (2.0 * (L - 1) / L))
    k = jax.random.PRNGKey(seed.astype(jnp.uint32))
    noise = 0.05 * jax.random.normal(k, (L, N, N), rho.dtype)
    net = DeepLinear(weights=[scale * jnp.eye(N, dtype=rho.dtype) + noise[i] for i in range(L)])
    tr = cx.gd.run(
        deep_linear_loss,
        net,
        ratio * dc,
        steps,
        args=R,
        burn_in=steps - 32,
        record=lambda p, a: p.product(),
        record_loss=False,
    )
    return cx.gd.classify(tr, max_period=8, window=32, rtol=1e-4, atol=1e-6).code


def run(quick: bool = True) -> dict:
    steps = 200 if quick else 1000
    axes = {
        "ratio": jnp.linspace(0.5, 1.5, 50, dtype=jnp.float32),
        "rho": jnp.linspace(1.0, 4.0, 20, dtype=jnp.float32),
        "scale": jnp.linspace(0.5, 1.5, 10, dtype=jnp.float32),
        "seed": jnp.arange(10, dtype=jnp.int32),
    }
    n_cfg = int(np.prod([a.shape[0] for a in axes.values()]))

    def fn(ratio, rho, scale, seed):
        return _config(ratio, rho, scale, seed, steps)

    t_sweep = timeit(lambda: cx.sweep.grid(fn, axes, chunk_size=25_000), repeats=3, warmup=1)
    codes = np.asarray(cx.sweep.grid(fn, axes, chunk_size=25_000))
    # the same grid as one jitted vmap, compiled once and reused (steady state)
    flat = [m.ravel() for m in jnp.meshgrid(*axes.values(), indexing="ij")]
    one_program = jax.jit(jax.vmap(fn))
    t_vmap = timeit(lambda: one_program(*flat), repeats=3, warmup=1)
    same = float(np.mean(np.asarray(one_program(*flat)) == codes.reshape(-1)))

    single = jax.jit(fn)
    pts = np.stack(np.meshgrid(*[np.asarray(a) for a in axes.values()], indexing="ij"), -1).reshape(
        -1, 4
    )
    rng = np.random.default_rng(0)
    sample = pts[rng.choice(len(pts), 300 if quick else 1000, replace=False)]
    args = [
        (jnp.float32(p[0]), jnp.float32(p[1]), jnp.float32(p[2]), jnp.int32(p[3])) for p in sample
    ]
    block(single(*args[0]))  # compile
    t0 = time.perf_counter()
    loop_codes = [single(*a) for a in args]
    block(loop_codes)
    per_call = (time.perf_counter() - t0) / len(args)
    loop_total = per_call * n_cfg
    # the loop and the sweep agree on the sampled configurations
    idx = [np.argmin(np.abs(pts - p).sum(1)) for p in sample[:50]]
    agree = float(np.mean(np.asarray(loop_codes[:50]) == codes.reshape(-1)[idx]))
    sweep_s = t_sweep["median_s"]
    vmap_s = t_vmap["median_s"]
    return {
        "problem": f"{n_cfg} configurations (δ/δ_c × ρ × init scale × seed = 50×20×10×10), "
        f"deep linear L={L}, {N}×{N} layers, {steps} GD steps each, float32",
        "devices": len(jax.devices()),
        "sweep_seconds": sweep_s,
        "sweep_first_call_seconds": t_sweep["first_call_s"],
        "sweep_configs_per_second": n_cfg / sweep_s,
        "loop_seconds_per_config": per_call,
        "loop_seconds_extrapolated": loop_total,
        "loop_configs_per_second": 1.0 / per_call,
        "loop_sample": len(args),
        "ratio_loop_over_sweep": loop_total / sweep_s,
        "vmap_program_seconds": vmap_s,
        "vmap_program_configs_per_second": n_cfg / vmap_s,
        "ratio_loop_over_vmap_program": loop_total / vmap_s,
        "vmap_program_agreement_with_sweep": same,  # float32 fusion differs per chunking
        "note": "cx.sweep.grid builds a new jitted closure on each call, so each of its timed "
        "calls includes tracing and compilation; the vmap program is compiled once",
        "sample_agreement": agree,
        "orbit_counts": {k: int(np.sum(codes == i)) for i, k in enumerate(cx.gd.ORBIT_KINDS)},
    }
