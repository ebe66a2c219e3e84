"""experiments.deq_foundations: the compute functions on tiny sizes, the rows' items, and every
judge failing when fed a violating measurement (each check can fail)."""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import (
    _deq_foundations_nets as nets,
    _deq_foundations_theory as theory,
    deq_foundations as exp,
)


def rng(i):
    return np.random.default_rng([77, i])


def test_block_cell_is_the_net_under_jit_and_vmap():
    net = nets.random_net(rng(0), 3, (4, 2), ("tanh", "identity"), skips=[(0, 2)])
    cell = nets.block_cell(net)
    X = rng(1).standard_normal((5, 3))
    ref = np.stack([np.concatenate(nets.net_forward(net, x)) for x in X])
    # strictly block lower triangular: two applications from z = ref are exact
    out = jax.jit(jax.vmap(cell))(jnp.asarray(ref), jnp.asarray(X))
    np.testing.assert_allclose(out, ref, atol=1e-14)
    assert np.all(np.triu(np.asarray(cell.A)) == 0)


def test_expressiveness_and_weight_tied():
    e = nets.expressiveness(rng(2), widths=(3, 4, 2), batch=3, solvers=("Picard",))
    w = nets.weight_tied(rng(3), widths=(3, 4, 2), batch=3)
    rows = exp.judge_expressiveness(e, w)
    assert [r.items for r in rows] == [("004-1",), ("004-41",)]
    assert all(r.passed for r in rows), [r.measured for r in rows]
    assert e["num_steps"]["Picard"][0] >= e["L"] - 1
    bad = copy.deepcopy(e)
    bad["err"]["Picard"] = 1e-6  # the DEQ output differs from the net
    assert exp.judge_expressiveness(bad, w)[0].passed is False
    bad = copy.deepcopy(e)
    bad["dist"][e["L"] - 2] = 0.0  # exact one step early: not "exactly L steps"
    assert exp.judge_expressiveness(bad, w)[0].passed is False
    bad = copy.deepcopy(e)
    bad["deq_nonzero"] += 1  # more parameters than the net
    assert exp.judge_expressiveness(bad, w)[0].passed is False
    bad = copy.deepcopy(w)
    bad["block_err"][-1] = 1e-3
    assert exp.judge_expressiveness(e, bad)[1].passed is False
    bad = copy.deepcopy(w)
    bad["short_output_err"] = 0.0  # depth L − 1 would already do
    assert exp.judge_expressiveness(e, bad)[1].passed is False


def test_solver_memory():
    keep = ("Broyden, all updates (thesis)", "Anderson(5)")
    mem = nets.solver_memory(16, [4, 8, 16], [4, 16], keep)
    row = exp.judge_memory(mem)[0]
    assert row.items == ("004-3",) and row.passed, row.measured
    assert (
        mem["state_bytes"]["Broyden, all updates (thesis)"][-1]
        > (mem["state_bytes"]["Broyden, all updates (thesis)"][0])
    )
    bad = copy.deepcopy(mem)
    bad["state_bytes"]["Anderson(5)"] = [1000, 2000, 4000]  # Anderson growing
    assert exp.judge_memory(bad)[0].passed is False
    bad = copy.deepcopy(mem)
    bad["state_bytes"]["Broyden, all updates (thesis)"] = [5000, 5000, 5000]  # no growth
    assert exp.judge_memory(bad)[0].passed is False


def test_unrolled_error_and_its_judge():
    u = nets.unrolled_error([("normal", 0.8), ("non-normal", 0.7)], [5, 50, 200], n=8)
    for c in u["cases"]:
        assert c["truncation"][0] > c["truncation"][-1]  # truncation falls with K
        assert np.all(c["roundoff"] < 1e-4)  # float32 level
        assert c["implicit32"] < 1e-3
    row = exp.judge_unrolled(u)[0]
    assert row.items == ("004-6",) and row.passed is not None
    grow = copy.deepcopy(u)
    for c in grow["cases"]:  # a round-off that keeps growing after convergence
        c["truncation"] = np.array([1.0, 1e-12, 1e-12])
        c["roundoff"] = np.array([1e-7, 1e-7, 1e-5])
    assert exp.judge_unrolled(grow)[0].passed is True
    flat = copy.deepcopy(grow)
    for c in flat["cases"]:
        c["roundoff"] = np.array([1e-7, 1e-7, 1.2e-7])
    assert exp.judge_unrolled(flat)[0].passed is False


