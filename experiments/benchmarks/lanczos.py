"""Extreme Hessian eigenvalues: contractax's Lanczos vs JAX's LOBPCG and matfree's Lanczos.

Problems (float32 and float64):

- `mlp`: the Hessian of a 2-layer tanh MLP's squared loss (d = 1 281 parameters, 64 examples),
  matrix-free by forward-over-reverse HVPs; the reference is `eigvalsh` of the dense Hessian;
- `clustered`: a diagonal operator on R^3000 with spectrum t³ on [0, 1] and an isolated top
  eigenvalue 2 (sharpness is easy, λ_min sits in a dense cluster at 0).

Peers at the same budget of k matrix-vector products (k = 20, 40, 80), one jitted program each:

- `contractax._lanczos.lanczos_eigenvalues` (full reorthogonalisation, breakdown restarts);
- `jax.experimental.sparse.linalg.lobpcg_standard` (block size 1, k iterations; λ_max of A
  and of −A for λ_min; about 3 matvecs per iteration are counted as one iteration there, so it
  gets k iterations, i.e. more matvecs than the Lanczos peers);
- `matfree.decomp.tridiag_sym(k, reortho="full")` + `eigvalsh`, when matfree is installed.

Reported: relative error of λ_max and error of λ_min (relative to |λ_max|), and the median time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.sparse.linalg import lobpcg_standard
from jax.flatten_util import ravel_pytree

from contractax._lanczos import lanczos_eigenvalues
from experiments.benchmarks._common import timeit

try:
    from matfree import decomp as _matfree
except ImportError:  # optional peer
    _matfree = None

TITLE = "Extreme Hessian eigenvalues: Lanczos vs LOBPCG vs matfree"


def _mlp_problem(dtype):
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
    x = jax.random.normal(k1, (64, 8), dtype)
    y = jnp.sin(x @ jax.random.normal(k2, (8, 2), dtype))
    params = {
        "w1": jax.random.normal(k3, (8, 128), dtype) / jnp.sqrt(8.0).astype(dtype),
        "b1": jnp.zeros(128, dtype),
        "w2": jax.random.normal(k4, (128, 1), dtype) / jnp.sqrt(128.0).astype(dtype),
        "b2": jnp.zeros(1, dtype),
    }

    def loss(p):
        out = jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return 0.5 * jnp.mean((out - y[:, :1]) ** 2)

    flat, unravel = ravel_pytree(params)
    g = jax.grad(lambda z: loss(unravel(z)))

    def matvec(v):
        return jax.jvp(g, (flat,), (v,))[1]

    dense = jax.hessian(lambda z: loss(unravel(z)))(flat.astype(jnp.float64))
    ev = np.linalg.eigvalsh(np.asarray(dense, np.float64))
    return matvec, flat.shape[0], (ev[0], ev[-1])


def _clustered_problem(dtype):
    d = 3000
    diag = (jnp.linspace(0.0, 1.0, d, dtype=dtype) ** 3).at[-1].set(2.0)
    return (lambda v: diag * v), d, (0.0, 2.0)


def _peers(matvec, d, k, dtype):
    key = jax.random.PRNGKey(1)
    v0 = jax.random.normal(key, (d,), dtype)
    out = {}

    @jax.jit
    def ours():
        ev = lanczos_eigenvalues(matvec, d, k, key, dtype)
        return ev[0], ev[-1]

    out["contractax"] = ours

    @jax.jit
    def lobpcg():
        hi = lobpcg_standard(jax.vmap(matvec, 1, 1), v0[:, None], m=k)[0][0]
        lo = -lobpcg_standard(jax.vmap(lambda v: -matvec(v), 1, 1), v0[:, None], m=k)[0][0]
        return lo, hi

    out["lobpcg_standard"] = lobpcg
    if _matfree is not None:
        tri = _matfree.tridiag_sym(k, reortho="full")

        @jax.jit
        def matfree():
            ev = jnp.linalg.eigvalsh(tri(matvec, v0).J_small)
            return ev[0], ev[-1]

        out["matfree"] = matfree
    return out


def run(quick: bool = True) -> dict:
    res = {"matfree_installed": _matfree is not None, "rows": []}
    budgets = (20, 40, 80)
    for dtype in (jnp.float32, jnp.float64):
        if dtype == jnp.float64 and not jax.config.jax_enable_x64:
            jax.config.update("jax_enable_x64", True)
        for name, make in (("mlp", _mlp_problem), ("clustered", _clustered_problem)):
            matvec, d, (lo_ref, hi_ref) = make(dtype)
            for k in budgets:
                for peer, fn in _peers(matvec, d, k, dtype).items():
                    try:
                        lo, hi = (float(v) for v in fn())
                        t = timeit(fn, repeats=3 if quick else 7)["median_s"]
                    except Exception as e:  # a peer failing is a result too
                        res["rows"].append(
                            {
                                "problem": name,
                                "dtype": jnp.dtype(dtype).name,
                                "k": k,
                                "peer": peer,
                                "error": repr(e)[:300],
                            }  # fmt: skip
                        )
                        continue
                    res["rows"].append(
                        {
                            "problem": name,
                            "dtype": jnp.dtype(dtype).name,
                            "d": d,
                            "k": k,
                            "peer": peer,
                            "lambda_max_rel_err": abs(hi - hi_ref) / abs(hi_ref),
                            "lambda_min_err_rel_to_max": abs(lo - lo_ref) / abs(hi_ref),
                            "seconds": t,
                        }
                    )
    jax.config.update("jax_enable_x64", False)
    return res
