"""Lipschitz-bounded deep networks (Wang & Manchester 2023), certified independently of their
construction: the Jacobian's spectral norm (`cx.norms.induced_norm`, p = 2) at sampled points —
for a piecewise-smooth map sup ‖J‖₂ is its ℓ2 Lipschitz constant — and the empirical ratio over
random and PGD-adversarial pairs, at init and after large optax steps, in float64 and float32."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import contractax as cx
from contractax.models import LBDN, OrthogonalLinear, SandwichLayer


def _nets(dtype, key):
    k = jax.random.split(key, 3)
    return [
        LBDN((5, 16, 16, 3), gamma=0.7, key=k[0], dtype=dtype),
        LBDN((5, 12, 4), gamma=3.0, activation=jnp.tanh, key=k[1], dtype=dtype),
        LBDN((5, 3), gamma=2.0, key=k[2], dtype=dtype),  # the linear case γ Q x + b
    ]


@eqx.filter_jit
def _adam_steps(net, x, target, opt, state):
    def loss(m):
        return jnp.mean((jax.vmap(m)(x) - target) ** 2)

    for _ in range(5):
        g = eqx.filter_grad(loss)(net)
        upd, state = opt.update(g, state, eqx.filter(net, eqx.is_inexact_array))
        net = eqx.apply_updates(net, upd)
    return net


def _trained(net, key):
    dt = net.head.Y.dtype
    x = jax.random.normal(key, (32, net.sizes[0]), dt)
    target = 10.0 * jax.random.normal(jax.random.fold_in(key, 1), (32, net.sizes[-1]), dt)
    opt = optax.adam(0.5)
    return _adam_steps(net, x, target, opt, opt.init(eqx.filter(net, eqx.is_inexact_array)))


@eqx.filter_jit
def _jacobian_norms(net, x):
    J = jax.vmap(jax.jacfwd(net))(x)  # (N, out, in): not square, so pad to use induced_norm
    n = max(J.shape[1:])
    Jsq = jnp.zeros((J.shape[0], n, n), J.dtype).at[:, : J.shape[1], : J.shape[2]].set(J)
    return cx.norms.induced_norm(Jsq, 2)


@eqx.filter_jit
def _pgd_ratio(net, a, b, steps=20, lr=0.05):
    def ratio(a, b):
        return jnp.linalg.norm(net(a) - net(b)) / jnp.linalg.norm(a - b)

    g = jax.grad(ratio, (0, 1))

    def body(_, ab):
        a, b = ab
        ga, gb = g(a, b)
        return a + lr * ga / (jnp.linalg.norm(ga) + 1e-12), b + lr * gb / (
            jnp.linalg.norm(gb) + 1e-12
        )

    a, b = jax.vmap(lambda a, b: jax.lax.fori_loop(0, steps, body, (a, b)))(a, b)
    return jax.vmap(ratio)(a, b)


@pytest.mark.parametrize("dtype", [jnp.float64, pytest.param(jnp.float32, marks=pytest.mark.slow)])
def test_jacobian_and_pair_ratios_never_exceed_gamma(dtype, getkey):
    slack = 1e-10 if dtype == jnp.float64 else 1e-5
    for net in _nets(dtype, getkey()):
        for m in (net, _trained(net, getkey())):
            x = 3.0 * jax.random.normal(getkey(), (64, m.sizes[0]), dtype)
            norms = np.asarray(_jacobian_norms(m, x))
            assert norms.max() <= m.gamma * (1 + slack), (norms.max(), m.gamma)
            a = jax.random.normal(getkey(), (32, m.sizes[0]), dtype)
            b = a + 0.3 * jax.random.normal(getkey(), (32, m.sizes[0]), dtype)
            r_rand = np.asarray(
                jax.vmap(lambda a, b: jnp.linalg.norm(m(a) - m(b)) / jnp.linalg.norm(a - b))(a, b)
            )
            r_adv = np.asarray(_pgd_ratio(m, a, b))
            assert max(r_rand.max(), r_adv.max()) <= m.gamma * (1 + slack)
            assert r_adv.max() >= r_rand.max() - 1e-6  # the attack does not lose ground
    # the linear LBDN is exactly γ times an operator of norm ≤ 1 with orthonormal rows/columns
    lin = _nets(jnp.float64, getkey())[2]
    Q = lin.head.Q()
    np.testing.assert_allclose(Q @ Q.T, np.eye(3), atol=1e-12)


def test_sandwich_layer_identity_AAt_plus_BBt_and_orthogonal_linear(getkey):
    layer = SandwichLayer(4, 6, key=getkey())
    A, B = layer.AB()
    np.testing.assert_allclose(A @ A.T + B @ B.T, np.eye(6), atol=1e-12)
    for shape in ((3, 5), (5, 3), (4, 4)):
        Q = OrthogonalLinear(shape[1], shape[0], key=getkey()).Q()
        s = np.linalg.svd(np.asarray(Q), compute_uv=False)
        np.testing.assert_allclose(s, 1.0, atol=1e-12)


def test_lbdn_bad_arguments_name_them(getkey):
    with pytest.raises(ValueError, match="gamma"):
        LBDN((3, 2), gamma=0.0, key=getkey())
    with pytest.raises(ValueError, match="at least"):
        LBDN((3,), gamma=1.0, key=getkey())
    with pytest.raises(ValueError, match="sizes\\[1\\]"):
        LBDN((3, 0, 2), gamma=1.0, key=getkey())
    net = LBDN((3, 4, 2), gamma=1.0, key=getkey())
    with pytest.raises(ValueError, match="LBDN input"):
        net(jnp.ones(4))
    # jit and vmap agree with the plain call
    x = jax.random.normal(getkey(), (5, 3))
    np.testing.assert_allclose(
        jax.jit(jax.vmap(net))(x), np.stack([net(xi) for xi in x]), rtol=1e-12
    )
