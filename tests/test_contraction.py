"""Contraction rates, step sizes and interconnections against brute force and simulation."""

import itertools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from contractax import contraction, norms

INF = math.inf


def rand(key, shape, scale=1.0):
    return scale * jax.random.normal(key, shape, dtype=jnp.float64)


@pytest.mark.parametrize("p", [1, 2, INF])
def test_firing_rate_rate_upper_bounds_sampled_rate(p, getkey):
    """The exact rate is the worst case over slopes, so any sampled Jacobian is no worse."""
    n = 4
    A = rand(getkey(), (n, n), 0.3)
    u = rand(getkey(), (n,))
    f = lambda x, args: -x + jnp.tanh(args[0] @ x + args[1])
    xs = rand(getkey(), (64, n), 3.0)
    exact = contraction.firing_rate_rate(A, p=p)
    est = contraction.sampled_rate(f, xs, (A, u), p=p)
    assert exact <= est + 1e-12
    # and tight: at slopes near the worst vertex (x large → tanh' ≈ 0, x ≈ 0 → tanh' ≈ 1)
    assert est - exact < 0.5


def test_firing_rate_rate_closed_form():
    A = jnp.array([[0.0, 0.5], [-0.25, 0.0]])
    # μ∞(−I + dg(d)A) over d ∈ [0,1]²: −1 + max(0, 0.5) = −0.5
    np.testing.assert_allclose(contraction.firing_rate_rate(A), 0.5)
    np.testing.assert_allclose(contraction.hopfield_rate(A, p=1), 0.5)
    # Table 1 of seed 000: ‖w‖_p < 1/L_σ' implies contraction (logistic: L_σ' = 1/4)
    w = 3.9 * A / norms.induced_norm(A, INF)
    assert contraction.firing_rate_rate(w, dmax=0.25) > 0


def test_trajectories_contract_at_the_rate(getkey):
    """Simulate two solutions of ẋ = −x + tanh(Ax + u): ‖x(t) − y(t)‖∞ ≤ e^{−ct}‖x0 − y0‖∞."""
    n = 5
    A = rand(getkey(), (n, n), 0.15)
    u = rand(getkey(), (n,))
    c = contraction.firing_rate_rate(A)
    assert c > 0
    f = lambda x: -x + jnp.tanh(A @ x + u)
    h, T = 1e-3, 3000
    step = lambda z, _: (z + h * jax.vmap(f)(z), jnp.max(jnp.abs(z[0] - z[1])))
    z0 = rand(getkey(), (2, n), 2.0)
    _, dist = jax.lax.scan(step, z0, None, length=T)
    t = h * jnp.arange(T)
    assert jnp.all(dist <= dist[0] * jnp.exp(-c * t) * (1 + 1e-6) + 1e-12)


@pytest.mark.parametrize("model", ["firing_rate", "hopfield"])
@pytest.mark.parametrize("p", [1, INF])
def test_optimal_rate_is_optimal(model, p, getkey):
    n = 5
    A = rand(getkey(), (n, n), 0.4)
    C = 1.0 + jnp.abs(rand(getkey(), (n,)))
    eta, rate = contraction.optimal_rate(A, C=C, dmin=0.1, dmax=1.0, p=p, model=model)
    fn = contraction.firing_rate_rate if model == "firing_rate" else contraction.hopfield_rate
    np.testing.assert_allclose(fn(A, C=C, dmin=0.1, dmax=1.0, p=p, weight=eta), rate, rtol=1e-10)
    assert rate >= fn(A, C=C, dmin=0.1, dmax=1.0, p=p) - 1e-10  # beats the unweighted norm
    for _ in range(20):  # and random weights
        w = jnp.exp(rand(getkey(), (n,)))
        assert rate >= fn(A, C=C, dmin=0.1, dmax=1.0, p=p, weight=w) - 1e-9


