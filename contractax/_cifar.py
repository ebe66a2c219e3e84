"""CIFAR-10 from the local python-pickle batches, read with a restricted unpickler.

Private module behind `contractax.data.load_cifar10` (kept apart so that `data.py` stays small).
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST = "test_batch"
_META = "batches.meta"

# the only globals a CIFAR-10 batch needs: builtin containers and NumPy array reconstruction
# (the pickles hold dicts of bytes, str, int, lists and uint8 arrays); `_codecs.encode` rebuilds
# `bytes` in protocol-2 pickles written by Python 3 (it only encodes a string)
_ALLOWED = {
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "bytes"),
    ("builtins", "str"),
    ("builtins", "int"),
    ("__builtin__", "dict"),
    ("__builtin__", "list"),
    ("__builtin__", "str"),
    ("__builtin__", "int"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that refuses every global outside `_ALLOWED` (no code runs on load)."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not allowed in a CIFAR-10 batch"
            )
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    """The batch at `path` as a dict with str keys (the official files have bytes keys)."""
    try:
        raw = path.read_bytes()
        # encoding="bytes": the official batches are Python 2 pickles with byte-string keys
        obj = _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: not a readable CIFAR-10 batch ({e}).") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: a CIFAR-10 batch must pickle a dict, got {type(obj).__name__}.")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, 3072), int32 labels (N,)) of one batch, every field checked."""
    d = _unpickle(path)
    for key in ("data", "labels"):
        if key not in d:
            raise ValueError(
                f"{path}: the batch has no {key!r} entry (keys {sorted(map(str, d))})."
            )
    x = d["data"]
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8:
        kind = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"{path}: 'data' must be a uint8 array, got {kind}.")
    if x.ndim != 2 or x.shape[1] != 3072 or x.shape[0] == 0:
        raise ValueError(f"{path}: 'data' must have shape (N, 3072) with N > 0, got {x.shape}.")
    labels = d["labels"]
    if not isinstance(labels, (list, np.ndarray)):
        raise ValueError(f"{path}: 'labels' must be a list of ints, got {type(labels).__name__}.")
    y = np.asarray(labels)
    if y.ndim != 1 or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"{path}: 'labels' must be a flat list of ints, got {y.dtype} {y.shape}.")
    if len(y) != len(x):
        raise ValueError(f"{path}: {len(x)} images but {len(y)} labels.")
    if y.min() < 0 or y.max() > 9:
        raise ValueError(f"{path}: CIFAR-10 labels must lie in 0..9, found [{y.min()}, {y.max()}].")
    return x, y.astype(np.int32)


def _check_meta(path: Path) -> None:
    d = _unpickle(path)
    names = d.get("label_names")
    if names is not None and (not isinstance(names, list) or len(names) != 10):
        raise ValueError(f"{path}: 'label_names' must list the 10 class names.")


def _roots(path) -> list[Path]:
    if path is not None:
        return [Path(path).expanduser()]
    env = os.environ.get("CONTRACTAX_DATA")
    if env is None:
        raise ValueError(
            "No CIFAR-10 location given: pass `path=` or set the CONTRACTAX_DATA environment "
            "variable to a directory holding cifar-10-batches-py (the python version)."
        )
    base = Path(env).expanduser()
    return [base / "cifar-10-batches-py", base / "cifar10", base]


def load_cifar10(path=None, dtype=np.float64, flatten: bool = False):
    """Load CIFAR-10 from the local python-pickle batches; never downloads.

    Reads `data_batch_1` … `data_batch_5` (50 000 training images) and `test_batch` (10 000)
    from `path`, else from the first of `$CONTRACTAX_DATA/cifar-10-batches-py`,
    `$CONTRACTAX_DATA/cifar10`, `$CONTRACTAX_DATA` that holds any of them. Each batch is a
    pickled dict with `b"data"`, uint8 of shape (N, 3072) — per image the 1024 red, then green,
    then blue pixels, each plane row-major 32×32 — and `b"labels"`, N ints in 0..9; a
    `batches.meta` file, if present, is checked too. Image n is returned as

    $$x_{n,c,h,w} = \\mathrm{data}[n, 1024c + 32h + w] / 255 \\in [0, 1],$$

    channel-first (N, 3, 32, 32), the layout of `equinox.nn.Conv2d`, or (N, 3072) when
    `flatten` (the file's own order).

    **Security:** unpickling an arbitrary file can execute code. The batches are read with a
    restricted `pickle.Unpickler` that resolves only the globals builtin dict/list/bytes/str/int,
    NumPy's array reconstruction (`ndarray`, `dtype`, `_reconstruct`, `_frombuffer`) and
    `_codecs.encode` (bytes in protocol-2 pickles); any other global is refused.

    **Arguments:**

    - `path`: the directory holding the batches; defaults to `CONTRACTAX_DATA` (see above).
    - `dtype`: floating dtype of the images.
    - `flatten`: return images as vectors (N, 3072) instead of (N, 3, 32, 32).

    **Returns:** a `Split` with 10 classes. A missing batch, a pickle that is not a dict or
    uses a forbidden global, `data` not uint8 of shape (N, 3072), labels outside 0..9 or a
    count mismatch is a `ValueError` naming the file.

    ```python
    data = cx.data.load_cifar10("~/data/cifar-10-batches-py")
    data.x_train.shape   # (50000, 3, 32, 32)
    ```

    Source: Krizhevsky 2009 (the CIFAR-10 python version); used for seed 004 §4.2 (loss
    landscapes on CIFAR-10) when the files are present.
    """
    from .data import Split  # noqa: PLC0415  (data imports this module)

    roots = _roots(path)
    names = (*_TRAIN, _TEST)
    for root in roots:
        if not root.is_dir() or not any((root / n).is_file() for n in names):
            if path is not None:
                raise ValueError(f"{root}: no CIFAR-10 batches there (expected {list(names)}).")
            continue
        for n in names:
            if not (root / n).is_file():
                raise ValueError(f"{root / n}: missing CIFAR-10 batch (all of {list(names)}).")
        if (root / _META).is_file():
            _check_meta(root / _META)
        parts = [_batch(root / n) for n in names]
        x_tr = np.concatenate([p[0] for p in parts[:5]])
        y_tr = np.concatenate([p[1] for p in parts[:5]])
        x_te, y_te = parts[5]

        def images(x):
            x = (x / 255.0).astype(dtype)
            return x if flatten else x.reshape(len(x), 3, 32, 32)

        return Split(images(x_tr), y_tr, images(x_te), y_te, num_classes=10)
    raise ValueError(
        f"No CIFAR-10 batches found in {[str(r) for r in roots]}: expected data_batch_1..5 and "
        "test_batch (the python version). contractax never downloads data."
    )
