"""Private: Lanczos with full reorthogonalisation for symmetric matrix-free operators."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def lanczos_eigenvalues(
    matvec: Callable, dim: int, num_iters: int, key, dtype, breakdown: float = 1e-10
):
    """Ritz values (ascending) of a symmetric operator after `num_iters` Lanczos steps.

    Every new vector is orthogonalised twice against all previous ones. On breakdown (an
    invariant Krylov subspace, ‖w‖ ≤ `breakdown`·scale) the iteration restarts from a fresh
    random vector orthogonal to the basis and puts a zero off-diagonal in the tridiagonal
    matrix, so the Ritz values stay those of invariant subspaces (no spurious zeros).
    """
    keys = jax.random.split(key, num_iters + 1)
    v0 = jax.random.normal(keys[0], (dim,), dtype)
    v0 = v0 / jnp.linalg.norm(v0)
    basis = jnp.zeros((num_iters, dim), dtype).at[0].set(v0)
    alphas = jnp.zeros((num_iters,), dtype)
    betas = jnp.zeros((num_iters,), dtype)

    def orth(w, basis):
        for _ in range(2):
            w = w - basis.T @ (basis @ w)
        return w

    def body(i, carry):
        basis, alphas, betas, scale = carry
        v = basis[i]
        w = matvec(v)
        a = jnp.dot(v, w)
        w = orth(w, basis)
        b = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.abs(a) + b)
        broke = b <= breakdown * jnp.maximum(scale, 1.0)
        r = orth(jax.random.normal(keys[i + 1], (dim,), dtype), basis)
        nxt = jnp.where(broke, r / jnp.linalg.norm(r), w / jnp.where(broke, 1.0, b))
        b = jnp.where(broke, 0.0, b)
        basis = jnp.where(
            i + 1 < num_iters, basis.at[jnp.minimum(i + 1, num_iters - 1)].set(nxt), basis
        )
        return basis, alphas.at[i].set(a), betas.at[i].set(b), scale

    init = (basis, alphas, betas, jnp.zeros((), dtype))
    basis, alphas, betas, _ = jax.lax.fori_loop(0, num_iters, body, init)
    tri = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    return jnp.linalg.eigvalsh(tri)
