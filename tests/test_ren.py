"""Recurrent equilibrium networks, certified independently of their construction: the state
Jacobian's induced norm in the metric M (contractax.norms), trajectories approaching at the
certified rate, the incremental ℓ2 gain over random and adversarial (PGD) input pairs, the
implicit equilibrium against forward substitution, and implicit against unrolled gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import contractax as cx
from contractax.models import ContractingREN, LipschitzREN

SIZES = (2, 4, 12, 3)  # m, n, q, p


def _models(dtype, key):
    k = jax.random.split(key, 4)
    return [
        ContractingREN(*SIZES, key=k[0], dtype=dtype),
        ContractingREN(*SIZES, rate=0.8, activation=jnp.tanh, scale=2.0, key=k[1], dtype=dtype),
        LipschitzREN(*SIZES, gamma=0.5, key=k[2], dtype=dtype),
        LipschitzREN(*SIZES, gamma=3.0, rate=0.9, activation=jnp.tanh, key=k[3], dtype=dtype),
    ]


def _optax_steps(model, key, steps=5, lr=0.3):
    """A few large Adam steps on a random regression target: parameters far from the init."""
    m, n, _, p = model.sizes
    xs = jax.random.normal(key, (16, n), model.X.dtype)
    us = jax.random.normal(jax.random.fold_in(key, 1), (16, m), model.X.dtype)
    target = 3.0 * jax.random.normal(jax.random.fold_in(key, 2), (16, n + p), model.X.dtype)
    opt = optax.adam(lr)
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    for _ in range(steps):
        model, state = _adam_step(model, state, xs, us, target, opt)
    return model


@eqx.filter_jit
def _adam_step(model, state, xs, us, target, opt):
    def loss(mdl):
        xn, y = jax.vmap(mdl)(xs, us)
        return jnp.mean((jnp.concatenate([xn, y], -1) - target) ** 2)

    g = eqx.filter_grad(loss)(model)
    upd, state = opt.update(g, state, eqx.filter(model, eqx.is_inexact_array))
    return eqx.apply_updates(model, upd), state


def _jacobian_norms(model, key, npts=32):
    m, n, _, _ = model.sizes
    dt = model.X.dtype
    xs = 3.0 * jax.random.normal(key, (npts, n), dt)
    us = 3.0 * jax.random.normal(jax.random.fold_in(key, 1), (npts, m), dt)
    norms_, rho = _metric_norms(model, xs, us)
    return np.asarray(norms_), float(rho)


@eqx.filter_jit
def _metric_norms(model, xs, us):
    J = jax.vmap(jax.jacfwd(lambda x, u: model(x, u)[0]))(xs, us)
    M, rho = model.contraction_metric()
    return cx.norms.induced_norm(J, 2, M), rho


@pytest.mark.parametrize("dtype", [jnp.float64, pytest.param(jnp.float32, marks=pytest.mark.slow)])
def test_state_jacobian_contracts_in_the_metric(dtype, getkey):
    """‖∂x⁺/∂x‖_{2,M} ≤ ρ < 1 at sampled points, at init and after optax steps."""
    slack = 1e-9 if dtype == jnp.float64 else 2e-5
    for model in _models(dtype, getkey()):
        for mdl in (model, _optax_steps(model, getkey())):
            norms_, rho = _jacobian_norms(mdl, getkey())
            assert rho < 1.0 and rho <= mdl.rate + slack
            assert norms_.max() <= rho + slack, (norms_.max(), rho)
            M, _ = mdl.contraction_metric()
            assert np.linalg.eigvalsh(np.asarray(M, np.float64)).min() > 0


def test_trajectories_approach_at_the_certified_rate(getkey):
    """‖x_t − x'_t‖_M ≤ ρᵗ ‖x_0 − x'_0‖_M for the same input sequence (float32 and float64)."""
    for dtype in (jnp.float64, jnp.float32):
        for model in _models(dtype, getkey())[1::2]:
            m, n, _, _ = model.sizes
            us = jax.random.normal(getkey(), (25, m), dtype)
            x0, x0b = (5.0 * jax.random.normal(getkey(), (n,), dtype) for _ in range(2))
            xa, _ = model.simulate(x0, us)
            xb, _ = model.simulate(x0b, us)
            M, rho = model.contraction_metric()
            d = np.sqrt(np.einsum("ti,ij,tj->t", xa - xb, M, xa - xb))
            bound = d[0] * float(rho) ** np.arange(26)
            assert np.all(d <= bound * (1 + 1e-4) + 1e-6), (d, bound)
            assert d[-1] < d[0]


def test_equilibrium_fixed_point_equals_forward_substitution(getkey):
    """D₁₁ strictly lower triangular: the fixed_point solve equals explicit substitution,
    under jit and vmap; Picard is exact within hidden_size steps."""
    for model in _models(jnp.float64, getkey()):
        m, n, q, _ = model.sizes
        xs = jax.random.normal(getkey(), (8, n))
        us = jax.random.normal(getkey(), (8, m))
        sol = jax.jit(jax.vmap(model.solve))(xs, us)
        ref = jax.vmap(model.explicit_equilibrium)(xs, us)
        assert bool(jnp.all(sol.result == cx.RESULTS.successful))
        assert np.all(np.asarray(sol.stats["num_steps"]) <= q + 1)
        np.testing.assert_allclose(sol.value, ref, rtol=1e-10, atol=1e-12)
        # the layer really is an equilibrium of the implicit form Λv = C1x + D11w + D12u + bv
        imp = model.implicit()
        v = (imp["C1"] @ xs[0] + imp["D11"] @ ref[0] + model.D12 @ us[0] + model.bv) / imp["Lam"]
        np.testing.assert_allclose(model.activation(v), ref[0], rtol=1e-10, atol=1e-12)


def test_implicit_gradients_match_unrolled_substitution(getkey):
    """Reverse- and forward-mode derivatives through cx.fixed_point (implicit function theorem)
    equal autodiff through forward substitution."""
    model = _models(jnp.float64, getkey())[1]
    m, n, _, _ = model.sizes
    x, u = jax.random.normal(getkey(), (n,)), jax.random.normal(getkey(), (m,))
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def via_solve(p, x):
        return jnp.sum(jnp.sin(eqx.combine(p, static).solve(x, u).value))

    def via_subst(p, x):
        return jnp.sum(jnp.sin(eqx.combine(p, static).explicit_equilibrium(x, u)))

    ga, gb = jax.grad(via_solve)(params, x), jax.grad(via_subst)(params, x)
    for a, b in zip(jax.tree.leaves(ga), jax.tree.leaves(gb)):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    t = jax.random.normal(getkey(), (n,))
    ja = jax.jvp(lambda x: via_solve(params, x), (x,), (t,))[1]
    jb = jax.jvp(lambda x: via_subst(params, x), (x,), (t,))[1]
    np.testing.assert_allclose(ja, jb, rtol=1e-8, atol=1e-10)


def _seq_ratio(model, x0, ua, ub):
    ya = model.simulate(x0, ua)[1]
    yb = model.simulate(x0, ub)[1]
    return jnp.linalg.norm(ya - yb) / jnp.linalg.norm(ua - ub)


@pytest.mark.parametrize("dtype", [jnp.float64, pytest.param(jnp.float32, marks=pytest.mark.slow)])
def test_lipschitz_ren_gain_over_random_and_pgd_pairs(dtype, getkey):
    """‖y − y'‖_{ℓ2} / ‖u − u'‖_{ℓ2} ≤ γ over random pairs and after PGD ascent on the ratio,
    at init and after optax steps (equal initial states)."""
    T = 12
    for model in _models(dtype, getkey())[2:]:
        for mdl in (model, _optax_steps(model, getkey())):
            m, n, _, _ = mdl.sizes
            x0 = jax.random.normal(getkey(), (n,), dtype)
            ua = 2.0 * jax.random.normal(getkey(), (64, T, m), dtype)
            ub = (
                ua
                + jax.random.normal(getkey(), (64, T, m), dtype)
                * jnp.logspace(-2, 0, 64, dtype=dtype)[:, None, None]
            )
            ratio = jax.jit(jax.vmap(lambda a, b: _seq_ratio(mdl, x0, a, b)))
            r = np.asarray(ratio(ua, ub))
            grad = jax.jit(jax.vmap(jax.grad(lambda a, b: _seq_ratio(mdl, x0, a, b), (0, 1))))
            a, b = ua[:16], ub[:16]
            for _ in range(15):  # PGD: normalised ascent steps on the ratio
                ga, gb = grad(a, b)
                a = a + 0.1 * ga / (jnp.linalg.norm(ga, axis=(1, 2), keepdims=True) + 1e-12)
                b = b + 0.1 * gb / (jnp.linalg.norm(gb, axis=(1, 2), keepdims=True) + 1e-12)
            r_adv = np.asarray(ratio(a, b))
            assert r_adv.max() >= r[:16].max() - 1e-6  # the attack does not lose ground
            assert max(r.max(), r_adv.max()) <= mdl.gamma * (1 + 1e-5), (r.max(), r_adv.max())


def test_failed_solve_raises_or_gives_nan(getkey):
    m, n, q, p = SIZES
    k = getkey()
    strict = ContractingREN(*SIZES, max_steps=1, tol=1e-14, scale=3.0, key=k)
    lax_ = ContractingREN(*SIZES, max_steps=1, tol=1e-14, scale=3.0, throw=False, key=k)
    xs, us = jax.random.normal(getkey(), (4, n)), jax.random.normal(getkey(), (4, m))
    assert not bool(jnp.all(jax.vmap(strict.solve)(xs, us).result == cx.RESULTS.successful))
    with pytest.raises(Exception, match="max_steps"):
        jax.block_until_ready(jax.vmap(strict)(xs, us))
    xn, y = jax.vmap(lax_)(xs, us)
    failed = np.asarray(jax.vmap(lax_.solve)(xs, us).result != cx.RESULTS.successful)
    assert np.all(np.isnan(np.asarray(xn))[failed]) and np.all(np.isnan(np.asarray(y))[failed])
    assert np.all(np.isfinite(np.asarray(xn))[~failed])


def test_bad_arguments_name_the_argument(getkey):
    model = ContractingREN(*SIZES, key=getkey())
    with pytest.raises(ValueError, match="x \\(the REN state\\)"):
        model(jnp.zeros(5), jnp.zeros(2))
    with pytest.raises(ValueError, match="u \\(the REN input\\)"):
        model(jnp.zeros(4), jnp.zeros(3))
    with pytest.raises(ValueError, match="rate"):
        ContractingREN(*SIZES, rate=1.5, key=getkey())
    with pytest.raises(ValueError, match="gamma"):
        LipschitzREN(*SIZES, gamma=0.0, key=getkey())
    with pytest.raises(ValueError, match="hidden_size"):
        ContractingREN(2, 4, 0, 3, key=getkey())
    with pytest.raises(ValueError, match="slope"):
        ContractingREN(*SIZES, activation=lambda v: 2 * v, key=getkey())


def test_simulate_compiles_once_and_products_use_highest_precision(getkey, monkeypatch):
    model = LipschitzREN(*SIZES, gamma=1.0, key=getkey(), dtype=jnp.float32)
    calls = []
    orig = type(model).explicit
    monkeypatch.setattr(type(model), "explicit", lambda self: calls.append(1) or orig(self))
    us = jnp.ones((5, 2), jnp.float32)
    model.simulate(jnp.zeros(4, jnp.float32), us)
    model.simulate(jnp.ones(4, jnp.float32), 2 * us)
    assert len(calls) == 1  # traced once: the second eager call reuses the compiled program
    monkeypatch.undo()
    jaxpr = jax.make_jaxpr(lambda m: m.explicit())(model).jaxpr
    precisions = [str(p) for p in _dot_precisions(jaxpr)]
    assert precisions and all("HIGHEST" in p for p in precisions), precisions[:3]


def _dot_precisions(jaxpr):
    """The `precision` of every dot_general in a jaxpr, sub-jaxprs (pjit, custom_jvp) included."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            yield eqn.params["precision"]
        for v in eqn.params.values():
            sub = getattr(v, "jaxpr", v)
            if hasattr(sub, "eqns"):
                yield from _dot_precisions(sub)
