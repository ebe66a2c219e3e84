r"""Run a function over a parameter grid as one compiled, chunked, device-sharded program.

`grid(fn, axes)` evaluates `fn(**point)` at every point of the Cartesian product of the named
1-D `axes`: the grid is flattened, split evenly over all visible devices (`shard_map` on a 1-D
mesh; no `pmap`), and on each device `jax.lax.map(..., batch_size=chunk_size)` walks over
chunks of `chunk_size` points, each chunk a `vmap`. Memory is bounded by the chunk; the result
has the grid's shape in front of each output leaf. Building the grid, padding, the sweep and
the reshape are one program, compiled once per `fn` (by identity), grid shape and dtype, and
reused on later calls.

Multi-host: call `jax.distributed.initialize()` first; the mesh then spans every process's
devices and the same code runs unchanged, returning a global array (read it on a host with
`jax.experimental.multihost_utils.process_allgather`). The inputs must be the same on every
process (a `ValueError` otherwise); `devices=jax.local_devices()` gives each process its own
sweep. Recipe and details: docs/sweeps.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._batching import check_chunk, check_same_on_processes, leading_size, map_rows
from ._types import Count, PyTree

__all__ = ["grid", "flat_map"]


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


def _devices(devices) -> tuple:
    devices = tuple(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("`devices` is empty; pass at least one device (or None for all).")
    return devices


@eqx.filter_jit
def _flat_map(fn, inputs, chunk, devices):
    return map_rows(fn, inputs, chunk_size=chunk, devices=devices)


@eqx.filter_jit
def _grid(fn, arrays, names, chunk, devices):
    shape = tuple(a.shape[0] for a in arrays)
    mesh = jnp.meshgrid(*arrays, indexing="ij")
    flat = {name: m.reshape(-1) for name, m in zip(names, mesh)}
    out = map_rows(_KeywordCall(fn), flat, chunk_size=chunk, devices=devices)
    return jax.tree_util.tree_map(lambda x: x.reshape(shape + x.shape[1:]), out)


def flat_map(
    fn: Callable[[PyTree], PyTree],
    inputs: PyTree,
    chunk_size: Count | None = None,
    devices: Sequence | None = None,
) -> PyTree:
    """Apply `fn` to each row of the pytree `inputs` (leading axis N): vmap + chunks + sharding.

    On several devices the rows are padded (by repeating the first row) to a multiple of the
    device count and the padded results dropped; on each device `lax.map` with
    `batch_size=chunk_size` walks over the rows. Compiled once per `fn` (by identity), input
    shapes and `chunk_size`.

    **Arguments:**

    - `fn`: takes one row (a pytree slice of `inputs`), returns a pytree of arrays.
    - `inputs`: pytree of arrays sharing the leading axis length N.
    - `chunk_size`: rows per vmapped chunk on each device (`None`: all of a device's rows).
    - `devices`: devices to shard over (default: all visible devices).

    **Returns:** `fn`'s outputs stacked on a leading axis of length N.

    **Example:**

    ```python
    out = cx.sweep.flat_map(lambda r: r["a"] ** 2, {"a": jnp.arange(5.0)}, chunk_size=2)
    ```
    """
    leading_size(inputs)
    chunk, devices = check_chunk(chunk_size), _devices(devices)
    check_same_on_processes({"inputs": inputs}, devices)
    return _flat_map(fn, inputs, chunk, devices)


def grid(
    fn: Callable[..., PyTree],
    axes: Mapping[str, Any],
    chunk_size: Count | None = None,
    devices: Sequence | None = None,
) -> PyTree:
    r"""Evaluate `fn(**point)` on the Cartesian product of named 1-D axes.

    **Arguments:**

    - `fn`: called with one keyword argument per axis (a scalar each); returns a pytree.
    - `axes`: mapping from name to a 1-D array of values (order gives the output's axis order).
    - `chunk_size`: points per vmapped chunk on each device (`None`: all of a device's points).
    - `devices`: devices to shard over (default: all visible devices).

    **Returns:** `fn`'s pytree with each leaf shaped `(len(axis_1), ..., len(axis_k), *leaf)`.

    The whole sweep is one program, compiled on the first call and reused by later calls with
    the same `fn` object, axis lengths and dtypes (define `fn` once, not inline per call).

    Example:

    ```python
    out = cx.sweep.grid(lambda a, b: a * b, {"a": jnp.arange(3.0), "b": jnp.arange(4.0)})
    out.shape  # (3, 4)
    ```
    """
    if not isinstance(axes, Mapping) or not axes:
        raise ValueError("axes must be a non-empty mapping from names to 1-D arrays.")
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}.")
    names = tuple(axes)
    arrays = []
    for name in names:
        a = jnp.asarray(axes[name])
        if a.ndim != 1 or a.shape[0] == 0:
            raise ValueError(f"axis {name!r} must be a non-empty 1-D array; got shape {a.shape}.")
        arrays.append(a)
    chunk, devices = check_chunk(chunk_size), _devices(devices)
    assert math.prod(a.shape[0] for a in arrays) > 0
    check_same_on_processes({f"axes[{n!r}]": a for n, a in zip(names, arrays)}, devices)
    return _grid(fn, tuple(arrays), names, chunk, devices)
