"""Orbit (bifurcation) diagram of the chaotic LSTM: one vmapped `lax.scan` vs a per-s loop.

Seed 002 Fig. 1(a): 5000 values of s, 200 steps, the first 100 discarded. Peers on the same
problem in the same process:

- `contractax.rnn.orbit_diagram`: all s at once, one compiled program (vmap over s of a scan);
- a Python loop over s calling one jitted per-s scan (compiled once, 5000 dispatches);
- the released code's approach, a Python loop over time and s with eager (op-by-op) JAX, timed
  on a subset of s and reported per s-value (extrapolated to 5000).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import contractax as cx
from experiments.benchmarks._common import block, timeit

TITLE = "Orbit diagram: vmapped lax.scan vs per-s Python loop"


def run(quick: bool = True) -> dict:
    step, theta, x0 = cx.models.chaotic_lstm(dtype=jnp.float32)
    n_s, steps, burn = 5000, 200, 100
    s_grid = jnp.linspace(0.5, 2.0, n_s, dtype=jnp.float32)

    vmapped = jax.jit(
        lambda s: (
            cx.rnn.orbit_diagram(
                step, lambda a: a * theta, s, x0[None], steps, burn, observe=lambda x: x[0]
            ).points
        )
    )
    t_vmap = timeit(lambda: vmapped(s_grid), repeats=5)

    one = jax.jit(
        lambda a: cx.rnn.orbit_diagram(
            step, lambda b: b * theta, a[None], x0[None], steps, burn, observe=lambda x: x[0]
        ).points[0, 0]
    )

    def loop():
        return jnp.stack([one(a) for a in s_grid])

    t_loop = timeit(loop, repeats=1 if quick else 3)
    ref = np.asarray(vmapped(s_grid))[:, 0]
    # Chaos amplifies float32 rounding differences between the batched and unbatched programs,
    # so agreement is checked where the attractor is a fixed point or a cycle (s < 0.85).
    diff = np.abs(np.asarray(loop()) - ref)
    calm = np.asarray(s_grid) < 0.85
    same = bool(np.all(diff[calm] < 1e-4))

    # Eager per-step loop (like the released PyTorch script), on a few values of s.
    n_eager = 5 if quick else 50

    def eager(a):
        x, out = x0, []
        for t in range(steps):
            x = step(x, a * theta)
            if t >= burn:
                out.append(x[0])
        return jnp.stack(out)

    block(eager(s_grid[0]))
    t0 = time.perf_counter()
    for a in s_grid[:n_eager]:
        block(eager(a))
    eager_per_s = (time.perf_counter() - t0) / n_eager

    return {
        "problem": f"chaotic LSTM, {n_s} values of s in [0.5, 2], {steps} steps, "
        f"first {burn} discarded, float32",
        "vmapped_scan_s": t_vmap["median_s"],
        "vmapped_first_call_s": t_vmap["first_call_s"],
        "per_s_jit_loop_s": t_loop["median_s"],
        "eager_loop_extrapolated_s": eager_per_s * n_s,
        "speedup_vs_per_s_jit_loop": t_loop["median_s"] / t_vmap["median_s"],
        "speedup_vs_eager_loop": eager_per_s * n_s / t_vmap["median_s"],
        "loop_matches_vmapped_for_s_below_0.85": same,
        "max_abs_difference_all_s": float(diff.max()),
    }
