"""Tests for contractax.rnn, the recurrent cells, the chaotic LSTM and the symbol task."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from contractax.data import widely_separated_symbols

from .conftest import assert_tree_allclose


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _np(a):
    return None if a is None else np.asarray(a)


# ---------------------------------------------------------------- cells vs NumPy references


@pytest.mark.parametrize("input_size,use_bias", [(3, True), (0, False)])
def test_lstm_cell_matches_numpy(getkey, input_size, use_bias):
    cell = cx.models.LSTMCell(input_size, 5, use_bias, key=getkey())
    u = None if input_size == 0 else jax.random.normal(getkey(), (input_size,))
    h, c = jax.random.normal(getkey(), (5,)), jax.random.normal(getkey(), (5,))
    w_ih, w_hh, b_ih, b_hh = map(_np, (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    z = w_hh @ np.asarray(h)
    if u is not None:
        z = z + w_ih @ np.asarray(u)
    if use_bias:
        z = z + b_ih + b_hh
    i, f, g, o = z[0:5], z[5:10], z[10:15], z[15:20]  # PyTorch order i, f, g, o
    c_ref = _sig(f) * np.asarray(c) + _sig(i) * np.tanh(g)
    h_ref = _sig(o) * np.tanh(c_ref)
    h_new, c_new = eqx.filter_jit(cell)(u, (h, c))
    np.testing.assert_allclose(h_new, h_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c_new, c_ref, rtol=1e-12, atol=1e-13)


def test_gru_and_tanh_cells_match_numpy(getkey):
    gru = cx.models.GRUCell(2, 4, key=getkey())
    rnn = cx.models.TanhRNNCell(2, 4, key=getkey())
    u, h = jax.random.normal(getkey(), (2,)), jax.random.normal(getkey(), (4,))
    un, hn = np.asarray(u), np.asarray(h)
    gi = _np(gru.weight_ih) @ un + _np(gru.bias_ih)
    gh = _np(gru.weight_hh) @ hn + _np(gru.bias_hh)
    r = _sig(gi[:4] + gh[:4])
    z = _sig(gi[4:8] + gh[4:8])
    n = np.tanh(gi[8:] + r * gh[8:])
    np.testing.assert_allclose(gru(u, h), (1 - z) * n + z * hn, rtol=1e-12)
    ref = np.tanh(
        _np(rnn.weight_ih) @ un + _np(rnn.bias_ih) + _np(rnn.weight_hh) @ hn + _np(rnn.bias_hh)
    )
    np.testing.assert_allclose(rnn(u, h), ref, rtol=1e-12)


def test_lstm_cell_vmap_and_grad_match_loop_and_finite_differences(getkey):
    cell = cx.models.LSTMCell(2, 3, key=getkey())
    us = jax.random.normal(getkey(), (4, 2))
    z = jnp.zeros((4, 3))
    hb, cb = jax.vmap(cell)(us, (z, z))
    for b in range(4):
        h, c = cell(us[b], (z[b], z[b]))
        assert_tree_allclose((hb[b], cb[b]), (h, c))

    def loss(w_hh):
        m = eqx.tree_at(lambda m: m.weight_hh, cell, w_hh)
        step = lambda x, a, u: jnp.concatenate(m(u, (x[:3], x[3:])))
        return jnp.sum(cx.rnn.unroll(step, jnp.full(6, 0.1), None, inputs=us) ** 2)

    w = cell.weight_hh
    v = jax.random.normal(getkey(), w.shape)
    g = jax.jit(jax.grad(loss))(w)
    eps = 1e-6
    loss_j = jax.jit(loss)
    fd = (loss_j(w + eps * v) - loss_j(w - eps * v)) / (2 * eps)
    np.testing.assert_allclose(jnp.sum(g * v), fd, rtol=1e-7)
    np.testing.assert_allclose(jax.jvp(loss, (w,), (v,))[1], fd, rtol=1e-7)


def test_cell_input_errors(getkey):
    cell = cx.models.LSTMCell(0, 3, key=getkey())
    with pytest.raises(ValueError, match="input_size=0"):
        cell(jnp.ones(2), (jnp.zeros(3), jnp.zeros(3)))
    cell = cx.models.LSTMCell(2, 3, key=getkey())
    with pytest.raises(ValueError, match="expects an input"):
        cell(jnp.ones(3), (jnp.zeros(3), jnp.zeros(3)))


def test_chaotic_lstm_is_an_lstm_cell(getkey):
    step, theta, x0 = cx.models.chaotic_lstm()
    assert theta.shape == (16,) and np.allclose(x0, 0.5)
    w = theta.reshape(8, 2)
    # the code's weights (erratum 1): W_hi = [[-1,-4],[-3,-2]], W_ho = [[4,1],[-9,-7]]
    np.testing.assert_array_equal(w[0:2], [[-1, -4], [-3, -2]])
    np.testing.assert_array_equal(w[6:8], [[4, 1], [-9, -7]])
    _, theta_p, _ = cx.models.chaotic_lstm(printed=True)
    np.testing.assert_array_equal(theta_p.reshape(8, 2)[0:2], [[-1, 4], [-3, -2]])
    np.testing.assert_array_equal(theta_p.reshape(8, 2)[6:8], [[4, 1], [-9, 7]])
    cell = cx.models.LSTMCell(0, 2, use_bias=False, key=getkey())
    cell = eqx.tree_at(lambda m: m.weight_hh, cell, 1.3 * w)
    x = jax.random.normal(getkey(), (4,))
    h, c = cell(None, (x[:2], x[2:]))
    assert_tree_allclose(step(x, 1.3 * theta), jnp.concatenate([h, c]))


# ---------------------------------------------------------------- Lyapunov spectra


def test_lyapunov_linear_map_is_log_abs_eig():
    # A = V diag(eig) V^{-1} with eigenvalue moduli 1.5, 0.8 (complex pair), 0.3
    v = jnp.array(
        [[1.0, 0.5, 0.2, 0.0], [0.0, 1.0, 0.3, 0.1], [0.2, 0.0, 1.0, 0.4], [0.1, 0.2, 0.0, 1.0]]
    )
    rot = 0.8 * jnp.array([[jnp.cos(0.7), -jnp.sin(0.7)], [jnp.sin(0.7), jnp.cos(0.7)]])
    core = jnp.zeros((4, 4)).at[0, 0].set(1.5).at[1:3, 1:3].set(rot).at[3, 3].set(-0.3)
    a = v @ core @ jnp.linalg.inv(v)
    expected = np.sort(np.log(np.abs(np.linalg.eigvals(np.asarray(a)))))[::-1]
    lam = jax.jit(cx.rnn.lyapunov_spectrum, static_argnums=(0, 3, 4, 5))(
        lambda x, m: m @ x, jnp.ones(4), a, 3000, 50
    )
    np.testing.assert_allclose(lam, expected, atol=5e-3)
    lam2 = cx.rnn.lyapunov_spectrum(lambda x, m: m @ x, jnp.ones(4), a, 3000, 50, k=1)
    assert lam2.shape == (1,)
    np.testing.assert_allclose(lam2, expected[:1], atol=5e-3)


def test_lyapunov_logistic_map_is_log2():
    step = lambda x, r: r * x * (1 - x)
    lam = cx.rnn.lyapunov_spectrum(step, jnp.array([0.2345]), 4.0, 40_000, burn_in=100)
    assert abs(float(lam[0]) - np.log(2.0)) < 0.02


def test_lyapunov_henon_sum_is_log_det():
    # Hénon map: det J = -b everywhere, so λ1 + λ2 = log b, and λ1 ≈ 0.419 for (1.4, 0.3).
    step = lambda x, p: jnp.array([1 - p[0] * x[0] ** 2 + x[1], p[1] * x[0]])
    lam = cx.rnn.lyapunov_spectrum(
        step, jnp.array([0.1, 0.1]), jnp.array([1.4, 0.3]), 20_000, burn_in=100
    )
    np.testing.assert_allclose(lam.sum(), np.log(0.3), atol=1e-8)
    assert abs(float(lam[0]) - 0.419) < 0.01


def test_lyapunov_vmap_over_parameters_and_errors():
    step = lambda x, r: r * x * (1 - x)
    lam = jax.vmap(lambda r: cx.rnn.lyapunov_spectrum(step, jnp.array([0.3]), r, 2000, 100))(
        jnp.array([2.5, 3.2])
    )
    # stable fixed point at r=2.5: λ = log|2 - r|; period-2 orbit at r=3.2: negative
    np.testing.assert_allclose(lam[0, 0], np.log(0.5), atol=1e-3)
    assert lam[1, 0] < 0
    with pytest.raises(ValueError, match="1-D state"):
        cx.rnn.lyapunov_spectrum(step, jnp.ones((2, 2)), 3.0, 10)
    with pytest.raises(ValueError, match="`k`"):
        cx.rnn.lyapunov_spectrum(step, jnp.ones(1), 3.0, 10, k=2)


# ---------------------------------------------------------------- orbits and slices


def test_unroll_and_orbit_diagram_match_python_loop():
    step, theta, x0 = cx.models.chaotic_lstm()
    xs = cx.rnn.unroll(step, x0, theta, 30)
    x, ref = x0, []
    for _ in range(30):
        x = step(x, theta)
        ref.append(x)
    assert_tree_allclose(xs, jnp.stack(ref))
    s = jnp.array([0.5, 1.0, 1.3])
    x0s = jnp.stack([x0, 0.2 * x0])
    d = jax.jit(
        lambda s: cx.rnn.orbit_diagram(
            step, lambda a: a * theta, s, x0s, 30, 20, observe=lambda x: x[0]
        )
    )(s)
    assert d.points.shape == (3, 2, 10)
    np.testing.assert_allclose(d.points[1, 0], xs[20:, 0], rtol=1e-12)
    dc = cx.rnn.orbit_diagram(step, lambda a: a * theta, s, x0s, 30, 20, chunk_size=2)
    np.testing.assert_allclose(dc.points[..., 0], d.points, rtol=1e-12)
    with pytest.raises(ValueError, match="burn_in"):
        cx.rnn.orbit_diagram(step, lambda a: a * theta, s, x0s, 10, 10)


def test_unroll_with_inputs():
    step = lambda x, a, u: a * x + u
    us = jnp.arange(5.0)
    xs = cx.rnn.unroll(step, jnp.array(1.0), 0.5, inputs=us)
    ref, x = [], 1.0
    for u in range(5):
        x = 0.5 * x + u
        ref.append(x)
    np.testing.assert_allclose(xs, ref)


def test_loss_slice_one_and_two_dimensional():
    loss = lambda th, c: jnp.sum((th - c) ** 2)
    center, d1, d2 = jnp.zeros(2), jnp.array([1.0, 0.0]), jnp.array([0.0, 2.0])
    g1, g2 = jnp.linspace(-1, 1, 5), jnp.linspace(0, 1, 3)
    c = jnp.array([0.5, 0.5])
    v1 = cx.rnn.loss_slice(loss, c, center, [d1], [g1])
    np.testing.assert_allclose(v1, (g1 - 0.5) ** 2 + 0.25)
    v2 = cx.rnn.loss_slice(loss, c, center, [d1, d2], [g1, g2], chunk_size=4)
    assert v2.shape == (5, 3)
    np.testing.assert_allclose(v2, (g1[:, None] - 0.5) ** 2 + (2 * g2[None, :] - 0.5) ** 2)
    # gradient through the slice w.r.t. the data
    g = jax.grad(lambda c: cx.rnn.loss_slice(loss, c, center, [d1], [g1]).sum())(c)
    np.testing.assert_allclose(g, [-2 * jnp.sum(g1 - 0.5), 2 * 5 * 0.5])


def test_count_local_minima():
    v = jnp.array([3.0, 1.0, 2.0, 0.5, 4.0, 4.0, 1.0])
    assert int(cx.rnn.count_local_minima(v)) == 2
    assert int(cx.rnn.count_local_minima(v, jnp.arange(7) < 2)) == 1
    assert int(cx.rnn.count_local_minima(v, tol=1.2)) == 1  # the dip at index 1 is only 1 deep


# ---------------------------------------------------------------- sensitivities, Theorem 1


def test_forward_sensitivities_equal_jacfwd():
    step, theta, x0 = cx.models.chaotic_lstm()
    readout = lambda x, th: x[:2] * th[0]
    sens = jax.jit(cx.rnn.forward_sensitivities, static_argnums=(0, 3), static_argnames="readout")(
        step, x0, 0.9 * theta, 25, readout=readout
    )
    ref = jax.jacfwd(lambda th: cx.rnn.unroll(step, x0, th, 25))(0.9 * theta)
    assert_tree_allclose(sens.D, ref, rtol=1e-9, atol=1e-11)
    ref_j = jax.jacrev(
        lambda th: jax.vmap(readout, in_axes=(0, None))(cx.rnn.unroll(step, x0, th, 25), th)
    )(0.9 * theta)
    assert_tree_allclose(sens.J, ref_j, rtol=1e-9, atol=1e-11)


def test_lipschitz_vs_length_scalar_linear_map(key):
    # x_{t+1} = θ x_t, x_0 = 1, l_t = x_t^2 = θ^{2t}: V_N'(θ) = (1/N) Σ 2t θ^{2t-1}.
    n_max = 12

    def losses(th, _):
        xs = cx.rnn.unroll(lambda x, a: a[0] * x, jnp.array(1.0), th, n_max)
        return xs**2

    res = jax.jit(
        lambda k: cx.rnn.lipschitz_vs_length(
            losses, jnp.array([0.7]), None, k, radius=0.05, num_samples=4
        )
    )(key)
    th = res.thetas[:, 0]
    t = np.arange(1, n_max + 1)
    d = np.cumsum(2 * t[None, :] * np.asarray(th)[:, None] ** (2 * t[None, :] - 1), axis=1)
    np.testing.assert_allclose(res.grad_norm, np.max(np.abs(d) / t, axis=0), rtol=1e-10)
    assert np.all(np.abs(res.thetas - 0.7) <= 0.05)
    # mean-value theorem: sampled quotients never exceed the largest |V'| on the ball
    th_grid = np.linspace(0.65, 0.75, 401)
    dv = np.cumsum(2 * t[None, :] * th_grid[:, None] ** (2 * t[None, :] - 1), axis=1) / t
    assert np.all(res.lipschitz <= dv.max(axis=0) * (1 + 1e-9))
    rate = cx.rnn.growth_rate(t[4:], jnp.exp(0.3 * jnp.asarray(t[4:], float)))
    np.testing.assert_allclose(rate, 0.3, rtol=1e-12)


def test_entropy_bound_chain_and_linear_case():
    step, theta, x0 = cx.models.chaotic_lstm()
    xs = cx.rnn.unroll(step, x0, theta, 200)
    eb = jax.jit(cx.rnn.entropy_bound, static_argnums=0)(step, xs, theta)
    tol = 1e-12
    assert np.all(eb.log_det <= eb.hadamard + tol)
    assert np.all(eb.hadamard <= eb.spectral + tol)
    assert np.all(eb.spectral <= 4 * eb.log_lipschitz + tol)
    a = jnp.array([[0.5, 2.0], [0.1, 1.2]])
    ebl = cx.rnn.entropy_bound(lambda x, m: m @ x, jnp.ones((3, 2)), a)
    np.testing.assert_allclose(ebl.log_det, np.log(abs(np.linalg.det(np.asarray(a)))))
    np.testing.assert_allclose(ebl.log_lipschitz, np.log(np.linalg.norm(np.asarray(a), 2)))


# ---------------------------------------------------------------- data


def test_widely_separated_symbols_labels(key):
    u, y = jax.jit(widely_separated_symbols, static_argnums=(1, 2, 3))(
        key, 64, 60, ((10, 19), (40, 49))
    )
    u, y = np.asarray(u), np.asarray(y)
    assert u.shape == (64, 60, 6) and y.shape == (64,)
    np.testing.assert_array_equal(u.sum(-1), 1.0)
    tok = u.argmax(-1)
    for b in range(64):
        rel = np.flatnonzero(tok[b] < 2)
        assert len(rel) == 2
        assert 10 <= rel[0] <= 19 and 40 <= rel[1] <= 49
        assert y[b] == 2 * tok[b, rel[0]] + tok[b, rel[1]]
    assert set(np.unique(y)) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="overlap"):
        widely_separated_symbols(key, 2, 50, ((10, 20), (20, 30)))
    with pytest.raises(ValueError, match="length"):
        widely_separated_symbols(key, 2, 30, ((10, 19), (40, 49)))
