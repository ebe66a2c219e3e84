"""Private helpers of `contractax.landscape`: parameter-space directions (array leaves of a
pytree), their validation, the bias rule of filter normalisation, and the memory-based chunk of
a batched loss evaluation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._checks import check_finite

# Working-set target of one chunk of a batched loss evaluation (8 MiB): small enough that its
# activations stay in the last-level cache of a CPU, big enough to amortise the loop step.
CHUNK_BYTES = 2**23


def arrays(tree):
    """The inexact array leaves of `tree` (other leaves `None`)."""
    return eqx.filter(tree, eqx.is_inexact_array)


def tree_dot(a, b):
    return sum(
        jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    )


def shift(center, coeffs, dirs):
    """center + Σ_k coeffs[k] dirs[k] on the array leaves of `center` (dirs already filtered)."""
    dyn, static = eqx.partition(center, eqx.is_inexact_array)

    def one(c, *ds):
        out = c
        for a, d in zip(coeffs, ds):
            out = out + (a * d).astype(c.dtype)
        return out

    return eqx.combine(jax.tree_util.tree_map(one, dyn, *dirs), static)


def _describe(tree) -> str:
    paths = jax.tree_util.tree_flatten_with_path(tree)[0]
    return "{" + ", ".join(f"{jax.tree_util.keystr(p)}: {tuple(a.shape)}" for p, a in paths) + "}"


def check_direction(direction, params, name: str, params_name: str = "params"):
    """The array leaves of `direction`, checked against those of `params`: the same pytree
    structure and, leaf by leaf, the same shape (a ValueError naming both otherwise; a
    wrong-shape leaf would broadcast silently)."""
    d, p = arrays(direction), arrays(params)
    if jax.tree_util.tree_structure(d) != jax.tree_util.tree_structure(p):
        raise ValueError(
            f"`{name}` must have the array leaves of `{params_name}` (same pytree structure, "
            f"e.g. from random_direction({params_name})); expected leaves {_describe(p)}, got "
            f"{_describe(d)}."
        )
    paths = jax.tree_util.tree_flatten_with_path(p)[0]
    for (path, w), a in zip(paths, jax.tree_util.tree_leaves(d)):
        if jnp.shape(a) != jnp.shape(w):
            raise ValueError(
                f"`{name}` leaf {jax.tree_util.keystr(path)} has shape {tuple(jnp.shape(a))}, "
                f"but the matching leaf of `{params_name}` has shape {tuple(jnp.shape(w))}; "
                "a direction must have the shape of the parameters, leaf by leaf."
            )
    # a NaN/inf direction would make every shifted loss NaN without a word
    return jax.tree_util.tree_map(lambda a: check_finite(a, f"`{name}`"), d)


def _last_name(path) -> str | None:
    if not path:
        return None
    k = path[-1]
    for attr in ("name", "key"):
        if hasattr(k, attr):
            v = getattr(k, attr)
            return v if isinstance(v, str) else None
    return None


def is_bias(path, leaf) -> bool:
    """A bias or norm scale (one number per unit): a leaf with at most one axis, or a leaf named
    `bias` (equinox's `Conv` keeps its bias as `(out, 1, ..., 1)`). A weight with a single
    input, like `Linear(1, out).weight` `(out, 1)` or a 1×1 conv on one channel
    `(out, 1, 1, 1)`, is a weight: its filters are perturbed."""
    return jnp.ndim(leaf) <= 1 or _last_name(path) == "bias"


def nbytes(tree) -> int:
    return sum(
        math.prod(jnp.shape(a)) * jnp.dtype(jnp.result_type(a)).itemsize
        for a in jax.tree_util.tree_leaves(tree)
        if eqx.is_array(a)
    )


def auto_chunk(point_fn: Callable, example: Any, n: int, copy_bytes: int) -> int:
    """Points per chunk so that one chunk's working set is about `CHUNK_BYTES`: per point, XLA's
    memory analysis of one evaluation `point_fn(*example)` (temporaries and output) plus
    `copy_bytes` (the shifted parameters each point holds); `copy_bytes` alone when the backend
    does not report the analysis."""
    dyn, static = eqx.partition(example, eqx.is_array)
    shapes = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), dyn
    )
    per_point = copy_bytes
    try:
        fn = lambda d: point_fn(*eqx.combine(d, static))
        mem = jax.jit(fn).lower(shapes).compile().memory_analysis()
        per_point += int(mem.temp_size_in_bytes) + int(mem.output_size_in_bytes)
    except Exception:  # pragma: no cover - backends without memory analysis
        pass
    return int(max(1, min(n, CHUNK_BYTES // max(per_point, 1))))
