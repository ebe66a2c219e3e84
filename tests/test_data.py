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
