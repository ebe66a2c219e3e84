"""Private: the one chunk / pad / shard engine behind `sweep`, `ntk`, `landscape` and `rnn`.

`map_rows(fn, xs, chunk_size=, devices=)` is `jax.vmap(fn)(xs)` with bounded memory and all
devices busy:

- on one device it is `jax.lax.map(fn, xs, batch_size=chunk_size)` (a `vmap` over chunks of
  `chunk_size` rows inside a `scan`; JAX itself maps the remainder, so there is no padding);
- on several devices the rows are padded (by repeating row 0, a valid input) to a multiple of
  the device count and split with `shard_map` over a 1-D mesh; each device then runs the
  one-device program on its rows. Padded results are dropped.

`chunked_vmap` keeps the older convention of ntk/landscape (`chunk_size` counts the rows of a
chunk over *all* devices, rounded up to a multiple of the device count); `pad_and_split`,
`merge`, `shard_axis`, `round_chunk` and `leading_size` are the building blocks ntk uses for
its two-batch kernels.

Every function here is traceable (call it inside `jit`); compile-once caching is the caller's
entry point's job (e.g. `sweep.flat_map`). The exception is `check_same_on_processes`, which the
eager entry points call before their program: with several processes (after
`jax.distributed.initialize()`) each process hands the program its own host copy of every
input, and a device takes its rows from its own process's copy, so inputs that differ between
processes would silently mix into one result; it raises instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._checks import check_count
from ._types import Count

__all__ = [
    "map_rows",
    "chunked_vmap",
    "check_chunk",
    "leading_size",
    "pad_rows",
    "pad_and_split",
    "merge",
    "shard_axis",
    "round_chunk",
    "check_same_on_processes",
    "fingerprints",
]

_AXIS = "rows"


def leading_size(xs: Any) -> int:
    """The common size of axis 0 of every leaf of `xs` (a `ValueError` if they differ)."""
    leaves = jax.tree_util.tree_leaves(xs)
    if not leaves:
        raise ValueError("The batched input has no array leaves; give at least one array.")
    sizes = {jnp.shape(a)[0] if jnp.ndim(a) > 0 else None for a in leaves}
    if None in sizes or len(sizes) != 1:
        raise ValueError(
            "Every leaf of the batched input must have the same leading (batch) axis; "
            f"found leading sizes {sorted(s for s in sizes if s is not None)}"
            f"{' and scalar leaves' if None in sizes else ''}."
        )
    return sizes.pop()


def check_chunk(chunk_size, name: str = "chunk_size") -> int | None:
    """`None` or an integer ≥ 1 (NumPy integers accepted); 0, negatives, bools raise."""
    return None if chunk_size is None else check_count(chunk_size, name, minimum=1)


def pad_rows(xs: Any, total: int) -> Any:
    """Pad axis 0 of every leaf to `total` rows by repeating row 0 (a valid input)."""
    n = leading_size(xs)

    def one(a):
        a = jnp.asarray(a)
        if total == n:
            return a
        return jnp.concatenate([a, jnp.repeat(a[:1], total - n, axis=0)], axis=0)

    return jax.tree_util.tree_map(one, xs)


def _local(fn: Callable, xs: Any, chunk: Count | None) -> Any:
    """On one device: a plain vmap, or `lax.map` over chunks of `chunk` rows."""
    if chunk is None or chunk >= leading_size(xs):
        return jax.vmap(fn)(xs)
    return jax.lax.map(fn, xs, batch_size=chunk)


def _mesh(devices: Sequence) -> Mesh:
    return Mesh(np.asarray(devices), (_AXIS,))


def map_rows(
    fn: Callable, xs: Any, *, chunk_size: Count | None = None, devices: Sequence | None = None
) -> Any:
    """`jax.vmap(fn)(xs)`, at most `chunk_size` rows per device at a time, sharded over devices.

    **Arguments:**

    - `fn`: maps one row (a pytree slice of `xs`) to a pytree of arrays.
    - `xs`: a pytree of arrays with a common leading axis of length N.
    - `chunk_size`: rows per vmapped chunk on each device (`None`: all of a device's rows).
    - `devices`: devices to shard over (default: all visible devices).

    **Returns:** `fn`'s outputs stacked on a leading axis of length N.
    """
    chunk = check_chunk(chunk_size)
    n = leading_size(xs)
    devices = tuple(jax.devices() if devices is None else devices)
    if len(devices) <= 1:
        return _local(fn, xs, chunk)
    nd = len(devices)
    total = -(-n // nd) * nd
    padded = pad_rows(xs, total)
    spec = PartitionSpec(_AXIS)
    program = jax.shard_map(
        lambda x: _local(fn, x, chunk),
        mesh=_mesh(devices),
        in_specs=spec,
        out_specs=spec,
        check_vma=False,
    )
    out = program(padded)
    return jax.tree_util.tree_map(lambda a: a[:n], out)


def round_chunk(chunk: Count | None, n: int) -> int:
    """The chunk size actually used over all devices: `n` when `chunk` is None, else
    `min(chunk, n)` rounded up to a multiple of the device count."""
    chunk = check_chunk(chunk)
    c = n if chunk is None else min(chunk, n)
    d = jax.device_count()
    return -(-c // d) * d


def chunked_vmap(fn: Callable, xs: Any, chunk_size: Count | None) -> Any:
    """`jax.vmap(fn)(xs)` evaluated `chunk_size` rows at a time over all devices together
    (rounded up to a multiple of the device count), sharded over the devices. Any batch size
    works: the rows are padded where the devices need it and the padding is dropped."""
    n = leading_size(xs)
    c = round_chunk(chunk_size, n)
    return map_rows(fn, xs, chunk_size=c // jax.device_count())


def pad_and_split(xs: Any, chunk: int) -> tuple[Any, int]:
    """Pad axis 0 of every leaf to a multiple of `chunk` (repeating row 0) and reshape to
    `(num_chunks, chunk, ...)`. Returns the reshaped tree and the original size."""
    n = leading_size(xs)
    num = -(-n // chunk)
    padded = pad_rows(xs, num * chunk)
    return jax.tree_util.tree_map(lambda a: a.reshape((num, chunk) + a.shape[1:]), padded), n


def merge(ys: Any, n: int) -> Any:
    """Inverse of `pad_and_split` on outputs: `(num_chunks, chunk, ...)` -> `(n, ...)`."""
    return jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:])[:n], ys)


def shard_axis(x: Any, axis: int) -> Any:
    """Constrain axis `axis` of every leaf to be split over all visible devices (no-op on one
    device, or when the axis size is not a multiple of the device count)."""
    devices = jax.devices()
    if len(devices) == 1:
        return x
    mesh = _mesh(devices)

    def one(a):
        if a.shape[axis] % len(devices):
            return a
        spec = [None] * a.ndim
        spec[axis] = _AXIS
        return jax.lax.with_sharding_constraint(a, NamedSharding(mesh, PartitionSpec(*spec)))

    return jax.tree_util.tree_map(one, x)


def fingerprints(named: Mapping[str, Any]) -> np.ndarray | None:
    """A 128-bit digest of the host values of each tree in `named`, shape `(len(named), 4)`
    (`uint32`), from the shapes, dtypes and bytes of its numeric leaves. Global arrays (not fully
    addressable: one value by construction) are left out; `None` if a leaf is a tracer (under an
    outer `jit` the values cannot be read)."""
    rows = []
    for tree in named.values():
        digest = hashlib.blake2b(digest_size=16)
        for leaf in jax.tree_util.tree_leaves(tree):
            if isinstance(leaf, jax.core.Tracer):
                return None
            if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
                continue
            if not isinstance(leaf, (jax.Array, np.ndarray, np.generic, bool, int, float, complex)):
                continue
            if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(
                leaf.dtype, jax.dtypes.prng_key
            ):
                leaf = jax.random.key_data(leaf)  # typed keys have no NumPy value
            a = np.ascontiguousarray(np.asarray(leaf))
            digest.update(f"{a.shape}{a.dtype.str};".encode())
            digest.update(a.tobytes())
        rows.append(np.frombuffer(digest.digest(), dtype=np.uint32))
    return np.stack(rows)


def check_same_on_processes(named: Mapping[str, Any], devices: Sequence | None = None) -> None:
    """Raise a `ValueError` naming the inputs whose values differ between the processes that
    `devices` (default: all devices) span. No-op in one process, when the devices belong to one
    process, or under an outer `jit` (tracers: nothing to compare on the host). Costs one
    all-gather of 16 bytes per input and a hash of each input's host copy."""
    if jax.process_count() == 1:
        return
    devices = jax.devices() if devices is None else devices
    if len({d.process_index for d in devices}) == 1:
        return
    mine = fingerprints(named)
    if mine is None:
        return
    from jax.experimental import multihost_utils

    every = np.asarray(multihost_utils.process_allgather(mine))  # (processes, inputs, 4)
    differ = [name for i, name in enumerate(named) if not (every[:, i] == every[0, i]).all()]
    if differ:
        raise ValueError(
            f"{', '.join(f'`{n}`' for n in differ)} differ between the {jax.process_count()} "
            "processes, but the devices of every process share one computation: each device "
            "would take its share of the work from its own process's copy and the result would "
            "mix them. Pass the same values on every process (same seeds, same data); for "
            "`sweep.grid` and `sweep.flat_map`, `devices=jax.local_devices()` gives each "
            "process its own sweep instead."
        )
