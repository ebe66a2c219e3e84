"""Resumable experiment parts: a finished part's result is kept on disk and reused.

Long runs (``make full``) outlive nothing: a session can stop at any time. Every long part of an
experiment is wrapped as

    value = cached("deq_ntk/ntk_training", lambda: train_and_measure(...))

and, when `experiments.run` has set a cache folder (``--out DIR`` puts it at ``DIR/_cache``;
full mode always, quick mode only with ``--cache``), the part's result is pickled there once it
finishes and loaded instead of recomputed on the next run. JAX arrays are stored as NumPy arrays.
The key names the part; change it (e.g. add a version suffix) when the computation changes.
Delete ``DIR/_cache`` (or one file in it) to recompute.
"""

from __future__ import annotations

import os
import pickle
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import jax
import numpy as np

T = TypeVar("T")
_DIR: Path | None = None


def set_cache_dir(path: str | os.PathLike | None) -> None:
    """Set (or, with None, unset) the folder that `cached` reads and writes."""
    global _DIR
    _DIR = None if path is None else Path(path)


def cache_dir() -> Path | None:
    return _DIR


def _to_numpy(tree: Any) -> Any:
    """JAX arrays as NumPy arrays, walking dicts, lists and tuples by hand (a dict mixing str
    and float keys cannot be sorted as a pytree) and other pytrees (modules) by `jax.tree`."""
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        return type(tree)(_to_numpy(v) for v in tree)
    return jax.tree.map(lambda x: np.asarray(x) if isinstance(x, jax.Array) else x, tree)


def cached(key: str, compute: Callable[[], T]) -> T:
    """Return `compute()`, reusing the stored result of an earlier run under `key` if present."""
    if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", key):
        raise ValueError(f"cache key must be a path of [A-Za-z0-9_.-] parts, got {key!r}")
    if _DIR is None:
        return compute()
    path = _DIR / f"{key}.pkl"
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    t0 = time.perf_counter()
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(_to_numpy(value), f)
    tmp.replace(path)  # atomic: a part killed mid-write leaves no half file
    print(f"    cached {key} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return value
