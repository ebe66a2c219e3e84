r"""Run a function over a parameter grid as one compiled, chunked, device-sharded program.

`grid(fn, axes)` evaluates `fn(**point)` at every point of the Cartesian product of the named
1-D `axes`: the grid is flattened, split evenly over all visible devices with `jax.sharding`
(`shard_map` on a 1-D mesh; no `pmap`), and on each device `lax.map` walks over chunks of
`chunk_size` points, each chunk a `vmap`. Memory is bounded by the chunk; the result has the
grid's shape in front of each output leaf.

Multi-host: call `jax.distributed.initialize()` first; the mesh then spans every process's
devices and the same code runs unchanged.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

__all__ = ["grid", "flat_map"]

try:  # jax ≥ 0.6
    _shard_map = jax.shard_map
except AttributeError:  # pragma: no cover - older jax
    from jax.experimental.shard_map import shard_map as _shard_map


def _mesh(devices) -> Mesh:
    return Mesh(np.asarray(devices), ("grid",))


def _build(fn: Callable, devices: tuple) -> Callable:
    """The compiled program: per device, `lax.map` over chunks of a `vmap` of `fn`."""

    def local(block):
        block = jax.tree_util.tree_map(lambda x: x[0], block)  # (nchunks, chunk, ...)
        out = jax.lax.map(jax.vmap(fn), block)
        return jax.tree_util.tree_map(lambda x: x[None], out)

    if len(devices) == 1:
        return jax.jit(local)
    mesh = _mesh(devices)
    return jax.jit(_shard_map(local, mesh=mesh, in_specs=P("grid"), out_specs=P("grid")))


_build_cached = functools.lru_cache(maxsize=32)(_build)


def _program(fn: Callable, devices: tuple) -> Callable:
    """Reuse the jitted program for the same `fn` object, so repeated sweeps compile once."""
    try:
        return _build_cached(fn, devices)
    except TypeError:  # unhashable fn
        return _build(fn, devices)


class _KeywordCall:
    """`point -> fn(**point)`, hashable and equal by `fn`, so its compiled program is reused."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, point):
        return self.fn(**point)

    def __hash__(self):
        return hash((_KeywordCall, self.fn))

    def __eq__(self, other):
        return isinstance(other, _KeywordCall) and other.fn is self.fn


def flat_map(
    fn: Callable[..., Any], inputs: Any, chunk_size: int | None = None, devices=None
) -> Any:
    """Apply `fn` to each row of the pytree `inputs` (leading axis N): vmap + chunks + sharding.

    The leading axis is padded (by repeating the last row) to a multiple of
    `devices × chunk_size`; padded results are dropped. `fn` takes one row (a pytree slice).

    **Returns:** `fn`'s outputs stacked on a leading axis of length N.
    """
    leaves = jax.tree_util.tree_leaves(inputs)
    if not leaves:
        raise ValueError("flat_map needs at least one array input.")
    n = leaves[0].shape[0]
    if any(leaf.shape[0] != n for leaf in leaves):
        raise ValueError("all inputs of flat_map must share the leading axis length.")
    devices = jax.devices() if devices is None else list(devices)
    nd = len(devices)
    per_dev = -(-n // nd)
    chunk = per_dev if chunk_size is None else max(1, min(int(chunk_size), per_dev))
    nchunks = -(-per_dev // chunk)
    total = nd * nchunks * chunk

    def pad(x):
        x = jnp.asarray(x)
        extra = total - n
        if extra:
            x = jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)], axis=0)
        return x.reshape((nd, nchunks, chunk) + x.shape[1:])

    padded = jax.tree_util.tree_map(pad, inputs)
    if nd > 1:
        padded = jax.device_put(padded, NamedSharding(_mesh(devices), P("grid")))
    out = _program(fn, tuple(devices))(padded)
    return jax.tree_util.tree_map(lambda x: x.reshape((total,) + x.shape[3:])[:n], out)


def grid(
    fn: Callable[..., Any],
    axes: Mapping[str, Any],
    chunk_size: int | None = None,
    devices=None,
) -> Any:
    r"""Evaluate `fn(**point)` on the Cartesian product of named 1-D axes.

    **Arguments:**

    - `fn`: called with one keyword argument per axis (a scalar each); returns a pytree.
    - `axes`: mapping from name to a 1-D array of values (order gives the output's axis order).
    - `chunk_size`: points per vmapped chunk on each device (`None`: all of a device's points).
    - `devices`: devices to shard over (default: all visible devices).

    **Returns:** `fn`'s pytree with each leaf shaped `(len(axis_1), ..., len(axis_k), *leaf)`.

    Example:

    ```python
    out = cx.sweep.grid(lambda a, b: a * b, {"a": jnp.arange(3.0), "b": jnp.arange(4.0)})
    out.shape  # (3, 4)
    ```
    """
    if not isinstance(axes, Mapping) or not axes:
        raise ValueError("axes must be a non-empty mapping from names to 1-D arrays.")
    names = list(axes)
    arrays = []
    for name in names:
        a = jnp.asarray(axes[name])
        if a.ndim != 1 or a.shape[0] == 0:
            raise ValueError(f"axis {name!r} must be a non-empty 1-D array; got shape {a.shape}.")
        arrays.append(a)
    shape = tuple(a.shape[0] for a in arrays)
    mesh = jnp.meshgrid(*arrays, indexing="ij")
    flat = {name: m.reshape(-1) for name, m in zip(names, mesh)}
    out = flat_map(_KeywordCall(fn), flat, chunk_size=chunk_size, devices=devices)
    assert math.prod(shape) == jax.tree_util.tree_leaves(out)[0].shape[0]
    return jax.tree_util.tree_map(lambda x: x.reshape(shape + x.shape[1:]), out)
