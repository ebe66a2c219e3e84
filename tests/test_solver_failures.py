"""Derivatives through unsuccessful solves are NaN (never finite and wrong); solver arguments
are validated once with a sentence naming them; eager calls compile once.

The reference for "wrong": the converged implicit derivative (I − ∂f/∂z)⁻¹ ∂f/∂θ of the
scalar tanh map, which the truncated solve (max_steps=2) does not reach (seed 004 §2.1.3).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from contractax.solvers import ForwardBackward, PeacemanRachford, monotone_solve

Z0 = jnp.zeros(3)
B = jnp.array([1.0, -0.5, 0.25])


def f(z, a):
    return 0.5 * jnp.tanh(a * z + B)


def _value(a, **kw):
    return cx.fixed_point(f, Z0, a, **kw).value.sum()


SOLVERS = [cx.Picard(), cx.Anderson(history=3), cx.Broyden()]
ADJOINTS = [cx.ImplicitAdjoint(), cx.UnrolledAdjoint(), cx.NeumannAdjoint(3)]


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: type(s).__name__)
def test_truncated_solve_gives_nan_derivatives_converged_one_is_right(solver):
    a = 0.3
    for adjoint in ADJOINTS:
        kw = dict(solver=solver, adjoint=adjoint)
        sol = cx.fixed_point(f, Z0, a, max_steps=2, **kw)
        assert sol.result != cx.RESULTS.successful
        assert np.isnan(jax.grad(_value)(a, max_steps=2, **kw))
        _, t = jax.jvp(lambda x: cx.fixed_point(f, Z0, x, max_steps=2, **kw).value, (a,), (1.0,))
        assert np.all(np.isnan(t))
    # converged: the implicit derivative agrees with central differences of the solution
    g = jax.grad(_value)(a, solver=solver)
    h = 1e-6
    fd = (_value(a + h, solver=solver) - _value(a - h, solver=solver)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_nan_only_for_the_failed_example_under_vmap_and_jit():
    # a = 0.01 converges in 5 Picard steps to tol? no: pick tol so that only a = 1.9 fails
    grad = jax.jit(jax.vmap(jax.grad(lambda a: _value(a, solver=cx.Picard(), max_steps=12))))
    res = jax.vmap(lambda a: cx.fixed_point(f, Z0, a, solver=cx.Picard(), max_steps=12).result)
    a = jnp.array([0.01, 0.2, 1.9])
    ok = np.asarray(res(a) == cx.RESULTS.successful)
    g = np.asarray(grad(a))
    assert ok.any() and not ok.all()
    assert np.all(np.isfinite(g[ok])) and np.all(np.isnan(g[~ok]))


def test_throw_raises_on_the_derivative_path():
    with pytest.raises(Exception, match="max_steps"):
        jax.block_until_ready(jax.grad(_value)(0.3, max_steps=2, throw=True))


def test_unrolled_through_a_diverged_solve_is_nan():
    g = lambda a: cx.fixed_point(
        lambda z, a: a * z + 1.0, Z0, a, solver=cx.Picard(), adjoint=cx.UnrolledAdjoint()
    ).value.sum()
    sol = cx.fixed_point(lambda z, a: 3.0 * z + 1.0, Z0, None, solver=cx.Picard())
    assert sol.result == cx.RESULTS.diverged
    assert np.isnan(jax.grad(g)(3.0))


def test_monotone_solve_truncated_gives_nan_derivatives():
    key = jax.random.PRNGKey(0)
    A, Bm = jax.random.normal(key, (2, 4, 4)) * 0.5
    W = 0.5 * jnp.eye(4) - A.T @ A + Bm - Bm.T
    u = jnp.array([1.0, -1.0, 0.5, 2.0])
    relu = lambda v, alpha: jax.nn.relu(v)
    for solver in (PeacemanRachford(), ForwardBackward(0.1)):
        loss = lambda u, k: monotone_solve(W, u, relu, solver=solver, max_steps=k).value.sum()
        assert np.all(np.isnan(jax.grad(loss)(u, 1)))
        assert np.all(np.isfinite(jax.grad(loss)(u, 2000)))
        t = jax.jvp(
            lambda x: monotone_solve(W, x, relu, solver=solver, max_steps=1).value,
            (u,),
            (jnp.ones(4),),
        )[1]
        assert np.all(np.isnan(t))


def test_arguments_are_validated_with_their_name(no_typecheck):
    bad = [
        (dict(tol=0.0), "`tol`"),
        (dict(tol=-1e-3), "`tol`"),
        (dict(tol=float("nan")), "`tol`"),
        (dict(max_steps=-1), "`max_steps`"),
        (dict(max_steps=2.5), "`max_steps`"),
        (dict(max_steps=True), "`max_steps`"),
        (dict(contraction=1.0), "`contraction`"),
        (dict(contraction=-0.1), "`contraction`"),
        (dict(norm=3), "`norm`"),
        (dict(norm="2"), "`norm`"),
        (dict(throw="yes"), "`throw`"),
    ]
    for kw, name in bad:
        with pytest.raises(ValueError, match=name):
            cx.fixed_point(f, Z0, 0.3, **kw)
    for make, name in [
        (lambda: cx.ImplicitAdjoint(max_steps=-1), "ImplicitAdjoint\\(max_steps\\)"),
        (lambda: cx.ImplicitAdjoint(tol=0.0), "ImplicitAdjoint\\(tol\\)"),
        (lambda: cx.ImplicitAdjoint(solver="picard"), "ImplicitAdjoint\\(solver\\)"),
        (lambda: cx.Relaxed(1.5), "Relaxed\\(alpha\\)"),
        (lambda: cx.Relaxed(0.0), "Relaxed\\(alpha\\)"),
        (lambda: cx.Anderson(history=0), "Anderson\\(history\\)"),
        (lambda: cx.Anderson(mixing=2.0), "Anderson\\(mixing\\)"),
        (lambda: cx.Anderson(ridge=-1.0), "Anderson\\(ridge\\)"),
        (lambda: cx.Broyden(memory=0), "Broyden\\(memory\\)"),
        (lambda: cx.NeumannAdjoint(terms=-2), "NeumannAdjoint\\(terms\\)"),
        (lambda: ForwardBackward(0.0), "ForwardBackward\\(alpha\\)"),
        (lambda: PeacemanRachford(-1.0), "PeacemanRachford\\(alpha\\)"),
    ]:
        with pytest.raises(ValueError, match=name):
            make()
    # valid values in NumPy / 0-d JAX form are accepted and normalised
    assert cx.Relaxed(jnp.array(0.5)).alpha == 0.5
    assert cx.Anderson(history=np.int64(3)).history == 3
    assert cx.ImplicitAdjoint(max_steps=np.int32(7)).max_steps == 7
    sol = cx.fixed_point(f, Z0, 0.3, max_steps=np.int64(200), solver=cx.Relaxed(np.float32(0.7)))
    assert sol.result == cx.RESULTS.successful


def test_traced_contraction_out_of_range_raises_at_run_time():
    run = jax.jit(lambda c: cx.fixed_point(f, Z0, 0.3, contraction=c).value)
    assert np.all(np.isfinite(run(0.5)))
    with pytest.raises(Exception, match="contraction"):
        jax.block_until_ready(run(1.5))


def test_eager_calls_compile_once(compiles):
    """A notebook calling fixed_point / its grad / jvp / monotone_solve again and again: the
    XLA program is compiled on the first call only (counted from JAX's compile events)."""

    def g(z, a):
        return 0.5 * jnp.tanh(a * z + B)

    # array data in args is dynamic (Python scalars in args are static configuration)
    cx.fixed_point(g, Z0, jnp.asarray(0.3))
    n = len(compiles)
    for a in (0.1, 0.2, 0.4):
        cx.fixed_point(g, Z0, jnp.asarray(a))
    assert len(compiles) == n
    grad = lambda a: cx.fixed_point(g, Z0, a).value.sum()
    jax.grad(grad)(0.3)
    n = len(compiles)
    jax.grad(grad)(0.5)
    assert len(compiles) == n
    jax.jvp(grad, (0.5,), (1.0,))
    n = len(compiles)
    jax.jvp(grad, (0.7,), (1.0,))
    assert len(compiles) == n

    calls = []

    def relu(v, alpha):
        calls.append(None)
        return jax.nn.relu(v)

    W = 0.3 * jnp.eye(3)
    monotone_solve(W, B, relu)
    n = len(calls)
    monotone_solve(1.1 * W, -B, relu)
    assert len(calls) == n


def test_solver_configurations_are_hashable_static_config():
    # equal configurations are equal pytrees: a new Anderson() does not recompile
    a, b = cx.Anderson(history=4), cx.Anderson(history=np.int64(4))
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    assert eqx.tree_equal(a, b)


def test_closures_over_traced_values_are_differentiated():
    """A map closing over the differentiated variable (a common notebook pattern) works
    under grad, jit and vmap, and its derivative is the implicit one (central differences)."""
    W = 0.3 * jnp.eye(3) + 0.05

    def g(W):
        return cx.fixed_point(lambda z, _: jnp.tanh(W @ z + B), Z0, None).value.sum()

    h = 1e-6
    E = jnp.zeros((3, 3)).at[0, 1].set(1.0)
    fd = (g(W + h * E) - g(W - h * E)) / (2 * h)
    np.testing.assert_allclose(jax.grad(g)(W)[0, 1], fd, rtol=1e-7)
    np.testing.assert_allclose(jax.jit(jax.grad(g))(W)[0, 1], fd, rtol=1e-7)
    np.testing.assert_allclose(jax.vmap(g)(jnp.stack([W, W])), g(W), rtol=1e-12)
    _, t = jax.jvp(g, (W,), (E,))
    np.testing.assert_allclose(t, fd, rtol=1e-7)


def test_monotone_solve_checks_the_prox_output_shape():
    W = 0.3 * jnp.eye(3)
    with pytest.raises(ValueError, match="prox"):
        monotone_solve(W, B, lambda v, alpha: v[:2])
    with pytest.raises(ValueError, match="prox"):
        monotone_solve(W, B, lambda v, alpha: (v, v))


def test_monotone_prox_closing_over_a_traced_value_is_refused_clearly():
    W = 0.3 * jnp.eye(3)

    def g(t):
        return monotone_solve(W, B, lambda v, alpha: jax.nn.relu(v - t)).value.sum()

    with pytest.raises(ValueError, match="closes over a traced value"):
        jax.grad(g)(0.1)
    # the documented way: the threshold folded into u, differentiated implicitly
    relu = lambda v, alpha: jax.nn.relu(v)
    g2 = lambda t: monotone_solve(W, B - t, relu).value.sum()
    h = 1e-6
    np.testing.assert_allclose(jax.grad(g2)(0.1), (g2(0.1 + h) - g2(0.1 - h)) / (2 * h), rtol=1e-6)
    assert np.isfinite(g(0.1))  # eager (nothing traced) is fine


@pytest.mark.parametrize("scale", [1e-12, 1.0, 1e12])
def test_gmres_backward_is_scale_invariant_in_the_cotangent(scale):
    """The VJP is linear in the cotangent: a tiny one (a residual of 1e-11 near a zero loss, where
    jax's GMRES used to stop at an absolute breakdown threshold and the derivative became NaN)
    or a huge one gives `scale` times the unit cotangent's VJP."""
    n = 80  # > GMRES(20)'s restart length, so the residual is tested between restarts
    W = 0.9 * jax.random.normal(jax.random.PRNGKey(0), (n, n)) / jnp.sqrt(n)
    g = lambda z, th: jnp.tanh(W @ z + th)
    th = jnp.linspace(-1.0, 1.0, n)
    solve = lambda th: cx.fixed_point(g, jnp.zeros(n), th, tol=1e-10, max_steps=2000).value
    _, vjp = jax.vjp(solve, th)
    ct = jnp.cos(jnp.arange(float(n)))
    (unit,) = vjp(ct)
    (scaled,) = vjp(scale * ct)
    assert bool(jnp.all(jnp.isfinite(scaled)))
    np.testing.assert_allclose(scaled / scale, unit, rtol=1e-9)
