"""μ∞ / μ1 / μ2 on a batch of random 32×32 matrices: jitted contractax vs NumPy (same run).

Reports median times, the ratio NumPy / contractax, and the achieved memory bandwidth of the
μ∞ kernel (bytes of the input read once / time).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from contractax import norms
from experiments.benchmarks._common import timeit


def _np_lognorm(A: np.ndarray, p: float) -> np.ndarray:
    if p == 2:
        return np.linalg.eigvalsh(0.5 * (A + np.swapaxes(A, -1, -2)))[..., -1]
    diag = np.diagonal(A, axis1=-2, axis2=-1)
    axis = -1 if p == math.inf else -2
    return np.max(diag + np.abs(A).sum(axis=axis) - np.abs(diag), axis=-1)


def run(quick: bool = True) -> dict:
    batch = 20_000 if quick else 100_000
    n = 32
    A = jax.random.normal(jax.random.PRNGKey(0), (batch, n, n), dtype=jnp.float32)
    A_np = np.asarray(A)
    out = {"batch": batch, "n": n, "dtype": "float32", "results": {}}
    for p, name in ((math.inf, "mu_inf"), (1, "mu_1"), (2, "mu_2")):
        f = jax.jit(lambda a, p=p: norms.lognorm(a, p))
        t_cx = timeit(lambda: f(A), repeats=5 if p != 2 else 3)
        t_np = timeit(lambda: _np_lognorm(A_np, p), repeats=3 if p != 2 else 1, warmup=1)
        err = float(np.max(np.abs(np.asarray(f(A)) - _np_lognorm(A_np, p))))
        row = {
            "contractax_s": t_cx["median_s"],
            "numpy_s": t_np["median_s"],
            "speedup_vs_numpy": t_np["median_s"] / t_cx["median_s"],
            "max_abs_diff": err,
        }
        if p == math.inf:
            row["bandwidth_GBps"] = A.size * 4 / t_cx["median_s"] / 1e9
        out["results"][name] = row
    return out
