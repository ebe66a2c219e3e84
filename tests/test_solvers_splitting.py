"""Tests of the monotone operator splittings (forward–backward, Peaceman–Rachford)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from contractax import solvers as S

N, M = 5, 0.5
relu = lambda v, alpha: jax.nn.relu(v)


def _problem(seed=0):
    k = jax.random.split(jax.random.PRNGKey(seed), 3)
    A = jax.random.normal(k[0], (N, N)) / jnp.sqrt(N)
    B = jax.random.normal(k[1], (N, N)) / jnp.sqrt(N)
    W = (1 - M) * jnp.eye(N) - A.T @ A + B - B.T  # I − W ⪰ M I (seed 004 Prop. 1)
    return W, jax.random.normal(k[2], (N,))


def _fb_alpha(W):
    L = jnp.linalg.norm(jnp.eye(N) - W, 2)
    return float(M / L**2)  # inside (0, 2m/L²)


def test_fb_and_pr_agree_and_solve_the_equilibrium():
    W, u = _problem()
    us = jnp.stack([u, -u, 2 * u])
    out = {}
    for s in (S.ForwardBackward(_fb_alpha(W)), S.PeacemanRachford(1.0)):
        sol = jax.jit(jax.vmap(lambda u_: S.monotone_solve(W, u_, relu, solver=s, max_steps=3000)))(
            us
        )
        assert bool(jnp.all(sol.result == cx.RESULTS.successful))
        np.testing.assert_allclose(sol.value, jax.nn.relu(sol.value @ W.T + us), atol=1e-10)
        out[type(s).__name__] = sol
    np.testing.assert_allclose(
        out["ForwardBackward"].value, out["PeacemanRachford"].value, atol=1e-9
    )
    # PR converges in far fewer steps than FB at its admissible step
    assert int(jnp.max(out["PeacemanRachford"].stats["num_steps"])) < int(
        jnp.min(out["ForwardBackward"].stats["num_steps"])
    )


@pytest.mark.parametrize("which", ["fb", "pr"])
def test_gradients_both_modes(which):
    """Splitting backward = dense implicit formula = unrolled; jvp = vjp."""
    W, u = _problem(1)
    s = S.ForwardBackward(_fb_alpha(W)) if which == "fb" else S.PeacemanRachford(1.0)
    c = jnp.arange(1.0, N + 1)

    def loss(W, u, adjoint):
        z = S.monotone_solve(W, u, relu, solver=s, adjoint=adjoint, max_steps=3000).value
        return jnp.sum(jnp.sin(z) * c)

    @jax.jit
    def derivs(W, u, dW, du):
        g = jax.grad(loss, (0, 1))(W, u, cx.ImplicitAdjoint())
        gu = jax.grad(loss, (0, 1))(W, u, cx.UnrolledAdjoint())
        _, jv = jax.jvp(lambda W_, u_: loss(W_, u_, cx.ImplicitAdjoint()), (W, u), (dW, du))
        return g, gu, jv

    dW = jax.random.normal(jax.random.PRNGKey(5), (N, N))
    du = jax.random.normal(jax.random.PRNGKey(6), (N,))
    (gW, gu_), (uW, uu), jv = derivs(W, u, dW, du)
    # closed form: z = σ(Wz+u), D = σ', ∂ℓ/∂u = D (I − WᵀD)⁻¹ ... via dense linear algebra
    z = S.monotone_solve(W, u, relu, max_steps=3000).value
    D = jnp.diag((W @ z + u > 0).astype(W.dtype))
    gbar = jnp.cos(z) * c
    lam = D @ jnp.linalg.solve(jnp.eye(N) - W.T @ D, gbar)
    np.testing.assert_allclose(gu_, lam, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gW, jnp.outer(lam, z), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(uu, gu_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(uW, gW, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(jv, jnp.vdot(gW, dW) + jnp.vdot(gu_, du), rtol=1e-8)


def test_splitting_failure_and_validation():
    W, u = _problem()
    # FB with a step far beyond 2m/L² on a non-monotone W does not converge: flagged
    Wbad = 3.0 * jnp.eye(N)
    sol = S.monotone_solve(Wbad, u, lambda v, a: v, solver=S.ForwardBackward(1.0), max_steps=100)
    assert sol.result != cx.RESULTS.successful
    with pytest.raises(ValueError, match="ForwardBackward"):
        S.monotone_solve(W, u, relu, solver=cx.Picard())
    with pytest.raises(ValueError, match=r"\(n, n\)"):
        S.monotone_solve(W, jnp.zeros(N + 1), relu)
    with pytest.raises(ValueError):
        S.PeacemanRachford(-1.0)
