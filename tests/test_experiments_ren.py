"""Fast checks of the parts of the `ren_sysid` and `lbdn_robustness` experiments (the true
system's contraction certificate, the ℓ2 attack's projection), and slow smoke runs of both."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from experiments import _lbdn_parts, _ren_parts


def test_true_system_certificate_holds_at_random_states():
    """The vertex certificate bounds the exact sample-map Jacobian at arbitrary (z, u)."""
    cert = _ren_parts.certify_true_system()
    assert cert["rate"] < 1
    key = jax.random.PRNGKey(0)
    zs = 4.0 * jax.random.normal(key, (200, 4))
    us = 5.0 * jax.random.normal(jax.random.fold_in(key, 1), (200,))
    J = jax.vmap(jax.jacfwd(lambda z, u: _ren_parts.true_step(z, u)[0]))(zs, us)
    norms = cx.norms.induced_norm(J, 2, jnp.asarray(cert["P"]))
    assert float(jnp.max(norms)) <= cert["rate"] * (1 + 1e-12)


def test_l2_projection_stays_in_ball_and_box():
    key = jax.random.PRNGKey(2)
    x0 = jax.random.uniform(key, (50, 64))
    v = x0 + 2.0 * jax.random.normal(jax.random.fold_in(key, 1), (50, 64))
    p = jax.vmap(lambda a, b: _lbdn_parts._project(a, b, 0.5))(v, x0)
    assert np.all(np.asarray(jnp.linalg.norm(p - x0, axis=-1)) <= 0.5 + 1e-12)
    assert float(p.min()) >= 0.0 and float(p.max()) <= 1.0


@pytest.mark.slow
def test_ren_sysid_smoke():
    from experiments import ren_sysid

    res = ren_sysid.run(quick=True, n_train=4, t_train=40, n_test=2, t_test=80, steps=3,
                        batch=4, samples=16, pairs=2)  # fmt: skip
    by_source = {c.source: c for c in res.claims}
    assert by_source["issue 17 (true system)"].passed
    assert by_source["issue 17 (REN, certified)"].passed
    assert by_source["issue 17 (REN, trajectories)"].passed
    assert set(res.figures) == {"fit", "contraction"}


@pytest.mark.slow
def test_lbdn_robustness_smoke():
    from experiments import lbdn_robustness

    res = lbdn_robustness.run(quick=True, gammas=[1.0, 8.0], epochs=1, inn_epochs=1,
                              mon_epochs=1, n_eval=20, pgd_steps=2, ascent_pairs=4,
                              ascent_steps=3)  # fmt: skip
    by_source = {c.source: c for c in res.claims}
    assert by_source["issue 17 (certificates sound)"].passed
    assert by_source["issue 17 (LBDN bound)"].passed
    assert by_source["issue 17 (equilibrium-model bounds)"].passed
    assert set(res.figures) == {"pareto"}
