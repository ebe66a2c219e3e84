"""Small real data sets: sklearn's handwritten digits and local MNIST / CIFAR-10 files.

Nothing here downloads. `load_digits_split` uses the 8×8 digits that ship with
scikit-learn; `load_mnist` reads IDX or `.npz` files and `load_cifar10` the python-pickle
batches (with a restricted unpickler) from a directory given as an argument or by the
`CONTRACTAX_DATA` environment variable.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._checks import check_count
from ._cifar import load_cifar10 as load_cifar10  # noqa: F401  (CIFAR-10 python batches)
from ._wikitext import (  # noqa: F401  (re-exported: word-level corpora, Ribeiro et al. 2020)
    Corpus as Corpus,
    bptt_batches as bptt_batches,
    load_wikitext2 as load_wikitext2,
)


class Split(NamedTuple):
    """A train/test split of a classification data set (NumPy arrays).

    `x_*` are float arrays of shape `(N, d)` scaled to `[0, 1]`; `y_*` are integer
    labels of shape `(N,)`.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> tuple:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must lie in (0, 1); got {test_fraction}.")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    te, tr = perm[:n_test], perm[n_test:]
    return x[tr], y[tr], x[te], y[te]


def load_digits_split(seed: int = 0, test_fraction: float = 0.25, dtype=np.float64) -> Split:
    """The sklearn handwritten digits (1797 images, 8×8, 10 classes), split by `seed`.

    Pixels are scaled from `0..16` to `[0, 1]`, so an ℓ∞ perturbation of size ε
    changes each pixel by at most ε of its full range.

    **Arguments:**

    - `seed`: seed of the random permutation that defines the split.
    - `test_fraction`: fraction of the images held out for testing.
    - `dtype`: floating dtype of the images.

    **Returns:** a `Split` with `x_*` of shape `(N, 64)` and labels in `0..9`.

    ```python
    data = cx.data.load_digits_split(seed=0)
    data.x_train.shape   # (1348, 64)
    ```

    Source: `sklearn.datasets.load_digits`; used for the robustness experiment of
    seed 001 (§Robustness of INNs), which uses MNIST.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(dtype)
    y = bunch.target.astype(np.int32)
    return Split(*_split(x, y, test_fraction, seed), num_classes=10)


# --------------------------------------------------------------------------- MNIST


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (the MNIST format), optionally gzipped.

    The header is two zero bytes, a type code (`0x08` unsigned byte, `0x09` signed
    byte, `0x0B` int16, `0x0C` int32, `0x0D` float32, `0x0E` float64), the number of
    dimensions, then one big-endian int32 per dimension.

    **Arguments:** `path` to a `.idx`/`-ubyte` file or its `.gz`.

    **Returns:** a NumPy array of the stored shape and dtype.
    """
    codes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    path = Path(path)
    with _open(path) as f:
        head = f.read(4)
        if len(head) != 4 or head[0] != 0 or head[1] != 0 or head[2] not in codes:
            raise ValueError(f"{path} is not an IDX file: its header {head!r} is not recognised.")
        ndim = head[3]
        dims = f.read(4 * ndim)
        if len(dims) != 4 * ndim:
            raise ValueError(
                f"{path}: truncated IDX header (announces {ndim} dimensions, holds "
                f"{len(dims)} of their {4 * ndim} bytes)."
            )
        shape = struct.unpack(">" + "i" * ndim, dims)
        if any(d < 0 for d in shape):
            raise ValueError(f"{path}: the IDX header announces a negative dimension {shape}.")
        dt = np.dtype(codes[head[2]])
        # Python ints: the product cannot overflow, and nothing larger than the announced size
        # (+1 byte to detect trailing data) is ever read
        count = 1
        for d in shape:
            count *= int(d)
        want = count * dt.itemsize
        raw = bytearray()  # read in pieces: memory follows the data present, not the header
        while len(raw) <= want:
            piece = f.read(min(1 << 20, want + 1 - len(raw)))
            if not piece:
                break
            raw += piece
    if len(raw) != want:
        held = f"more than the {count}" if len(raw) > want else f"{len(raw) // dt.itemsize}"
        raise ValueError(
            f"{path} holds {held} values but its header announces shape {shape} ({count} values)."
        )
    data = np.frombuffer(bytes(raw), dtype=dt)
    return data.reshape(shape).astype(dt.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an array as an IDX file (the inverse of `read_idx`; used by tests)."""
    codes = {
        np.dtype("uint8"): 0x08,
        np.dtype("int8"): 0x09,
        np.dtype("int16"): 0x0B,
        np.dtype("int32"): 0x0C,
        np.dtype("float32"): 0x0D,
        np.dtype("float64"): 0x0E,
    }
    a = np.asarray(array)
    if a.dtype not in codes:
        raise ValueError(f"IDX cannot store dtype {a.dtype}.")
    path = Path(path)
    header = bytes([0, 0, codes[a.dtype], a.ndim]) + struct.pack(">" + "i" * a.ndim, *a.shape)
    payload = a.astype(a.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + payload)


_IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _find(root: Path, stem: str) -> Path | None:
    for name in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        if (root / name).exists():
            return root / name
    return None


def _images(x: np.ndarray, where: str, dtype, flatten: bool) -> np.ndarray:
    """Integer pixels 0..255 are scaled to [0, 1]; float pixels must already lie in [0, 1]."""
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{where}: expected a non-empty stack of images, got shape {x.shape}.")
    if np.issubdtype(x.dtype, np.integer):
        if x.min() < 0 or x.max() > 255:
            raise ValueError(
                f"{where}: integer pixels must lie in 0..255, found [{x.min()}, {x.max()}]."
            )
        x = x / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)) or x.min() < 0.0 or x.max() > 1.0:
            raise ValueError(
                f"{where}: float pixels must be finite and lie in [0, 1] (contractax does not "
                f"guess a scale), found min {np.min(x)}, max {np.max(x)}; divide by 255 first."
            )
    else:
        raise ValueError(f"{where}: pixels of dtype {x.dtype} are neither integer nor float.")
    x = x.astype(dtype)
    return x.reshape(len(x), -1) if flatten else x


def _labels(y: np.ndarray, where: str) -> np.ndarray:
    """Integer class labels 0..9 (integer-valued floats accepted)."""
    if y.ndim != 1:
        raise ValueError(f"{where}: labels must be a vector, got shape {y.shape}.")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(f"{where}: labels must be integers, found non-integer or NaN values.")
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{where}: labels of dtype {y.dtype} are not integers.")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{where}: MNIST labels must lie in 0..9, found [{y.min()}, {y.max()}].")
    return y.astype(np.int32)


def load_mnist(
    path: str | os.PathLike | None = None, dtype=np.float64, flatten: bool = True
) -> Split:
    """Load MNIST (or Fashion-MNIST) from local files; never downloads.

    Looks in `path`, else in `$CONTRACTAX_DATA/mnist`, else in `$CONTRACTAX_DATA`, for
    either `mnist.npz` (keys `x_train, y_train, x_test, y_test`, as Keras ships it) or the
    four IDX files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (optionally `.gz`). `path` may
    also name an `.npz` file directly.

    **Arguments:**

    - `path`: a directory or `.npz` file; defaults to `CONTRACTAX_DATA`.
    - `dtype`: floating dtype of the images: integer pixels 0..255 are scaled to `[0, 1]`;
      float pixels must already lie in `[0, 1]` (else a `ValueError`: no scale is guessed).
    - `flatten`: reshape images to vectors `(N, 784)`.

    **Returns:** a `Split` with 10 classes. Every file is cross-checked: a truncated or
    inconsistent IDX header, negative dimensions, images/labels count mismatch, pixels out of
    range or NaN, non-integer labels — each a `ValueError` naming the file.

    ```python
    data = cx.data.load_mnist("~/data/mnist")   # or set CONTRACTAX_DATA
    ```

    Source: seed 001 (§Numerical Experiments: MNIST, 60K+10K, 28×28).
    """
    candidates = []
    if path is not None:
        candidates.append(Path(path).expanduser())
    else:
        env = os.environ.get("CONTRACTAX_DATA")
        if env is None:
            raise ValueError(
                "No MNIST location given: pass `path=` or set the CONTRACTAX_DATA environment "
                "variable to a directory holding mnist.npz or the four IDX files."
            )
        candidates += [Path(env).expanduser() / "mnist", Path(env).expanduser()]
    for root in candidates:
        if root.is_file() and root.suffix == ".npz":
            arrays = dict(np.load(root))
        elif (root / "mnist.npz").exists():
            arrays = dict(np.load(root / "mnist.npz"))
        elif root.is_dir() and all(_find(root, s) is not None for s in _IDX_NAMES.values()):
            arrays = {k: read_idx(_find(root, s)) for k, s in _IDX_NAMES.items()}
        else:
            continue
        missing = set(_IDX_NAMES) - set(arrays)
        if missing:
            raise ValueError(f"{root} lacks the arrays {sorted(missing)}.")
        out = {}
        for k in ("x_train", "x_test"):
            out[k] = _images(np.asarray(arrays[k]), f"{root} [{k}]", dtype, flatten)
        for k in ("y_train", "y_test"):
            out[k] = _labels(np.asarray(arrays[k]), f"{root} [{k}]")
        for part in ("train", "test"):
            nx, ny = len(out[f"x_{part}"]), len(out[f"y_{part}"])
            if nx != ny:
                raise ValueError(
                    f"{root}: {nx} {part} images but {ny} {part} labels; the files do not match."
                )
        return Split(out["x_train"], out["y_train"], out["x_test"], out["y_test"], num_classes=10)
    raise ValueError(
        f"No MNIST files found in {[str(c) for c in candidates]}: expected mnist.npz or the IDX "
        "files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte (optionally .gz). contractax never downloads data."
    )


def batches(key, n: int, batch_size: int):
    """Index arrays of one shuffled epoch, `n // batch_size` minibatches (drop last).

    **Arguments:** `key` (JAX PRNG key), `n` the data size, `batch_size`.

    **Returns:** an int array of shape `(n // batch_size, batch_size)`.
    """
    import jax

    n = check_count(n, "`n` (the number of examples)")
    batch_size = check_count(batch_size, "`batch_size`")
    if batch_size > n:
        raise ValueError(f"`batch_size` ({batch_size}) exceeds the number of examples ({n}).")
    perm = jax.random.permutation(key, n)
    nb = n // batch_size
    return perm[: nb * batch_size].reshape(nb, batch_size)


def widely_separated_symbols(
    key,
    n: int,
    length: int = 150,
    windows: tuple = ((10, 19), (40, 49)),
    *,
    n_symbols: int = 2,
    n_distractors: int = 4,
    dtype=None,
):
    """The widely-separated-symbols task (Hochreiter & Schmidhuber), as in seed 002 §5, A.2.

    Each sequence has `length` one-hot symbols. Every position holds a random distractor
    (`a, b, c, d`: indices `n_symbols .. n_symbols + n_distractors - 1`) except one random
    position in each window `[lo, hi]` (inclusive, 0-based), which holds a random relevant
    symbol (`p, q`: indices `0 .. n_symbols - 1`). The class encodes the relevant symbols in
    order: `y = sum_w s_w * n_symbols ** (W - 1 - w)`, i.e. `(p,p), (p,q), (q,p), (q,q)` →
    `0, 1, 2, 3` for two windows (the released code's encoding).

    The text of seed 002 uses `length=150` and windows `[10, 19]`, `[40, 49]` (the defaults);
    the authors' code uses `length=200`, `((9, 18), (39, 48))` (see `seeds/README.md`).

    **Arguments:**

    - `key`: JAX PRNG key.
    - `n`: number of sequences.
    - `length`: sequence length $T$.
    - `windows`: inclusive, non-overlapping position windows, one per relevant symbol.
    - `n_symbols`, `n_distractors`: alphabet sizes (2 and 4 in the seed).
    - `dtype`: float dtype of the one-hot inputs.

    **Returns:** `(u, y)`: inputs of shape `(n, length, n_symbols + n_distractors)` and
    integer labels of shape `(n,)` in `0 .. n_symbols ** len(windows) - 1`.

    Source: seed 002 (Ribeiro et al.), §5 and Appendix A.2.
    """
    import jax
    import jax.numpy as jnp

    n = check_count(n, "`n` (the number of sequences)")
    length = check_count(length, "`length`")
    n_symbols = check_count(n_symbols, "`n_symbols`")
    n_distractors = check_count(n_distractors, "`n_distractors`")
    spans = sorted((int(lo), int(hi)) for lo, hi in windows)
    if not spans:
        raise ValueError("Give at least one window of positions for the relevant symbols.")
    for lo, hi in spans:
        if not 0 <= lo <= hi < length:
            raise ValueError(f"Window [{lo}, {hi}] must satisfy 0 <= lo <= hi < length={length}.")
    for (_, hi0), (lo1, _) in zip(spans[:-1], spans[1:]):
        if lo1 <= hi0:
            raise ValueError(f"Windows {spans} overlap; the relevant positions must be distinct.")
    if n_symbols < 1 or n_distractors < 1:
        raise ValueError("`n_symbols` and `n_distractors` must be at least 1.")
    keys = jax.random.split(key, 1 + 2 * len(spans))
    tokens = n_symbols + jax.random.randint(keys[0], (n, length), 0, n_distractors)
    rows = jnp.arange(n)
    label = jnp.zeros((n,), jnp.int32)
    for w, ((lo, hi), kp, ks) in enumerate(zip(spans, keys[1::2], keys[2::2])):
        pos = jax.random.randint(kp, (n,), lo, hi + 1)
        sym = jax.random.randint(ks, (n,), 0, n_symbols)
        tokens = tokens.at[rows, pos].set(sym)
        label = label + sym.astype(jnp.int32) * n_symbols ** (len(spans) - 1 - w)
    dtype = jnp.zeros((), dtype).dtype if dtype is not None else jnp.zeros(()).dtype
    u = jax.nn.one_hot(tokens, n_symbols + n_distractors, dtype=dtype)
    return u, label
