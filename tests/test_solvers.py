"""Tests of contractax.solvers: values, derivatives in both modes, failure paths, certificate."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

import contractax as cx

from .conftest import assert_tree_allclose

N = 5


def _tanh_deq(seed=0, n=N, rho=0.6):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    W = jax.random.normal(k1, (n, n))
    W = rho * W / jnp.linalg.norm(W, 2)
    return {"W": W, "x": jax.random.normal(k2, (n,)), "U": jax.random.normal(k3, (n, n)) / n}


def f_deq(z, a):
    return jnp.tanh(a["W"] @ z + a["U"] @ a["x"])


@jax.jit
def _reference(args):
    sol = cx.fixed_point(f_deq, jnp.zeros(N), args, solver=cx.Picard(), tol=1e-15, max_steps=3000)
    return sol.value


SOLVERS = [cx.Picard(), cx.Relaxed(0.8), cx.Anderson(history=4), cx.Broyden(memory=4)]


def test_values_jit_vmap():
    """Every solver agrees with a long Picard reference, per example under jit + vmap."""
    args = _tanh_deq()
    xs = jax.random.normal(jax.random.PRNGKey(7), (3, N))
    refs = jax.vmap(lambda x: _reference(dict(args, x=x)))(xs)

    @jax.jit
    def solve_all(xs):
        out = []
        for s in SOLVERS:
            sol = jax.vmap(
                lambda x: cx.fixed_point(f_deq, jnp.zeros(N), dict(args, x=x), solver=s)
            )(xs)
            out.append((sol.value, sol.result == cx.RESULTS.successful, sol.stats["num_steps"]))
        return out

    for (value, ok, steps), s in zip(solve_all(xs), SOLVERS):
        assert bool(jnp.all(ok)), s
        assert steps.shape == (3,)
        np.testing.assert_allclose(value, refs, rtol=1e-10, atol=1e-11, err_msg=repr(s))
    # Anderson needs fewer evaluations than Picard on the same problem
    steps = {type(s).__name__: int(jnp.max(o[2])) for s, o in zip(SOLVERS, solve_all(xs))}
    assert steps["Anderson"] < steps["Picard"]


@pytest.mark.parametrize("solver", SOLVERS[::2] + [SOLVERS[3]], ids=lambda s: type(s).__name__)
def test_gradients_match_fd_unrolled_and_jvp(solver):
    """grad = central FD (rel 1e-6) = unrolled grad; jvp = vjp directional derivative."""
    args = _tanh_deq(1)
    d = jax.tree_util.tree_map(lambda a: jax.random.normal(jax.random.PRNGKey(3), a.shape), args)

    def loss(a, adjoint):
        z = cx.fixed_point(f_deq, jnp.zeros(N), a, solver=solver, adjoint=adjoint).value
        return jnp.sum(jnp.sin(z) * jnp.arange(1.0, N + 1))

    # the unrolled reference is compiled for two solvers only (test-time budget)
    unrolled = not isinstance(solver, cx.Picard)

    @jax.jit
    def derivs(a):
        g = jax.grad(loss)(a, cx.ImplicitAdjoint())
        gu = jax.grad(loss)(a, cx.UnrolledAdjoint()) if unrolled else g
        _, jv = jax.jvp(lambda a_: loss(a_, cx.ImplicitAdjoint()), (a,), (d,))
        return g, gu, jv

    g, gu, jv = derivs(args)
    f_loss = jax.jit(lambda a: loss(a, cx.ImplicitAdjoint()))
    h = 1e-5
    shift = lambda s: jax.tree_util.tree_map(lambda a, b: a + s * b, args, d)
    fd = (f_loss(shift(h)) - f_loss(shift(-h))) / (2 * h)
    dot = sum(
        jnp.vdot(a, b) for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(d))
    )
    np.testing.assert_allclose(dot, fd, rtol=1e-6)
    np.testing.assert_allclose(jv, dot, rtol=1e-9)
    # the unrolled derivative converges more slowly than the iterate (like k ρ^k for Picard;
    # Broyden's B also depends on θ): compare normwise at the same 1e-6
    gv, guv = (jnp.concatenate([a.ravel() for a in jax.tree_util.tree_leaves(t)]) for t in (g, gu))
    assert float(jnp.linalg.norm(gv - guv)) <= 1e-6 * float(jnp.linalg.norm(gv))


def test_hessian_through_solve_matches_fd_of_grad():
    args = _tanh_deq(2)

    def loss(x):
        z = cx.fixed_point(f_deq, jnp.zeros(N), dict(args, x=x)).value
        return jnp.sum(z**3)

    x = args["x"]
    H = jax.jit(jax.hessian(loss))(x)
    g = jax.jit(jax.grad(loss))
    h = 1e-5
    fd = jnp.stack([(g(x + h * e) - g(x - h * e)) / (2 * h) for e in jnp.eye(N)])
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H, H.T, rtol=1e-8, atol=1e-10)


def test_jacobian_free_and_neumann_closed_forms():
    """JFB gives ḡᵀ∂f/∂θ; Neumann with K terms gives ḡᵀ Σ_k J^k ∂f/∂θ, → implicit as K grows."""
    args = _tanh_deq(3)
    zstar = _reference(args)

    def loss(x, adjoint):
        return jnp.sum(cx.fixed_point(f_deq, jnp.zeros(N), dict(args, x=x), adjoint=adjoint).value)

    x = args["x"]
    J = jax.jacfwd(f_deq)(zstar, args)
    Fx = jax.jacfwd(lambda x_: f_deq(zstar, dict(args, x=x_)))(x)
    gbar = jnp.ones(N)
    exact = gbar @ jnp.linalg.solve(jnp.eye(N) - J, Fx)
    neu3 = gbar @ sum(jnp.linalg.matrix_power(J, k) for k in range(4)) @ Fx

    @jax.jit
    def grads(x):
        return [
            jax.grad(loss)(x, adj)
            for adj in (
                cx.JacobianFreeAdjoint(),
                cx.NeumannAdjoint(3),
                cx.NeumannAdjoint(80),
                cx.ImplicitAdjoint(),
            )
        ]

    jfb, n3, n80, imp = grads(x)
    np.testing.assert_allclose(jfb, gbar @ Fx, rtol=1e-9)
    np.testing.assert_allclose(n3, neu3, rtol=1e-9)
    np.testing.assert_allclose(n80, exact, rtol=1e-9)
    np.testing.assert_allclose(imp, exact, rtol=1e-8)


def test_failure_paths():
    f_bad = lambda z, a: 3.0 * z + a
    sol = jax.jit(lambda a: cx.fixed_point(f_bad, jnp.zeros(2), a, solver=cx.Picard()))(jnp.ones(2))
    assert sol.result == cx.RESULTS.diverged
    assert "contracting" in cx.RESULTS[sol.result]
    with pytest.raises(Exception, match="not contracting"):
        cx.fixed_point(
            f_bad, jnp.zeros(2), jnp.ones(2), solver=cx.Picard(), throw=True
        ).value.block_until_ready()
    # NaN in args is flagged
    args = dict(_tanh_deq(), x=jnp.full(N, jnp.nan))
    sol = cx.fixed_point(f_deq, jnp.zeros(N), args)
    assert sol.result == cx.RESULTS.nonfinite
    # out of steps
    sol = cx.fixed_point(f_deq, jnp.zeros(N), _tanh_deq(), solver=cx.Picard(), max_steps=3)
    assert sol.result == cx.RESULTS.max_steps_reached
    assert int(sol.stats["num_steps"]) == 3


def test_backward_not_converged_is_never_silent():
    """Anderson solves the repelling fixed point of z = 2z − a; Picard cannot solve its adjoint."""
    f = lambda z, a: 2.0 * z - a
    a = jnp.array([1.0, 2.0])

    def loss(a, throw):
        adj = cx.ImplicitAdjoint(solver=cx.Picard())
        sol = cx.fixed_point(f, jnp.zeros(2), a, solver=cx.Anderson(), adjoint=adj, throw=throw)
        return jnp.sum(sol.value)

    @jax.jit
    def run(a):
        value = cx.fixed_point(f, jnp.zeros(2), a).value
        # Anderson as backward solver handles it: d z*/d a = I
        g_ok = jax.grad(lambda a: jnp.sum(cx.fixed_point(f, jnp.zeros(2), a).value))(a)
        return value, g_ok, jax.grad(loss)(a, False)

    value, g_ok, g = run(a)
    assert_tree_allclose(value, a)
    assert_tree_allclose(g_ok, jnp.ones(2), rtol=1e-8)
    assert bool(jnp.all(jnp.isnan(g)))
    with pytest.raises(Exception, match="backward"):
        jax.jit(jax.grad(loss), static_argnums=1)(a, True).block_until_ready()


def test_certificate_bounds_true_error():
    """e ≤ ‖f(z) − z‖/(1 − ρ) ≤ (1 + ρ)/(1 − ρ) e for affine maps with ‖A‖₂ = ρ."""
    n = 6
    Q = jnp.linalg.qr(jax.random.normal(jax.random.PRNGKey(4), (n, n)))[0]
    b = jax.random.normal(jax.random.PRNGKey(5), (n,))

    def one(rho, tol):
        A = rho * Q * jnp.linspace(1.0, 0.3, n)[None, :]  # ‖A‖₂ = rho
        sol = cx.fixed_point(
            lambda z, a: a @ z + b, jnp.zeros(n), A, solver=cx.Picard(), tol=tol, contraction=rho
        )
        zstar = jnp.linalg.solve(jnp.eye(n) - A, b)
        return jnp.linalg.norm(sol.value - zstar), sol.stats["error_bound"]

    rhos = jnp.array([0.3, 0.6, 0.9, 0.97])
    for tol in (1e-2, 1e-6):
        e, bound = jax.jit(jax.vmap(lambda r: one(r, tol)))(rhos)
        assert bool(jnp.all(e <= bound * (1 + 1e-9)))
        assert bool(jnp.all(bound <= (1 + rhos) / (1 - rhos) * e * (1 + 1e-9)))


def test_vmap_failing_example_does_not_corrupt_others():
    args = _tanh_deq()
    scales = jnp.array([1.0, 20.0, 0.5])  # the middle one is far from contracting

    def one(s):
        f = lambda z, a: s * (a["W"] @ z) + a["U"] @ a["x"]
        return cx.fixed_point(f, jnp.zeros(N), args, solver=cx.Picard(), max_steps=400)

    sols = jax.jit(jax.vmap(one))(scales)
    ok = sols.result == cx.RESULTS.successful
    assert ok.tolist() == [True, False, True]
    for i in (0, 2):
        zstar = jnp.linalg.solve(jnp.eye(N) - scales[i] * args["W"], args["U"] @ args["x"])
        np.testing.assert_allclose(sols.value[i], zstar, rtol=1e-10)
    assert int(sols.stats["num_steps"][0]) != int(sols.stats["num_steps"][2])


def test_pytree_state_and_float32():
    args = _tanh_deq()

    def f(z, a):
        h = jnp.tanh(a["W"] @ z["h"] + z["c"])
        return {"h": h, "c": 0.5 * jnp.tanh(jnp.sum(z["h"])) + a["x"][:2].sum()}

    z0 = {"h": jnp.zeros(N), "c": jnp.zeros(())}

    def loss(a, adjoint):
        sol = cx.fixed_point(f, z0, a, solver=cx.Broyden(), adjoint=adjoint)
        return jnp.sum(sol.value["h"]) + sol.value["c"]

    @jax.jit
    def run(a):
        sol = cx.fixed_point(f, z0, a)
        return sol, jax.grad(loss)(a, cx.ImplicitAdjoint()), jax.grad(loss)(a, cx.UnrolledAdjoint())

    sol, g, gu = run(args)
    assert sol.result == cx.RESULTS.successful
    assert_tree_allclose(f(sol.value, args), sol.value, rtol=1e-9, atol=1e-10)
    assert jax.tree_util.tree_structure(g) == jax.tree_util.tree_structure(args)
    assert_tree_allclose(g, gu, rtol=1e-6, atol=1e-8)
    # float32: default tolerance from finfo, converges without NaN
    a32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), args)
    sols = jax.jit(
        lambda a: [
            cx.fixed_point(f_deq, jnp.zeros(N, jnp.float32), a, solver=s)
            for s in (cx.Anderson(), cx.Broyden(), cx.Picard())
        ]
    )(a32)
    for sol in sols:
        assert sol.value.dtype == jnp.float32
        assert sol.result == cx.RESULTS.successful
        assert float(sol.stats["residual"]) < 1e-5


def test_anderson_safeguard_never_nan():
    """f(z) = z + d has no fixed point and a rank-one Gram matrix: no NaN, flagged."""
    d = jnp.array([1.0, -2.0, 0.5])
    sol = cx.fixed_point(lambda z, a: z + a, jnp.zeros(3), d, solver=cx.Anderson(), max_steps=50)
    assert sol.result != cx.RESULTS.successful
    assert bool(jnp.all(jnp.isfinite(sol.value)))


def test_memory_of_state_is_fixed():
    z = jnp.zeros(7)
    for s in (cx.Anderson(history=3), cx.Broyden(memory=4)):
        shapes = [a.shape for a in jax.tree_util.tree_leaves(jax.eval_shape(s.init, z, z))]
        assert max(int(np.prod(sh)) for sh in shapes) <= 4 * 7


def test_bad_input_raises_valueerror():
    with pytest.raises(ValueError, match="same structure"):
        cx.fixed_point(lambda z, a: z[:2], jnp.zeros(3), None)
    with pytest.raises(ValueError, match="contraction"):
        cx.fixed_point(lambda z, a: 0.5 * z, jnp.zeros(3), None, contraction=1.5)
    with pytest.raises(ValueError, match="floating"):
        cx.fixed_point(lambda z, a: z, jnp.zeros(3, jnp.int32), None)
    with pytest.raises(ValueError):
        cx.Relaxed(1.5)
    with pytest.raises(ValueError):
        cx.Anderson(history=0)
    with pytest.raises(ValueError, match="solver"):
        cx.fixed_point(lambda z, a: z, jnp.zeros(3), None, solver="anderson")


def test_no_retrace_on_new_args():
    args = _tanh_deq()

    @eqx.debug.assert_max_traces(max_traces=1)
    def solve(a):
        return cx.fixed_point(f_deq, jnp.zeros(N), a).value

    solve = jax.jit(solve)
    solve(args)
    solve(jax.tree_util.tree_map(lambda a: a * 0.9, args))


_Q6 = jnp.linalg.qr(jax.random.normal(jax.random.PRNGKey(11), (6, 6)))[0]


@jax.jit
def _affine_certificate(rho, b):
    A = rho * _Q6
    sol = cx.fixed_point(
        lambda z, a: a @ z + b, jnp.zeros(6), A, solver=cx.Anderson(), tol=1e-4, contraction=rho
    )
    e = jnp.linalg.norm(sol.value - jnp.linalg.solve(jnp.eye(6) - A, b))
    return e, sol.stats["error_bound"]


@given(
    rho=st.floats(0.05, 0.98),
    b=st.lists(st.floats(-10, 10), min_size=6, max_size=6),
)
def test_certificate_property(rho, b):
    """Banach: e ≤ error_bound ≤ (1+ρ)/(1−ρ)·e for any iterate, here Anderson's (one compile)."""
    e, bound = _affine_certificate(jnp.asarray(rho), jnp.asarray(b))
    assert float(e) <= float(bound) * (1 + 1e-9) + 1e-300
    assert float(bound) <= (1 + rho) / (1 - rho) * float(e) * (1 + 1e-9) + 1e-300


def test_per_example_gradients_under_vmap():
    """vmap(grad) through the implicit solve equals the dense IFT formula for every example."""
    args = _tanh_deq(4)
    xs = jax.random.normal(jax.random.PRNGKey(12), (3, N))

    def loss(x):
        return jnp.sum(cx.fixed_point(f_deq, jnp.zeros(N), dict(args, x=x)).value ** 2)

    g = jax.jit(jax.vmap(jax.grad(loss)))(xs)
    for i in range(3):
        a = dict(args, x=xs[i])
        z = jax.vmap(lambda x: _reference(dict(args, x=x)))(xs[i : i + 1])[0]
        J = jax.jacfwd(f_deq)(z, a)
        Fx = jax.jacfwd(lambda x_: f_deq(z, dict(args, x=x_)))(xs[i])
        exact = (2 * z) @ jnp.linalg.solve(jnp.eye(N) - J, Fx)
        np.testing.assert_allclose(g[i], exact, rtol=1e-8, atol=1e-11)
