"""Models never hand back an unconverged equilibrium as an output: `model.solve(...)` gives the
`Solution`; `model(...)` raises (throw=True, the default) or gives NaN values and NaN
derivatives for the failed examples only (throw=False)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from contractax.models import DEQ, ImplicitNetwork, MonotoneDEQ


def _diverging_cell(z, x):
    return 3.0 * z + x


def test_deq_diverging_cell_raises_or_nan():
    x = jnp.ones(3)
    strict = DEQ(_diverging_cell, solver=cx.Picard(), z_shape=(3,))
    lax_ = DEQ(_diverging_cell, solver=cx.Picard(), z_shape=(3,), throw=False)
    assert strict.solve(x).result == cx.RESULTS.diverged
    with pytest.raises(Exception, match="diverged"):
        jax.block_until_ready(strict(x))
    assert np.all(np.isnan(lax_(x)))


def test_deq_nan_only_for_the_failed_example_and_its_gradient():
    class Cell(eqx.Module):
        w: jax.Array

        def __call__(self, z, x):
            return jnp.tanh(self.w * z + x)

    # the cell contracts for |w| < 1; the second example uses a scale that makes it diverge
    layer = DEQ(Cell(jnp.asarray(0.5)), solver=cx.Picard(), z_shape=(2,), throw=False, max_steps=60)
    xs = jnp.array([[0.3, -0.2], [1e3, jnp.nan]])
    z = jax.vmap(layer)(xs)
    assert np.all(np.isfinite(z[0])) and np.all(np.isnan(z[1]))

    def loss(model, x):
        return model(x).sum()

    g = jax.vmap(eqx.filter_grad(loss), (None, 0))(layer, xs)
    assert np.isfinite(g.cell.w[0]) and np.isnan(g.cell.w[1])


def test_implicit_network_truncated_solve_raises_or_nan(getkey):
    key = getkey()
    u = jax.random.normal(getkey(), (2, 4))
    strict = ImplicitNetwork(4, 8, 3, gamma=0.9, max_steps=1, tol=1e-12, key=key)
    lax_ = ImplicitNetwork(4, 8, 3, gamma=0.9, max_steps=1, tol=1e-12, throw=False, key=key)
    ok = ImplicitNetwork(4, 8, 3, gamma=0.9, key=key)
    assert not bool(jnp.any(jax.vmap(strict.solve)(u).result == cx.RESULTS.successful))
    with pytest.raises(Exception, match="max_steps"):
        jax.block_until_ready(jax.vmap(strict)(u))
    assert np.all(np.isnan(jax.vmap(lax_)(u)))
    assert np.all(np.isfinite(jax.vmap(ok)(u)))
    with pytest.raises(ValueError, match="ImplicitNetwork input"):
        ok(jnp.ones(5))


def test_monotone_deq_nan_weight_is_never_a_normal_output(getkey):
    key = getkey()
    model = MonotoneDEQ(4, 6, 2, key=key, throw=False)
    bad = eqx.tree_at(lambda m: m.U, model, model.U.at[0, 0].set(jnp.nan))
    x = jnp.ones(4)
    assert bad.solve(x).result != cx.RESULTS.successful
    assert np.all(np.isnan(bad(x)))
    strict = MonotoneDEQ(4, 6, 2, key=key)
    strict = eqx.tree_at(lambda m: m.U, strict, bad.U)
    with pytest.raises(Exception):
        jax.block_until_ready(strict(x))
