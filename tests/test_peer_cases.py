"""Cases from the peers' suites (jaxopt, optimistix) where contractax must agree with them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx


def _cos_map(x, theta):
    return jnp.cos(x) + theta


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_backward_solve_does_not_inherit_picards_weakness(dtype):
    """x = cos x + θ: dx*/dθ = diag(1/(1 + sin x*)) (implicit function theorem, closed form).

    At θ₂ = π/2 − 0.3, sin x₂* ≈ 0.989, so ∂f/∂z has the eigenvalue −0.989 where a Picard
    iteration of the *linear* backward equation barely moves, while I − ∂f/∂z (eigenvalues
    1.67, 1.99) is well conditioned. The default backward solve gets the closed form whatever
    the forward solver (jaxopt: 0.50009 on this kind of problem); reusing Picard does not.
    """
    theta = jnp.array([0.0, jnp.pi / 2 - 0.3], dtype)
    z0 = jnp.zeros(2, dtype)
    steps = 2000 if dtype == jnp.float32 else 4000  # Picard's forward converges at rate 0.989
    rtol = 1e-5 if dtype == jnp.float32 else 1e-9
    for solver in (cx.Picard(), cx.Anderson()):
        sol = cx.fixed_point(_cos_map, z0, theta, solver=solver, max_steps=steps)
        assert sol.result == cx.RESULTS.successful
        exact = np.diag(1.0 / (1.0 + np.sin(np.asarray(sol.value, np.float64))))

        def solution(t, adjoint):
            return cx.fixed_point(
                _cos_map, z0, t, solver=solver, max_steps=steps, adjoint=adjoint
            ).value

        jac = jax.jacrev(solution)(theta, cx.ImplicitAdjoint())
        jvp = jax.jacfwd(solution)(theta, cx.ImplicitAdjoint())
        np.testing.assert_allclose(jac, exact, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(jvp, exact, rtol=rtol, atol=rtol)
    # the former default (backward = forward solver) fails on it, visibly: NaN, not a number
    reused = jax.jacrev(
        lambda t: (
            cx.fixed_point(
                _cos_map,
                z0,
                t,
                solver=cx.Picard(),
                max_steps=steps,
                adjoint=cx.ImplicitAdjoint(solver="forward", max_steps=50),
            ).value
        )
    )(theta)
    assert np.isnan(np.asarray(reused)[1]).all()


def test_has_aux_returns_aux_at_the_solution_and_differentiates_it():
    def f(z, a):
        z_next = 0.5 * jnp.tanh(z) + a
        return z_next, {"energy": jnp.sum(z_next**2), "z": z_next}

    a = jnp.array([0.3, -0.2])
    sol = cx.fixed_point(f, jnp.zeros(2), a, has_aux=True, tol=1e-13)
    np.testing.assert_allclose(sol.aux["z"], sol.value, rtol=1e-12)
    np.testing.assert_allclose(sol.aux["energy"], jnp.sum(sol.value**2), rtol=1e-12)
    g = jax.grad(lambda a: cx.fixed_point(f, jnp.zeros(2), a, has_aux=True).aux["energy"])(a)
    h = 1e-6
    fd = [
        (
            cx.fixed_point(f, jnp.zeros(2), a + h * e, has_aux=True).aux["energy"]
            - cx.fixed_point(f, jnp.zeros(2), a - h * e, has_aux=True).aux["energy"]
        )
        / (2 * h)
        for e in jnp.eye(2)
    ]
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    out = jax.jit(jax.vmap(lambda a: cx.fixed_point(f, jnp.zeros(2), a, has_aux=True).aux))(
        jnp.stack([a, 2 * a])
    )
    assert out["energy"].shape == (2,)
    assert cx.fixed_point(lambda z, a: 0.5 * z + a, jnp.zeros(2), a).aux is None
    with pytest.raises(ValueError, match="has_aux"):
        cx.fixed_point(lambda z, a: 0.5 * z + a, jnp.zeros(2), a, has_aux=True)


def test_anderson_mixing_frequency():
    """jaxopt's `mixing_frequency=k`: extrapolate on every k-th step, relaxed steps between.

    With k beyond the number of steps only step 0 extrapolates, from a one-element history
    (α = [1], i.e. the relaxed step itself), so the iterates are exactly Relaxed(β)'s; with
    k = 2 the solve still reaches the closed-form solution of a linear contraction.
    """
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    n = 12
    Q = jnp.linalg.qr(jax.random.normal(k1, (n, n)))[0]
    A = (Q * jnp.linspace(-0.9, 0.95, n)[None, :]) @ Q.T
    b = jax.random.normal(k2, (n,))
    f = lambda z, a: a[0] @ z + a[1]
    z0 = jnp.zeros(n)
    for steps in (1, 7, 30):
        never = cx.fixed_point(
            f, z0, (A, b), solver=cx.Anderson(mixing=0.7, mixing_frequency=1000), max_steps=steps
        )
        relaxed = cx.fixed_point(f, z0, (A, b), solver=cx.Relaxed(0.7), max_steps=steps)
        np.testing.assert_allclose(never.value, relaxed.value, rtol=1e-12, atol=1e-13)
    sol = cx.fixed_point(f, z0, (A, b), solver=cx.Anderson(mixing_frequency=2), max_steps=400)
    assert sol.result == cx.RESULTS.successful
    np.testing.assert_allclose(sol.value, jnp.linalg.solve(jnp.eye(n) - A, b), rtol=1e-9)
    with pytest.raises(ValueError, match="mixing_frequency"):
        cx.Anderson(mixing_frequency=0)
