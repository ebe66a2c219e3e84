"""Tests of contractax.data: digits split, IDX / npz MNIST loaders (on tiny files written here)."""

import jax
import numpy as np
import pytest

from contractax import data


def test_digits_split_is_deterministic_and_disjoint():
    a = data.load_digits_split(seed=3)
    b = data.load_digits_split(seed=3)
    c = data.load_digits_split(seed=4)
    assert a.x_train.shape == (1348, 64) and a.x_test.shape == (449, 64)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)
    assert a.x_train.min() >= 0.0 and a.x_train.max() <= 1.0
    assert set(np.unique(a.y_train)) == set(range(10))
    # train and test together are exactly the 1797 images, in another order
    from sklearn.datasets import load_digits

    ref = np.sort(load_digits().data.sum(axis=1))
    np.testing.assert_allclose(np.sort(np.concatenate([a.x_train, a.x_test]).sum(axis=1)) * 16, ref)


def test_digits_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_digits_split(test_fraction=1.5)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip(tmp_path, gz):
    rng = np.random.default_rng(0)
    for arr in (
        rng.integers(0, 256, (5, 4, 3)).astype(np.uint8),
        rng.normal(size=(7,)).astype(np.float32),
        rng.integers(-9, 9, (2, 3)).astype(np.int32),
    ):
        p = tmp_path / ("a.idx" + (".gz" if gz else ""))
        data.write_idx(p, arr)
        out = data.read_idx(p)
        assert out.dtype == arr.dtype
        np.testing.assert_array_equal(out, arr)


def test_idx_header_known_bytes(tmp_path):
    # Hand-written MNIST-style label file: magic 0x00000801, count 3, labels 7 2 1.
    p = tmp_path / "labels.idx1-ubyte"
    p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    np.testing.assert_array_equal(data.read_idx(p), [7, 2, 1])
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(bad)


def _tiny_mnist(rng):
    return dict(
        x_train=rng.integers(0, 256, (6, 28, 28)).astype(np.uint8),
        y_train=rng.integers(0, 10, 6).astype(np.uint8),
        x_test=rng.integers(0, 256, (4, 28, 28)).astype(np.uint8),
        y_test=rng.integers(0, 10, 4).astype(np.uint8),
    )


def test_mnist_idx_directory(tmp_path, monkeypatch):
    arrays = _tiny_mnist(np.random.default_rng(1))
    d = tmp_path / "mnist"
    d.mkdir()
    for k, stem in data._IDX_NAMES.items():
        data.write_idx(d / (stem + ".gz"), arrays[k])
    monkeypatch.setenv("CONTRACTAX_DATA", str(tmp_path))
    s = data.load_mnist()
    assert s.x_train.shape == (6, 784) and s.x_test.shape == (4, 784)
    np.testing.assert_allclose(s.x_train, arrays["x_train"].reshape(6, -1) / 255.0)
    np.testing.assert_array_equal(s.y_test, arrays["y_test"])
    s2 = data.load_mnist(d, flatten=False, dtype=np.float32)
    assert s2.x_test.shape == (4, 28, 28) and s2.x_test.dtype == np.float32


def test_mnist_npz(tmp_path, monkeypatch):
    arrays = _tiny_mnist(np.random.default_rng(2))
    np.savez(tmp_path / "mnist.npz", **arrays)
    s = data.load_mnist(tmp_path / "mnist.npz")
    np.testing.assert_allclose(s.x_test, arrays["x_test"].reshape(4, -1) / 255.0)
    s = data.load_mnist(tmp_path)
    np.testing.assert_array_equal(s.y_train, arrays["y_train"])


def test_mnist_missing_is_clear(tmp_path, monkeypatch):
    monkeypatch.delenv("CONTRACTAX_DATA", raising=False)
    with pytest.raises(ValueError, match="CONTRACTAX_DATA"):
        data.load_mnist()
    with pytest.raises(ValueError, match="never downloads"):
        data.load_mnist(tmp_path)


def test_batches_partition():
    idx = np.asarray(data.batches(jax.random.PRNGKey(0), 10, 3))
    assert idx.shape == (3, 3)
    assert len(set(idx.ravel().tolist())) == 9
    with pytest.raises(ValueError, match="batch_size"):
        data.batches(jax.random.PRNGKey(0), 2, 3)


def _write_npz(path, **over):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 6).astype(np.uint8),
        "x_test": rng.integers(0, 256, (3, 4, 4), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 3).astype(np.uint8),
    }
    arrays.update(over)
    np.savez(path, **arrays)
    return path


