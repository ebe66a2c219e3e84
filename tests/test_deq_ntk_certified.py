"""The constructed monDEQ of experiments._deq_ntk_certified satisfies Conditions 1 and 2 as
printed (so the Thm 3.3.1/3.3.5 rows run where the theorems apply), and its first GD step at
η = η_max contradicts Thm 3.3.5's bound (the finding the report states)."""

import jax.numpy as jnp
import numpy as np
import pytest

from contractax import convergence as cv
from experiments import _deq_ntk_certified as certified, _deq_ntk_theory as theory


def test_instance_meets_both_conditions_and_step_at_eta_max_breaks_the_bound():
    net, x, y, radii = certified.instance()
    cert = certified._certify(net, x, y, radii)
    assert cert.wide and bool(cert.condition1.holds) and bool(cert.condition2.holds)
    eta = cert.condition2.eta_max
    np.testing.assert_allclose(eta, 4 / cert.lambda0**2, rtol=1e-12)  # η_max = 4/λ₀² here
    _, rec = certified._record(net, net, x, y, jnp.asarray(eta), cert)
    assert rec["loss_next"] > rec["loss"]  # the bound claims L(1) ≤ 0
    np.testing.assert_allclose(rec["I"].sum(), rec["loss_next"] - rec["loss"], rtol=1e-9)
    assert rec["I"][0] > rec["I_bound"][0]  # Lemma 3.3.8's I₁ bound is the one that fails
    assert rec["I"][2] <= rec["I_bound"][2]  # Lemma 3.3.10 holds
    b = cv.loss_term_bounds(eta, cert.lambda0, cert.loss0, cert.x_norm, cert.norms, radii)
    np.testing.assert_allclose(rec["I_bound"], jnp.stack(b), rtol=1e-12)


@pytest.mark.slow
def test_gd_theory_rows_fail_only_where_the_printed_pl_rate_is_wrong():
    claims = theory.judge(theory.compute())
    assert [c.passed for c in claims] == [True, True, False, True]
    assert {i for c in claims for i in c.items} == {"004-13", "004-18"}
