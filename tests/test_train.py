"""Tests of contractax.train: the optax loop, ℓ∞ PGD, certified radii from Lipschitz bounds."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import contractax as cx


class _Linear(eqx.Module):
    W: jax.Array
    c: jax.Array

    def __call__(self, u):
        return self.W @ u + self.c

    def lipschitz_bound(self):
        # ℓ∞ → ℓ∞ operator norm: max row sum of |W|
        return jnp.max(jnp.sum(jnp.abs(self.W), axis=1))


def _blobs(n=60):
    key = jax.random.PRNGKey(0)
    y = jnp.arange(n) % 3
    centres = jnp.array([[0.2, 0.2], [0.8, 0.2], [0.5, 0.8]])
    x = centres[y] + 0.05 * jax.random.normal(key, (n, 2))
    return x, y


def test_cross_entropy_matches_manual(no_typecheck):
    m = _Linear(jnp.array([[1.0, -2.0], [0.5, 0.0], [0.0, 1.0]]), jnp.array([0.1, 0.0, -0.2]))
    x = jnp.array([[0.3, 0.4], [1.0, -1.0]])
    y = jnp.array([2, 0])
    z = x @ m.W.T + m.c[None, :]
    manual = -jnp.mean(jnp.log(jax.nn.softmax(z)[jnp.arange(2), y]))
    assert float(cx.train.cross_entropy(m, (x, y))) == pytest.approx(float(manual), rel=1e-12)
    assert float(jax.jit(cx.train.cross_entropy)(m, (x, y))) == pytest.approx(float(manual))
    with pytest.raises(ValueError, match="one pair"):
        cx.train.cross_entropy(m, x)


def test_one_loss_serves_train_gd_and_landscape():
    """The `(params, args)` convention: the same loss in `train`, `gd.run` and `landscape`."""
    m = _Linear(jnp.array([[1.0, -2.0], [0.5, 0.0], [0.0, 1.0]]), jnp.array([0.1, 0.0, -0.2]))
    x = jax.random.normal(jax.random.PRNGKey(0), (12, 2))
    y = jnp.arange(12) % 3
    loss = cx.train.cross_entropy
    ref = float(loss(m, (x, y)))
    vals = cx.landscape.line(loss, m, m, jnp.array([0.0, 1.0]), args=(x, y))
    np.testing.assert_allclose(vals, ref, rtol=1e-12)
    surf = cx.landscape.surface(loss, m, m, m, jnp.zeros(1), jnp.zeros(1), args=(x, y))
    np.testing.assert_allclose(surf, [[ref]], rtol=1e-12)
    traj = cx.gd.run(loss, m, 0.1, 3, args=(x, y))
    trained, _ = cx.train.train(
        m, x, y, optimizer=optax.sgd(0.1), loss_fn=loss, epochs=3, batch_size=12,
        key=jax.random.PRNGKey(1),
    )  # fmt: skip
    np.testing.assert_allclose(
        jax.tree_util.tree_leaves(trained)[0],
        jax.tree_util.tree_leaves(traj.final)[0], rtol=1e-10,
    )  # fmt: skip


def test_train_loop_fits_and_records_history():
    x, y = _blobs()
    m0 = _Linear(jnp.zeros((3, 2)), jnp.zeros(3))
    evals = []
    m, hist = cx.train.train(
        m0,
        x,
        y,
        optimizer=optax.adam(0.1),
        epochs=30,
        batch_size=16,
        key=jax.random.PRNGKey(1),
        eval_fn=lambda m: evals.append(1) or 0,
        progress=False,
    )
    assert hist.loss.shape == (30,) and len(hist.evals) == 30 and len(evals) == 30
    assert hist.loss[-1] < 0.5 * hist.loss[0]
    assert cx.train.accuracy(m, x, y) == 1.0


def test_pgd_reaches_the_worst_vertex_of_a_linear_model():
    # Two classes, linear logits: the CE loss decreases with the margin (w_y - w_o)·u, so the
    # worst point of the ε-box is u - ε sign(w_y - w_o), which sign-gradient ascent reaches.
    W = jnp.array([[1.0, -2.0, 0.5], [-0.5, 1.0, 2.0]])
    m = _Linear(W, jnp.zeros(2))
    u = jnp.array([0.3, 0.7, 0.1])
    eps = 0.05
    adv = jax.jit(lambda u: cx.train.pgd_attack(m, u, 0, eps, steps=10, lower=None, upper=None))(u)
    np.testing.assert_allclose(adv, u - eps * jnp.sign(W[0] - W[1]), atol=1e-12)
    # box constraints and the random start keep the iterate feasible
    us = jax.random.uniform(jax.random.PRNGKey(2), (5, 3))
    keys = jax.random.split(jax.random.PRNGKey(3), 5)
    advs = jax.vmap(lambda u, k: cx.train.pgd_attack(m, u, 1, 0.2, key=k))(us, keys)
    assert bool(jnp.all(jnp.abs(advs - us) <= 0.2 + 1e-12))
    assert bool(jnp.all((advs >= 0) & (advs <= 1)))


def test_certified_radius_closed_form_and_soundness():
    logits = jnp.array([[3.0, 1.0, 0.5], [0.0, 2.0, 1.0], [1.0, 1.0, 4.0]])
    labels = jnp.array([0, 2, 2])
    r = jax.jit(cx.train.certified_radius)(logits, labels, 2.0)
    np.testing.assert_allclose(r, [2.0 / 4.0, 0.0, 3.0 / 4.0])
    np.testing.assert_allclose(cx.train.logit_margin(logits, labels), [2.0, -1.0, 3.0])
    np.testing.assert_allclose(
        cx.train.certified_accuracy(logits, labels, 2.0, [0.0, 0.6, 1.0]), [2 / 3, 1 / 3, 0.0]
    )
    # soundness: within the certified radius even PGD cannot change the prediction,
    # and certified accuracy ≤ PGD accuracy ≤ clean accuracy
    x, y = _blobs(30)
    m = _Linear(jnp.array([[-4.0, -3.0], [4.0, -3.0], [0.0, 5.0]]), jnp.array([3.0, -1.0, -2.0]))
    logits = jax.vmap(m)(x)
    radii = cx.train.certified_radius(logits, y, m.lipschitz_bound())
    adv = jax.vmap(lambda u, lab, e: cx.train.pgd_attack(m, u, lab, e, lower=None, upper=None))(
        x, y, 0.999 * radii
    )
    keep = radii > 0
    assert bool(jnp.all(jnp.argmax(jax.vmap(m)(adv), -1)[keep] == y[keep]))
    rep = cx.train.robustness_report(m, x, y, [0.0, 0.05, 0.2], pgd_steps=10)
    assert np.all(rep["certified"] <= rep["pgd"] + 1e-12)
    assert np.all(rep["pgd"] <= rep["clean"] + 1e-12)
    assert rep["lipschitz"] == pytest.approx(float(m.lipschitz_bound()))


class _Counting(eqx.Module):
    """A linear model whose trace count is visible (a Python side effect at trace time)."""

    W: jax.Array
    calls: list = eqx.field(static=True)

    def __call__(self, u):
        self.calls.append(None)
        return self.W @ u


def test_predict_train_and_pgd_compile_once():
    x, y = _blobs()
    calls = []
    m = _Counting(jnp.zeros((3, 2)), calls)
    cx.train.predict(m, x, batch_size=16)
    n = len(calls)
    cx.train.predict(eqx.tree_at(lambda a: a.W, m, jnp.ones((3, 2))), 2 * x, batch_size=16)
    assert len(calls) == n
    opt = optax.sgd(0.1)
    kw = dict(optimizer=opt, epochs=2, batch_size=20, progress=False)
    m1, _ = cx.train.train(m, x, y, key=jax.random.PRNGKey(0), **kw)
    n = len(calls)
    cx.train.train(m1, x, y, key=jax.random.PRNGKey(1), **kw)
    assert len(calls) == n
    cx.train.pgd_accuracy(m, x, y, [0.0, 0.1], steps=3)
    n = len(calls)
    cx.train.pgd_accuracy(m1, x, y, [0.05], steps=3)
    assert len(calls) == n


def test_history_reports_solves_skipped_steps_and_optimizer_state():
    x, y = _blobs()
    key = jax.random.PRNGKey(0)
    xs = jnp.concatenate([x, jnp.zeros((60, 2))], axis=1)  # 4 inputs
    net = cx.models.ImplicitNetwork(4, 6, 3, gamma=0.9, throw=False, key=key)
    _, hist = cx.train.train(
        net, xs, y, optimizer=optax.adam(1e-2), epochs=2, batch_size=20, key=key, progress=False
    )
    np.testing.assert_array_equal(hist.forward_converged, [1.0, 1.0])
    np.testing.assert_array_equal(hist.backward_converged, [1.0, 1.0])
    np.testing.assert_array_equal(hist.skipped, [0, 0])
    assert np.all(np.isfinite(hist.loss))
    # one example poisoned with NaN: its batch is skipped (parameters untouched), the others train
    xs_bad = xs.at[0, 0].set(jnp.nan)
    trunc = cx.models.ImplicitNetwork(4, 6, 3, gamma=0.9, throw=False, key=key)
    trained, hist = cx.train.train(
        trunc,
        xs_bad,
        y,
        optimizer=optax.adam(1e-2),
        epochs=3,
        batch_size=20,
        key=key,
        progress=False,
    )
    np.testing.assert_array_equal(hist.skipped, [1, 1, 1])
    np.testing.assert_allclose(hist.backward_converged, 2 / 3)
    np.testing.assert_allclose(hist.forward_converged, 59 / 60)
    assert np.all(np.isfinite(hist.loss))
    assert all(
        np.all(np.isfinite(a))
        for a in jax.tree_util.tree_leaves(eqx.filter(trained, eqx.is_inexact_array))
    )
    # resuming from the returned optimizer state
    _, h2 = cx.train.train(
        trained,
        xs,
        y,
        optimizer=optax.adam(1e-2),
        epochs=1,
        batch_size=20,
        key=key,
        opt_state=hist.opt_state,
        progress=False,
    )
    assert int(h2.opt_state[0].count) == int(hist.opt_state[0].count) + 3


def test_train_bad_arguments_name_them():
    x, y = _blobs()
    m = _Linear(jnp.zeros((3, 2)), jnp.zeros(3))
    kw = dict(optimizer=optax.sgd(0.1), key=jax.random.PRNGKey(0), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        cx.train.train(m, x, y, batch_size=0, **kw)
    with pytest.raises(ValueError, match="batch_size"):
        cx.train.train(m, x, y, batch_size=61, **kw)
    with pytest.raises(ValueError, match="same number of examples"):
        cx.train.train(m, x, y[:10], **kw)
    with pytest.raises(ValueError, match="epochs"):
        cx.train.train(m, x, y, epochs=-1, **kw)
    with pytest.raises(ValueError, match="batch_size"):
        cx.train.predict(m, x, batch_size=0)
    with pytest.raises(ValueError, match="non-empty"):
        cx.train.predict(m, x[:0])
    with pytest.raises(ValueError, match="eps_values"):
        cx.train.pgd_accuracy(m, x, y, [-0.1])


def test_checkpoint_roundtrip_resumes_training_exactly(tmp_path):
    x, y = _blobs()
    opt = optax.adam(0.05)
    kw = dict(optimizer=opt, batch_size=20, progress=False)
    m0 = _Linear(jnp.zeros((3, 2)), jnp.zeros(3))
    m1, h1 = cx.train.train(m0, x, y, epochs=2, key=jax.random.PRNGKey(0), **kw)
    path = tmp_path / "ckpt.eqx"
    cx.train.save_checkpoint(path, m1, h1.opt_state, step=2)
    like_state = opt.init(eqx.filter(m0, eqx.is_inexact_array))
    m2, s2, step = cx.train.load_checkpoint(path, m0, like_state)
    assert step == 2
    np.testing.assert_array_equal(m2.W, m1.W)
    # resuming from the checkpoint equals continuing in memory
    a, _ = cx.train.train(
        m1, x, y, epochs=1, key=jax.random.PRNGKey(5), opt_state=h1.opt_state, **kw
    )
    b, _ = cx.train.train(m2, x, y, epochs=1, key=jax.random.PRNGKey(5), opt_state=s2, **kw)
    np.testing.assert_array_equal(a.W, b.W)
    with pytest.raises(ValueError, match="ckpt.eqx"):
        cx.train.load_checkpoint(path, _Linear(jnp.zeros((4, 2)), jnp.zeros(4)), like_state)
