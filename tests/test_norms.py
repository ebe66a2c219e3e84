"""Log norms against their definition, brute force over slope vertices, and algebraic identities."""

import itertools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from contractax import norms

INF = math.inf
PS = [1, 2, INF]


def rand(key, shape, scale=1.0):
    return scale * jax.random.normal(key, shape, dtype=jnp.float64)


def weight_for(p, key, n):
    if p == 2:
        B = rand(key, (n, n))
        return B @ B.T + 0.5 * jnp.eye(n)
    return jnp.exp(rand(key, (n,), 0.7))


def np_lognorm(A, p, weight=None):
    """Independent NumPy reference (via the explicit weighted similarity transforms)."""
    A = np.asarray(A)
    n = A.shape[0]
    if weight is not None:
        w = np.asarray(weight)
        if p == INF:
            A = np.diag(1 / w) @ A @ np.diag(w)
        elif p == 1:
            A = np.diag(w) @ A @ np.diag(1 / w)
        else:
            R = np.linalg.cholesky(w).T
            A = R @ A @ np.linalg.inv(R)
    if p == 2:
        return np.linalg.eigvalsh((A + A.T) / 2).max()
    if p == 1:
        A = A.T
    return max(A[i, i] + sum(abs(A[i, j]) for j in range(n) if j != i) for i in range(n))


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("weighted", [False, True])
def test_lognorm_matches_definition_and_reference(p, weighted, getkey):
    n = 5
    A = rand(getkey(), (n, n))
    w = weight_for(p, getkey(), n) if weighted else None
    mu = norms.lognorm(A, p, w)
    np.testing.assert_allclose(mu, np_lognorm(A, p, w), rtol=1e-10)
    np.testing.assert_allclose(mu, norms.lognorm_by_definition(A, p, w, h=1e-7), atol=1e-5)
    # the limit from the definition decreases to μ as h → 0 (convexity of h ↦ ‖I + hA‖)
    assert norms.lognorm_by_definition(A, p, w, h=1e-3) >= mu - 1e-9


@pytest.mark.parametrize("p", PS)
def test_induced_norm_is_operator_norm(p, getkey):
    n = 4
    A = rand(getkey(), (n, n))
    w = weight_for(p, getkey(), n)
    X = rand(getkey(), (2000, n))
    # add the extreme points of the unit ball, where the sup is attained for p ∈ {1, ∞}
    if p == 1:
        X = jnp.concatenate([X, jnp.eye(n) / w[None, :]])
    elif p == INF:
        signs = jnp.asarray(list(itertools.product([-1.0, 1.0], repeat=n)))
        X = jnp.concatenate([X, signs * w[None, :]])
    ratio = norms.vector_norm(X @ A.T, p, w) / norms.vector_norm(X, p, w)
    nrm = norms.induced_norm(A, p, w)
    assert jnp.max(ratio) <= nrm * (1 + 1e-12)
    if p == 2:
        assert jnp.max(ratio) >= 0.6 * nrm  # sampling gets close to the sup
    else:
        np.testing.assert_allclose(jnp.max(ratio), nrm, rtol=1e-12)


def test_duality_inf_one(getkey):
    A = rand(getkey(), (6, 6))
    eta = weight_for(1, getkey(), 6)
    np.testing.assert_allclose(norms.lognorm(A, INF, eta), norms.lognorm(A.T, 1, eta), rtol=1e-12)
    assert norms.dual(INF, eta)[0] == 1 and norms.dual(1)[0] == INF


def test_duality_two_weighted(getkey):
    A = rand(getkey(), (4, 4))
    P = weight_for(2, getkey(), 4)
    p_d, P_d = norms.dual(2, P)
    np.testing.assert_allclose(norms.lognorm(A, 2, P), norms.lognorm(A.T, p_d, P_d), rtol=1e-9)
    # dual norm identity: sup_{‖y‖≤1} xᵀy = ‖x‖_* (Cauchy–Schwarz in the P inner product)
    x = rand(getkey(), (4,))
    y = jnp.linalg.solve(P, x)
    y = y / norms.vector_norm(y, 2, P)
    np.testing.assert_allclose(x @ y, norms.vector_norm(x, 2, P_d), rtol=1e-10)


