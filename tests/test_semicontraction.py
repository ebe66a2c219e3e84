"""Semi-norms, log semi-norms, weak pairings and weak contraction against brute force."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from contractax import contraction, norms, semicontraction as sc

INF = math.inf
PS = [1, 2, INF]


def rand(key, shape, scale=1.0):
    return scale * jax.random.normal(key, shape, dtype=jnp.float64)


def invariant_matrix(key, n, lam=0.0):
    """A random A with A𝟙 = λ𝟙 (ker of the consensus semi-norm invariant)."""
    B = rand(key, (n, n))
    one = jnp.ones((n, 1))
    return B - (B @ one) @ one.T / n + lam * one @ one.T / n


def laplacian(key, n):
    W = jnp.abs(rand(key, (n, n)))
    W = (W + W.T) * (1 - jnp.eye(n))
    return jnp.diag(W.sum(1)) - W


def test_consensus_basis(no_typecheck):
    for n in (2, 3, 7):
        R = sc.consensus_basis(n)
        assert R.shape == (n - 1, n)
        np.testing.assert_allclose(R @ R.T, np.eye(n - 1), atol=1e-14)
        np.testing.assert_allclose(R @ jnp.ones(n), 0, atol=1e-14)
        np.testing.assert_allclose(R.T @ R, np.eye(n) - np.ones((n, n)) / n, atol=1e-14)
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="n"):
            sc.consensus_basis(bad)


def test_semi_norm_vanishes_on_kernel_only(getkey):
    R = sc.consensus_basis(4)
    np.testing.assert_allclose(sc.semi_norm(3.0 * jnp.ones(4), R), 0, atol=1e-14)
    x = rand(getkey(), (10, 4))
    # ‖Rx‖₂ with orthonormal R is the distance to consensus
    dist = jnp.linalg.norm(x - x.mean(-1, keepdims=True), axis=-1)
    np.testing.assert_allclose(sc.semi_norm(x, R), dist, rtol=1e-12)


def test_laplacian_closed_form(getkey):
    """μ₂ of −L in the consensus semi-norm is −λ₂(L) (the algebraic connectivity)."""
    for n in (3, 6):
        L = laplacian(getkey(), n)
        lam = jnp.linalg.eigvalsh(L)
        np.testing.assert_allclose(sc.semi_lognorm(-L, sc.consensus_basis(n)), -lam[1], rtol=1e-12)
        # as a norm on ℝⁿ, μ₂(−L) = 0: only weakly contracting
        np.testing.assert_allclose(norms.lognorm(-L, 2), 0, atol=1e-12)


def _expm_flow(A, x, t):
    return jax.scipy.linalg.expm(t * A) @ x


@pytest.mark.parametrize("p", PS)
def test_semi_lognorm_bounds_the_flow_and_is_attained(p, getkey):
    """Grönwall: ‖Rx(t)‖ ≤ e^{μ_R t}‖Rx(0)‖; the right derivative D⁺‖Rx‖/‖Rx‖ at t = 0 never
    exceeds μ_R and reaches it at a constructed x(0)."""
    n = 5
    A = invariant_matrix(getkey(), n, lam=0.7)
    R = sc.consensus_basis(n)
    mu = sc.semi_lognorm(A, R, p)
    x0 = rand(getkey(), (200, n))
    for t in (0.1, 0.5, 1.0):
        xt = jax.vmap(lambda x: _expm_flow(A, x, t))(x0)
        ratio = sc.semi_norm(xt, R, p) / sc.semi_norm(x0, R, p)
        assert np.all(ratio <= np.exp(mu * t) * (1 + 1e-10))
    h = 1e-6
    xh = jax.vmap(lambda x: _expm_flow(A, x, h))(x0)
    dplus = (sc.semi_norm(xh, R, p) - sc.semi_norm(x0, R, p)) / (h * sc.semi_norm(x0, R, p))
    assert np.max(dplus) <= mu + 1e-4
    # constructed maximiser y of μ(M), M = RAR⁺, and x(0) = R⁺y
    M = R @ A @ R.T
    if p == 2:
        y = jnp.linalg.eigh(0.5 * (M + M.T))[1][:, -1]
    else:
        Mp = M if p == INF else M.T
        i = jnp.argmax(jnp.diag(Mp) + jnp.sum(jnp.abs(Mp), 1) - jnp.abs(jnp.diag(Mp)))
        if p == INF:  # y_i = 1, y_j = sign(m_ij): all entries active
            y = jnp.where(jnp.arange(n - 1) == i, 1.0, jnp.sign(Mp[i]) + (Mp[i] == 0))
        else:  # ℓ1: y = e_i
            y = jnp.eye(n - 1)[i]
    xs = R.T @ y
    d = (sc.semi_norm(_expm_flow(A, xs, h), R, p) - sc.semi_norm(xs, R, p)) / (
        h * sc.semi_norm(xs, R, p)
    )
    np.testing.assert_allclose(d, mu, atol=1e-4)


def test_semi_lognorm_independent_of_orthonormal_representative(getkey):
    n = 5
    A = invariant_matrix(getkey(), n)
    R = sc.consensus_basis(n)
    Q = jnp.linalg.qr(rand(getkey(), (n - 1, n - 1)))[0]
    np.testing.assert_allclose(sc.semi_lognorm(A, Q @ R), sc.semi_lognorm(A, R), rtol=1e-10)
    # a non-orthonormal R with the same kernel (incidence of a path) is a different semi-norm
    # but R⁺ is then the pseudo-inverse: check on ℓ∞ that d/dt R x = (RAR⁺) R x holds
    B = jnp.eye(n - 1, n) - jnp.eye(n - 1, n, 1)  # rows e_i − e_{i+1}
    M = B @ A @ jnp.linalg.pinv(B)
    x = rand(getkey(), (n,))
    np.testing.assert_allclose(B @ A @ x, M @ (B @ x), rtol=1e-10, atol=1e-12)


@given(
    seed=st.integers(0, 2**30),
    b=st.floats(0.0, 5.0),
    beta=st.floats(-3.0, 3.0),
    p=st.sampled_from(PS),
)
def test_semi_lognorm_algebra(seed, b, beta, p):
    """Subadditivity, positive homogeneity and the shift μ_R(A + βI) = μ_R(A) + β."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    n = 4
    R = sc.consensus_basis(n)
    A, B = invariant_matrix(k1, n, 0.3), invariant_matrix(k2, n, -0.2)
    mu = lambda M: float(sc.semi_lognorm(M, R, p))
    assert mu(A + B) <= mu(A) + mu(B) + 1e-10
    np.testing.assert_allclose(mu(b * A), b * mu(A), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mu(A + beta * jnp.eye(n)), mu(A) + beta, rtol=1e-10, atol=1e-10)