def test_mnist_cross_checks_name_the_file(tmp_path):
    cases = [
        (dict(y_train=np.zeros(5, np.uint8)), "6 train images but 5 train labels"),
        (dict(x_test=np.full((3, 4, 4), 2.0)), "float pixels must be finite and lie in \\[0, 1\\]"),
        (dict(x_test=np.full((3, 4, 4), np.nan)), "float pixels"),
        (dict(y_test=np.array([0.5, 1.0, 2.0])), "labels must be integers"),
        (dict(y_test=np.array([np.nan, 1.0, 2.0])), "labels must be integers"),
        (dict(y_test=np.array([0, 1, 12])), "0..9"),
        (dict(x_train=np.full((6, 4, 4), 300, np.int32)), "0..255"),
    ]
    for i, (over, msg) in enumerate(cases):
        p = _write_npz(tmp_path / f"m{i}.npz", **over)
        with pytest.raises(ValueError, match=msg) as e:
            data.load_mnist(p)
        assert str(p) in str(e.value)
    # float pixels already in [0, 1] are kept as they are
    p = _write_npz(tmp_path / "ok.npz", x_test=np.full((3, 4, 4), 0.5))
    np.testing.assert_allclose(data.load_mnist(p).x_test, 0.5)


def test_idx_headers_truncated_negative_or_overflowing(tmp_path):
    import struct

    def raw(name, payload):
        path = tmp_path / name
        path.write_bytes(payload)
        return path

    cases = [
        (raw("trunc", bytes([0, 0, 8, 3]) + struct.pack(">i", 2)), "truncated IDX header"),
        (raw("neg", bytes([0, 0, 8, 1]) + struct.pack(">i", -4) + b"\0" * 4), "negative"),
        # 2^31-1 cubed overflows int64 in np.prod; the size check must still refuse it
        (
            raw("big", bytes([0, 0, 8, 3]) + struct.pack(">iii", *(2**31 - 1,) * 3) + b"\0" * 8),
            "announces shape",
        ),
        (raw("short", bytes([0, 0, 8, 1]) + struct.pack(">i", 10) + b"\0" * 9), "holds 9 values"),
        (
            raw("long", bytes([0, 0, 8, 1]) + struct.pack(">i", 2) + b"\0" * 3),
            "holds more than the 2 values",
        ),
    ]
    for path, msg in cases:
        with pytest.raises(ValueError, match=msg) as e:
            data.read_idx(path)
        assert str(path) in str(e.value)


# --------------------------------------------------------------------------- CIFAR-10


