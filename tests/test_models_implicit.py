"""Tests of the implicit models: μ∞ parametrisation, monotone parametrisation, well-posedness,
averaged-iteration factor, Lipschitz bounds, solvers agreeing, gradients vs finite differences."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import contractax as cx
from contractax.models.implicit import mu_infinity_parametrisation
from contractax.models.mondeq import monotone_parametrisation

from .conftest import assert_tree_allclose

N, M, Q = 6, 4, 3


def _rand(seed, shape, scale):
    return scale * jax.random.normal(jax.random.PRNGKey(seed), shape)


def _mu_inf_weighted_brute(A, eta):
    # μ_{∞,η}(A) = max_i a_ii + Σ_{j≠i} |a_ij| η_j / η_i, written out entry by entry
    A, eta = np.asarray(A), np.asarray(eta)
    n = len(eta)
    return max(
        A[i, i] + sum(abs(A[i, j]) * eta[j] / eta[i] for j in range(n) if j != i) for i in range(n)
    )


# ----------------------------------------------------------------------------- parametrisations


@settings(max_examples=15)
@given(
    seed=st.integers(0, 10**6),
    log_scale=st.floats(-3, 3),
    d_scale=st.floats(0, 3),
    gamma=st.floats(-2.0, 0.99),
)
def test_mu_parametrisation_bound_any_scale(seed, log_scale, d_scale, gamma):
    T = _rand(seed, (N, N), 10.0**log_scale)
    d = _rand(seed + 1, (N,), d_scale)
    A = mu_infinity_parametrisation(T, d, gamma)
    eta = jnp.exp(d)
    scale = 1.0 + float(jnp.abs(T).sum(-1).max()) * float(eta.max() / eta.min())
    mu = float(cx.norms.lognorm(A, jnp.inf, eta))
    assert mu <= gamma + 1e-12 * scale
    assert abs(mu - _mu_inf_weighted_brute(A, eta)) <= 1e-10 * scale
    # with d = 0 it is the slide's parametrisation T - diag(|T|1) + γI
    A0 = mu_infinity_parametrisation(T, jnp.zeros(N), gamma)
    assert_tree_allclose(A0, T - jnp.diag(jnp.abs(T).sum(1)) + gamma * jnp.eye(N))


def test_mu_parametrisation_is_tight_for_nonpositive_diagonal():
    # When t_ii ≤ 0 for some row... the bound γ is attained by rows with t_ii ≥ 0.
    T = jnp.abs(_rand(0, (N, N), 1.0))
    A = mu_infinity_parametrisation(T, _rand(1, (N,), 1.0), 0.3)
    assert float(cx.norms.lognorm(A, jnp.inf, jnp.exp(_rand(1, (N,), 1.0)))) == pytest.approx(0.3)


@given(seed=st.integers(0, 10**6), log_scale=st.floats(-3, 3), m=st.floats(0.01, 1.0))
def test_monotone_parametrisation_any_scale(seed, log_scale, m):
    A = _rand(seed, (N, N), 10.0**log_scale)
    B = _rand(seed + 1, (N, N), 10.0**log_scale)
    W = monotone_parametrisation(A, B, m)
    S = jnp.eye(N) - W
    lam = jnp.linalg.eigvalsh(0.5 * (S + S.T))
    assert float(lam.min()) >= m - 1e-10 * (1.0 + float(jnp.abs(A).max()) ** 2 * N)


def test_models_keep_guarantees_after_tree_at(getkey):
    net = cx.models.ImplicitNetwork(M, N, Q, gamma=0.7, key=getkey())
    net = eqx.tree_at(lambda n: (n.T, n.d), net, (_rand(3, (N, N), 50.0), _rand(4, (N,), 2.0)))
    assert float(net.mu()) <= 0.7 + 1e-9
    assert float(cx.norms.lognorm(net.A, jnp.inf, net.eta)) <= 0.7 + 1e-9
    deq = cx.models.MonotoneDEQ(M, N, Q, m=0.2, key=getkey())
    deq = eqx.tree_at(lambda n: (n.A, n.B), deq, (_rand(5, (N, N), 30.0), _rand(6, (N, N), 30.0)))
    S = jnp.eye(N) - deq.W
    assert float(jnp.linalg.eigvalsh(0.5 * (S + S.T)).min()) >= 0.2 - 1e-8


# ----------------------------------------------------------------------------- bad input


def test_bad_input_is_clear(getkey):
    with pytest.raises(ValueError, match="gamma < 1"):
        cx.models.ImplicitNetwork(M, N, Q, gamma=1.0, key=getkey())
    with pytest.raises(ValueError, match="gamma < 1"):
        cx.models.ImplicitNetwork(M, N, Q, gamma=float("nan"), key=getkey())
    with pytest.raises(ValueError, match="outside the declared slope bounds"):
        cx.models.ImplicitNetwork(M, N, Q, activation=lambda x: 2.0 * jnp.tanh(x), key=getkey())
    with pytest.raises(ValueError, match="outside the declared slope bounds"):
        cx.models.ImplicitNetwork(
            M, N, Q, activation=lambda x: jax.nn.leaky_relu(x, -0.1), key=getkey()
        )
    with pytest.raises(ValueError, match="0 <= dmin <= dmax <= 1"):
        cx.models.ImplicitNetwork(M, N, Q, slopes=(0.0, 2.0), key=getkey())
    with pytest.raises(ValueError, match="0 <= dmin <= dmax <= 1"):
        cx.models.FiringRateNetwork(M, N, slopes=(-0.5, 1.0), key=getkey())
    with pytest.raises(ValueError, match="0 < m <= 1"):
        cx.models.MonotoneDEQ(M, N, Q, m=0.0, key=getkey())
    # a declared tighter slope box is accepted when true
    net = cx.models.ImplicitNetwork(
        M, N, Q, activation=jax.nn.sigmoid, slopes=(0.0, 0.25), key=getkey()
    )
    assert net.slopes == (0.0, 0.25)


# ----------------------------------------------------------------------------- ImplicitNetwork


def _inn(getkey, gamma=0.8, activation=jax.nn.relu, t_scale=3.0, d_scale=0.5):
    net = cx.models.ImplicitNetwork(
        M, N, Q, gamma=gamma, activation=activation, tol=1e-13, max_steps=2000, key=getkey()
    )
    return eqx.tree_at(
        lambda n: (n.T, n.d), net, (_rand(11, (N, N), t_scale), _rand(12, (N,), d_scale))
    )


def _wnorm(v, eta):
    return jnp.max(jnp.abs(v) / eta)


def test_implicit_equilibrium_certificate_jit_vmap(getkey):
    net = _inn(getkey)
    us = _rand(13, (5, M), 2.0)
    sols = eqx.filter_jit(jax.vmap(net.equilibrium))(us)
    assert bool(jnp.all(sols.result == cx.RESULTS.successful))
    x = sols.value
    fx = jax.nn.relu(x @ net.A.T + us @ net.B.T + net.b[None, :])
    np.testing.assert_allclose(x, fx, atol=1e-10)
    # one-example calls agree with the vmapped ones; outputs are C x + c
    assert_tree_allclose(eqx.filter_jit(net)(us[2]), (x @ net.C.T)[2] + net.c, atol=1e-11)
    assert_tree_allclose(
        eqx.filter_jit(jax.vmap(net))(us), x @ net.C.T + net.c[None, :], atol=1e-11
    )
    # the certificate bounds the distance to a far more accurate solution
    s = jax.jit(jax.vmap(lambda u: net.equilibrium(u, tol=1e-4)))(us)
    err = jnp.max(jnp.abs(s.value - x), axis=-1)
    assert bool(jnp.all(err <= s.stats["error_bound"] + 1e-12))
    assert bool(jnp.all(jnp.isfinite(s.stats["error_bound"])))


@settings(max_examples=15)
@given(seed=st.integers(0, 10**6), t_scale=st.floats(0.1, 10.0), gamma=st.floats(-1.0, 0.95))
def test_averaged_map_contracts_with_predicted_factor(seed, t_scale, gamma):
    T, d = _rand(seed, (N, N), t_scale), _rand(seed + 1, (N,), 1.0)
    rho, ratio = _factor_and_ratio(T, d, jnp.asarray(gamma), _rand(seed + 2, (2, 8, N), 3.0))
    assert float(rho) < 1.0
    assert float(ratio) <= float(rho) + 1e-12


_BASE = cx.models.ImplicitNetwork(M, N, Q, gamma=0.0, key=jax.random.PRNGKey(0))


@jax.jit
def _factor_and_ratio(T, d, gamma, xy):
    # γ enters A only through A = γI + ...; rebuild A here (gamma is static in the model)
    A = cx.models.mu_infinity_parametrisation(T, d, gamma)
    net = eqx.tree_at(lambda n: (n.T, n.d), _BASE, (T, d))
    eta = net.eta
    alpha = 1.0 / (1.0 - jnp.minimum(jnp.min(jnp.diag(A)), 0.0))
    mu = cx.norms.lognorm(A, jnp.inf, eta)
    rho = 1.0 - (1.0 - jnp.maximum(mu, 0.0)) * alpha
    u = jnp.ones(M)

    def g(x):
        return (1 - alpha) * x + alpha * jax.nn.relu(A @ x + net.B @ u + net.b)

    x, y = xy
    num = jax.vmap(lambda a, b: _wnorm(g(a) - g(b), eta))(x, y)
    den = jax.vmap(lambda a, b: _wnorm(a - b, eta))(x, y)
    return rho, jnp.max(num / den)


def test_model_factor_matches_formula(getkey):
    net = _inn(getkey, gamma=0.6)
    A = net.A
    amin = min(float(jnp.min(jnp.diag(A))), 0.0)
    expected = 1 - (1 - max(float(net.mu()), 0.0)) / (1 - amin)
    assert float(net.contraction_factor()) == pytest.approx(expected, rel=1e-12)
    assert float(net.step_size()) == pytest.approx(1 / (1 - amin), rel=1e-12)
    # the measured worst-case one-step ratio never exceeds it (relu: slopes 0/1 vertices)
    xs = _rand(21, (2, 200, N), 3.0)

    @eqx.filter_jit
    def worst_ratio(net, xs):
        g = jax.vmap(net.averaged_map, in_axes=(0, None))
        num = jax.vmap(_wnorm, in_axes=(0, None))(
            g(xs[0], jnp.ones(M)) - g(xs[1], jnp.ones(M)), net.eta
        )
        return jnp.max(num / jax.vmap(_wnorm, in_axes=(0, None))(xs[0] - xs[1], net.eta))

    assert float(worst_ratio(net, xs)) <= float(net.contraction_factor()) + 1e-12


@settings(max_examples=15)
@given(seed=st.integers(0, 10**6), scale=st.floats(0.1, 5.0), log_du=st.floats(-4, 1))
def test_lipschitz_bound_holds_on_random_pairs(seed, scale, log_du):
    ratio, bound = _lip_ratio(
        _rand(seed, (N, N), scale),
        _rand(seed + 1, (N,), 0.7),
        _rand(seed + 2, (N, M), scale),
        _rand(seed + 3, (Q, N), scale),
        _rand(seed + 4, (M,), 1.0),
        _rand(seed + 5, (M,), 10.0**log_du),
    )
    assert float(ratio) <= float(bound) * (1 + 1e-8)


_LIPNET = cx.models.ImplicitNetwork(
    M, N, Q, gamma=0.9, activation=jnp.tanh, tol=1e-13, max_steps=3000, key=jax.random.PRNGKey(1)
)


@jax.jit
def _lip_ratio(T, d, B, C, u1, du):
    net = eqx.tree_at(lambda n: (n.T, n.d, n.B, n.C), _LIPNET, (T, d, B, C))
    y1, y2 = net(u1), net(u1 + du)
    return jnp.max(jnp.abs(y1 - y2)) / jnp.max(jnp.abs(du)), net.lipschitz_bound()


def test_lipschitz_bound_reduces_to_slide_formula(getkey):
    net = _inn(getkey, d_scale=0.0)
    A = net.A
    mu = float(jnp.max(jnp.diag(A) + jnp.sum(jnp.abs(A), 1) - jnp.abs(jnp.diag(A))))
    expected = (
        float(jnp.abs(net.B).sum(1).max()) * float(jnp.abs(net.C).sum(1).max()) / (1 - max(mu, 0.0))
    )
    assert float(net.lipschitz_bound()) == pytest.approx(expected, rel=1e-12)


def _fd_check(loss, params, v, h=1e-6, rtol=1e-5, forward=True):
    """Directional derivative by grad (and jvp) and by central differences agree (one compile)."""

    @jax.jit
    def all_three(params, v):
        g = jax.grad(loss)(params)
        dg = sum(jnp.vdot(a, b) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(v)))
        dj = jax.jvp(loss, (params,), (v,))[1] if forward else dg
        plus = jax.tree.map(lambda p, t: p + h * t, params, v)
        minus = jax.tree.map(lambda p, t: p - h * t, params, v)
        return dg, dj, (loss(plus) - loss(minus)) / (2 * h)

    dg, dj, fd = all_three(params, v)
    np.testing.assert_allclose(float(dg), float(fd), rtol=rtol, atol=1e-8)
    np.testing.assert_allclose(float(dj), float(dg), rtol=1e-8, atol=1e-10)


def _direction(params, seed):
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    return jax.tree.unflatten(tree, [jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])


def _check_model_gradient(model, lam, forward):
    us, ys = _rand(31, (4, M), 1.0), jnp.array([0, 1, 2, 1])
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def loss(p):
        m = eqx.combine(p, static)
        return cx.train.cross_entropy(m, (us, ys)) + lam * m.lipschitz_bound()

    _fd_check(loss, params, _direction(params, 5), forward=forward)


def test_implicit_gradient_matches_finite_differences(getkey):
    _check_model_gradient(_inn(getkey, activation=jnp.tanh, t_scale=1.0), 0.05, forward=False)


@pytest.mark.slow
def test_gradients_match_finite_differences_all_models(getkey):
    _check_model_gradient(_inn(getkey, activation=jnp.tanh, t_scale=1.0), 0.05, forward=True)
    _check_model_gradient(cx.models.MonotoneDEQ(M, N, Q, m=0.3, key=getkey()), 0.05, forward=True)
    # FD of a solve needs the solve far below h = 1e-6: tight tolerance
    net = cx.models.FiringRateNetwork(M, N, scale=0.3, tol=1e-14, max_steps=20000, key=getkey())
    params, static = eqx.partition(net, eqx.is_inexact_array)

    def loss(p):
        return jnp.sum(jnp.sin(eqx.combine(p, static).equilibrium(jnp.ones(M)).value))

    _fd_check(loss, params, _direction(params, 6), forward=True)


# ----------------------------------------------------------------------------- MonotoneDEQ


def test_monotone_deq_fixed_point_and_l2_lipschitz(getkey):
    net = cx.models.MonotoneDEQ(M, N, Q, m=0.5, scale=0.5, max_steps=3000, key=getkey())
    x = _rand(41, (8, M), 2.0)
    dx = _rand(42, (8, M), 0.1)
    a_fb = float(1.5 * net.m / net.operator_norm() ** 2)  # inside (0, 2m/L²)

    @eqx.filter_jit
    def run(net, x, dx):
        sol = jax.vmap(net.equilibrium)(x)
        pic = jax.vmap(lambda u: net.equilibrium(u, solver=cx.Picard()))(x)
        fb = jax.vmap(lambda u: net.equilibrium(u, solver=cx.solvers.ForwardBackward(a_fb)))(x)
        pr = [
            jax.vmap(lambda u, a=a: net.equilibrium(u, solver=cx.solvers.PeacemanRachford(a)))(x)
            for a in (0.3, 5.0)
        ]
        y1 = sol.value @ net.C.T + net.c[None, :]
        y2 = jax.vmap(net)(x + dx)
        return sol, pic, fb, pr, y1, y2

    sol, pic, fb, pr, y1, y2 = run(net, x, dx)
    assert bool(jnp.all(sol.result == cx.RESULTS.successful))
    z = sol.value
    np.testing.assert_allclose(
        z, jax.nn.relu(z @ net.W.T + x @ net.U.T + net.b[None, :]), atol=1e-9
    )
    # Picard on the FB map reaches the same point, inside its certified ℓ2 bound
    assert bool(
        jnp.all(jnp.linalg.norm(pic.value - z, axis=-1) <= pic.stats["error_bound"] + 1e-10)
    )
    # forward-backward (α < 2m/L²), Peaceman-Rachford (any α) and Anderson agree
    for other in (fb, *pr):
        assert bool(jnp.all(other.result == cx.RESULTS.successful))
        np.testing.assert_allclose(other.value, z, atol=1e-8)
    # ℓ2 Lipschitz bound ‖C‖‖U‖/m on random pairs, and its ℓ∞ version
    r2 = jnp.linalg.norm(y1 - y2, axis=-1) / jnp.linalg.norm(dx, axis=-1)
    rinf = jnp.max(jnp.abs(y1 - y2), -1) / jnp.max(jnp.abs(dx), -1)
    assert float(r2.max()) <= float(net.lipschitz_bound())
    assert float(rinf.max()) <= float(net.lipschitz_bound(jnp.inf))
    assert float(net.fb_factor()) < 1.0


# ----------------------------------------------------------------------------- FiringRateNetwork


def test_firing_rate_rate_and_equilibrium(getkey):
    net = cx.models.FiringRateNetwork(3, 4, scale=0.3, key=getkey())
    net = eqx.tree_at(lambda n: n.c, net, jnp.array([1.0, 1.5, 0.8, 1.2]))
    # exact rate over the slope box = worst vertex, by enumeration of the 2^4 vertices
    import itertools

    V = jnp.array(list(itertools.product([0.0, 1.0], repeat=4)))
    mats = -jnp.diag(net.c)[None] + V[:, :, None] * net.A[None]
    worst = float(jnp.max(cx.norms.lognorm(mats, jnp.inf)))
    assert float(net.rate(jnp.inf)) == pytest.approx(-worst, rel=1e-12)
    assert float(net.rate(jnp.inf)) > 0
    u = jnp.array([0.3, -1.0, 2.0])

    @eqx.filter_jit
    def run(net, u):
        sol = net.equilibrium(u)
        J = jax.jacfwd(lambda v: net.equilibrium(v).value)(u)
        Jx = jax.jacfwd(net.vector_field)(sol.value, u)
        Ju = jax.jacfwd(net.vector_field, argnums=1)(sol.value, u)
        return sol, net.vector_field(sol.value, u), J, -jnp.linalg.solve(Jx, Ju)

    sol, f_star, J, J_ift = run(net, u)
    assert sol.result == cx.RESULTS.successful
    # f(x*) = 0 and f is ℓ-Lipschitz, so ‖f(x)‖∞ ≤ ℓ ‖x - x*‖∞ ≤ ℓ · error_bound
    bound = float(sol.stats["error_bound"])
    assert bound < 1e-5
    assert float(jnp.max(jnp.abs(f_star))) <= float(net.lipschitz()) * bound
    # derivative of the equilibrium w.r.t. the input: -(∂f/∂x)^{-1} ∂f/∂u
    np.testing.assert_allclose(J, J_ift, atol=1e-6)


# ----------------------------------------------------------------------------- DEQ


class _LinearCell(eqx.Module):
    W: jax.Array

    def __call__(self, z, x):
        return self.W @ z + x


def test_deq_linear_closed_form_and_derivatives():
    W = _rand(51, (N, N), 0.15)
    x = jnp.arange(N, dtype=float)
    xs = _rand(52, (3, N), 1.0)

    def layer(W):
        return cx.models.DEQ(_LinearCell(W), cx.Picard(), z_shape=(N,), tol=1e-13, max_steps=500)

    @jax.jit
    def run(W, x, xs):
        value = layer(W)(x)
        grad = jax.grad(lambda W: jnp.sum(layer(W)(x) ** 2))(W)
        jac = jax.jacfwd(layer(W))(x)
        return value, grad, jac, jax.vmap(layer(W))(xs)

    value, grad, jac, batch = run(W, x, xs)
    inv = jnp.linalg.inv(jnp.eye(N) - W)
    assert_tree_allclose(value, inv @ x, atol=1e-10)
    assert_tree_allclose(
        grad,
        jax.grad(lambda W: jnp.sum(jnp.linalg.solve(jnp.eye(N) - W, x) ** 2))(W),
        rtol=1e-8,
        atol=1e-9,
    )
    assert_tree_allclose(jac, inv, atol=1e-9)
    assert_tree_allclose(batch, xs @ inv.T, atol=1e-10)
    with pytest.raises(ValueError, match="z_shape"):
        cx.models.DEQ(_LinearCell(W))(x)