def test_cited_row_is_not_reproduced_with_a_reason():
    (row,) = exp.judge_cited()
    assert row.passed is None and "WikiText-103" in row.reason and row.items == ("004-7",)


def test_det_bound_rows():
    db = theory.det_bound(rng(4), count=30, d=4)
    ineq, printed = exp.judge_det(db)
    assert ineq.items == printed.items == ("004-8",)
    assert ineq.passed is True
    assert printed.passed is False  # eq. 2.6 fails on non-normal J (the measured counterexample)
    assert db["counterexample"]["smin"] < db["counterexample"]["rho"]
    bad = copy.deepcopy(db)
    bad["rows"]["gaussian"]["ratio"][0] = 0.5  # an inequality violation
    assert exp.judge_det(bad)[0].passed is False
    good = copy.deepcopy(db)  # a world where the printed identity held
    for r in good["rows"].values():
        r["smin_gap"] = np.abs(r["smin_gap"])
        r["norm_over_rho"] = np.ones_like(r["norm_over_rho"])
    good["counterexample"]["smin"] = 0.5
    assert exp.judge_det(good)[1].passed is True


def test_monotone_linear_rows():
    mo = theory.monotone_linear(rng(5), n=3, draws=4, pairs=300)
    (row,) = exp.judge_monotone(mo)
    assert row.items == ("004-10",) and row.passed, row.measured
    for case, field in [(0, "draws_below_0"), (2, "draws_below_m")]:
        bad = copy.deepcopy(mo)
        bad["cases"][list(bad["cases"])[case]][field] = 1  # a violation inside the condition
        assert exp.judge_monotone(bad)[0].passed is False
    bad = copy.deepcopy(mo)
    bad["cases"][list(bad["cases"])[1]]["draws_below_0"] = 0  # "only if" not witnessed
    assert exp.judge_monotone(bad)[0].passed is False
    bad = copy.deepcopy(mo)
    bad["mondeq_min"] = 0.9 * mo["m"]
    assert exp.judge_monotone(bad)[0].passed is False


def test_monotone_quotients_match_the_symmetric_part():
    M = jnp.array([[1.0, 3.0], [-3.0, 0.2]])  # sym = diag(1, 0.2), skew part free
    P = jnp.array([[[0.0, 1.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]]])
    np.testing.assert_allclose(theory._monotonicity_quotients(M, P), [0.2, 1.0], atol=1e-14)


def test_commutation_and_vec():
    A = rng(6).standard_normal((3, 3))
    K = theory.commutation(3)
    np.testing.assert_array_equal(K @ theory.vec(A), theory.vec(A.T))
    B, C = rng(7).standard_normal((2, 3, 3))
    np.testing.assert_allclose(theory.vec(A @ B @ C), np.kron(C.T, A) @ theory.vec(B), atol=1e-12)


def test_kronecker_rows():
    jac = [theory.mondeq_jacobians(4, 4, 3, with_w=False)]
    main, printed = exp.judge_kronecker(jac)
    assert main.items == printed.items == ("004-22",)
    assert main.passed is True, main.measured
    assert printed.passed is False  # C.0.2's signs and (uᵀ ⊗ I_N) are wrong
    assert abs(jac[0]["c02"]["dZ/dA, C.0.2 signs"] - 2) < 1e-8
    bad = copy.deepcopy(jac)
    bad[0]["errors"]["dZ/dA"] = 1e-3
    assert exp.judge_kronecker(bad)[0].passed is False
    good = copy.deepcopy(jac)  # a world where the printed forms held
    good[0]["errors"] = {k: 0.0 for k in good[0]["errors"]}
    good[0]["c02"] = {k: 0.0 for k in good[0]["c02"]}
    assert exp.judge_kronecker(good)[1].passed is True


@pytest.mark.slow
def test_quick_run_covers_the_items():
    res = exp.run(quick=True)
    items = {i for c in res.claims for i in c.items}
    assert items == {"004-1", "004-3", "004-6", "004-7", "004-8", "004-10", "004-22", "004-41"}
    assert set(res.captions) == set(res.figures)