def _write_cifar(root, n=4, seed=0, meta=True, **overrides):
    """Tiny fake CIFAR-10 python batches (n images each) as the official files lay them out."""
    import pickle

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
            b"filenames": [f"img{i}.png".encode() for i in range(n)],
        }
        d.update(overrides.get(name, {}))
        batches[name] = d
        obj = overrides.get(name + ":raw", d)
        with open(root / name, "wb") as f:
            pickle.dump(obj, f, protocol=overrides.get("protocol", 4))
    if meta:
        with open(root / "batches.meta", "wb") as f:
            pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, f)
    return batches


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_layout_and_values(tmp_path, protocol):
    ref = _write_cifar(tmp_path, protocol=protocol)
    # a known pixel: image 2 of test_batch, channel 1 (green), row 5, column 7
    ref["test_batch"][b"data"][2, 1024 * 1 + 32 * 5 + 7] = 200
    import pickle

    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump(ref["test_batch"], f, protocol=protocol)
    s = data.load_cifar10(tmp_path)
    assert s.x_train.shape == (20, 3, 32, 32) and s.x_test.shape == (4, 3, 32, 32)
    assert s.x_train.dtype == np.float64 and s.num_classes == 10
    assert s.x_test[2, 1, 5, 7] == 200 / 255
    # every pixel: x[n, c, h, w] = data[n, 1024c + 32h + w] / 255, batches in order 1..5
    raw = np.concatenate([ref[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    c, h, w = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    np.testing.assert_array_equal(s.x_train, raw[:, 1024 * c + 32 * h + w] / 255.0)
    labels = np.concatenate([ref[f"data_batch_{i}"][b"labels"] for i in range(1, 6)])
    np.testing.assert_array_equal(s.y_train, labels)
    np.testing.assert_array_equal(s.y_test, ref["test_batch"][b"labels"])
    assert s.y_train.dtype == np.int32


def test_cifar10_flatten_dtype_and_env(tmp_path, monkeypatch):
    ref = _write_cifar(tmp_path / "cifar-10-batches-py", meta=False)
    monkeypatch.setenv("CONTRACTAX_DATA", str(tmp_path))
    s = data.load_cifar10(flatten=True, dtype=np.float32)
    assert s.x_test.shape == (4, 3072) and s.x_test.dtype == np.float32
    np.testing.assert_allclose(s.x_test, ref["test_batch"][b"data"] / 255.0, rtol=1e-7)
    # the second and third places searched: $CONTRACTAX_DATA/cifar10 and $CONTRACTAX_DATA itself
    for sub in ("cifar10", "plain"):
        other = tmp_path / sub
        _write_cifar(other / "cifar10" if sub == "cifar10" else other, seed=1)
        monkeypatch.setenv("CONTRACTAX_DATA", str(other))
        assert data.load_cifar10().x_train.shape == (20, 3, 32, 32)


def test_cifar10_nothing_there(tmp_path, monkeypatch):
    monkeypatch.delenv("CONTRACTAX_DATA", raising=False)
    with pytest.raises(ValueError, match="CONTRACTAX_DATA"):
        data.load_cifar10()
    monkeypatch.setenv("CONTRACTAX_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="never downloads"):
        data.load_cifar10()
    with pytest.raises(ValueError, match="no CIFAR-10 batches"):
        data.load_cifar10(tmp_path)


def test_cifar10_missing_batch(tmp_path):
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(ValueError, match="data_batch_3: missing"):
        data.load_cifar10(tmp_path)


@pytest.mark.parametrize(
    "name, bad, match",
    [
        ("data_batch_2", {b"data": np.zeros((4, 3072), np.float32)}, "uint8"),
        ("data_batch_2", {b"data": [[0] * 3072] * 4}, "uint8"),
        ("data_batch_4", {b"data": np.zeros((4, 3, 32, 32), np.uint8)}, r"\(N, 3072\)"),
        ("data_batch_4", {b"data": np.zeros((4, 1024), np.uint8)}, r"\(N, 3072\)"),
        ("test_batch", {b"labels": [0, 1, 10, 2]}, "0..9"),
        ("test_batch", {b"labels": [0, 1, -1, 2]}, "0..9"),
        ("test_batch", {b"labels": [0.0, 1.0, 2.0, 3.0]}, "ints"),
        ("data_batch_1", {b"labels": [0, 1, 2]}, "4 images but 3 labels"),
        ("data_batch_5", {b"labels": "0123"}, "list of ints"),
    ],
)
def test_cifar10_malformed_batch(tmp_path, name, bad, match):
    _write_cifar(tmp_path, **{name: bad})
    with pytest.raises(ValueError, match=match) as e:
        data.load_cifar10(tmp_path)
    assert name in str(e.value)


@pytest.mark.parametrize("raw", [[1, 2, 3], np.zeros(3, np.uint8), "text"])
def test_cifar10_not_a_dict(tmp_path, raw):
    _write_cifar(tmp_path, **{"data_batch_1:raw": raw})
    with pytest.raises(ValueError, match="data_batch_1: a CIFAR-10 batch must pickle a dict"):
        data.load_cifar10(tmp_path)


def test_cifar10_missing_key_and_garbage(tmp_path):
    import pickle

    _write_cifar(tmp_path)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 3072), np.uint8)}, f)
    with pytest.raises(ValueError, match="test_batch: the batch has no 'labels'"):
        data.load_cifar10(tmp_path)
    (tmp_path / "test_batch").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="test_batch: not a readable"):
        data.load_cifar10(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": 1})[:5])  # truncated
    with pytest.raises(ValueError, match="test_batch: not a readable"):
        data.load_cifar10(tmp_path)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


def test_cifar10_restricted_unpickler_refuses_code(tmp_path):
    import pickle

    _write_cifar(tmp_path)
    # a pickle that would call os.system on load: refused before anything runs
    with open(tmp_path / "data_batch_2", "wb") as f:
        pickle.dump({b"data": _Evil(), b"labels": [0]}, f)
    with pytest.raises(ValueError, match=r"data_batch_2: .*(posix|os)\.system is not allowed"):
        data.load_cifar10(tmp_path)
    # a harmless but unexpected global (a set) is refused too
    with open(tmp_path / "data_batch_2", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 3072), np.uint8), b"labels": {0, 1}}, f, protocol=2)
    with pytest.raises(ValueError, match="data_batch_2: .*is not allowed"):
        data.load_cifar10(tmp_path)


def test_cifar10_bad_meta(tmp_path):
    import pickle

    _write_cifar(tmp_path)
    with open(tmp_path / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"a", b"b"]}, f)
    with pytest.raises(ValueError, match="batches.meta: 'label_names'"):
        data.load_cifar10(tmp_path)
    with open(tmp_path / "batches.meta", "wb") as f:
        pickle.dump([1], f)
    with pytest.raises(ValueError, match="batches.meta: a CIFAR-10 batch must pickle a dict"):
        data.load_cifar10(tmp_path)