def test_semi_lognorm_jit_vmap_grad(getkey):
    n = 4
    R = sc.consensus_basis(n)
    As = jax.vmap(lambda k: invariant_matrix(k, n))(jax.random.split(getkey(), 6))
    ref = np.array([sc.semi_lognorm(A, R) for A in As])
    np.testing.assert_allclose(jax.jit(sc.semi_lognorm)(As, R), ref, rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(sc.semi_lognorm, (0, None))(As, R), ref, rtol=1e-12)
    # grad along a direction that keeps ker R invariant (E𝟙 = 0), against central differences
    A, E = As[0], invariant_matrix(getkey(), n)
    g = jax.grad(lambda t: sc.semi_lognorm(A + t * E, R))(0.0)
    h = 1e-6
    fd = (sc.semi_lognorm(A + h * E, R) - sc.semi_lognorm(A - h * E, R)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_semi_lognorm_refuses_bad_input(getkey, no_typecheck):
    n = 4
    R = sc.consensus_basis(n)
    A = rand(getkey(), (n, n))  # generic: ker R = span(𝟙) not invariant
    with pytest.raises(eqx.EquinoxRuntimeError, match="invariant"):
        sc.semi_lognorm(A, R)
    with pytest.raises(eqx.EquinoxRuntimeError, match="full row rank"):
        sc.semi_lognorm(invariant_matrix(getkey(), n), jnp.ones((2, n)))
    with pytest.raises(ValueError, match="R must"):
        sc.semi_lognorm(invariant_matrix(getkey(), n), jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="R must"):
        sc.semi_norm(jnp.ones(3), jnp.ones((4, 3)))
    with pytest.raises(eqx.EquinoxRuntimeError, match="finite|NaN"):
        sc.semi_lognorm(jnp.full((n, n), jnp.nan), R)


@pytest.mark.parametrize("p", PS)
def test_weak_pairing(p, getkey):
    """⟦v, v⟧ = ‖v‖², and sup_v ⟦Av, v⟧/‖v‖² = μ(A) (never above, reached at a vertex)."""
    n = 4
    eta = jnp.exp(rand(getkey(), (n,), 0.3))
    P = jnp.eye(n) + 0.2 * jnp.ones((n, n))
    w = P if p == 2 else eta
    v = rand(getkey(), (500, n))
    np.testing.assert_allclose(
        sc.weak_pairing(v, v, p, w), norms.vector_norm(v, p, w) ** 2, rtol=1e-12
    )
    A = rand(getkey(), (n, n))
    vals = sc.weak_pairing(v @ A.T, v, p, w) / norms.vector_norm(v, p, w) ** 2
    mu = norms.lognorm(A, p, w)
    assert np.max(vals) <= mu + 1e-12
    # attained (unweighted) at the constructed maximiser: top eigenvector (ℓ2), the sign
    # vector of the worst row (ℓ∞), the basis vector of the worst column (ℓ1)
    mu0 = norms.lognorm(A, p)
    if p == 2:
        y = jnp.linalg.eigh(0.5 * (A + A.T))[1][:, -1]
    else:
        Ap = A if p == INF else A.T
        i = jnp.argmax(jnp.diag(Ap) + jnp.sum(jnp.abs(Ap), 1) - jnp.abs(jnp.diag(Ap)))
        e = jnp.arange(n) == i
        # ℓ1: the supremum is approached, not attained: y = e_i + ε sign(a_ji) off i
        y = jnp.where(e, 1.0, jnp.sign(Ap[i]) * (1e-9 if p == 1 else 1.0))
    at = sc.weak_pairing(A @ y, y, p) / norms.vector_norm(y, p) ** 2
    np.testing.assert_allclose(at, mu0, rtol=1e-7)
    # the pairing is D⁺ of ½‖v‖² along v̇ = u: compare with a one-sided difference
    u = rand(getkey(), (500, n))
    h = 1e-7
    dq = (norms.vector_norm(v + h * u, p, w) ** 2 - norms.vector_norm(v, p, w) ** 2) / (2 * h)
    np.testing.assert_allclose(sc.weak_pairing(u, v, p, w), dq, rtol=1e-4, atol=1e-5)
    assert jnp.isfinite(jax.grad(lambda a: sc.weak_pairing(a * u[0], v[0], p, w))(1.0))
    np.testing.assert_allclose(
        jax.jit(jax.vmap(sc.weak_pairing, (0, 0, None, None)), static_argnums=2)(u, v, p, w),
        sc.weak_pairing(u, v, p, w),
        rtol=1e-12,
    )


def test_scalar_oslip_equivalences(getkey):
    """Seed 001 'Scalar maps': sup F' = sup (F(x) − F(y))/(x − y) = b, and Grönwall e^{bt}."""
    F = lambda x, _: -2.0 * x + jnp.sin(3.0 * x)  # F' = −2 + 3cos(3x) ∈ [−5, 1], b = 1
    xs = rand(getkey(), (4000, 1), 3.0)
    ys = xs + rand(getkey(), (4000, 1), 0.02)
    b_pairs = sc.oslip_from_pairs(F, xs, ys)
    b_jac = sc.sampled_oslip(F, xs)
    assert b_pairs <= 1.0 + 1e-12 and b_jac <= 1.0 + 1e-12
    assert b_pairs > 0.99 and b_jac > 0.99
    np.testing.assert_allclose(b_jac, -contraction.sampled_rate(F, xs), rtol=1e-14)


def test_oslip_from_pairs_below_sampled_jacobians(getkey, no_typecheck):
    n = 4
    A = rand(getkey(), (n, n), 0.5)
    f = lambda x, A: -x + jnp.tanh(A @ x)
    xs, ys = rand(getkey(), (300, n), 2.0), rand(getkey(), (300, n), 2.0)
    for p in PS:
        exact = -contraction.firing_rate_rate(A, p=p) if p != 2 else None
        pairs = sc.oslip_from_pairs(f, xs, ys, A, p)
        if exact is not None:
            assert pairs <= exact + 1e-12
    with pytest.raises(eqx.EquinoxRuntimeError, match="x_k ≠ y_k"):
        sc.oslip_from_pairs(f, xs, xs, A)
    with pytest.raises(ValueError, match="xs and ys"):
        sc.oslip_from_pairs(f, xs, ys[:3], A)
    with pytest.raises(ValueError, match="callable"):
        sc.oslip_from_pairs(3.0, xs, ys)


def kuramoto(theta, args):
    W, omega = args
    diff = theta[:, None] - theta[None, :]
    return omega - jnp.sum(W * jnp.sin(diff), axis=1)


def test_kuramoto_semicontracts_at_lambda2_cos_gamma(getkey):
    """In an arc of width γ < π/2 the Jacobian is −L(cos), L(cos) ⪰ cos γ · L: the consensus
    semi-norm osLip is ≤ −λ₂(L) cos γ, with equality at synchrony."""
    n = 5
    L = laplacian(getkey(), n)
    W = -L * (1 - jnp.eye(n))
    omega = rand(getkey(), (n,), 0.1)
    R = sc.consensus_basis(n)
    gamma = 1.0
    th = jax.random.uniform(getkey(), (400, n), minval=0.0, maxval=gamma)
    lam2 = jnp.linalg.eigvalsh(L)[1]
    est = sc.sampled_oslip(kuramoto, th, (W, omega), R=R)
    assert est <= -lam2 * np.cos(gamma) + 1e-12
    sync = jnp.zeros((1, n))
    np.testing.assert_allclose(sc.sampled_oslip(kuramoto, sync, (W, omega), R=R), -lam2)
    # pairs agree: the consensus-semi-norm osLip from pairs in the arc is below the bound too
    th2 = jax.random.uniform(getkey(), (400, n), minval=0.0, maxval=gamma)
    assert sc.oslip_from_pairs(kuramoto, th, th2, (W, omega), R=R) <= -lam2 * np.cos(gamma) + 1e-9
    # ... and as a norm on ℝⁿ only weakly contracting (osLip₂ = 0 along the kernel 𝟙)
    val, ok = sc.weakly_contracting(kuramoto, th, (W, omega), p=2)
    assert ok and abs(val) < 1e-12


def test_weakly_contracting(getkey):
    n = 4
    # compartmental: Metzler with zero column sums (conservation 𝟙ᵀẋ = 0) → μ₁ = 0
    F = jnp.abs(rand(getkey(), (n, n))) * (1 - jnp.eye(n))
    M = F - jnp.diag(F.sum(0))
    val, ok = sc.weakly_contracting(M, p=1)
    assert ok and abs(val) < 1e-12
    val, ok = sc.weakly_contracting(M + 0.1 * jnp.eye(n), p=1)
    assert not ok and abs(val - 0.1) < 1e-12
    vals, oks = jax.jit(sc.weakly_contracting, static_argnums=(2, 3))(
        jnp.stack([M, M + 0.1 * jnp.eye(n)]), None, None, 1
    )
    assert list(np.asarray(oks)) == [True, False]
    with pytest.raises(ValueError, match="xs"):
        sc.weakly_contracting(lambda x, a: -x)
    with pytest.raises(ValueError, match="atol"):
        sc.weakly_contracting(M, atol=-1.0)