mat = arrays(np.float64, (4, 4), elements=st.floats(-5, 5))


@pytest.mark.parametrize("p", PS)
@given(A=mat, B=mat, theta=st.floats(0, 1), b=st.floats(0, 10))
def test_lognorm_axioms(p, A, B, theta, b):
    mu = lambda M: float(norms.lognorm(jnp.asarray(M), p))
    tol = 1e-9 * (1 + np.abs(A).sum() + np.abs(B).sum())
    assert mu(A + B) <= mu(A) + mu(B) + tol  # subadditivity
    assert abs(mu(b * A) - b * mu(A)) <= tol * (1 + b)  # positive homogeneity
    assert mu(theta * A + (1 - theta) * B) <= theta * mu(A) + (1 - theta) * mu(B) + tol
    assert mu(A) <= float(norms.induced_norm(jnp.asarray(A), p)) + tol  # μ(A) ≤ ‖A‖
    assert mu(A) >= float(norms.spectral_abscissa(jnp.asarray(A))) - 1e-7 * (1 + abs(mu(A)))


def brute_force_slopes(A, dmin, dmax, p, w, side, C):
    n = A.shape[-1]
    best = -np.inf
    for v in itertools.product([dmin, dmax], repeat=n):
        d = np.asarray(v)
        M = (np.diag(d) @ A if side == "left" else A @ np.diag(d)) - C
        best = max(best, np_lognorm(M, p, w))
    return best


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("side", ["left", "right"])
def test_max_over_slopes_vs_all_vertices(p, side, getkey):
    for n, weighted, full_C in [(3, False, False), (6, True, True)]:
        A = np.asarray(rand(getkey(), (n, n)))
        w = weight_for(p, getkey(), n) if weighted else None
        C = np.diag(np.abs(np.asarray(rand(getkey(), (n,))))) + 1.0
        if full_C:
            C = C + 0.3 * np.asarray(rand(getkey(), (n, n)))
        got = norms.max_lognorm_over_slopes(A, 0.1, 1.3, p, w, side, C)
        want = brute_force_slopes(A, 0.1, 1.3, p, None if w is None else np.asarray(w), side, C)
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_max_over_slopes_bullo_l1_formula(getkey):
    """Seed 001: max_d μ1(dg(d)A) = max{μ1(dmax A), μ1(dmax A − (dmax − dmin)(I∘A))}."""
    A = rand(getkey(), (5, 5))
    dmin, dmax = 0.2, 0.9
    formula = jnp.maximum(
        norms.lognorm(dmax * A, 1),
        norms.lognorm(dmax * A - (dmax - dmin) * jnp.diag(jnp.diag(A)), 1),
    )
    np.testing.assert_allclose(norms.max_lognorm_over_slopes(A, dmin, dmax, 1), formula, rtol=1e-12)


def test_max_over_slopes_p2_limit(no_typecheck):
    with pytest.raises(ValueError, match="2ⁿ vertices"):
        norms.max_lognorm_over_slopes(jnp.zeros((norms.MAX_VERTEX_N + 1,) * 2), 0, 1, p=2)


def metzler(key, n, reducible=False):
    M = jnp.abs(rand(key, (n, n))) - 3 * jnp.eye(n)
    if reducible:
        M = jnp.triu(M)
    return M


