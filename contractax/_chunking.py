"""Private helpers: map a function over a leading batch axis in chunks, with padding (so no
divisibility rule) and, when several devices are visible, the chunk sharded across them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec


def leading_size(xs: Any) -> int:
    """The common size of axis 0 of every leaf of `xs` (a `ValueError` if they differ)."""
    sizes = {jnp.shape(a)[0] if jnp.ndim(a) > 0 else None for a in jax.tree_util.tree_leaves(xs)}
    if None in sizes or len(sizes) != 1:
        raise ValueError(
            "Every leaf of the batched input must have the same leading (batch) axis; "
            f"found leading sizes {sorted(s for s in sizes if s is not None)}"
            f"{' and scalar leaves' if None in sizes else ''}."
        )
    return sizes.pop()


def pad_and_split(xs: Any, chunk: int) -> tuple[Any, int]:
    """Pad axis 0 of every leaf to a multiple of `chunk` (repeating row 0, a valid input) and
    reshape to `(num_chunks, chunk, ...)`. Returns the reshaped tree and the original size."""
    n = leading_size(xs)
    num = -(-n // chunk)
    pad = num * chunk - n

    def one(a):
        a = jnp.asarray(a)
        if pad:
            a = jnp.concatenate([a, jnp.repeat(a[:1], pad, axis=0)], axis=0)
        return a.reshape((num, chunk) + a.shape[1:])

    return jax.tree_util.tree_map(one, xs), n


def merge(ys: Any, n: int) -> Any:
    """Inverse of `pad_and_split` on outputs: `(num_chunks, chunk, ...)` -> `(n, ...)`."""
    return jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:])[:n], ys)


def shard_axis(x: Any, axis: int) -> Any:
    """Constrain axis `axis` of every leaf to be split over all visible devices (no-op on one
    device, or when the axis size is not a multiple of the device count)."""
    devices = jax.devices()
    if len(devices) == 1:
        return x
    mesh = jax.sharding.Mesh(devices, ("devices",))

    def one(a):
        if a.shape[axis] % len(devices):
            return a
        spec = [None] * a.ndim
        spec[axis] = "devices"
        return jax.lax.with_sharding_constraint(a, NamedSharding(mesh, PartitionSpec(*spec)))

    return jax.tree_util.tree_map(one, x)


def round_chunk(chunk: int | None, n: int) -> int:
    """The chunk size actually used: `n` when `chunk` is None, rounded up to a multiple of the
    device count so that each chunk splits evenly over the devices."""
    if chunk is not None and (not isinstance(chunk, int) or chunk < 1):
        raise ValueError(f"`chunk_size` must be a positive integer or None; got {chunk!r}.")
    c = n if chunk is None else min(chunk, n)
    d = jax.device_count()
    return -(-c // d) * d


def chunked_vmap(fn: Callable, xs: Any, chunk_size: int | None) -> Any:
    """`jax.vmap(fn)(xs)` evaluated `chunk_size` rows at a time (`lax.map` over chunks), each
    chunk sharded over the devices. Any batch size works: the last chunk is padded."""
    n = leading_size(xs)
    c = round_chunk(chunk_size, n)
    xr, n = pad_and_split(xs, c)
    if xr is not None and jax.tree_util.tree_leaves(xr)[0].shape[0] == 1:
        ys = jax.vmap(fn)(shard_axis(jax.tree_util.tree_map(lambda a: a[0], xr), 0))
        return jax.tree_util.tree_map(lambda a: a[:n], ys)
    ys = jax.lax.map(lambda x: jax.vmap(fn)(shard_axis(x, 0)), xr)
    return merge(ys, n)