@pytest.mark.parametrize("model", ["firing_rate", "hopfield"])
@pytest.mark.parametrize("p", [1, INF])
def test_optimal_rate_equals_the_worst_member_of_the_row_product_family(model, p, getkey):
    """With d_min > 0 and strongly negative self-loops the worst slope of a row depends on the
    weight: the optimum is −max_s α(−C + dg(s)⌈A⌉_M) over all 2ⁿ choices sᵢ ∈ {d_min, d_max}
    (rows for firing-rate ℓ∞, columns for Hopfield ℓ1; brute force). The other two cases have
    one worst-case matrix and are covered above."""
    n, dmin, dmax = 6, 0.3, 1.0
    fn = contraction.firing_rate_rate if model == "firing_rate" else contraction.hopfield_rate
    simple = (model == "firing_rate") == (p == INF)
    for _ in range(8):
        A = jax.random.normal(getkey(), (n, n))
        A = A - jnp.diag(jnp.diagonal(A) + 2.0 + 2.0 * jnp.abs(jnp.diagonal(A)))  # aᵢᵢ ≤ −2
        C = jnp.exp(0.5 * jax.random.normal(getkey(), (n,)))
        eta, rate = contraction.optimal_rate(A, C=C, dmin=dmin, dmax=dmax, p=p, model=model)
        np.testing.assert_allclose(
            fn(A, C=C, dmin=dmin, dmax=dmax, p=p, weight=eta), rate, rtol=1e-9
        )
        if not simple:
            continue
        M = jnp.abs(A) * (1 - jnp.eye(n)) + jnp.diag(jnp.diagonal(A))
        choices = jnp.asarray(list(itertools.product([dmin, dmax], repeat=n)))
        member = lambda s: (
            (s[:, None] * M if model == "firing_rate" else M * s[None, :]) - jnp.diag(C)
        )
        worst = jnp.max(jax.vmap(lambda s: jnp.max(jnp.linalg.eigvals(member(s)).real))(choices))
        np.testing.assert_allclose(rate, -worst, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("model", ["firing_rate", "hopfield"])
@pytest.mark.parametrize("p", [1, INF])
def test_optimal_rate_with_dmin_zero_matches_the_closed_form(model, p):
    """d_min = 0 zeroes the rows (columns) the weight sends to d_min, so the last policy's member
    is reducible and its Perron vector degenerate; the optimum is still seed 001's
    max{α(−C), α(−C + d_max⌈A⌉_M)} and must be attained. The instance is the full-mode lognorms
    draw on which the last policy's weight was 57 off the optimum."""
    rng = np.random.default_rng([2001, 0])
    count, n = 40, 6
    for _ in range(2):
        As = rng.standard_normal((count, n, n))
        neg = np.arange(count) % 2 == 1
        d = np.diagonal(As, 0, 1, 2)
        As[:, np.arange(n), np.arange(n)] = np.where(neg[:, None], -2 - 2 * np.abs(d), d)
        Cs = np.exp(0.5 * rng.standard_normal((count, n)))
    simple = (model == "firing_rate") == (p == INF)
    fn = contraction.firing_rate_rate if model == "firing_rate" else contraction.hopfield_rate
    As, Cs = jnp.asarray(As[::3]), jnp.asarray(Cs[::3])
    kw = dict(dmin=0.0, dmax=1.0, p=p)
    opt = jax.jit(jax.vmap(lambda A, C: contraction.optimal_rate(A, C=C, model=model, **kw)))
    eta, rate = opt(As, Cs)
    at_eta = jax.jit(jax.vmap(lambda A, C, w: fn(A, C=C, weight=w, **kw)))(As, Cs, eta)
    np.testing.assert_allclose(at_eta, rate, rtol=1e-9)
    if simple:
        M = norms.metzler_majorant(As if p == INF else jnp.swapaxes(As, 1, 2))
        closed = jnp.maximum(jnp.max(-Cs, 1), norms.spectral_abscissa(M - jax.vmap(jnp.diag)(Cs)))
        np.testing.assert_allclose(rate, -closed, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("p", [2, INF])
def test_averaged_step_factor_bounds_iteration(p, getkey):
    n = 4
    J = rand(getkey(), (n, n), 0.5) - 2.0 * jnp.eye(n)
    c = -norms.lognorm(J, p)
    l = norms.induced_norm(J, p)
    alpha, factor = contraction.averaged_step(c, l, p)
    assert 0 < factor < 1
    # the factor bounds the true Lipschitz constant of x ↦ x + αJx
    assert norms.induced_norm(jnp.eye(n) + alpha * J, p) <= factor + 1e-12
    # the step minimises the bound function (grid search)
    grid = jnp.linspace(1e-4, 0.999 / l if p != 2 else 2 * c / l**2, 4000)
    vals = contraction.averaged_step_factor(grid, c, l, p)
    assert factor <= jnp.min(vals) + 1e-9


def test_averaged_step_expansions():
    c, kappa = 1.0, 40.0
    a_e, f_e = contraction.averaged_step(c, kappa * c, 2)
    np.testing.assert_allclose(a_e, 1 / (c * kappa**2))
    np.testing.assert_allclose(f_e, 1 - 1 / (2 * kappa**2), atol=1 / kappa**4)
    a_n, f_n = contraction.averaged_step(c, kappa * c, INF)
    np.testing.assert_allclose(
        a_n, (1 / (2 * kappa**2) - 3 / (8 * kappa**3)) / c, atol=2 / kappa**4
    )
    np.testing.assert_allclose(f_n, 1 - 1 / (4 * kappa**2) + 1 / (8 * kappa**3), atol=1 / kappa**4)
    # contracting range: α < 1/(cκ(1+κ))
    edge = 1 / (c * kappa * (1 + kappa))
    np.testing.assert_allclose(contraction.averaged_step_factor(edge, c, kappa * c, INF), 1.0)


def test_interconnection_rate(getkey):
    """Two contracting subsystems coupled weakly: the gain-matrix test certifies the network."""
    n1, n2 = 3, 2
    A1 = rand(getkey(), (n1, n1), 0.1) - 2 * jnp.eye(n1)
    A2 = rand(getkey(), (n2, n2), 0.1) - 1.5 * jnp.eye(n2)
    B12 = rand(getkey(), (n1, n2), 0.3)
    B21 = rand(getkey(), (n2, n1), 0.3)
    c = jnp.array([-norms.lognorm(A1, INF), -norms.lognorm(A2, INF)])
    G = jnp.array(
        [
            [0.0, norms.induced_norm(jnp.pad(B12, ((0, 0), (0, 1))), INF)],
            [norms.induced_norm(jnp.pad(B21, ((0, 1), (0, 0)))[:, :n1], INF), 0.0],
        ]
    )
    G = G.at[0, 1].set(jnp.max(jnp.sum(jnp.abs(B12), axis=1)))
    G = G.at[1, 0].set(jnp.max(jnp.sum(jnp.abs(B21), axis=1)))
    r = contraction.interconnection_rate(c, G)
    assert r > 0
    J = jnp.block([[A1, B12], [B21, A2]])
    # the certificate is a valid rate in the optimally weighted block norm ⇒ α(J) ≤ −r
    assert norms.spectral_abscissa(J) <= -r + 1e-12
    # block-weighted ℓ∞ norm from the Perron vector of Γ achieves it
    Gamma = G - jnp.diag(c)
    eta, val = norms.optimal_weight(Gamma, INF)
    w = jnp.concatenate([jnp.full(n1, eta[0]), jnp.full(n2, eta[1])])
    assert norms.lognorm(J, INF, w) <= val + 1e-9
    with pytest.raises(eqx.EquinoxRuntimeError):
        contraction.interconnection_rate(c, -G)


def test_shift_bounds(getkey):
    """Lim's lemma on x = G(x, u) = 0.5 tanh(Wx) + Bu, checked on random input pairs."""
    n = 4
    W = rand(getkey(), (n, n))
    W = W / norms.induced_norm(W, INF)
    B = rand(getkey(), (n, 2))
    G = lambda x, u: 0.5 * jnp.tanh(W @ x) + B @ u

    def fix(u):
        return jax.lax.fori_loop(0, 200, lambda _, x: G(x, u), jnp.zeros(n))

    lip_x, lip_u = 0.5, norms.induced_norm(jnp.pad(B, ((0, 0), (0, 2))), INF)
    lip_u = jnp.max(jnp.sum(jnp.abs(B), axis=1))
    for _ in range(10):
        u, v = rand(getkey(), (2,)), rand(getkey(), (2,))
        d = jnp.max(jnp.abs(fix(u) - fix(v)))
        assert (
            d <= contraction.equilibrium_shift_bound(lip_u, lip_x, jnp.max(jnp.abs(u - v))) + 1e-12
        )
        assert d <= contraction.one_sided_shift_bound(lip_x, lip_u, jnp.max(jnp.abs(u - v))) + 1e-12
    with pytest.raises(eqx.EquinoxRuntimeError):
        contraction.equilibrium_shift_bound(1.0, 1.5, 1.0)


def test_rates_jit_vmap(getkey):
    As = rand(getkey(), (6, 3, 3), 0.3)
    r = jax.jit(jax.vmap(lambda a: contraction.firing_rate_rate(a)))(As)
    np.testing.assert_allclose(r, jnp.stack([contraction.firing_rate_rate(a) for a in As]))
    e, r2 = jax.jit(jax.vmap(lambda a: contraction.optimal_rate(a)))(As)
    assert e.shape == (6, 3) and jnp.all(r2 >= r - 1e-10)
    g = jax.grad(lambda a: contraction.firing_rate_rate(a, p=INF))(As[0])
    assert jnp.all(jnp.isfinite(g))
    alpha, factor = jax.vmap(contraction.averaged_step, in_axes=(0, None, None))(
        jnp.array([0.5, 1.0]), 2.0, INF
    )
    assert alpha.shape == (2,)


def test_bad_input(no_typecheck):
    with pytest.raises(ValueError, match="p must be"):
        contraction.firing_rate_rate(jnp.eye(2), p=3)
    with pytest.raises(ValueError, match="model"):
        contraction.optimal_rate(jnp.eye(2), model="lstm")
    with pytest.raises(eqx.EquinoxRuntimeError, match="rate must be > 0"):
        contraction.averaged_step(-1.0, 2.0)
    with pytest.raises(ValueError, match="sample points"):
        contraction.sampled_rate(lambda x, a: -x, jnp.ones(3))


def test_feedforward_networks_contract_whatever_the_weights():
    """Flynn 2015 §7 / hierarchical contraction: for a strictly lower-triangular W the Jacobian
    −I + DW is triangular with diagonal −1, so inf_η μ∞,η = −1 (not attained: the majorant is
    reducible) and the optimal rate → 1 at every weight scale. One fixed perturbation of the
    reducible Perron problem gave −4.7 at scale 100."""
    n = 6
    W = jnp.tril(jax.random.normal(jax.random.PRNGKey(0), (n, n)), -1)
    for s in (1.0, 10.0, 100.0):
        eta, rate = contraction.optimal_rate(s * W)
        assert 0.99 < float(rate) <= 1.0
        np.testing.assert_allclose(
            contraction.firing_rate_rate(s * W, weight=eta), rate, rtol=1e-12
        )


def _vertex_max(J, n, dmin, dmax, p, w=None):
    """Brute force: max of μ(J(d)) over all 2ⁿ vertices of the slope box."""
    ds = jnp.asarray(list(itertools.product([dmin, dmax], repeat=n)))
    return jnp.max(jax.vmap(lambda d: norms.lognorm(J(d), p, w))(ds))


@pytest.mark.parametrize("p", [1, 2, INF])
def test_persidskii_and_lure_rates_against_all_vertices(p, getkey):
    n, dmin, dmax = 4, 0.2, 1.3
    A = rand(getkey(), (n, n))
    eta = jnp.exp(rand(getkey(), (n,), 0.3))
    P = jnp.eye(n) + 0.4 * jnp.ones((n, n))
    for w in (None, P if p == 2 else eta):
        pers = contraction.persidskii_rate(A, dmin=dmin, dmax=dmax, p=p, weight=w)
        ref = _vertex_max(lambda d: A * d[None, :], n, dmin, dmax, p, w)
        np.testing.assert_allclose(pers, -ref, rtol=1e-12, atol=1e-12)
        lure = contraction.lure_rate(A, dmin=dmin, dmax=dmax, p=p, weight=w)
        ref = _vertex_max(lambda d: A - jnp.diag(d), n, dmin, dmax, p, w)
        np.testing.assert_allclose(lure, -ref, rtol=1e-12, atol=1e-12)
    # the closed form of the Lur'e rate: d_min − μ(A), independent of d_max
    np.testing.assert_allclose(
        contraction.lure_rate(A, dmin=dmin, dmax=50.0, p=p), dmin - norms.lognorm(A, p)
    )


def test_persidskii_l1_closed_form_and_dmin_zero(getkey):
    """ℓ1: osLip(AΦ) = max{d_min μ₁(A), d_max μ₁(A)}; with d_min = 0 never below 0."""
    n = 5
    A = rand(getkey(), (n, n)) - 8.0 * jnp.eye(n)
    mu = norms.lognorm(A, 1)
    assert mu < 0
    np.testing.assert_allclose(contraction.persidskii_rate(A, dmin=0.3), -0.3 * mu)
    np.testing.assert_allclose(contraction.persidskii_rate(A, dmin=0.0), 0.0, atol=1e-15)
    B = rand(getkey(), (n, n))
    for p in (1, 2, INF):
        assert contraction.persidskii_rate(B, dmin=0.0, p=p) <= 1e-15


def test_persidskii_and_lure_bound_sampled_jacobians_and_trajectories(getkey):
    """Rates are worst cases: sampled Jacobians of real fields are no worse, and the ℓ1 / ℓ∞
    distance between two RK4 solutions decays at least at the rate."""
    n = 4
    A = rand(getkey(), (n, n)) - 3.0 * jnp.eye(n)
    act = lambda x: x + 0.5 * jnp.tanh(x)  # slopes in [1, 1.5]
    pers = lambda x, A: A @ act(x)
    lure = lambda x, A: A @ x - act(x)
    xs = rand(getkey(), (200, n), 2.0)
    for f, rate, p in (
        (pers, contraction.persidskii_rate(A, dmin=1.0, dmax=1.5, p=1), 1),
        (lure, contraction.lure_rate(A, dmin=1.0, dmax=1.5, p=INF), INF),
    ):
        assert rate <= contraction.sampled_rate(f, xs, A, p=p) + 1e-12
        x, y, dt = xs[0], xs[1], 0.01
        d0 = norms.vector_norm(x - y, p)

        def rk4(z):
            a = f(z, A)
            b = f(z + dt / 2 * a, A)
            c = f(z + dt / 2 * b, A)
            return z + dt / 6 * (a + 2 * b + 2 * c + f(z + dt * c, A))

        for k in range(1, 101):
            x, y = rk4(x), rk4(y)
            if k % 25 == 0:
                assert norms.vector_norm(x - y, p) <= np.exp(-rate * k * dt) * d0 * (1 + 1e-6)


def test_persidskii_lure_jit_vmap_grad_and_bad_input(getkey, no_typecheck):
    As = rand(getkey(), (3, 4, 4))
    for fn in (contraction.persidskii_rate, contraction.lure_rate):
        ref = jnp.stack([fn(A, dmin=0.1) for A in As])
        np.testing.assert_allclose(jax.jit(lambda A: fn(A, dmin=0.1))(As), ref, rtol=1e-12)
        np.testing.assert_allclose(jax.vmap(lambda A: fn(A, dmin=0.1))(As), ref, rtol=1e-12)
        g = jax.grad(lambda A: fn(A, dmin=0.1, p=2))(As[0])
        E = rand(getkey(), (4, 4))
        h = 1e-6
        fd = (fn(As[0] + h * E, dmin=0.1, p=2) - fn(As[0] - h * E, dmin=0.1, p=2)) / (2 * h)
        np.testing.assert_allclose(jnp.sum(g * E), fd, rtol=1e-6)
        with pytest.raises(ValueError, match="dmin"):
            fn(As[0], dmin=1.0, dmax=0.5)
        with pytest.raises(ValueError, match="square"):
            fn(jnp.ones((2, 3)))


def test_optimal_rate_compiles_once_per_configuration(monkeypatch):
    """Eager calls reuse one compiled program: the policy iteration is traced at most once for
    two calls with new values of the same shape (it was retraced every call, 0.8 s each)."""
    traces = []
    inner = contraction._row_product_weight
    monkeypatch.setattr(
        contraction, "_row_product_weight", lambda *a: (traces.append(1), inner(*a))[1]
    )
    A = jax.random.normal(jax.random.PRNGKey(7), (5, 5)) - 2.0 * jnp.eye(5)
    C = jnp.linspace(1.0, 2.0, 5)
    contraction.optimal_rate(A, C=C, dmin=0.2, dmax=0.9)
    first = len(traces)
    _, rate = contraction.optimal_rate(2.0 * A, C=C, dmin=0.2, dmax=0.9)
    assert first <= 1 and len(traces) == first
    assert bool(jnp.isfinite(rate))
