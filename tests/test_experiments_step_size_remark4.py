"""Seed 003 Remark 4 / §5 rows: the judge passes on the measured data and fails on violations."""

import numpy as np
import pytest

from experiments import _step_size_remark4 as remark4


@pytest.fixture(scope="module")
def data():
    return remark4.remark4(quick=True)


def test_rows_pass_and_name_item(data):
    claims = remark4.judge_remark4(data)
    assert [c.items for c in claims] == [("003-20",), ("003-20",)]
    assert all(c.passed for c in claims), [c.measured for c in claims]
    # The residual network is its own loss, and its trajectory matches the deep linear one.
    assert max(a["max_diff"] for a in data["agree"]) < 1e-12
    assert abs(data["threshold_ratio"] - 1) <= data["grid_step"]


def test_judge_can_fail(data):
    bad = dict(data, agree=[dict(a, max_diff=1e-3) for a in data["agree"]])
    assert remark4.judge_remark4(bad)[0].passed is False
    bad = dict(data, threshold_ratio=1.2)
    assert remark4.judge_remark4(bad)[0].passed is False
    # A loss that keeps decreasing in phase 1 (slow convergence, not a cycle) must fail.
    bad = dict(data, loss1=np.geomspace(1.0, 1e-3, len(data["loss1"])), orbit=("converged", 1))
    assert remark4.judge_remark4(bad)[1].passed is False
    # A drop that does not make the loss fall must fail.
    bad = dict(data, loss_drop=data["loss_keep"])
    assert remark4.judge_remark4(bad)[1].passed is False


def test_residual_network_is_its_own_product():
    import jax.numpy as jnp

    v = [jnp.full((2, 2), 0.1 * i) for i in range(1, 4)]
    res = remark4._Residual(weights=v)
    ref = jnp.eye(2)
    for w in v:
        ref = (jnp.eye(2) + w) @ ref
    np.testing.assert_allclose(res.product(), ref, rtol=1e-14)
