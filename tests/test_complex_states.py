"""Complex-valued fixed points (optimistix runs its fixed-point JVP tests in complex128).

References from the mathematics: the linear map z = Az + b has z* = (I − A)⁻¹b and
ż* = (I − A)⁻¹(Ȧz* + ḃ); a nonlinear map is checked against its unrolled Picard iteration and
central differences along a complex direction.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx

SOLVERS = [cx.Picard(), cx.Relaxed(0.8), cx.Anderson(history=4), cx.Broyden(memory=8)]
ADJOINTS = [cx.ImplicitAdjoint(), cx.ImplicitAdjoint(solver="forward"), cx.UnrolledAdjoint()]


def _linear(z, p):
    return p["A"] @ z + p["b"]


def _problem(n=5, seed=0):
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(seed), 4)
    A = jax.random.normal(k1, (n, n)) + 1j * jax.random.normal(k2, (n, n))
    A = 0.6 * A / jnp.linalg.norm(A, 2)  # ‖A‖₂ = 0.6: a contraction in ℓ2
    b = jax.random.normal(k3, (n,)) + 1j * jax.random.normal(k4, (n,))
    return {"A": A.astype(jnp.complex128), "b": b.astype(jnp.complex128)}


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: type(s).__name__)
def test_linear_complex_fixed_point_and_its_tangent_match_the_closed_form(solver):
    p = _problem()
    n = p["b"].shape[0]
    exact = jnp.linalg.solve(jnp.eye(n) - p["A"], p["b"])
    sol = cx.fixed_point(_linear, jnp.zeros(n, jnp.complex128), p, solver=solver, max_steps=500)
    assert sol.result == cx.RESULTS.successful
    assert sol.value.dtype == jnp.complex128
    np.testing.assert_allclose(sol.value, exact, rtol=1e-10, atol=1e-10)
    # ℓ2 residual of the complex vector, not of a real cast
    np.testing.assert_allclose(
        sol.stats["abs_residual"], jnp.linalg.norm(_linear(sol.value, p) - sol.value), rtol=1e-6
    )

    t = _problem(seed=1)
    for adjoint in ADJOINTS:
        solve = lambda q: (
            cx.fixed_point(
                _linear,
                jnp.zeros(n, jnp.complex128),
                q,
                solver=solver,
                adjoint=adjoint,
                max_steps=500,
            ).value
        )
        _, dz = jax.jvp(solve, (p,), (t,))
        dz_exact = jnp.linalg.solve(jnp.eye(n) - p["A"], t["A"] @ exact + t["b"])
        np.testing.assert_allclose(dz, dz_exact, rtol=1e-8, atol=1e-8)


def test_complex_gradient_matches_the_closed_form_solution():
    """grad of a real loss of z*(A, b): the same (JAX) convention on both sides."""
    p = _problem()
    n = p["b"].shape[0]
    loss = lambda z: jnp.sum(jnp.abs(z) ** 2) + jnp.real(z[0] * z[1])
    z0 = jnp.zeros(n, jnp.complex128)
    implicit = jax.grad(lambda q: loss(cx.fixed_point(_linear, z0, q, max_steps=500).value))(p)
    closed = jax.grad(lambda q: loss(jnp.linalg.solve(jnp.eye(n) - q["A"], q["b"])))(p)
    for k in ("A", "b"):
        np.testing.assert_allclose(implicit[k], closed[k], rtol=1e-8, atol=1e-9)


def _tanh_map(z, p):
    return 0.5 * jnp.tanh(p["W"] @ z) + p["c"]


def test_nonlinear_complex_map_jit_vmap_and_central_differences():
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(3), 3)
    n = 4
    W = (jax.random.normal(k1, (n, n)) + 1j * jax.random.normal(k2, (n, n))) / (2 * n)
    cs = 0.3 * (jax.random.normal(k3, (3, n)) + 1j * jax.random.normal(k3, (3, n))[::-1])
    z0 = jnp.zeros(n, jnp.complex128)

    def solve(c):
        return cx.fixed_point(_tanh_map, z0, {"W": W, "c": c}, solver=cx.Anderson(), max_steps=300)

    sols = jax.jit(jax.vmap(solve))(cs)
    assert bool(jnp.all(sols.result == cx.RESULTS.successful))
    unrolled = jax.vmap(
        lambda c: jax.lax.fori_loop(0, 400, lambda _, z: _tanh_map(z, {"W": W, "c": c}), z0)
    )(cs)
    np.testing.assert_allclose(sols.value, unrolled, rtol=1e-10, atol=1e-12)

    c, v, h = cs[0], (1.0 - 2.0j) * jnp.ones(n) / n, 1e-5
    _, dz = jax.jit(jax.jvp, static_argnums=0)(lambda c: solve(c).value, (c,), (v,))
    fd = (solve(c + h * v).value - solve(c - h * v).value) / (2 * h)
    np.testing.assert_allclose(dz, fd, rtol=1e-7, atol=1e-8)


def test_complex_norms_are_of_the_moduli():
    """ℓ∞/ℓ1 residuals are of |f(z)ᵢ − zᵢ|, not of the real and imaginary parts apart."""
    p = _problem()
    n = p["b"].shape[0]
    z0 = jnp.zeros(n, jnp.complex128)
    for norm, ref in ((jnp.inf, lambda d: jnp.max(jnp.abs(d))), (1, lambda d: jnp.sum(jnp.abs(d)))):
        sol = cx.fixed_point(_linear, z0, p, solver=cx.Picard(), norm=norm, max_steps=3)
        d = _linear(sol.value, p) - sol.value
        np.testing.assert_allclose(sol.stats["abs_residual"], ref(d), rtol=1e-12)


def test_complex_failure_gives_nan_derivatives():
    p = _problem()
    p = {"A": 1.5 * p["A"] / 0.6, "b": p["b"]}  # ‖A‖ = 1.5: Picard diverges
    n = p["b"].shape[0]
    z0 = jnp.zeros(n, jnp.complex128)
    f = lambda q: jnp.sum(jnp.abs(cx.fixed_point(_linear, z0, q, solver=cx.Picard()).value) ** 2)
    sol = cx.fixed_point(_linear, z0, p, solver=cx.Picard())
    assert sol.result != cx.RESULTS.successful
    g = jax.grad(f)(p)
    assert bool(jnp.all(jnp.isnan(g["b"])))


def test_integer_state_is_refused_by_name():
    with pytest.raises(ValueError, match="`z0` must be real or complex floating point"):
        cx.fixed_point(lambda z, _: z, jnp.zeros(3, jnp.int32))
