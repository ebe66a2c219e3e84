"""contractax.convergence: each bound against a brute-force measurement (seed 004 §2.5–2.6, §3.3)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from contractax import convergence as cv

NORMS = cv.ParamNorms(0.3, 0.2, 1.4, 0.05)
RADII = cv.Radii(0.1, 0.2, 0.3, 0.4)


def _gd(loss, theta, eta, steps):
    out = [theta]
    for _ in range(steps):
        theta = theta - eta * jax.grad(loss)(theta)
        out.append(theta)
    return jnp.stack(out)


def test_descent_lemma_and_iteration_count():
    # nonconvex Cauchy regression ½Σlog(1 + r²), r = Aθ − b, A wide: L = λmax(AᵀA), L* = 0
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    A, b = jax.random.normal(k1, (3, 6)), 3 * jax.random.normal(k2, (3,))
    loss = lambda t: 0.5 * jnp.sum(jnp.log1p((A @ t - b) ** 2))
    L = float(jnp.linalg.eigvalsh(A.T @ A)[-1])
    path = _gd(loss, jnp.zeros(6), 1 / L, 400)
    vals = jax.vmap(loss)(path)
    gn = jnp.linalg.norm(jax.vmap(jax.grad(loss))(path), axis=1)
    # Prop. 2: L_t − L_{t+1} ≥ (η/2)‖∇L_t‖²
    assert np.all(vals[:-1] - vals[1:] >= (0.5 / L) * gn[:-1] ** 2 - 1e-12)
    for eps in (0.3, 0.1, 0.03):
        T = float(cv.descent_iterations(L, vals[0], 0.0, eps))
        reached = int(np.argmax(np.asarray(gn) <= eps))
        assert gn[reached] <= eps and reached <= T
    assert float(cv.descent_iterations(2.0, 1.0, 0.0, 0.1)) == pytest.approx(400.0)


def test_linear_rate_strongly_convex_quadratic():
    H = jnp.diag(jnp.array([0.5, 1.0, 4.0]))
    loss = lambda t: 0.5 * t @ H @ t
    path = _gd(loss, jnp.ones(3), 1 / 4.0, 30)
    gaps = jax.vmap(loss)(path)
    bound = cv.linear_rate_bound(0.5, 4.0, jnp.arange(31), gaps[0])
    assert np.all(gaps <= bound * (1 + 1e-12))
    # tight on the slowest mode: the rate cannot be improved
    only = _gd(loss, jnp.array([1.0, 0.0, 0.0]), 1 / 4.0, 5)
    g = jax.vmap(loss)(only)
    np.testing.assert_allclose(g[1] / g[0], (1 - 0.5 / 4) ** 2, rtol=1e-12)


def test_pl_ratio_linear_model_equals_kernel_form():
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(1), 3)
    Phi, y, th = (
        jax.random.normal(k1, (4, 7)),
        jax.random.normal(k2, (4,)),
        jax.random.normal(k3, (7,)),
    )
    loss = lambda t: 0.5 * jnp.sum((Phi @ t - y) ** 2)
    r = Phi @ th - y
    K = cx.ntk.empirical_ntk(lambda p, x: x @ p, th, Phi)
    np.testing.assert_allclose(cv.pl_ratio(loss, th), 2 * r @ K @ r / (r @ r), rtol=1e-10)
    assert cv.pl_ratio(loss, th) >= 2 * jnp.linalg.eigvalsh(K)[0]  # Thm 2.6.4
    assert jnp.isfinite(jax.jit(lambda t: cv.pl_ratio(loss, t))(th))


def test_path_length_and_radius_on_quadratic():
    a, b = 1.0, 10.0
    loss = lambda t: 0.5 * (a * t[0] ** 2 + b * t[1] ** 2)
    path = _gd(loss, jnp.array([1.0, 1.0]), 1 / b, 300)
    mu = 2 * a  # inf ‖∇L‖²/L (Def. 2.6.1)
    length = cv.path_length(path)
    assert length >= jnp.linalg.norm(path[0] - path[-1])
    assert length <= cv.path_length_radius(loss(path[0]), mu)
    np.testing.assert_allclose(cv.path_length(jnp.array([[0.0, 0.0], [3.0, 4.0], [3.0, 5.0]])), 6.0)
    with pytest.raises(ValueError, match="trajectory"):
        cv.path_length({"a": jnp.array(1.0)})


def test_rate_bounds_closed_forms_jit_vmap():
    np.testing.assert_allclose(cv.flow_bound(2.0, 0.5, 3.0), 3 * np.exp(-1.0))
    np.testing.assert_allclose(cv.gd_rate_bound(0.1, 2.0, 3, 1.0), 0.9**3)
    f = jax.jit(jax.vmap(lambda lam: cv.flow_bound(lam, 1.0, 1.0)))
    np.testing.assert_allclose(f(jnp.array([0.0, 2.0])), [1.0, np.exp(-2.0)])
    g = jax.grad(lambda lam: cv.flow_bound(lam, 1.0, 1.0))(2.0)
    np.testing.assert_allclose(g, -2.0 * np.exp(-2.0), rtol=1e-10)


def _reference_condition2(lam, xf, loss0, n, r, m):
    A, U, u = (n.A + r.A), (n.U + r.U), (n.u + r.u)
    s = np.sqrt(2 * loss0)
    mx = max(2 * U * u * A / (m**2 * r.A), 2 * U * u / (m**2 * r.B), u / (m * r.U), U / (m * r.u))
    c18 = 20 * xf**2 * (u**2 + 4 * (u * U * A) ** 2 + 4 * (u * U) ** 2 + U**2)
    eta = min(
        4 / lam**2,
        1 / (xf**2 * (u**2 + 4 * (U * u) ** 2 + 4 * (U * u * A) ** 2 + U**2)),
        0.5 / (xf * lam * U * u * A),
        1 / (6 * lam**2 * (u * A) ** 2),
    )
    return (
        lam**2 / (8 * xf * s * mx),
        lam**3 / (8 * xf**2 * s * u * (1 + 6 * (U * A) ** 2 + 4 * U**2)),
        lam**2 / c18,
        eta,
        lam**2 / (4 * xf * s * mx),
        lam**3 / (8 * xf**2 * s * u / m**2 * (4 * ((U * A) ** 2 + U**2) / m**2 + 1)),
    )


def test_conditions_match_the_printed_formulas_and_vmap():
    ref = _reference_condition2(3.0, 2.0, 1e-4, NORMS, RADII, 0.1)
    c2 = cv.condition2(3.0, 2.0, 1e-4, NORMS, RADII, 0.1)
    c1 = cv.condition1(3.0, 2.0, 1e-4, NORMS, RADII, 0.1)
    got = (c2.ratio_3_16, c2.ratio_3_17, c2.ratio_3_18, c2.eta_max, c1.ratio_3_8, c1.ratio_3_9)
    np.testing.assert_allclose(np.array(got), np.array(ref), rtol=1e-12)
    assert bool(c2.holds) == all(v >= 1 for v in ref[:3])
    np.testing.assert_allclose(cv.eta_max(3.0, 2.0, NORMS, RADII), ref[3], rtol=1e-12)
    lams = jnp.array([1.0, 3.0, 30.0])
    vm = jax.jit(jax.vmap(lambda lam: cv.condition2(lam, 2.0, 1e-4, NORMS, RADII, 0.1)))(lams)
    for i, lam in enumerate(lams):
        one = _reference_condition2(float(lam), 2.0, 1e-4, NORMS, RADII, 0.1)
        np.testing.assert_allclose(vm.ratio_3_18[i], one[2], rtol=1e-12)


def test_lambda0_is_the_smallest_singular_value():
    F = jax.random.normal(jax.random.PRNGKey(2), (4, 9))
    np.testing.assert_allclose(cv.lambda0(F), jnp.linalg.svd(F, compute_uv=False)[-1], rtol=1e-10)
    assert cv.lambda0(F[:, :3]) < 1e-6  # n < N: ZᵀZ singular
    g = jax.grad(lambda F: cv.lambda0(F))(F)
    h = 1e-6
    E = jnp.zeros_like(F).at[1, 2].set(1.0)
    fd = (cv.lambda0(F + h * E) - cv.lambda0(F - h * E)) / (2 * h)
    np.testing.assert_allclose(g[1, 2], fd, rtol=1e-6)


def test_lemma336_bound_and_equality():
    k = jax.random.split(jax.random.PRNGKey(3), 3)
    A, dA, dB = (jax.random.normal(kk, (5, 5)) for kk in k)
    W = lambda A, B: cx.models.monotone_parametrisation(A, B, 0.5)
    dW = W(A + dA, dB) - W(A, 0 * dB)
    assert jnp.linalg.norm(dW, 2) <= cv.lemma336(A, dA, dB) * (1 + 1e-12)
    S = dB - dB.T  # antisymmetric ΔB, no ΔA: equality
    dW = W(A, S) - W(A, 0 * S)
    np.testing.assert_allclose(jnp.linalg.norm(dW, 2), cv.lemma336(A, 0 * A, S), rtol=1e-10)


def _thesis(key, n, d, m=0.3):
    return cx.models.MonotoneDEQ(d, n, "scalar", use_bias=False, m=m, tol=1e-12, key=key)


def test_lemma334_against_solved_equilibria():
    k = jax.random.split(jax.random.PRNGKey(4), 4)
    x = jax.random.normal(k[0], (5, 3))
    net_s = _thesis(k[1], 6, 3)
    net_k = eqx.tree_at(
        lambda t: (t.A, t.U, t.C),
        net_s,
        (net_s.A + 0.1 * jax.random.normal(k[2], (6, 6)), net_s.U + 0.1, net_s.C * 1.5),
    )
    feats = eqx.filter_jit(lambda net: jax.vmap(net.features)(x))
    zk, zs = feats(net_k), feats(net_s)
    b = cv.lemma334(net_k, net_s, jnp.linalg.norm(x))
    assert jnp.linalg.norm(zk - zs) <= b.z
    assert jnp.linalg.norm(zk @ net_k.C - zs @ net_s.C) <= b.yhat
    cert = cv.certify(net_s, x, jnp.zeros(5), RADII)
    np.testing.assert_allclose(cert.lambda0, jnp.linalg.svd(zs, compute_uv=False)[-1], rtol=1e-8)
    np.testing.assert_allclose(cert.loss0, 0.5 * jnp.sum((zs @ net_s.C) ** 2), rtol=1e-10)
    assert cert.wide and np.isfinite(float(cert.condition2.eta_max))


def test_loss_terms_sum_to_the_loss_change():
    k = jax.random.split(jax.random.PRNGKey(5), 4)
    yk, y1, g, y = (jax.random.normal(kk, (6,)) for kk in k)
    t = cv.loss_terms(yk, y1, g, y)
    dl = 0.5 * jnp.sum((y1 - y) ** 2) - 0.5 * jnp.sum((yk - y) ** 2)
    np.testing.assert_allclose(t.I1 + t.I2 + t.I3, dl, rtol=1e-12)
    b = cv.loss_term_bounds(0.01, 2.0, 1.0, 2.0, NORMS, RADII)
    assert b.I1 >= 0 and b.I3 == pytest.approx(-0.01 * 4 / 2)
    s = cv.lemma337(0.01, 2.0, 1.0, 2.0, NORMS, RADII, 0.1)
    np.testing.assert_allclose(s.U, 0.01 * 2 * (0.05 + 0.4) / 0.1)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: cv.descent_iterations(2.0, 1.0, 0.0, 0.0), "eps"),
        (lambda: cv.descent_iterations(-1.0, 1.0, 0.0, 0.1), "smoothness"),
        (lambda: cv.descent_iterations(1.0, 0.0, 1.0, 0.1), "loss0 - loss_star"),
        (lambda: cv.linear_rate_bound(2.0, 1.0, 3, 1.0), "1 - mu/smoothness"),
        (lambda: cv.path_length_radius(1.0, 0.0), "mu"),
        (lambda: cv.condition2(1.0, 1.0, 1.0, NORMS, cv.Radii(-1, 1, 1, 1), 0.1), "radii.A"),
        (lambda: cv.condition2(1.0, 1.0, 1.0, NORMS, RADII, 0.0), "m"),
        (lambda: cv.condition1(1.0, float("nan"), 1.0, NORMS, RADII, 0.1), "x_norm"),
        (lambda: cv.lambda0(jnp.ones(3)), "features"),
        (lambda: cv.loss_terms(jnp.ones(3), jnp.ones(2), jnp.ones(3), jnp.ones(3)), "yhat"),
        (lambda: cv.param_norms(cx.models.MonotoneDEQ(2, 3, 1, key=jax.random.PRNGKey(0))), "net"),
    ],
)
def test_bad_inputs_name_the_argument(call, name):
    with pytest.raises((ValueError, TypeError), match=name.replace("(", r"\(")):
        call()
