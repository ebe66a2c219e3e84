"""A real training part of `implicit_robustness` (the monotone DEQ, tiny sizes) killed in the
middle of training and again in the middle of its PGD evaluation, then resumed, returns bit for
bit what an uninterrupted run returns."""

import jax
import numpy as np
import pytest

import contractax as cx
from contractax import data as cxdata
from experiments import _cache, _implicit_train as train


class Interrupt(Exception):
    pass


def _equal(a, b, where="result"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b)):
            _equal(u, v, f"{where}[{i}]")
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=where)


def _dies_on_call(fn, n):
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise Interrupt
        return fn(*args, **kwargs)

    return wrapped


def test_mondeq_part_resumes_bitwise(tmp_path, monkeypatch):
    d = cxdata.load_digits_split(seed=0)
    data = cxdata.Split(d.x_train[:128], d.y_train[:128], d.x_test[:40], d.y_test[:40], 10)
    cfg = dict(epochs=3, mon_chunk_epochs=1, eps=[0.02, 0.1], n_pgd=8, pgd_steps=2, n_pairs=40,
               progress=False)  # fmt: skip
    _cache.set_cache_dir(tmp_path)
    try:
        with jax.numpy_rank_promotion("allow"):
            ref = train.train_monotone(data, cfg, "ref/mondeq")
            with monkeypatch.context() as m:  # killed inside the second training chunk
                m.setattr(cx.train, "train", _dies_on_call(cx.train.train, 2))
                with pytest.raises(Interrupt):
                    train.train_monotone(data, cfg, "cut/mondeq")
            assert (tmp_path / "cut/mondeq.train.ckpt").exists()
            with monkeypatch.context() as m:  # resumed, then killed at the second ε of PGD
                m.setattr(cx.train, "pgd_accuracy", _dies_on_call(cx.train.pgd_accuracy, 2))
                with pytest.raises(Interrupt):
                    train.train_monotone(data, cfg, "cut/mondeq")
            assert (tmp_path / "cut/mondeq.pgd.ckpt").exists()
            got = train.train_monotone(data, cfg, "cut/mondeq")
    finally:
        _cache.set_cache_dir(None)
    assert len(got["loss"]) == 3 and len(got["margin"]) == 4
    _equal(got, ref)
