"""Deprecated private alias of `contractax._batching` (the one chunk/pad/shard engine)."""

from ._batching import (  # noqa: F401
    chunked_vmap,
    leading_size,
    merge,
    pad_and_split,
    round_chunk,
    shard_axis,
)
