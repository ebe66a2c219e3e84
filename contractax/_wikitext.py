"""Word-level corpora from local files (Wikitext-2), and truncated-BPTT batches.

Exported through `contractax.data`. Never downloads: the files are read from a folder given as
an argument or from `$CONTRACTAX_DATA/wikitext-2`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._checks import check_count

SPLITS = ("train", "valid", "test")
EOS = "<eos>"


class Corpus(NamedTuple):
    """Token ids of the three splits and the vocabulary (`vocab[i]` is the word of id `i`)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    vocab: tuple[str, ...]


def _find_root(path) -> Path:
    if path is not None:
        return Path(path)
    env = os.environ.get("CONTRACTAX_DATA")
    if env is None:
        raise FileNotFoundError(
            "Wikitext-2 is not downloaded by contractax: pass the folder holding "
            "wiki.train.tokens, wiki.valid.tokens and wiki.test.tokens, or set CONTRACTAX_DATA "
            "to a folder with a wikitext-2/ subfolder."
        )
    root = Path(env)
    return root / "wikitext-2" if (root / "wikitext-2").is_dir() else root


def _read_words(path: Path) -> list[str]:
    words: list[str] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            words += line.split() + [EOS]
    return words


def load_wikitext2(path: str | os.PathLike | None = None) -> Corpus:
    """Load Wikitext-2 (word level) from `wiki.{train,valid,test}.tokens`.

    Each line is split on whitespace and ends with `<eos>`, as in PyTorch's word-language-model
    example that Ribeiro et al. 2020 (App. A.3) build on. The vocabulary is the set of training
    words in order of first appearance; Wikitext-2 maps rare words to `<unk>` itself, so every
    validation and test word is in it (a word that is not raises a `ValueError` naming the file).

    **Arguments:**

    - `path`: the folder with the three files; defaults to `$CONTRACTAX_DATA/wikitext-2` (or
      `$CONTRACTAX_DATA`).

    **Returns:** [`Corpus`][contractax.data.Corpus] with `int32` id arrays.

    Source: Merity et al. 2017 (the data set); Ribeiro et al. 2020, App. A.3.
    """
    root = _find_root(path)
    files = {s: root / f"wiki.{s}.tokens" for s in SPLITS}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"Wikitext-2 files not found: {', '.join(missing)}. contractax never downloads "
            "data; put the three wiki.*.tokens files there or set CONTRACTAX_DATA."
        )
    words = {s: _read_words(p) for s, p in files.items()}
    if not words["train"]:
        raise ValueError(f"{files['train']} holds no words.")
    vocab = tuple(dict.fromkeys(words["train"]))
    index = {w: i for i, w in enumerate(vocab)}
    ids = {}
    for s in SPLITS:
        unknown = next((w for w in words[s] if w not in index), None)
        if unknown is not None:
            raise ValueError(
                f"{files[s]} contains the word {unknown!r}, which is not in the training "
                "vocabulary; Wikitext-2's files map rare words to <unk> — are these the "
                "tokenised (not raw) files?"
            )
        ids[s] = np.fromiter((index[w] for w in words[s]), dtype=np.int32, count=len(words[s]))
    return Corpus(ids["train"], ids["valid"], ids["test"], vocab)


def bptt_batches(tokens, batch_size: int, bptt: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut a token stream into truncated-BPTT chunks, as PyTorch's `batchify`/`get_batch` do.

    The stream is trimmed to a multiple of `batch_size` and laid out as `batch_size` parallel
    streams; chunk `k` holds positions `[k·bptt, (k+1)·bptt)` of every stream and its targets
    are the next tokens. The last partial chunk is dropped.

    **Returns:** `(inputs, targets)`, each of shape `(n_chunks, batch_size, bptt)`.
    """
    batch_size = check_count(batch_size, "batch_size")
    bptt = check_count(bptt, "bptt")
    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be a 1-D id stream, got shape {tokens.shape}.")
    length = len(tokens) // batch_size
    n_chunks = (length - 1) // bptt
    if n_chunks < 1:
        raise ValueError(
            f"{len(tokens)} tokens give no chunk of batch_size={batch_size} × bptt={bptt}; "
            "use fewer streams or shorter chunks."
        )
    streams = tokens[: length * batch_size].reshape(batch_size, length)
    used = n_chunks * bptt
    x = streams[:, :used].reshape(batch_size, n_chunks, bptt).transpose(1, 0, 2)
    y = streams[:, 1 : used + 1].reshape(batch_size, n_chunks, bptt).transpose(1, 0, 2)
    return x, y
