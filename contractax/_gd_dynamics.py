"""Private helpers for `contractax.gd`: calling loss functions, flattening, Hessian extremes."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ._checks import check_count, check_float_tree, check_scalar_fn
from ._lanczos import lanczos_eigenvalues


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


def bind_checked(loss_fn: Callable, args, params, name: str = "params") -> Callable:
    """`bind`, after checking that the leaves of `params` are real floats (what `jax.grad`
    differentiates) and that `loss_fn` returns a real scalar there (by `jax.eval_shape`)."""
    f = bind(loss_fn, args)
    check_float_tree(params, f"`{name}`", finite=False)
    check_scalar_fn(f, "`loss_fn`", params)
    return f


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
    if t == 0:
        raise ValueError("`trajectory` is empty (a leading time axis of length 0).")
    window = min(window, t)
    flat = [jnp.reshape(jnp.asarray(x)[t - window :], (window, -1)) for x in leaves]
    out = jnp.concatenate(flat, axis=1)
    if not jnp.issubdtype(out.dtype, jnp.inexact):
        out = out.astype(jnp.result_type(float))
    return out


def hessian_extremes(fn: Callable, params, num_iters: int | None, key):
    """(λ_min, λ_max) of the Hessian of the scalar function `fn` at `params`, matrix-free."""
    flat, unravel = ravel_pytree(params)
    if flat.ndim != 1 or flat.shape[0] == 0:
        raise ValueError("`params` must contain at least one array entry.")
    if not jnp.issubdtype(flat.dtype, jnp.floating):
        raise ValueError(f"`params` must be floating point, got dtype {flat.dtype}.")
    d = flat.shape[0]
    k = d if num_iters is None else min(check_count(num_iters, "num_iters"), d)
    g = jax.grad(lambda z: fn(unravel(z)))

    def matvec(v):
        return jax.jvp(g, (flat,), (v,))[1]

    ev = lanczos_eigenvalues(matvec, d, k, key, flat.dtype)
    return ev[0], ev[-1]
