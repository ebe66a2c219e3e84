"""Private helpers for `contractax.gd`: calling loss functions, flattening, Lanczos."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


def takes_args(fn: Callable) -> bool:
    """Whether `fn` accepts a second positional argument (the `(state, args)` convention)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins, some wrappers: assume the convention
        return True
    n = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n >= 2


def bind(loss_fn: Callable, args) -> Callable:
    """`params -> loss` from `loss_fn(params, args)` (or `loss_fn(params)` when args is None)."""
    if not callable(loss_fn):
        raise ValueError(f"`loss_fn` must be callable, got {type(loss_fn).__name__}.")
    if args is None and not takes_args(loss_fn):
        return loss_fn
    return lambda p: loss_fn(p, args)


def flat_tail(traj, window: int):
    """Flatten a pytree of arrays with a common leading axis T into (window, d) of its tail."""
    leaves = jax.tree_util.tree_leaves(traj)
    if not leaves:
        raise ValueError("`trajectory` has no array leaves to classify.")
    lengths = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in leaves}
    if None in lengths or len(lengths) != 1:
        raise ValueError(
            "every leaf of `trajectory` must have the same leading (time) axis; got leading "
            f"sizes {sorted(str(s) for s in lengths)}."
        )
    (t,) = lengths
    window = min(window, t)
    flat = [jnp.reshape(jnp.asarray(x)[t - window :], (window, -1)) for x in leaves]
    out = jnp.concatenate(flat, axis=1)
    if not jnp.issubdtype(out.dtype, jnp.inexact):
        out = out.astype(jnp.result_type(float))
    return out


def lanczos_tridiagonal(matvec: Callable, v0, num_iters: int, key):
    """Lanczos with full reorthogonalisation; returns the (k, k) tridiagonal matrix T.

    On breakdown (the Krylov space is exhausted) the next basis vector is a fresh random vector
    orthogonalised against the basis, and the coupling is set to 0, so the Ritz values stay
    eigenvalues of the operator.
    """
    d = v0.shape[0]
    k = num_iters
    dtype = v0.dtype
    eps = jnp.finfo(dtype).eps
    fresh = jax.random.normal(key, (k, d), dtype)
    basis = jnp.zeros((k, d), dtype)
    q = v0 / jnp.linalg.norm(v0)
    alphas = jnp.zeros((k,), dtype)
    betas = jnp.zeros((k,), dtype)
    scale = jnp.zeros((), dtype)

    def orth(w, basis):
        # Twice is enough (Kahan); rows beyond the current index are zero.
        w = w - basis.T @ (basis @ w)
        return w - basis.T @ (basis @ w)

    def body(j, carry):
        basis, q, alphas, betas, scale = carry
        basis = basis.at[j].set(q)
        w = matvec(q)
        a = jnp.vdot(q, w)
        w = orth(w, basis)
        b = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.abs(a) + b)
        broke = b <= 1e3 * eps * jnp.maximum(scale, 1.0) * d
        r = orth(fresh[j], basis)
        r = r / jnp.maximum(jnp.linalg.norm(r), jnp.finfo(dtype).tiny)
        q_next = jnp.where(broke, r, w / jnp.where(broke, 1.0, b))
        alphas = alphas.at[j].set(a)
        betas = betas.at[j].set(jnp.where(broke, 0.0, b))
        return basis, q_next, alphas, betas, scale

    _, _, alphas, betas, _ = jax.lax.fori_loop(0, k, body, (basis, q, alphas, betas, scale))
    off = betas[:-1]
    return jnp.diag(alphas) + jnp.diag(off, 1) + jnp.diag(off, -1)


def hessian_extremes(fn: Callable, params, num_iters: int | None, key):
    """(λ_min, λ_max) of the Hessian of the scalar function `fn` at `params`, matrix-free."""
    flat, unravel = ravel_pytree(params)
    if flat.ndim != 1 or flat.shape[0] == 0:
        raise ValueError("`params` must contain at least one array entry.")
    if not jnp.issubdtype(flat.dtype, jnp.floating):
        raise ValueError(f"`params` must be floating point, got dtype {flat.dtype}.")
    d = flat.shape[0]
    k = d if num_iters is None else min(int(num_iters), d)
    if k < 1:
        raise ValueError(f"`num_iters` must be a positive integer, got {num_iters}.")
    g = jax.grad(lambda z: fn(unravel(z)))

    def matvec(v):
        return jax.jvp(g, (flat,), (v,))[1]

    k0, k1 = jax.random.split(key)
    v0 = jax.random.normal(k0, (d,), flat.dtype)
    t = lanczos_tridiagonal(matvec, v0, k, k1)
    ev = jnp.linalg.eigvalsh(t)
    return ev[0], ev[-1]