@pytest.mark.parametrize("p", PS)
def test_optimal_weight_attains_spectral_abscissa(p, getkey):
    M = metzler(getkey(), 6)
    w, value = norms.optimal_weight(M, p)
    alpha = norms.spectral_abscissa(M)
    np.testing.assert_allclose(value, alpha, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(norms.lognorm(M, p, w), value, rtol=1e-12)
    # and no other weight does better (α(M) ≤ μ_w(M) for every w)
    for _ in range(5):
        assert norms.lognorm(M, p, weight_for(p, getkey(), 6)) >= alpha - 1e-9


def test_optimal_weight_reducible_fallback(getkey):
    M = metzler(getkey(), 5, reducible=True)
    w, value = norms.optimal_weight(M, INF)
    assert jnp.all(w > 0)
    alpha = norms.spectral_abscissa(M)
    assert alpha - 1e-9 <= value <= alpha + 1e-5


def test_metzler_majorant_gives_same_inf_lognorm(getkey):
    A = rand(getkey(), (5, 5))
    eta = weight_for(INF, getkey(), 5)
    M = norms.metzler_majorant(A)
    assert jnp.all(M - jnp.diag(jnp.diag(M)) >= 0)
    np.testing.assert_allclose(norms.lognorm(A, INF, eta), norms.lognorm(M, INF, eta), rtol=1e-12)


def test_bad_input(no_typecheck):
    A = jnp.eye(3)
    with pytest.raises(ValueError, match="p must be one of"):
        norms.lognorm(A, p=3)
    with pytest.raises(ValueError, match="square"):
        norms.lognorm(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="positive vector"):
        norms.lognorm(A, INF, weight=jnp.ones(4))
    with pytest.raises(ValueError, match="positive-definite matrix"):
        norms.lognorm(A, 2, weight=jnp.ones(3))
    with pytest.raises(eqx.EquinoxRuntimeError, match="strictly positive"):
        norms.lognorm(A, INF, weight=jnp.array([1.0, -1.0, 1.0]))
    with pytest.raises(eqx.EquinoxRuntimeError, match="positive definite"):
        norms.lognorm(A, 2, weight=-jnp.eye(3))
    with pytest.raises(ValueError, match="side"):
        norms.max_lognorm_over_slopes(A, 0, 1, side="middle")


@pytest.mark.parametrize("p", PS)
def test_jit_vmap_batching(p, getkey):
    As = rand(getkey(), (7, 4, 4))
    w = weight_for(p, getkey(), 4)
    loop = jnp.stack([norms.lognorm(a, p, w) for a in As])
    np.testing.assert_allclose(jax.jit(lambda a: norms.lognorm(a, p, w))(As), loop, rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(lambda a: norms.lognorm(a, p, w))(As), loop, rtol=1e-12)
    np.testing.assert_allclose(norms.lognorm(As, p, w), loop, rtol=1e-12)  # broadcasting
    f = jax.jit(jax.vmap(lambda a: norms.max_lognorm_over_slopes(a, 0.0, 1.0, p, C=1.0)))
    g = jax.vmap(lambda a: norms.induced_norm(a, p))
    assert f(As).shape == (7,) and g(As).shape == (7,)


@pytest.mark.parametrize("p", PS)
def test_gradients_finite_at_kinks_and_correct(p, getkey):
    for A in [jnp.zeros((3, 3)), jnp.eye(3), -jnp.eye(3)]:
        for fn in (norms.lognorm, norms.induced_norm):
            g = jax.grad(lambda a: fn(a, p))(A)
            assert jnp.all(jnp.isfinite(g))
    A = rand(getkey(), (4, 4))
    E = rand(getkey(), (4, 4))
    g = jax.grad(lambda a: norms.lognorm(a, p))(A)
    fd = (norms.lognorm(A + 1e-6 * E, p) - norms.lognorm(A - 1e-6 * E, p)) / 2e-6
    np.testing.assert_allclose(jnp.sum(g * E), fd, rtol=1e-5)
    _, tangent = jax.jvp(lambda a: norms.induced_norm(a, p), (A,), (E,))
    fd = (norms.induced_norm(A + 1e-6 * E, p) - norms.induced_norm(A - 1e-6 * E, p)) / 2e-6
    np.testing.assert_allclose(tangent, fd, rtol=1e-5)


def test_optimal_weight_jit_vmap(getkey):
    Ms = jnp.stack([metzler(getkey(), 4) for _ in range(3)])
    w, v = jax.jit(jax.vmap(lambda m: norms.optimal_weight(m, INF)))(Ms)
    np.testing.assert_allclose(v, norms.spectral_abscissa(Ms), rtol=1e-7)
    assert w.shape == (3, 4)
