"""Tests for the thesis's models (Hieu 2022): MonotoneDEQ's failure convention, input shape
check and bias-free scalar-readout variant; the converse of the monotone parametrisation
(Prop. 1, ⇒); the residual cell of eq. 4.1 and its weight-tied repeat-k network."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from contractax.models import (
    MonotoneDEQ,
    ResidualCell,
    ResidualNetwork,
    monotone_parameters,
    monotone_parametrisation,
    repeat,
)


def test_monotone_parameters_reach_every_strongly_monotone_w(getkey):
    # ⇒ of Prop. 1: any W with sym(I - W) ⪰ mI is (1-m)I - AᵀA + B - Bᵀ for the A, B returned;
    # W built as I - (mI + PPᵀ + skew) covers the whole set (PPᵀ any PSD, skew any skew matrix).
    n, m = 7, 0.3
    for _ in range(3):
        p = jax.random.normal(getkey(), (n, n))
        q = jax.random.normal(getkey(), (n, n))
        W = jnp.eye(n) - (m * jnp.eye(n) + p @ p.T + q - q.T)
        A, B = jax.jit(monotone_parameters, static_argnums=1)(W, m)
        np.testing.assert_allclose(monotone_parametrisation(A, B, m), W, atol=1e-11)
    # the boundary: sym(I - W) = mI exactly (A = 0) is reached too
    W = (1 - m) * jnp.eye(n) + (q - q.T)
    A, B = monotone_parameters(W, m)
    np.testing.assert_allclose(monotone_parametrisation(A, B, m), W, atol=1e-11)
    # a W outside the set (sym(I - W) has an eigenvalue 0.1 < m) is refused, also under jit
    bad = jnp.eye(n) - jnp.diag(jnp.linspace(0.1, 1.0, n))
    for fn in (monotone_parameters, jax.jit(monotone_parameters, static_argnums=1)):
        with pytest.raises(Exception, match="not ⪰ m"):
            jax.block_until_ready(fn(bad, m))
    with pytest.raises(ValueError, match="square"):
        monotone_parameters(jnp.ones((2, 3)), m)


def test_mondeq_failure_convention_and_input_shape(getkey):
    key = getkey()
    make = lambda **kw: MonotoneDEQ(3, 6, 2, m=0.5, key=key, **({"tol": 1e-10} | kw))
    net = make()
    x = jax.random.normal(getkey(), (4, 3))
    sol = jax.vmap(net.solve)(x)
    assert bool(jnp.all(sol.result == cx.RESULTS.successful))
    y = jax.vmap(net)(x)
    np.testing.assert_allclose(y, jax.vmap(lambda s: net.C @ s + net.c)(sol.value), atol=1e-12)
    # max_steps=1: the solve fails; throw=True raises with the RESULTS message, throw=False NaN.
    short = make(max_steps=1)
    with pytest.raises(Exception, match="max_steps|steps"):
        jax.block_until_ready(jax.vmap(short)(x))
    nan = make(max_steps=1, throw=False)
    assert bool(jnp.all(jnp.isnan(jax.vmap(nan)(x))))
    assert not bool(jnp.any(jax.vmap(nan.solve)(x).result == cx.RESULTS.successful))
    # per example: only the example with a NaN input fails
    xb = x.at[1, 0].set(jnp.nan)
    yb = jax.vmap(make(throw=False))(xb)
    assert bool(jnp.all(jnp.isnan(yb[1]))) and bool(jnp.all(jnp.isfinite(yb[jnp.array([0, 2, 3])])))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        net(jnp.ones((4, 3)))


def test_thesis_variant_no_bias_scalar_readout(getkey):
    # Def. 3.2.1: z* = ReLU(W z* + U x), f = uᵀz*: compare with the fixed point of the plain
    # (unaccelerated) iteration run to convergence, and the NTK with its u-block ZᵀZ (eq. 3.14).
    net = MonotoneDEQ(3, 8, "scalar", use_bias=False, m=0.5, tol=1e-12, key=getkey())
    assert net.b is None and net.c is None and net.C.shape == (8,)
    x = jax.random.normal(getkey(), (5, 3))
    y = jax.vmap(net)(x)
    assert y.shape == (5,)
    a = net.fb_step_size()
    z = jax.vmap(
        lambda xi: jax.lax.fori_loop(0, 3000, lambda _, z: net.fb_map(z, xi, a), jnp.zeros(8))
    )(x)
    np.testing.assert_allclose(y, z @ net.C, atol=1e-9)
    k = cx.ntk.empirical_ntk(lambda p, xi: p(xi), net, x)
    Z = z.T
    assert float(jnp.linalg.eigvalsh(k - Z.T @ Z)[0]) > -1e-9  # K ⪰ ZᵀZ


def test_residual_cell_repeat_and_deq(getkey):
    cell = ResidualCell(4, 8, groups=2, key=getkey())
    x = jax.random.normal(getkey(), (4, 5, 5))
    # repeat-k equals k applications of the cell
    z = jnp.zeros_like(x)
    for _ in range(3):
        z = cell(z, x)
    np.testing.assert_allclose(repeat(cell, x, 3), z, atol=1e-12)
    # GroupNorm output: zero mean / unit variance per group (no affine change at init)
    g = cell(z, x).reshape(2, -1)
    np.testing.assert_allclose(g.mean(1), 0.0, atol=1e-10)
    np.testing.assert_allclose(g.var(1), 1.0, atol=1e-3)
    with pytest.raises(ValueError, match="channels=4"):
        cell(jnp.zeros((3, 5, 5)), jnp.zeros((3, 5, 5)))
    with pytest.raises(ValueError, match="groups"):
        ResidualCell(4, 6, groups=4, key=getkey())
    # The DEQ network: its features are a fixed point of the cell (residual eq. 4.2 small), and
    # the repeat-k network with the same weights approaches it as k grows (small init contracts).
    kw = dict(
        groups=2, tol=1e-8, max_steps=200, backward_tol=1e-10, backward_max_steps=500, key=getkey()
    )
    deq = ResidualNetwork(1, 4, 8, 3, **kw)
    img = jax.random.normal(getkey(), (2, 1, 6, 6))
    zs = jax.vmap(deq.features)(img)
    xs = jax.vmap(deq.injection)(img)
    fz = jax.vmap(deq.cell)(zs, xs)
    res = jnp.linalg.norm((fz - zs).reshape(2, -1), axis=1) / jnp.linalg.norm(
        fz.reshape(2, -1), axis=1
    )
    assert float(res.max()) < 1e-6
    tied = ResidualNetwork(1, 4, 8, 3, depth=80, **kw)
    tied = eqx.tree_at(
        lambda t: (t.inject, t.inject_norm, t.cell, t.head_norm, t.readout),
        tied,
        (deq.inject, deq.inject_norm, deq.cell, deq.head_norm, deq.readout),
    )
    np.testing.assert_allclose(jax.vmap(tied)(img), jax.vmap(deq)(img), atol=1e-6)
    assert jax.vmap(deq)(img).shape == (2, 3)
    with pytest.raises(ValueError, match="in_channels=1"):
        deq(jnp.zeros((2, 6, 6)))
    with pytest.raises(ValueError, match="depth"):
        ResidualNetwork(1, 4, 8, 3, depth=0, key=getkey())
    # gradients through the implicit layer match those of the converged unrolled network
    loss = lambda m: jnp.sum(jax.vmap(m)(img) ** 2)
    g_deq = eqx.filter_grad(loss)(deq)
    g_tied = eqx.filter_grad(loss)(tied)
    np.testing.assert_allclose(
        g_deq.cell.conv1.weight, g_tied.cell.conv1.weight, rtol=1e-4, atol=1e-8
    )


def _directional_fd(f, p, d, h=1e-5):
    """Central difference of the scalar f along the pytree direction d."""
    plus = jax.tree_util.tree_map(lambda a, b: a + h * b, p, d)
    minus = jax.tree_util.tree_map(lambda a, b: a - h * b, p, d)
    return (f(plus) - f(minus)) / (2 * h)


def test_thesis_mondeq_equilibrium_monotonicity_and_gradient(getkey):
    # Def. 3.2.1 in float64: for random parameters I - W ⪰ mI (Prop. 1, ⇐), the solve returns
    # z with z = ReLU(Wz + Ux) to 1e-10, and d/dθ uᵀz* (implicit) matches finite differences.
    m = 0.3
    for scale in (0.5, 2.0):
        net = MonotoneDEQ(4, 9, "scalar", use_bias=False, m=m, scale=scale, tol=1e-13, key=getkey())
        sym = jnp.eye(9) - 0.5 * (net.W + net.W.T)
        assert float(jnp.linalg.eigvalsh(sym)[0]) >= m - 1e-12
        x = jax.random.normal(getkey(), (4,))
        z = net.features(x)
        np.testing.assert_allclose(z, jax.nn.relu(net.W @ z + net.U @ x), atol=1e-10)
        assert float(jnp.min(z)) >= 0.0 and float(jnp.max(z)) > 0.0
        d = jax.tree_util.tree_map(lambda a: jax.random.normal(getkey(), a.shape), net)
        f = eqx.filter_jit(lambda p: p(x))
        g = eqx.filter_jit(eqx.filter_grad(f))(net)
        directional = sum(
            float(jnp.vdot(a, b))
            for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(d))
        )
        np.testing.assert_allclose(directional, _directional_fd(f, net, d), rtol=1e-6, atol=1e-9)


def test_dense_residual_cell_formula_equilibrium_and_gradient(getkey):
    from contractax.models import DenseResidualCell

    n, k = 6, 10
    cell = DenseResidualCell(n, k, init_std=0.3, affine=False, key=getkey())
    assert cell.norm1.weight is None and cell.W1.shape == (k, n) and cell.W2.shape == (n, k)
    z, x = jax.random.normal(getkey(), (2, n))

    # eq. 4.1 written out with a one-group norm (zero mean, unit variance, eps 1e-5)
    def gn(v):
        return (v - v.mean()) / np.sqrt(v.var() + 1e-5)

    zn, xn = np.asarray(z), np.asarray(x)
    w1, w2 = np.asarray(cell.W1), np.asarray(cell.W2)
    inner = gn(np.maximum(w1 @ zn, 0.0))
    expected = gn(np.maximum(zn + gn(xn + w2 @ inner), 0.0))
    np.testing.assert_allclose(cell(z, x), expected, atol=1e-12)
    out = cell(z, x)
    np.testing.assert_allclose([out.mean(), out.var()], [0.0, 1.0], atol=1e-4)
    # affine=True starts at scale 1, shift 0: the same map at init, with trainable parameters
    aff = DenseResidualCell(n, k, init_std=0.3, key=getkey())
    aff = eqx.tree_at(lambda c: (c.W1, c.W2), aff, (cell.W1, cell.W2))
    np.testing.assert_allclose(aff(z, x), out, atol=1e-12)
    assert aff.norm3.weight.shape == (n,)
    # repeat-k: k applications of the cell
    zk = jnp.zeros(n)
    for _ in range(4):
        zk = cell(zk, x)
    np.testing.assert_allclose(repeat(cell, x, 4), zk, atol=1e-12)
    # the DEQ: its equilibrium satisfies z = f(z, x) to 1e-10 (float64)
    fn = lambda z, a: a[0](z, a[1])
    solve = lambda c, x: cx.fixed_point(
        fn, jnp.zeros(n), (c, x), tol=1e-13, max_steps=500, adjoint=cx.ImplicitAdjoint()
    )
    sol = solve(cell, x)
    assert sol.result == cx.RESULTS.successful
    np.testing.assert_allclose(sol.value, cell(sol.value, x), atol=1e-10)
    # implicit gradients of a loss of z* match central finite differences
    target = jax.random.normal(getkey(), (n,))
    loss = eqx.filter_jit(lambda c: jnp.sum((solve(c, x).value - target) ** 2))
    g = eqx.filter_jit(eqx.filter_grad(loss))(cell)
    d = eqx.tree_at(
        lambda c: (c.W1, c.W2),
        jax.tree_util.tree_map(jnp.zeros_like, cell),
        tuple(jax.random.normal(getkey(), s.shape) for s in (cell.W1, cell.W2)),
    )
    directional = float(jnp.vdot(g.W1, d.W1) + jnp.vdot(g.W2, d.W2))
    np.testing.assert_allclose(directional, _directional_fd(loss, cell, d), rtol=1e-6, atol=1e-9)
    # errors: shapes and groups
    with pytest.raises(ValueError, match="size=6"):
        cell(jnp.zeros(5), jnp.zeros(5))
    with pytest.raises(ValueError, match="groups"):
        DenseResidualCell(6, 10, groups=4, key=getkey())
