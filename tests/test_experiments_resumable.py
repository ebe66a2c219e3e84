"""Resumable full runs: the parts of `implicit_robustness` and `lbdn_robustness` are cached, and
the judges give identical claims from cached parts (tiny sizes; the second run must load every
part: the compute functions are replaced by ones that fail)."""

import jax
import numpy as np
import pytest

from contractax import data as cxdata
from experiments import _cache


@pytest.fixture
def cache_dir(tmp_path):
    # experiments run under JAX's default rank promotion (experiments.run), not the tests' "raise"
    _cache.set_cache_dir(tmp_path)
    with jax.numpy_rank_promotion("allow"):
        yield tmp_path
    _cache.set_cache_dir(None)


def _small_digits(n_train=256, n_test=60):
    d = cxdata.load_digits_split(seed=0)
    return cxdata.Split(d.x_train[:n_train], d.y_train[:n_train], d.x_test[:n_test],
                        d.y_test[:n_test], 10)  # fmt: skip


def _boom(*args, **kwargs):
    raise AssertionError("a cached part was recomputed")


def _same(a, b):
    assert [c.to_dict() for c in a.claims] == [c.to_dict() for c in b.claims]
    # the method text may end with this run's wall time, which loading parts shortens
    assert a.method.split("Wall time")[0] == b.method.split("Wall time")[0]
    assert set(a.figures) == set(b.figures) and a.captions == b.captions


@pytest.mark.slow
def test_implicit_robustness_resumes_from_cache(cache_dir, monkeypatch):
    from experiments import (
        _implicit_checks as checks,
        _implicit_train as train,
        implicit_robustness as exp,
    )

    small = _small_digits()
    monkeypatch.setattr(train, "load_data", lambda quick: (small, dict(name="digits", text="t")))
    ov = dict(
        gammas=[0.5],
        lams=[0.0, 0.01],
        epochs=1,
        mon_epochs=1,
        eps=[0.02, 0.1],
        n_pgd=8,
        pgd_steps=2,
    )
    first = exp.run(quick=True, **ov)
    keys = sorted(p.relative_to(cache_dir).as_posix() for p in cache_dir.rglob("*.pkl"))
    mode = exp.mode_key(True, ov)
    assert mode.startswith("quick-custom-") and exp.mode_key(True, {}) == "quick"
    assert keys == [f"implicit_robustness/{mode}/digits/{k}.pkl"
                    for k in ("checks", "inn_g0.5_lam0.0", "inn_g0.5_lam0.01", "mondeq")]  # fmt: skip
    for mod, names in ((train, ("train_one", "train_monotone")), (checks, ("interconnection",
                       "averaged_iteration", "inn_rate", "parametrisations", "dropout",
                       "motivations"))):  # fmt: skip
        for n in names:
            monkeypatch.setattr(mod, n, _boom)
    second = exp.run(quick=True, **ov)
    _same(first, second)
    assert first.metrics["runs"][1]["lam"] == 0.01
    np.testing.assert_array_equal(first.metrics["mondeq"]["pgd"], second.metrics["mondeq"]["pgd"])
    # a different override is a different run: it would recompute (and here fail)
    with pytest.raises(AssertionError, match="recomputed"):
        exp.run(quick=True, **(ov | {"epochs": 2}))


@pytest.mark.slow
def test_lbdn_robustness_resumes_from_cache(cache_dir, monkeypatch):
    from experiments import _lbdn_parts as parts, lbdn_robustness as exp

    small = _small_digits()
    monkeypatch.setattr(exp.cx.data, "load_digits_split", lambda seed=0: small)
    ov = dict(gammas=[1.0, 8.0], lbdn_sizes=(64, 16, 10), width=16, epochs=1, inn_epochs=1,
              mon_epochs=1, n_eval=12, pgd_steps=2, ascent_pairs=2, ascent_steps=2)  # fmt: skip
    first = exp.run(quick=True, **ov)
    names = sorted(p.stem for p in cache_dir.rglob("*.pkl"))
    assert names == ["ImplicitNetwork", "LBDN_g1", "LBDN_g8", "MonotoneDEQ"]
    monkeypatch.setattr(parts, "train_model", _boom)
    monkeypatch.setattr(exp, "one_model", _boom)
    second = exp.run(quick=True, **ov)
    _same(first, second)
