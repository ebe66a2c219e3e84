"""Entropy estimators against closed forms and their exact equivariances (Ribeiro et al. 2020 §4)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from contractax import entropy


def _gauss_entropy(cov):
    d = cov.shape[0]
    return 0.5 * (d * math.log(2 * math.pi * math.e) + np.linalg.slogdet(cov)[1])


@pytest.mark.parametrize("d", [1, 3])
def test_both_estimators_match_the_gaussian_closed_form(d, getkey):
    a = jax.random.normal(getkey(), (d, d)) + 2 * jnp.eye(d)
    cov = a @ a.T
    x = jax.random.multivariate_normal(getkey(), jnp.zeros(d), cov, (4000,))
    exact = _gauss_entropy(np.asarray(cov))
    assert abs(entropy.differential_entropy(x, method="gaussian") - exact) < 0.05
    assert abs(entropy.differential_entropy(x, k=3) - exact) < 0.08


def test_knn_matches_the_uniform_closed_form(getkey):
    # uniform on [0, 2]^2: H = log 4 (boundary bias of kNN is small at N = 4000)
    x = 2 * jax.random.uniform(getkey(), (4000, 2))
    assert abs(entropy.differential_entropy(x) - math.log(4)) < 0.05


@given(c=st.floats(0.1, 10.0), angle=st.floats(0, 2 * math.pi), shift=st.floats(-5, 5))
def test_knn_is_exactly_equivariant_under_similarities(c, angle, shift):
    x = jax.random.normal(jax.random.PRNGKey(3), (300, 2))
    q = jnp.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    y = c * x @ q.T + shift
    h0, h1 = entropy.differential_entropy(x), entropy.differential_entropy(y)
    np.testing.assert_allclose(h1, h0 + 2 * math.log(c), rtol=1e-9, atol=1e-9)


def test_gaussian_trajectory_of_a_linear_map_moves_by_log_det(getkey):
    a = jnp.array([[0.9, 0.3], [-0.2, 0.7]])
    x0 = jax.random.normal(getkey(), (500, 2))
    step = lambda x, m: m @ x  # noqa: E731
    traj = entropy.ensemble_entropy(step, x0, a, 6, method="gaussian")
    logdet = float(jnp.linalg.slogdet(a)[1])
    np.testing.assert_allclose(jnp.diff(traj.entropy), logdet, rtol=1e-9)
    np.testing.assert_allclose(traj.mean_log_det, logdet, rtol=1e-12)
    # eq. 9: H_{t+1} - H_t <= N_x log L_f
    assert jnp.all(jnp.diff(traj.entropy) <= traj.state_dim * traj.log_lipschitz + 1e-12)


def test_trajectory_compiles_once_and_vmaps(getkey):
    traces = []

    def step(x, s):
        traces.append(1)  # runs only while JAX traces
        return jnp.tanh(s * x)

    x0 = jax.random.normal(getkey(), (64, 2))
    for s in (0.5, 0.7):  # the same static configuration: traced once, then reused
        traj = entropy.ensemble_entropy(step, x0, jnp.asarray(s), 3)
    n_first = len(traces)
    entropy.ensemble_entropy(step, x0, jnp.asarray(0.9), 3)
    assert len(traces) == n_first and traj.entropy.shape == (4,)
    hs = jax.vmap(lambda z: entropy.differential_entropy(z))(jnp.stack([x0, 2 * x0]))
    np.testing.assert_allclose(hs[1] - hs[0], 2 * math.log(2), rtol=1e-9)
    g = jax.grad(lambda c: entropy.differential_entropy(c * x0, method="gaussian"))(1.5)
    np.testing.assert_allclose(g, 2 / 1.5, rtol=1e-9)


def test_bad_inputs_name_the_argument(no_typecheck):
    x = jnp.ones((10, 2))
    with pytest.raises(ValueError, match="samples must have shape"):
        entropy.differential_entropy(jnp.ones(10))
    with pytest.raises(ValueError, match="method"):
        entropy.differential_entropy(x, method="kde")
    with pytest.raises(ValueError, match="k must be"):
        entropy.differential_entropy(x, k=0)
    with pytest.raises(ValueError, match="at least 4"):
        entropy.differential_entropy(jnp.ones((3, 2)), k=3)
    with pytest.raises(Exception, match="samples contains NaN"):
        entropy.differential_entropy(x.at[0, 0].set(jnp.nan))
