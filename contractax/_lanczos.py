"""Private: the one Lanczos (full reorthogonalisation) for symmetric matrix-free operators.

Used by `gd.sharpness` / `gd.lyapunov_radius` (Hessian-vector products) and
`ntk.min_eigenvalue_lanczos` (NTK-vector products). Compared with
`jax.experimental.sparse.linalg.lobpcg_standard` and matfree's Lanczos in
`experiments/benchmarks/lanczos.py`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

BREAKDOWN = 100.0
"""Breakdown when ‖w‖ ≤ BREAKDOWN · eps(dtype) · scale (scale = running max of |α| + β):
below that the Krylov space is invariant to working precision. Independent of the dimension."""


def _orth(w, basis):
    # Twice is enough (Kahan); rows of `basis` beyond the current index are zero.
    for _ in range(2):
        w = w - basis.T @ (basis @ w)
    return w


def _restart(r, basis):
    """A fresh unit vector orthogonal to the basis (only computed on breakdown)."""
    r = _orth(r, basis)
    return r / jnp.maximum(jnp.linalg.norm(r), jnp.finfo(r.dtype).tiny)


def lanczos_tridiagonal(matvec: Callable, v0, num_iters: int, key, breakdown: float | None = None):
    """`num_iters` Lanczos steps from `v0`; returns the (k, k) symmetric tridiagonal matrix T.

    Every new vector is orthogonalised twice against all previous ones. On breakdown (an
    invariant Krylov subspace) the next basis vector is a fresh random vector orthogonal to the
    basis and the coupling is set to 0, so the Ritz values stay those of invariant subspaces
    (no spurious values from normalised rounding noise).
    """
    d, k, dtype = v0.shape[0], num_iters, v0.dtype
    eps = jnp.finfo(dtype).eps
    tol = (BREAKDOWN * eps) if breakdown is None else breakdown
    fresh = jax.random.normal(key, (k, d), dtype)
    basis = jnp.zeros((k, d), dtype)
    q = v0 / jnp.linalg.norm(v0)
    alphas = jnp.zeros((k,), dtype)
    betas = jnp.zeros((k,), dtype)

    def body(j, carry):
        basis, q, alphas, betas, scale = carry
        basis = basis.at[j].set(q)
        w = matvec(q)
        a = jnp.vdot(q, w).real.astype(dtype)
        w = _orth(w, basis)
        b = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.abs(a) + b)
        broke = b <= tol * jnp.maximum(scale, jnp.finfo(dtype).tiny)
        q_next = jax.lax.cond(broke, _restart, lambda *_: w / b, fresh[j], basis)
        alphas = alphas.at[j].set(a)
        betas = betas.at[j].set(jnp.where(broke, 0.0, b))
        return basis, q_next, alphas, betas, scale

    init = (basis, q, alphas, betas, jnp.zeros((), dtype))
    _, _, alphas, betas, _ = jax.lax.fori_loop(0, k, body, init)
    off = betas[:-1]
    return jnp.diag(alphas) + jnp.diag(off, 1) + jnp.diag(off, -1)


def lanczos_eigenvalues(
    matvec: Callable, dim: int, num_iters: int, key, dtype, breakdown: float | None = None
):
    """Ritz values (ascending) of a symmetric operator on R^dim after `num_iters` steps from a
    random start vector drawn from `key`. `breakdown`: relative threshold (default
    `BREAKDOWN · eps(dtype)`)."""
    k0, k1 = jax.random.split(key)
    v0 = jax.random.normal(k0, (dim,), dtype)
    t = lanczos_tridiagonal(matvec, v0, num_iters, k1, breakdown)
    return jnp.linalg.eigvalsh(t)
