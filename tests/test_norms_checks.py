"""Bad input to the norms and contraction entry points: a clear error, never a NaN answer.

NaN/inf in a matrix or weight raises through `eqx.error_if` (plain, jit and vmap); a weight of
the wrong kind for p (a matrix for p = ∞, a vector for p = 2) raises a ValueError that names
the expected kind; non-Metzler input to `optimal_weight` and bad slope bounds raise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx

A = jnp.array([[-1.0, 0.5, 0.0], [0.2, -2.0, 0.3], [0.0, 0.1, -1.5]])
NAN_A = A.at[1, 2].set(jnp.nan)
INF_A = A.at[0, 0].set(jnp.inf)


def _raises(fn, *args, match):
    for call in (fn, jax.jit(fn)):
        with pytest.raises(Exception, match=match):
            jax.block_until_ready(call(*args))


@pytest.mark.parametrize("p", [1, 2, jnp.inf])
def test_nonfinite_matrix_raises_under_plain_jit_and_vmap(p):
    for bad in (NAN_A, INF_A):
        _raises(lambda M: cx.norms.lognorm(M, p), bad, match="NaN or inf")
        _raises(lambda M: cx.norms.induced_norm(M, p), bad, match="NaN or inf")
        batch = jnp.stack([A, bad])
        with pytest.raises(Exception, match="NaN or inf"):
            jax.block_until_ready(jax.vmap(lambda M: cx.norms.lognorm(M, p))(batch))
    # finite input still gives the closed form (μ∞ = max row of a_ii + Σ|a_ij|)
    mu_inf = np.max(np.diag(A) + np.sum(np.abs(A), 1) - np.abs(np.diag(A)))
    np.testing.assert_allclose(cx.norms.lognorm(A, jnp.inf), mu_inf, rtol=1e-12)


def test_contraction_rates_refuse_nan():
    _raises(lambda M: cx.contraction.firing_rate_rate(M, C=1.0), NAN_A, match="NaN or inf")
    _raises(lambda M: cx.norms.optimal_weight(M), NAN_A, match="NaN or inf")
    _raises(lambda x: cx.norms.vector_norm(x, 2), jnp.array([1.0, jnp.nan]), match="NaN or inf")


def test_slope_bounds_must_be_finite_and_ordered():
    for dmin, dmax in [(jnp.nan, 1.0), (0.0, jnp.inf), (1.0, 0.5)]:
        with pytest.raises(ValueError, match="slope bounds"):
            cx.contraction.firing_rate_rate(A, C=1.0, dmin=dmin, dmax=dmax)
    run = jax.jit(lambda lo: cx.norms.max_lognorm_over_slopes(A, lo, 1.0, jnp.inf))
    assert np.isfinite(run(0.0))
    with pytest.raises(Exception, match="slope bounds"):
        jax.block_until_ready(run(jnp.nan))


def test_weight_of_the_wrong_kind_names_the_right_one():
    with pytest.raises(ValueError, match="vector eta with at most 0 batch axes"):
        cx.norms.lognorm(A, jnp.inf, jnp.eye(3))  # a 3×3 matrix is not three vectors η
    with pytest.raises(ValueError, match="SPD matrix P|symmetric positive-definite"):
        cx.norms.lognorm(A, 2, jnp.ones(3))
    with pytest.raises(Exception, match="positive, finite"):
        jax.block_until_ready(cx.norms.lognorm(A, 1, jnp.array([1.0, jnp.inf, 1.0])))
    with pytest.raises(Exception, match="NaN or inf"):
        jax.block_until_ready(cx.norms.lognorm(A, 2, jnp.eye(3).at[0, 0].set(jnp.inf)))
    # a batch of weights for a batch of matrices is fine
    out = cx.norms.lognorm(jnp.stack([A, A]), jnp.inf, jnp.ones((2, 3)))
    assert out.shape == (2,)


def test_optimal_weight_needs_a_metzler_matrix():
    with pytest.raises(Exception, match="Metzler"):
        jax.block_until_ready(cx.norms.optimal_weight(A.at[0, 1].set(-0.5)))
    eta, value = cx.norms.optimal_weight(cx.norms.metzler_majorant(A))
    np.testing.assert_allclose(
        value, cx.norms.spectral_abscissa(cx.norms.metzler_majorant(A)), rtol=1e-8
    )


def test_empty_and_bad_p():
    with pytest.raises(ValueError, match="empty"):
        cx.norms.lognorm(jnp.zeros((0, 0)))
    for p in (3, True, "inf"):
        with pytest.raises(ValueError, match="p must be one of"):
            cx.norms.lognorm(A, p)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_is_computed_in_float32_and_returned_in_its_dtype(dtype):
    ref = {p: float(cx.norms.lognorm(A.astype(dtype).astype(jnp.float32), p)) for p in (1, 2)}
    for p in (1, 2, jnp.inf):
        mu = cx.norms.lognorm(A.astype(dtype), p)
        nrm = cx.norms.induced_norm(A.astype(dtype), p)
        assert mu.dtype == dtype and nrm.dtype == dtype
        assert np.isfinite(float(mu)) and np.isfinite(float(nrm))
    for p in (1, 2):
        np.testing.assert_allclose(float(cx.norms.lognorm(A.astype(dtype), p)), ref[p], rtol=1e-2)


def test_dual_of_a_batch_of_weights():
    """μ_{p*,w*}(Aᵀ) = μ_{p,w}(A) with a batch of weights (as flynn_timescale uses it)."""
    A = jax.random.normal(jax.random.PRNGKey(0), (6, 6))
    etas = jnp.exp(jax.random.normal(jax.random.PRNGKey(1), (5, 6)))
    q, wd = cx.norms.dual(jnp.inf, etas)
    assert q == 1.0 and wd.shape == (5, 6)
    np.testing.assert_allclose(
        cx.norms.lognorm(jnp.broadcast_to(A.T, (5, 6, 6)), q, wd),
        cx.norms.lognorm(jnp.broadcast_to(A, (5, 6, 6)), jnp.inf, etas),
        rtol=1e-12,
    )
    B = jax.random.normal(jax.random.PRNGKey(2), (3, 6, 6))
    Ps = B @ jnp.swapaxes(B, -1, -2) + jnp.eye(6)[None]
    _, Pinv = cx.norms.dual(2, Ps)
    np.testing.assert_allclose(Pinv @ Ps, jnp.broadcast_to(jnp.eye(6), (3, 6, 6)), atol=1e-10)
