"""`experiments._cache.cached_loop` / `train_in_chunks`: a loop interrupted inside a chunk and
resumed from its checkpoint gives bit for bit the result of an uninterrupted run (same random
stream, same batches), and so does chunked training against one `contractax.train.train` call."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import contractax as cx
from experiments import _cache


class Interrupt(Exception):
    pass


@pytest.fixture
def cache(tmp_path):
    _cache.set_cache_dir(tmp_path)
    yield tmp_path
    _cache.set_cache_dir(None)


def _init():
    return dict(x=jnp.zeros(5, jnp.float32), key=jax.random.PRNGKey(7), step=jnp.asarray(0))


def _chunk(state, i, calls=None, fail_at=None):
    """Five noisy contraction steps x ← 0.9x + noise, the noise drawn from the state's key."""
    if calls is not None:
        calls.append(i)
    x, key, step = state["x"], state["key"], state["step"]
    for j in range(5):
        if i == fail_at and j == 2:
            raise Interrupt  # killed in the middle of chunk i
        key, sub = jax.random.split(key)
        x = 0.9 * x + jax.random.normal(sub, x.shape, x.dtype)
        step = step + 1
    return dict(x=x, key=key, step=step), dict(mean=float(x.mean()), chunk=i)


def _same_tree(a, b):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
        assert np.asarray(u).dtype == np.asarray(v).dtype


def test_interrupted_loop_resumes_bitwise(cache):
    ref, ref_rec = _cache.cached_loop("t/ref", _init, _chunk, 4)
    with pytest.raises(Interrupt):
        _cache.cached_loop("t/cut", _init, lambda s, i: _chunk(s, i, fail_at=2), 4)
    assert (cache / "t/cut.ckpt").exists()
    calls = []
    got, rec = _cache.cached_loop("t/cut", _init, lambda s, i: _chunk(s, i, calls), 4)
    assert calls == [2, 3]  # chunks 0 and 1 came from the checkpoint
    _same_tree(got, ref)
    assert rec == ref_rec and [r["chunk"] for r in rec] == [0, 1, 2, 3]
    assert int(got["step"]) == 20
    # finished: a third call runs nothing; without a cache folder the loop just runs, same result
    calls.clear()
    _cache.cached_loop("t/cut", _init, lambda s, i: _chunk(s, i, calls), 4)
    assert calls == []
    _cache.set_cache_dir(None)
    plain, plain_rec = _cache.cached_loop("t/cut", _init, _chunk, 4)
    _same_tree(plain, ref)
    assert plain_rec == ref_rec
    # the comparison can fail: a loop that restarts its random stream each chunk differs
    reseed = lambda s, i: _chunk(s | {"key": jax.random.PRNGKey(7)}, i)
    assert not np.array_equal(_cache.cached_loop(None, _init, reseed, 4)[0]["x"], ref["x"])


def test_loop_rejects_a_stale_checkpoint(cache):
    with pytest.raises(Interrupt):
        _cache.cached_loop("t/s", _init, lambda s, i: _chunk(s, i, fail_at=1), 3)
    with pytest.raises(ValueError, match="another loop"):
        _cache.cached_loop("t/s", _init, _chunk, 5)  # other chunk count
    wider = lambda: _init() | dict(x=jnp.zeros(6, jnp.float32))
    with pytest.raises(ValueError, match="another loop"):
        _cache.cached_loop("t/s", wider, _chunk, 3)  # other shapes
    with pytest.raises(ValueError, match="cache key"):
        _cache.cached_loop("t s", _init, _chunk, 3)


def test_part_deletes_its_loop_checkpoints(cache):
    def part():
        return _cache.cached_loop("p/model.train", _init, _chunk, 2)[1]

    _cache.cached("p/model", part)
    assert (cache / "p/model.pkl").exists() and not list(cache.rglob("*.ckpt"))


def _tiny_data(n=96, d=6):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(n, d)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 1).astype(np.int32)


def test_train_in_chunks_interrupted_equals_one_train_call(cache):
    """Chunks of 1 epoch, killed inside the second one (in its epoch-end callback), resumed:
    parameters, losses and per-epoch evaluations equal one uninterrupted 3-epoch `train`."""
    x, y = _tiny_data()
    net = cx.models.ImplicitNetwork(6, 5, 2, gamma=0.5, key=jax.random.PRNGKey(1),
                                    dtype=jnp.float32, tol=1e-4)  # fmt: skip
    opt = optax.adam(1e-2)
    mu = lambda m: float(jnp.sum(m.T))
    ref, hist = cx.train.train(net, x, y, optimizer=opt, epochs=3, batch_size=16,
                               key=jax.random.PRNGKey(2), eval_fn=mu, progress=False)  # fmt: skip
    seen = []

    def dying(m):
        seen.append(1)
        if len(seen) == 2:
            raise Interrupt
        return mu(m)

    kw = dict(optimizer=opt, epochs=3, chunk_epochs=1, batch_size=16, rng=jax.random.PRNGKey(2))
    with pytest.raises(Interrupt):
        _cache.train_in_chunks("m/inn.train", net, x, y, eval_fn=dying, **kw)
    got, losses, evals = _cache.train_in_chunks("m/inn.train", net, x, y, eval_fn=mu, **kw)
    _same_tree(eqx.filter(got, eqx.is_array), eqx.filter(ref, eqx.is_array))
    np.testing.assert_array_equal(losses, hist.loss)
    assert evals == hist.evals
    # a chunk size that does not divide the epochs, no checkpoints: the same model again
    got2, losses2, _ = _cache.train_in_chunks(None, net, x, y, **(kw | {"chunk_epochs": 2}))
    _same_tree(eqx.filter(got2, eqx.is_array), eqx.filter(ref, eqx.is_array))
    np.testing.assert_array_equal(losses2, hist.loss)
