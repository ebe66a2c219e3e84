"""Tests for contractax.gd and the DeepLinear / TwoLayerReLU models (seed 003, Nar & Sastry)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from contractax.models import DeepLinear, TwoLayerReLU, deep_linear_loss, two_layer_loss

from .conftest import assert_tree_allclose


def _logistic(r, n=3000, x0=0.3):
    def step(x, _):
        x = r * x * (1 - x)
        return x, x

    return jax.lax.scan(step, jnp.asarray(x0, float), None, length=n)[1]


# ------------------------------------------------------------------------------ classify


def test_classify_logistic_map_orbits_under_jit_and_vmap():
    # r = 2.8: fixed point; 3.2: 2-cycle; 3.5: 4-cycle; 3.839: the period-3 window; 3.9: chaos.
    rs = jnp.array([2.8, 3.2, 3.5, 3.839, 3.9])
    orbits = jax.jit(jax.vmap(lambda r: cx.gd.classify(_logistic(r))))(rs)
    kinds = [cx.gd.ORBIT_KINDS[int(c)] for c in orbits.code]
    assert kinds == ["converged", "periodic", "periodic", "periodic", "aperiodic"]
    np.testing.assert_array_equal(np.asarray(orbits.period), [1, 2, 4, 3, 0])


def test_classify_divergent_maps_and_pytrees():
    grow = 1.5 ** jnp.arange(200.0)  # |x| > 1e8 at the end
    blowup = jnp.concatenate([jnp.arange(100.0), jnp.array([jnp.inf]), jnp.full(99, jnp.nan)])
    for traj in (grow, blowup):
        o = cx.gd.classify(traj)
        assert int(o.code) == 3 and int(o.period) == 0
    # a pytree trajectory: a 2-cycle in one leaf, constant in the other -> period 2
    tree = {"a": jnp.tile(jnp.array([[1.0, 2.0], [3.0, 4.0]]), (40, 1)), "b": jnp.ones((80, 3))}
    o = cx.gd.classify(tree)
    assert (int(o.code), int(o.period)) == (1, 2)
    # float noise far below rtol does not break convergence detection
    noisy = 1.0 + 1e-12 * jax.random.normal(jax.random.PRNGKey(0), (100,))
    assert int(cx.gd.classify(noisy).code) == 0


def test_classify_bad_input():
    with pytest.raises(ValueError, match="too few"):
        cx.gd.classify(jnp.ones(10), max_period=16)
    with pytest.raises(ValueError, match="leading"):
        cx.gd.classify({"a": jnp.ones(50), "b": jnp.ones(60)})


# ------------------------------------------------------------------------------ run


def test_run_quadratic_closed_form_vmap_and_grad():
    a = jnp.array([0.5, 1.0, 3.0])
    x0 = jnp.array([1.0, -2.0, 0.5])

    def loss(x, args):
        return 0.5 * jnp.sum(args * x * x)

    def final(lr):
        return cx.gd.run(loss, x0, lr, 20, args=a, every=5, burn_in=5).values

    lrs = jnp.array([0.1, 0.3])
    vals = jax.jit(jax.vmap(final))(lrs)
    ks = jnp.array([10, 15, 20, 25]) - 5  # recorded after steps 10, 15, 20 (burn_in 5, every 5)
    ks = ks[1:]
    expect = (1 - lrs[:, None, None] * a[None, None]) ** ks[None, :, None] * x0[None, None]
    np.testing.assert_allclose(vals, expect, rtol=1e-12)
    traj = cx.gd.run(loss, x0, 0.1, 20, args=a, every=5, burn_in=5)
    np.testing.assert_array_equal(traj.steps, [10, 15, 20])
    np.testing.assert_allclose(traj.loss, jax.vmap(lambda x: loss(x, a))(traj.values))
    assert_tree_allclose(traj.final, traj.values[-1])
    # d/dlr of x_20 = -20 a (1 - lr a)^19 x0
    g = jax.grad(lambda lr: jnp.sum(cx.gd.run(loss, x0, lr, 20, args=a).final))(0.1)
    np.testing.assert_allclose(g, jnp.sum(-20 * a * (1 - 0.1 * a) ** 19 * x0), rtol=1e-10)


def test_run_record_projection_and_errors():
    traj = cx.gd.run(
        lambda x: jnp.sum(x**2),
        jnp.ones(4),
        0.25,
        6,
        record=lambda x, args: x[0],
        record_loss=False,
    )
    np.testing.assert_allclose(traj.values, 0.5 ** jnp.arange(1, 7))
    assert traj.loss is None
    with pytest.raises(ValueError, match="multiple"):
        cx.gd.run(lambda x: jnp.sum(x**2), jnp.ones(2), 0.1, 10, every=3)
    with pytest.raises(ValueError, match="scalar"):
        cx.gd.run(lambda x: jnp.sum(x**2), jnp.ones(2), jnp.ones(2), 10)


def test_example1_period_two_orbit():
    # seed 003 Example 1: f = 2/3 |x|^{3/2} -> |x_k| -> delta^2 / 4, a 2-cycle
    f = lambda x: (2.0 / 3.0) * jnp.sum(jnp.abs(x) ** 1.5)
    x0 = jnp.array([0.37, -0.81, 1.3])
    traj = cx.gd.run(f, x0, 0.2, 400, burn_in=300)
    np.testing.assert_allclose(jnp.abs(traj.final), 0.2**2 / 4, rtol=1e-10)
    o = cx.gd.classify(traj)
    assert (int(o.code), int(o.period)) == (1, 2)


# ------------------------------------------------------------------------------ curvature


def test_hvp_sharpness_lyapunov_radius_on_quadratics(getkey):
    m = jax.random.normal(getkey(), (6, 6))
    A = m @ m.T - 4.0 * jnp.eye(6)  # indefinite, |lambda_min| may exceed lambda_max
    f = lambda x, args: 0.5 * x @ args @ x
    x = jax.random.normal(getkey(), (6,))
    v = jax.random.normal(getkey(), (6,))
    np.testing.assert_allclose(cx.gd.hvp(f, x, v, A), A @ v, rtol=1e-12)
    ev = jnp.linalg.eigvalsh(A)
    np.testing.assert_allclose(
        jax.jit(cx.gd.sharpness, static_argnums=0)(f, x, A), ev[-1], rtol=1e-9
    )
    lrs = jnp.array([0.05, 0.2, 0.7])
    rad = jax.vmap(lambda lr: cx.gd.lyapunov_radius(f, x, lr, A))(lrs)
    np.testing.assert_allclose(
        rad, jnp.max(jnp.abs(1 - lrs[:, None] * ev[None]), axis=1), rtol=1e-9
    )
    # Krylov breakdown: two distinct eigenvalues in dimension 6 (fresh restart vectors);
    # same shapes as above, so the compiled Lanczos is reused
    B = jnp.diag(jnp.array([2.0, 2.0, 2.0, 2.0, -1.0, -1.0]))
    np.testing.assert_allclose(cx.gd.lyapunov_radius(f, x, 1.5, B), 2.5, rtol=1e-9)
    np.testing.assert_allclose(cx.gd.lyapunov_radius(f, x, 0.5, A), max(abs(1 - 0.5 * ev)))


def test_hvp_and_sharpness_nonquadratic_against_dense_hessian():
    f = lambda p: jnp.sum(jnp.sin(p["a"]) * p["b"] ** 2) + jnp.prod(p["a"])
    p = {"a": jnp.array([0.3, -1.2, 0.8]), "b": jnp.array([1.5, 0.4, -0.7])}
    v = {"a": jnp.array([1.0, 0.0, -2.0]), "b": jnp.array([0.5, 1.0, 0.0])}
    flat = lambda t: jnp.concatenate([t["a"], t["b"]])
    H = jax.hessian(lambda z: f({"a": z[:3], "b": z[3:]}))(flat(p))
    np.testing.assert_allclose(flat(cx.gd.hvp(f, p, v)), H @ flat(v), rtol=1e-10)
    np.testing.assert_allclose(cx.gd.sharpness(f, p), jnp.linalg.eigvalsh(H)[-1], rtol=1e-9)
    # grad of the radius w.r.t. the step size: finite differences
    r = lambda lr: cx.gd.lyapunov_radius(f, p, lr)
    fd = (r(0.31 + 1e-6) - r(0.31 - 1e-6)) / 2e-6
    np.testing.assert_allclose(jax.grad(r)(0.31), fd, rtol=1e-6)


# ------------------------------------------------------------------------------ bounds


def test_step_bound_hand_values_and_hessian():
    # R = diag(4, 1), W_j = alpha_j R^{1/2}: u = v = e1, sum = 4 alpha_2^2 + 4 alpha_1^2
    R = jnp.diag(jnp.array([4.0, 1.0]))
    alphas = jnp.array([[1.0, 1.0], [2.0, 0.5], [0.25, 4.0]])

    def bounds(al):
        net = DeepLinear(weights=[al[0] * jnp.sqrt(R), al[1] * jnp.sqrt(R)])
        lam = cx.gd.sharpness(deep_linear_loss, net, R, num_iters=None)
        return cx.gd.deep_linear_step_bound(net.weights), 2 / lam

    b, b_hess = jax.vmap(bounds)(alphas)
    np.testing.assert_allclose(b, 2 / (4 * alphas[:, 0] ** 2 + 4 * alphas[:, 1] ** 2), rtol=1e-12)
    # tight for commuting solutions: 2 / lambda_max of the Hessian of 1/2 ||W2 W1 - R||^2
    np.testing.assert_allclose(b, b_hess, rtol=1e-9)
    assert float(cx.gd.deep_linear_global_bound(R, 2)) == pytest.approx(0.25)
    assert float(cx.gd.deep_linear_global_bound(R, 1)) == pytest.approx(2.0)
    np.testing.assert_allclose(cx.gd.deep_linear_global_bound(R, 3), 2 / (3 * 4 ** (4 / 3)))


def test_step_bound_is_necessary_on_random_nonsquare_solutions(getkey):
    # Lemma 2: sum p^2 q^2 <= lambda_max(J J^T) = lambda_max(Hessian) at R := W_L...W_1,
    # and Corollary 1: the Theorem 1 bound never exceeds delta_c.
    net = DeepLinear([2, 3, 4, 2], init="normal", key=getkey())
    R = net.product()
    b1 = cx.gd.deep_linear_step_bound(net.weights)
    lam = cx.gd.sharpness(deep_linear_loss, net, R, num_iters=None)
    assert float(b1) >= 2 / float(lam) * (1 - 1e-9)
    assert float(b1) <= float(cx.gd.deep_linear_global_bound(R, net.depth)) * (1 + 1e-9)
    # batched over leading axes, under jit
    ws = [jax.random.normal(getkey(), (5, 3, 3)) for _ in range(3)]
    bb = jax.jit(cx.gd.deep_linear_step_bound)(ws)
    one = cx.gd.deep_linear_step_bound([w[2] for w in ws])
    assert bb.shape == (5,)
    np.testing.assert_allclose(bb[2], one, rtol=1e-12)


def test_spectral_identity_relu_bounds_hand_values():
    R = 4.0 * jnp.eye(2)
    # Corollary 2 inverts Corollary 1
    for L in (2, 3, 5):
        d = cx.gd.deep_linear_global_bound(R, L)
        np.testing.assert_allclose(cx.gd.converged_spectral_bound(d, L), 4.0, rtol=1e-12)
    assert np.isinf(cx.gd.converged_spectral_bound(0.1, 1))
    np.testing.assert_allclose(cx.gd.converged_spectral_bound(jnp.array([0.25, 1.0]), 2), [4, 1])
    Rn = jnp.diag(jnp.array([4.0, -1.0]))
    np.testing.assert_allclose(cx.gd.identity_init_bound(Rn, 2), 0.125)
    Rn2 = jnp.diag(jnp.array([0.5, -3.0]))  # rho = 3: min(1/2, 1/(2*3), 1/4)
    np.testing.assert_allclose(cx.gd.identity_init_bound(Rn2, 2), 1 / 6)
    Rn3 = jnp.diag(jnp.array([0.5, -0.2]))  # min(1/3, 1/(3 * 0.5^{4/3}) > 1/3, 1/1.2)
    np.testing.assert_allclose(cx.gd.identity_init_bound(Rn3, 3), 1 / 3)
    np.testing.assert_allclose(cx.gd.identity_init_rate(1.0, 3, 0.1), 0.7)
    np.testing.assert_allclose(cx.gd.identity_init_rate(4.0, 2, 0.1), 1 - 0.1 * 3 / 1)
    xs = jnp.array([[1.0], [2.0], [0.5]])
    fx = jnp.array([[1.0, 0.0], [0.0, -1.5], [4.0, 3.0]])
    np.testing.assert_allclose(cx.gd.relu_step_bound(xs, fx), 1 / 3.0)
    with pytest.raises(ValueError):
        cx.gd.deep_linear_global_bound(R, 0)
    with pytest.raises(ValueError):
        cx.gd.deep_linear_step_bound([jnp.ones((2, 3)), jnp.ones((2, 3))])
    with pytest.raises(ValueError):
        cx.gd.relu_step_bound(xs, fx[:2])


def test_bounds_under_jit_vmap_and_grad(getkey):
    Rs = jnp.stack([jnp.diag(jnp.array([4.0, 1.0])), jnp.diag(jnp.array([2.0, -0.5]))])
    b = jax.jit(jax.vmap(lambda R: cx.gd.deep_linear_global_bound(R, 3)))(Rs)
    np.testing.assert_allclose(b, 2 / (3 * jnp.array([4.0, 2.0]) ** (4 / 3)), rtol=1e-12)
    ib = jax.jit(jax.vmap(lambda R: cx.gd.identity_init_bound(R, 2)))(Rs)
    np.testing.assert_allclose(ib, [1 / 8, 1 / 4], rtol=1e-12)  # min(1/2, 1/(2*2), 1/1.5)
    rates = jax.vmap(lambda d: cx.gd.identity_init_rate(jnp.array([0.5, 3.0]), 2, d))(
        jnp.array([0.1, 0.2])
    )
    assert rates.shape == (2, 2)
    # gradients: Theorem 1 bound w.r.t. the weights, against central differences
    ws = [jax.random.normal(getkey(), (2, 2)) for _ in range(2)]
    dirs = [jax.random.normal(getkey(), (2, 2)) for _ in range(2)]
    fn = lambda t: cx.gd.deep_linear_step_bound([w + t * d for w, d in zip(ws, dirs)])
    fd = (fn(1e-6) - fn(-1e-6)) / 2e-6
    np.testing.assert_allclose(jax.grad(fn)(0.0), fd, rtol=1e-5)
    g = jax.grad(lambda R: cx.gd.deep_linear_global_bound(R, 2))(Rs[0])
    np.testing.assert_allclose(g, jnp.diag(jnp.array([-2 / (2 * 16.0), 0.0])), atol=1e-12)
    # hvp batched over tangents, under jit
    A = jnp.array([[2.0, 1.0], [1.0, 3.0]])
    hv = jax.jit(jax.vmap(lambda v: cx.gd.hvp(lambda x: 0.5 * x @ A @ x, jnp.ones(2), v)))
    np.testing.assert_allclose(hv(jnp.eye(2)), A, rtol=1e-12)


def test_lemma3_rate_bound_scalar():
    # L scalar layers w_i[0] = 1 on 1/2 (w_L...w_1 - lam)^2, delta = Lemma 3's delta_c
    L = 3
    for lam in (0.3, 2.5):
        dc = 1 / (L * lam ** (2 * (L - 1) / L)) if lam >= 1 else (1 - lam ** (1 / L)) / (1 - lam)
        beta = cx.gd.identity_init_rate(lam, L, dc)
        traj = cx.gd.run(lambda w: 0.5 * (jnp.prod(w) - lam) ** 2, jnp.ones(L), dc, 60)
        err = jnp.max(jnp.abs(traj.values - lam ** (1 / L)), axis=1)
        bound = beta ** jnp.arange(1, 61) * abs(1 - lam ** (1 / L))
        assert float(err[-1]) < 1e-6
        assert bool(jnp.all(err <= bound * (1 + 1e-9) + 1e-15))


# ------------------------------------------------------------------------------ models


def test_deep_linear_model_and_theorems_2_3(getkey):
    # whitened data: x_i = sqrt(n) e_i gives (1/N) sum x x^T = I -> eq. (2) equals 1/2 ||.||_F^2
    net = DeepLinear([3, 3, 3], init="normal", key=getkey())
    R = jax.random.normal(getkey(), (3, 3))
    xs = jnp.sqrt(3.0) * jnp.eye(3)
    eq2 = jnp.mean(jax.vmap(lambda x: jnp.sum((R @ x - net(x)) ** 2))(xs)) / 2
    np.testing.assert_allclose(deep_linear_loss(net, R), eq2, rtol=1e-12)
    resc = net.rescale(jnp.array([2.0, 0.5]))
    np.testing.assert_allclose(resc.product(), net.product(), rtol=1e-12)
    # Theorem 2 (SPD R) and Theorem 3 (an eigenvalue < 0) from the identity, L = 2
    q, _ = jnp.linalg.qr(jax.random.normal(getkey(), (3, 3)))
    for lams, target in (([3.0, 1.0, 0.4], [3.0, 1.0, 0.4]), ([2.0, 0.5, -1.0], [2.0, 0.5, 0.0])):
        R = q @ jnp.diag(jnp.array(lams)) @ q.T
        d = cx.gd.identity_init_bound(R, 2)
        out = cx.gd.run(deep_linear_loss, DeepLinear([3, 3, 3]), d, 600, args=R).final
        np.testing.assert_allclose(out.product(), q @ jnp.diag(jnp.array(target)) @ q.T, atol=1e-8)
    with pytest.raises(ValueError):
        DeepLinear([3, 2], init="identity")
    with pytest.raises(ValueError):
        DeepLinear([3, 3], init="normal")


def test_two_layer_relu_theorem4_and_fixed_bias(getkey):
    net = TwoLayerReLU(1, 6, 1, key=getkey())
    xs = jnp.linspace(0.1, 1.0, 12)[:, None]
    ys = jax.vmap(net)(xs)
    assert ys.shape == (12, 1)
    np.testing.assert_allclose(ys[:, 0], jax.nn.relu(xs @ net.V.T - net.b[None]) @ net.W[0])
    # at an exact fit the Hessian is J^T J and (proof of Thm 4) lambda_max >= 2 max ||x|| ||f||
    lam = cx.gd.sharpness(two_layer_loss, net, (xs, ys), num_iters=None)
    assert 2 / float(lam) <= float(cx.gd.relu_step_bound(xs, ys)) * (1 + 1e-9)
    # GD never moves the fixed bias
    out = cx.gd.run(two_layer_loss, net, 1e-3, 5, args=(xs, jnp.sin(xs))).final
    np.testing.assert_array_equal(out.b, net.b)
    assert not np.allclose(out.W, net.W)


@pytest.mark.slow
def test_stability_sweep_sharded_over_four_host_devices():
    # the deep-linear stability sweep of the benchmark, sharded over 4 CPU devices, equals vmap
    import os
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np
        jax.config.update("jax_enable_x64", True)
        import contractax as cx
        from contractax.models import DeepLinear, deep_linear_loss
        assert len(jax.devices()) == 4
        R = jnp.diag(jnp.array([3.0, 1.0]))
        dc = cx.gd.deep_linear_global_bound(R, 3)
        def fn(ratio, scale):
            net = DeepLinear([2, 2, 2, 2], scale=scale)
            tr = cx.gd.run(deep_linear_loss, net, ratio * dc, 600, args=R, burn_in=536,
                           record=lambda p, a: p.product(), record_loss=False)
            return cx.gd.classify(tr).code
        axes = {"ratio": jnp.linspace(0.6, 1.4, 9), "scale": jnp.array([0.8, 1.0, 1.1])}
        sharded = cx.sweep.grid(fn, axes, chunk_size=2)
        R_, S_ = jnp.meshgrid(axes["ratio"], axes["scale"], indexing="ij")
        plain = jax.vmap(fn)(R_.ravel(), S_.ravel()).reshape(9, 3)
        np.testing.assert_array_equal(np.asarray(sharded), np.asarray(plain))
        assert int(sharded[0, 1]) == 0 and int(sharded[-1, 1]) != 0
        print("ok")
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ok" in out.stdout
