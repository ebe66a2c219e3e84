"""Resumable experiment parts: a finished part's result is kept on disk and reused.

Long runs (``make full``) outlive nothing: a session can stop at any time. Every long part of an
experiment is wrapped as

    value = cached("deq_ntk/ntk_training", lambda: train_and_measure(...))

and, when `experiments.run` has set a cache folder (``--out DIR`` puts it at ``DIR/_cache``;
full mode always, quick mode only with ``--cache``), the part's result is pickled there once it
finishes and loaded instead of recomputed on the next run. JAX arrays are stored as NumPy arrays.
The key names the part; change it (e.g. add a version suffix) when the computation changes.
Delete ``DIR/_cache`` (or one file in it) to recompute.

A part too long for one sitting (hours of training) runs its loop through `cached_loop`, which
checkpoints the loop state after every chunk to ``DIR/_cache/<key>.ckpt`` and resumes after the
last finished chunk, bit for bit as an uninterrupted run; `train_in_chunks` does so for
`contractax.train.train`. The loops of a part `key` use keys `key.<name>`; their checkpoints are
deleted once the part itself is stored.
"""

from __future__ import annotations

import os
import pickle
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
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
    _check_key(key)
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
    for ckpt in path.parent.glob(f"{path.stem}.*.ckpt"):  # its loops' checkpoints (`cached_loop`)
        ckpt.unlink()
    print(f"    cached {key} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return value


# ----------------------------------------------------------------------------- long loops


def _check_key(key: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", key):
        raise ValueError(f"cache key must be a path of [A-Za-z0-9_.-] parts, got {key!r}")


def _roundtrip(state: Any) -> Any:
    """Every array leaf as a fresh JAX array made from its NumPy copy: what a resumed run
    rebuilds from the checkpoint, so that both paths hand the next chunk the same values."""
    return jax.tree.map(
        lambda x: jnp.asarray(np.asarray(x)) if isinstance(x, (jax.Array, np.ndarray)) else x,
        state,
    )


def _restore(path: Path, template: Any, n_chunks: int) -> tuple[Any, list, int]:
    with path.open("rb") as f:
        saved = pickle.load(f)
    leaves, treedef = jax.tree.flatten(template)
    stored = saved["leaves"]
    same = len(stored) == len(leaves) and all(
        np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype
        for a, b in zip(stored, leaves)
    )
    if saved["n_chunks"] != n_chunks or not same:
        raise ValueError(
            f"{path} holds a checkpoint of another loop ({saved['n_chunks']} chunks, "
            f"{len(stored)} leaves; this one has {n_chunks} chunks, {len(leaves)} leaves of "
            "other shapes or dtypes); delete it or change the key."
        )
    state = jax.tree.unflatten(
        treedef, [jnp.asarray(v) if isinstance(v, np.ndarray) else v for v in stored]
    )
    return state, list(saved["records"]), int(saved["done"])


def cached_loop(
    key: str | None,
    init: Callable[[], Any],
    run_chunk: Callable[[Any, int], tuple[Any, Any]],
    n_chunks: int,
) -> tuple[Any, list]:
    """Run a long loop in chunks, `state, record = run_chunk(state, i)` for i < `n_chunks` from
    `state = init()`, checkpointing after every chunk; returns `(state, [record_0, …])`.

    With a cache folder set, the state's leaves (NumPy arrays) and the records so far are
    written atomically to ``DIR/<key>.ckpt`` after each chunk, and a later call with the same
    key resumes after the last finished chunk (a run killed inside chunk i loses only chunk i).
    Without one (or with `key=None`) it just runs. The state is a pytree (parameters, optimiser state, PRNG key, step
    count) whose structure, leaf shapes and dtypes stay fixed: on resume its structure comes
    from `init()` (so modules with function fields need not be pickled) and a checkpoint of
    another structure or chunk count raises a `ValueError`. Records are plain data (floats,
    lists, NumPy arrays: the logged metrics of the chunk).

    **Bitwise reproducible:** after every chunk the state's arrays pass through NumPy on both
    paths (uninterrupted or resumed), so chunk i + 1 sees the same values and types; all
    randomness must come from the state (a PRNG key), never from global state.

    ```python
    def run_chunk(state, i):  # one chunk = some epochs
        params, key = state
        ...
        return (params, key), dict(loss=losses)

    (params, key), records = cached_loop("exp/full/model.train", init, run_chunk, 8)
    ```
    """
    if key is not None:
        _check_key(key)
    n_chunks = int(n_chunks)
    path = None if _DIR is None or key is None else _DIR / f"{key}.ckpt"
    if path is not None and path.exists():
        state, records, done = _restore(path, init(), n_chunks)
        print(f"    resumed {key} after chunk {done}/{n_chunks}", flush=True)
    else:
        state, records, done = init(), [], 0
    for i in range(done, n_chunks):
        t0 = time.perf_counter()
        state, record = run_chunk(state, i)
        state = _roundtrip(state)
        records.append(_to_numpy(record))
        if path is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".ckpt-tmp")
        leaves = [np.asarray(v) if isinstance(v, jax.Array) else v for v in jax.tree.leaves(state)]
        with tmp.open("wb") as f:
            pickle.dump(dict(leaves=leaves, records=records, done=i + 1, n_chunks=n_chunks), f)
        tmp.replace(path)
        dt = time.perf_counter() - t0
        print(f"    checkpoint {key} chunk {i + 1}/{n_chunks} ({dt:.0f} s)", flush=True)
    return state, records


def train_in_chunks(
    key: str | None,
    model: Any,
    x,
    y,
    *,
    optimizer,
    loss_fn: Callable | None = None,
    epochs: int,
    chunk_epochs: int,
    batch_size: int,
    rng,
    eval_fn: Callable | None = None,
    progress: bool | None = False,
) -> tuple[Any, list, list]:
    """`contractax.train.train` run as `cached_loop` chunks of `chunk_epochs` epochs (the last
    may be shorter); returns `(model, losses, evals)` per epoch, bit for bit those of one
    `train(model, x, y, epochs=epochs, key=rng, …)` call: each chunk continues from the
    previous parameters and optimiser state, with the PRNG key `train` would hold after those
    epochs (it splits its key once per epoch). `key=None`: no checkpoints (one plain loop).
    `optimizer` and `loss_fn` should be the same objects for every model of a grid (then the
    compiled step is reused)."""
    from contractax import train as cxtrain  # noqa: PLC0415

    params, static = eqx.partition(model, eqx.is_inexact_array)
    chunk_epochs = max(1, int(chunk_epochs))
    sizes = [min(chunk_epochs, epochs - s) for s in range(0, int(epochs), chunk_epochs)]
    kwargs = {} if loss_fn is None else {"loss_fn": loss_fn}

    def init():
        return params, optimizer.init(params), rng

    def run_chunk(state, i):
        p, opt_state, k = state
        m, hist = cxtrain.train(eqx.combine(p, static), x, y, optimizer=optimizer,
                                epochs=sizes[i], batch_size=batch_size, key=k, eval_fn=eval_fn,
                                opt_state=opt_state, progress=progress, **kwargs)  # fmt: skip
        for _ in range(sizes[i]):  # the key `train` holds after these epochs
            k = jax.random.split(k)[0]
        record = dict(loss=[float(v) for v in hist.loss], evals=list(hist.evals))
        return (eqx.filter(m, eqx.is_inexact_array), hist.opt_state, k), record

    state, records = cached_loop(key, init, run_chunk, len(sizes))
    losses = [v for r in records for v in r["loss"]]
    evals = [v for r in records for v in r["evals"]]
    return eqx.combine(state[0], static), losses, evals
