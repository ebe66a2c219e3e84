"""Tests of contractax.slowfast against the mathematics of seed 000 (Flynn)."""

import math
from fractions import Fraction as Fr

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import contractax as cx
from contractax import slowfast as sf

from .conftest import assert_tree_allclose

L2_LOGISTIC = 1 / (6 * math.sqrt(3))

# A small contracting Example 1 network used by the simulation tests (n = 3, m = 2).
V3 = jnp.array([[0.0, 1.0, -1.0], [0.5, 0.0, 1.0], [-1.0, 0.5, 0.0]])
RHO = jnp.array([1.0, -0.5])
TARGET = jnp.array([0.3, 0.6, 0.4])
EX1 = sf.FixedFeedbackNetwork(V3)
ARGS = (RHO, TARGET)
W0 = jnp.array([[0.2, -0.1], [0.0, 0.3], [-0.2, 0.1]])


@jax.jit
def _equilibrium(w):
    """x*(w) by the library, y*(w) by a dense solve of y D_x f = D_x g (eq. 2.5)."""
    _, xs = sf.objective(EX1, w, ARGS, jnp.full(V3.shape[0], 0.5))
    J = jax.jacfwd(EX1.f)(xs, w, ARGS)
    ys = jnp.linalg.solve(J.T, jax.grad(EX1.g)(xs, ARGS))
    return xs, ys


# ----------------------------------------------------------------------------- bounds


HAND = sf.DerivativeBounds(
    L_x_f=1.5,
    L_xx_f=0.2,
    L_w_f=0.5,
    L_ww_f=0.1,
    L_xw_f=0.3,
    L_x_g=2.0,
    L_xx_g=1.0,
    beta_x=0.5,
    k=1.0,
)


def test_timescale_hand_computed():
    ts = sf.timescale(HAND, alpha=0.25)
    # Recipe of seed 000 Example 1 by hand, in exact rationals.
    r = Fr(2) / Fr(1, 2)  # L_x g / beta_x = 4
    K = r * Fr(1, 5) + 1
    p2 = Fr(1, 2) / (2 * K)
    beta = Fr(1, 2) - p2 * K
    L_zh = max(r * Fr(3, 10), Fr(1, 2) / p2)
    L_wh = r * Fr(1, 10)
    L_wu = Fr(1, 2) + p2 * Fr(3, 10) * r
    L_zu = Fr(3, 2) + r * p2 * Fr(1, 5)
    a = Fr(1, 4)
    c = a * beta / L_zh
    tau = (1 - a) * beta * c / (c * L_wh + L_wu)
    expect = dict(K=K, p2=p2, beta=beta, L_zh=L_zh, L_wh=L_wh, L_wu=L_wu, L_zu=L_zu, c=c, tau=tau)
    assert (K, p2, beta, L_zh) == (Fr(9, 5), Fr(5, 36), Fr(1, 4), Fr(18, 5))
    for name, val in expect.items():
        np.testing.assert_allclose(float(getattr(ts, name)), float(val), rtol=1e-14)
    assert float(ts.descent_bound) == 0.25
    names = [row[0] for row in ts.table()]
    assert set(names) == set(sf.Timescale.EQUATIONS)
    # explicit p2: beta = beta_x - (p2/p1) K
    ts2 = sf.timescale(HAND, alpha=0.1, p1=2.0, p2=0.1)
    np.testing.assert_allclose(float(ts2.beta), 0.5 - 0.05 * 1.8, rtol=1e-14)


def test_example1_bounds_table2():
    v = jnp.array([[0.0, 0.6], [0.8, 0.0]])  # ‖v‖_F = 1
    rho = jnp.array([3.0, 4.0])  # ‖ρ‖_2 = 5
    b = sf.fixed_feedback_bounds(v, rho, "logistic")
    want = dict(
        beta_x=0.75,
        L_x_f=1.25,
        L_w_f=1.25,
        L_xw_f=5 * L2_LOGISTIC,
        L_ww_f=25 * L2_LOGISTIC,
        L_xx_f=L2_LOGISTIC,
        L_x_g=math.sqrt(2),
        L_xx_g=1.0,
        k=1.0,
    )
    for name, val in want.items():
        np.testing.assert_allclose(float(getattr(b, name)), val, rtol=1e-14)
    bt = sf.fixed_feedback_bounds(v, rho, "tanh")
    np.testing.assert_allclose(float(bt.beta_x), 0.0, atol=1e-15)  # L_σ' = 1: not contracting
    np.testing.assert_allclose(float(bt.L_x_g), 2 * math.sqrt(2), rtol=1e-14)
    with pytest.raises(ValueError, match="not contracting"):
        sf.timescale(bt)


def test_example1_bounds_hold(getkey):
    """Table 2 bounds dominate the true derivative norms (brute force over directions)."""
    n, m = 4, 3
    v = jax.random.normal(getkey(), (n, n)) * (1 - jnp.eye(n))
    v = 2.0 * v / jnp.linalg.norm(v)
    rho = jax.random.normal(getkey(), (m,))
    ex, args = sf.FixedFeedbackNetwork(v), (rho, jnp.zeros(n))
    b = ex.bounds(rho)
    xs = jax.random.uniform(getkey(), (16, n))
    ws = 3 * jax.random.normal(getkey(), (16, n, m))
    f = lambda x, w: ex.f(x, w, args)
    a = jax.random.normal(getkey(), (16, n))
    a = a / jnp.linalg.norm(a, axis=1, keepdims=True)
    B = jax.random.normal(getkey(), (2, 16, n, m))
    B = B / jnp.linalg.norm(B, axis=(2, 3), keepdims=True)

    def d2(x, w, dx1, dw1, dx2, dw2):
        inner = lambda x_, w_: jax.jvp(f, (x_, w_), (dx1, dw1))[1]
        return jnp.linalg.norm(jax.jvp(inner, (x, w), (dx2, dw2))[1])

    @jax.jit
    def measure(xs, ws, a, B):
        Jw = jax.vmap(lambda x, w: jax.jacfwd(f, 1)(x, w).reshape(n, n * m))(xs, ws)
        Jx = jax.vmap(jax.jacfwd(f))(xs, ws)
        z, zw = jnp.zeros_like(xs), jnp.zeros_like(ws)
        batched = jax.vmap(d2)
        return dict(
            L_w_f=jnp.max(jnp.linalg.norm(Jw, ord=2, axis=(1, 2))),
            mu=jnp.max(cx.norms.lognorm(Jx, 2)),
            L_xx_f=jnp.max(batched(xs, ws, a, zw, a[::-1], zw)),
            L_xw_f=jnp.max(batched(xs, ws, a, zw, z, B[0])),
            L_ww_f=jnp.max(batched(xs, ws, z, B[0], z, B[1])),
        )

    # the point where u = vx + wρ = 0 makes ‖D_w f‖_{F,2} = σ'(0)‖ρ‖ = L_w f exactly
    w_zero_u = -jnp.outer(v @ xs[0], rho) / jnp.dot(rho, rho)
    got = measure(xs, ws.at[0].set(w_zero_u), a, B)
    np.testing.assert_allclose(got["L_w_f"], b.L_w_f, rtol=1e-12)
    for name in ("L_xx_f", "L_xw_f", "L_ww_f"):
        assert 0 < got[name] <= getattr(b, name), name
    # μ_2(D_x f) ≤ −rate() ≤ −β_x, uniformly in w
    assert got["mu"] <= -ex.rate() + 1e-12
    assert ex.rate() >= b.beta_x


def test_timescale_refuses_bad_input():
    bad = eqx.tree_at(lambda b: b.beta_x, HAND, -0.1)
    with pytest.raises(ValueError, match="not contracting"):
        sf.timescale(bad)
    with pytest.raises(ValueError, match="1/\\(2k\\)"):
        sf.timescale(HAND, alpha=0.5)
    with pytest.raises(ValueError, match="1/\\(2k\\)"):
        sf.timescale(eqx.tree_at(lambda b: b.k, HAND, 2.0), alpha=0.25)
    with pytest.raises(ValueError, match="Proposition 3"):
        sf.timescale(HAND, p2=1.0)
    with pytest.raises(ValueError, match="activation"):
        sf.fixed_feedback_bounds(V3, RHO, "relu")


def test_timescale_jit_vmap_grad():
    fn = jax.jit(lambda a, bx: sf.timescale(eqx.tree_at(lambda b: b.beta_x, HAND, bx), a).tau)
    np.testing.assert_allclose(fn(0.25, 0.5), sf.timescale(HAND, 0.25).tau, rtol=1e-14)
    alphas = jnp.array([0.05, 0.1, 0.25, 0.4])
    taus = jax.vmap(fn, in_axes=(0, None))(alphas, 0.5)
    assert jnp.all(jnp.diff(taus) > 0)  # seed 000 §7: a small α requires a small τ
    for a, t in zip(alphas, taus):
        np.testing.assert_allclose(t, sf.timescale(HAND, float(a)).tau, rtol=1e-13)
    g = jax.grad(fn)(0.25, 0.5)
    h = 1e-6
    np.testing.assert_allclose(g, (fn(0.25 + h, 0.5) - fn(0.25 - h, 0.5)) / (2 * h), rtol=1e-7)
    with pytest.raises(Exception, match="not contracting"):
        jax.block_until_ready(fn(0.25, -0.5))


# ----------------------------------------------------------------------------- vector field


def test_vector_field_matches_dense_formulas(getkey):
    """u_y = y D_x f − ∇g and h = y D_w f against dense Jacobians, for a pytree w."""
    n, m = 4, 2

    def f(x, w, args):
        return -x + jnp.tanh(w["A"] @ x + w["B"] @ args["rho"]) * w["s"]

    g = lambda x, args: jnp.sum(jnp.sin(x) * args["t"])
    w = {
        "A": jax.random.normal(getkey(), (n, n)),
        "B": jax.random.normal(getkey(), (n, m)),
        "s": jnp.array(0.7),
    }
    args = {"rho": jax.random.normal(getkey(), (m,)), "t": jax.random.normal(getkey(), (n,))}
    x, y = jax.random.normal(getkey(), (n,)), jax.random.normal(getkey(), (n,))
    system = sf.LearningSystem(f, g)
    ux, uy, h = eqx.filter_jit(sf.vector_field)(system, x, y, w, args)
    Jx, Jw = jax.jit(jax.jacobian(f, (0, 1)))(x, w, args)
    assert_tree_allclose(ux, f(x, w, args))
    assert_tree_allclose(uy, y @ Jx - jnp.cos(x) * args["t"])
    assert_tree_allclose(h, jax.tree_util.tree_map(lambda J: jnp.tensordot(y, J, 1), Jw))
    # vmap over y: linear in y for u_y + ∇g and h
    ys = jax.random.normal(getkey(), (3, n))
    _, uys, _ = jax.jit(jax.vmap(lambda y_: sf.vector_field(system, x, y_, w, args)))(ys)
    assert_tree_allclose(uys, ys @ Jx - (jnp.cos(x) * args["t"])[None])
    with pytest.raises(ValueError, match="shape"):
        sf.vector_field(system, x, y[:2], w, args)


def test_descent_ratio_zero_at_equilibrium_and_gradient():
    """At (x*, y*) the online h equals h* = −∇(g∘x*) (eq. 2.4–2.6); the implicit gradient of
    the objective matches central finite differences."""
    xs, ys = _equilibrium(W0)

    @jax.jit
    def check(x, y, w, E):
        obj = lambda w_: sf.objective(EX1, w_, ARGS, xs, sf.FixedPointSettings(tol=1e-14))[0]
        ratio, loss, hn, gn = sf.descent_ratio(EX1, x, y, w, ARGS)
        _, _, h = sf.vector_field(EX1, x, y, w, ARGS)
        fd = (obj(w + 1e-4 * E) - obj(w - 1e-4 * E)) / 2e-4
        return ratio, loss - obj(w), hn - gn, h, -jax.grad(obj)(w), fd

    E = jnp.zeros_like(W0).at[1, 0].set(1.0)
    ratio, dloss, dn, h, hstar, fd = check(xs, ys, W0, E)
    assert ratio < 1e-8 and abs(dloss) < 1e-12 and abs(dn) < 1e-8
    np.testing.assert_allclose(h, hstar, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(-hstar[1, 0], fd, rtol=1e-6)
    # away from equilibrium the ratio is positive
    assert check(xs + 0.1, ys, W0, E)[0] > 1e-3


# ----------------------------------------------------------------------------- networks


@eqx.filter_jit
def _max_lognorm(ex, xs, ws, args, p, eta):
    J = jax.vmap(jax.jacfwd(ex.f), (0, 0, None))(xs, ws, args)
    return jnp.max(cx.norms.lognorm(J, p, eta))


def test_example_rates_uniform_in_w(getkey):
    """μ(D_x f(x, w)) ≤ −rate() for large random w: the rates of §7 do not depend on w."""
    xs = jax.random.uniform(getkey(), (32, 5))
    # Example 3, ∞-norm (eq. 7.3): rate = 1 − L_σ' max_i α_i in(i)
    mask = (jax.random.uniform(getkey(), (5, 5)) < 0.6) * (1 - jnp.eye(5))
    alpha = jnp.array([0.5, 0.3, 0.6, 0.4, 0.5])
    for norm, p, deg in (("inf", jnp.inf, mask.sum(1)), ("one", 1, mask.sum(0))):
        ex = sf.BoundedWeightNetwork(
            alpha if norm == "inf" else alpha * jnp.array([1, -1, 1, -1, 1.0]),
            mask,
            n_out=2,
            norm=norm,
        )
        rate = ex.rate()
        np.testing.assert_allclose(rate, 1 - 0.25 * jnp.max(alpha * deg), rtol=1e-12)
        ws = 10 * jax.random.normal(getkey(), (32, 5, 5))
        mu = _max_lognorm(ex, xs, ws, (jnp.ones(5), None), p, None)
        assert rate > 0.3 and mu <= -rate + 1e-12
    # Example 2 (reservoir + readout): weighted ∞-norm from contraction.optimal_rate
    n1, n2, m = 2, 3, 2
    v = 2.0 * jax.random.normal(getkey(), (n2, n2)) * (1 - jnp.eye(n2)) / 3
    ex2 = sf.ReservoirReadoutNetwork(v, n1=n1)
    rate, eta = ex2.rate(), ex2.weight()
    assert rate > 0
    ws = {
        "w": 10 * jax.random.normal(getkey(), (32, n1, n2)),
        "u": 10 * jax.random.normal(getkey(), (32, n2, m)),
    }
    assert _max_lognorm(ex2, xs, ws, (jnp.ones(m), None), jnp.inf, eta) <= -rate + 1e-12
    with pytest.raises(ValueError, match="norm"):
        sf.BoundedWeightNetwork(alpha, mask, n_out=2, norm="two")


# ----------------------------------------------------------------------------- simulation


def _reference(tau_x, tau_y, t1, x0, y0, w0):
    """Dense scipy DOP853 solution of eq. 2.7 (three-timescale form)."""
    n = x0.shape[0]

    @jax.jit
    def rhs(z):
        x, y, w = z[:n], z[n : 2 * n], z[2 * n :].reshape(W0.shape)
        Jx = jax.jacfwd(EX1.f, 0)(x, w, ARGS)
        Jw = jax.jacfwd(EX1.f, 1)(x, w, ARGS)
        return jnp.concatenate(
            [
                EX1.f(x, w, ARGS) / tau_x,
                (y @ Jx - (x - TARGET)) / tau_y,
                jnp.tensordot(y, Jw, 1).ravel(),
            ]
        )

    z0 = np.concatenate([x0, y0, np.ravel(w0)])
    sol = solve_ivp(
        lambda t, z: np.asarray(rhs(jnp.asarray(z))),
        (0, t1),
        z0,
        method="DOP853",
        rtol=1e-11,
        atol=1e-13,
    )
    return sol.y[:, -1]


def _ctrl(rtol=1e-10, atol=1e-12):
    return diffrax.PIDController(rtol=rtol, atol=atol)


def _saveat(t1, n):
    return diffrax.SaveAt(ts=jnp.linspace(0.0, t1, n))


def test_simulate_jit_vmap_over_tau():
    """One jitted, vmapped program over (τ_x, τ_y) matches a dense scipy reference; the
    monitors obey Prop. 2 and the descent condition from an equilibrium start."""
    xs, ys = _equilibrium(W0)
    taus = jnp.array([[0.05, 0.05], [0.1, 0.02]])

    @jax.jit
    @jax.vmap
    def run(tt):
        return sf.simulate(
            EX1,
            xs,
            ys,
            W0,
            ARGS,
            tt[0],
            2.0,
            tau_y=tt[1],
            saveat=_saveat(2.0, 5),
            stepsize_controller=_ctrl(),
        )

    tr = run(taus)
    assert jnp.all(tr.result == sf.RESULTS.successful)
    for i, (tx, ty) in enumerate(np.asarray(taus)):
        ref = _reference(tx, ty, 2.0, np.asarray(xs), np.asarray(ys), np.asarray(W0))
        got = np.concatenate([tr.x[i, -1], tr.y[i, -1], np.ravel(tr.w[i, -1])])
        np.testing.assert_allclose(got, ref, rtol=1e-7, atol=1e-9)
    b = EX1.bounds(RHO)
    assert jnp.all(tr.y_norm <= b.L_x_g / b.beta_x)  # Prop. 2
    assert jnp.all(tr.descent_ratio < 0.5)  # condition 4.1, small τ from equilibrium
    assert jnp.all(jnp.diff(tr.loss, axis=1) < 0)  # descent of g(x*(w(t)))
    np.testing.assert_allclose(tr.loss[:, 0], sf.objective(EX1, W0, ARGS, xs)[0])


def _counting_system():
    """Example 1 whose f counts its run-time evaluations (a host callback per call)."""
    calls = [0]

    def bump(x):
        calls[0] += 1

    def f(x, w, args):
        jax.debug.callback(bump, x)  # with an argument, so that vmap calls it per element
        return EX1.f(x, w, args)

    return sf.LearningSystem(f, EX1.g), calls


def _traced_system():
    """Example 1 whose f counts how often it is traced (Python calls happen at trace time)."""
    traces = [0]

    def f(x, w, args):
        traces[0] += 1
        return EX1.f(x, w, args)

    return sf.LearningSystem(f, EX1.g), traces


def test_simulate_evaluates_field_once_and_compiles_once():
    """Tsit5 (FSAL) needs 6 new evaluations per step; each saved time adds exactly one (the
    monitors), and the start adds a constant. A second call with new τ, t1 and start reuses
    the compiled program (f is traced only by the first call)."""
    system, calls = _counting_system()
    x0, y0 = jnp.full(3, 0.5), jnp.zeros(3)
    traces = [0]

    def traced_f(x, w, args):
        traces[0] += 1
        return system.f(x, w, args)

    counted = sf.LearningSystem(traced_f, EX1.g)  # counts both traces and evaluations
    out = {}
    for n_save in (3, 9):
        calls[0] = 0
        tr = sf.simulate(
            counted, x0, y0, W0, ARGS, 0.1, 1.0, saveat=_saveat(1.0, n_save), monitor=False
        )
        jax.effects_barrier()  # the host callbacks have all run
        out[n_save] = (calls[0], int(tr.num_steps))
    (c3, s3), (c9, s9) = out[3], out[9]
    assert s3 == s9 and c9 - c3 == 9 - 3  # one evaluation per saved time
    assert 0 <= c3 - 6 * s3 - 3 <= 3  # ≤ 6 per step + a constant at the start
    n_traces = traces[0]
    tr = sf.simulate(
        counted, x0 + 0.01, y0, W0, ARGS, 0.2, 1.5, saveat=_saveat(1.5, 9), monitor=False
    )
    jax.block_until_ready(tr)
    assert traces[0] == n_traces  # no retrace for new values


def test_simulate_nonfinite_and_bad_arguments():
    """NaN weights, state or args give RESULTS.nonfinite_start at once (not max_steps after
    100 000 steps); structural mistakes raise ValueErrors naming the argument."""
    x0, y0 = jnp.full(3, 0.5), jnp.zeros(3)
    kw = dict(saveat=_saveat(1.0, 3), monitor=False)
    bad_w = W0.at[0, 0].set(jnp.nan)
    tr = sf.simulate(EX1, x0, y0, bad_w, ARGS, 0.1, 1.0, **kw)
    assert tr.result == sf.RESULTS.nonfinite_start and int(tr.num_steps) < 50
    assert np.isnan(np.asarray(tr.x)).all()
    run = jax.jit(jax.vmap(lambda x: sf.simulate(EX1, x, y0, W0, ARGS, 0.1, 1.0, **kw)))
    trs = run(jnp.stack([x0, x0.at[1].set(jnp.inf)]))
    assert np.asarray(trs.result == sf.RESULTS.successful).tolist() == [True, False]
    assert np.asarray(trs.result == sf.RESULTS.nonfinite_start).tolist() == [False, True]
    tr = sf.simulate(EX1, x0, y0, W0, (RHO * jnp.nan, TARGET), 0.1, 1.0, **kw)
    assert tr.result == sf.RESULTS.nonfinite_start
    # a state that blows up mid-run stops the solve with nonfinite_state
    blow = sf.LearningSystem(lambda x, w, a: x**2, lambda x, a: jnp.sum(x))
    tr = sf.simulate(blow, jnp.ones(2), jnp.zeros(2), jnp.zeros(1), None, 1.0, 5.0, **kw)
    assert tr.result in (sf.RESULTS.nonfinite_state, sf.RESULTS.max_steps_reached)
    for bad, match in (
        (dict(tau=-1.0), "tau"),
        (dict(tau=0.1, tau_y=0.0), "tau_y"),
        (dict(tau=0.1, t1=0.0), "t1"),
        (dict(tau=0.1, solver="tsit5"), "solver"),
        (dict(tau=0.1, stepsize_controller=1e-6), "stepsize_controller"),
        (dict(tau=0.1, max_steps=0), "max_steps"),
        (dict(tau=0.1, y0=jnp.zeros(2)), "y"),
    ):
        args = dict(tau=0.1, t1=1.0, y0=y0) | bad
        # a wrong type is caught by jaxtyping's checker in the test suite, else by ValueError
        with pytest.raises((ValueError, TypeError), match=match):
            sf.simulate(EX1, x0, args.pop("y0"), W0, ARGS, args.pop("tau"), args.pop("t1"), **args)
    with pytest.raises((ValueError, TypeError), match="system"):
        sf.simulate(EX1.f, x0, y0, W0, ARGS, 0.1, 1.0)
    with pytest.raises(Exception, match="tau"):
        jax.jit(lambda t: sf.simulate(EX1, x0, y0, W0, ARGS, t, 1.0, **kw).x)(-1.0)


def test_simulate_throw_false_reports_max_steps():
    x0, y0 = jnp.full(3, 0.5), jnp.zeros(3)
    tr = sf.simulate(
        EX1,
        x0,
        y0,
        W0,
        ARGS,
        1e-3,
        5.0,
        saveat=_saveat(5.0, 3),
        max_steps=4,
        monitor=False,
        progress_meter=diffrax.TqdmProgressMeter(),
    )
    assert tr.result == sf.RESULTS.max_steps_reached
    assert np.isinf(np.asarray(tr.x[-1])).all() and np.isnan(tr.h_norm[-1])


def test_bootstrap_reaches_condition_4_5_and_compiles_once():
    scale = sf.timescale(EX1.bounds(RHO), alpha=0.25)
    x0, y0 = jnp.full(3, 0.5), jnp.zeros(3)
    bs = sf.bootstrap(EX1, x0, y0, W0, ARGS, scale)
    assert bool(bs.satisfied) and bs.u_norm <= bs.bound and 0 < bs.t < 100 * scale.tau / scale.beta
    assert bs.result == sf.RESULTS.successful
    ux, uy, h = sf.vector_field(EX1, bs.x, bs.y, W0, ARGS)
    np.testing.assert_allclose(bs.u_norm, sf.joint_norm(ux, uy, 2, scale.p1, scale.p2))
    # condition 4.5 + Thm. 3 ⇒ descent ratio ≤ kα
    assert sf.descent_ratio(EX1, bs.x, bs.y, W0, ARGS)[0] <= scale.descent_bound
    system, traces = _traced_system()
    sf.bootstrap(system, x0, y0, W0, ARGS, scale)
    n0 = traces[0]
    sf.bootstrap(system, x0 + 0.1, y0, W0 * 2, ARGS, scale, tau=scale.tau * 2)
    assert traces[0] == n0  # compiled once
    with pytest.raises((ValueError, TypeError), match="scale"):
        sf.bootstrap(EX1, x0, y0, W0, ARGS, 0.1)


@pytest.mark.slow
def test_stiff_and_imex_solvers_agree_with_reference():
    import optimistix as optx

    xs, ys = _equilibrium(W0)
    newton = optx.Newton(rtol=1e-11, atol=1e-13)
    ref = _reference(0.01, 0.01, 1.0, np.asarray(xs + 0.05), np.asarray(ys), np.asarray(W0))
    for solver in (diffrax.Kvaerno5(root_finder=newton), diffrax.KenCarp4(root_finder=newton)):
        tr = sf.simulate(
            EX1,
            xs + 0.05,
            ys,
            W0,
            ARGS,
            0.01,
            1.0,
            saveat=_saveat(1.0, 3),
            solver=solver,
            monitor=False,
            stepsize_controller=_ctrl(1e-9, 1e-11),
        )
        np.testing.assert_allclose(np.ravel(tr.w[-1]), ref[6:], rtol=1e-6, atol=1e-8)
        assert np.isnan(tr.descent_ratio).all()  # monitor=False


@pytest.mark.slow
def test_sweep_tau_and_gradient_flow_compile_once():
    xs, ys = _equilibrium(W0)
    taus = jnp.array([0.2, 0.01, 0.05, 0.1, 0.03])
    kw = dict(bucket_size=2, saveat=_saveat(1.0, 3), monitor=False)
    tr = sf.sweep_tau(EX1, xs, ys, W0, ARGS, taus, 1.0, **kw)
    one = sf.simulate(EX1, xs, ys, W0, ARGS, 0.01, 1.0, saveat=_saveat(1.0, 3), monitor=False)
    assert_tree_allclose(tr.w[1], one.w, rtol=1e-9, atol=1e-12)
    system, traces = _traced_system()
    sf.sweep_tau(system, xs, ys, W0, ARGS, taus, 1.0, **kw)
    n0 = traces[0]
    sf.sweep_tau(system, xs + 0.01, ys, W0, ARGS, taus * 2, 1.0, **kw)
    assert traces[0] == n0
    gf = sf.gradient_flow(system, W0, ARGS, xs, 1.0, saveat=_saveat(1.0, 3))
    assert jnp.all(jnp.diff(gf.loss) < 0)
    n0 = traces[0]
    sf.gradient_flow(system, W0 * 0.5, ARGS, xs, 2.0, saveat=_saveat(2.0, 3))
    assert traces[0] == n0


@pytest.mark.slow
def test_simulate_grad_wrt_tau_matches_finite_differences():
    """Reverse-mode derivative through the diffrax solve (online loss at t1 w.r.t. τ)."""
    xs, ys = _equilibrium(W0)

    @jax.jit
    def final_loss(tau):
        tr = sf.simulate(
            EX1,
            xs + 0.05,
            ys,
            W0,
            ARGS,
            tau,
            1.0,
            saveat=_saveat(1.0, 2),
            monitor=False,
            stepsize_controller=_ctrl(),
        )
        return tr.online_loss[-1]

    g = jax.grad(final_loss)(0.1)
    fd = (final_loss(0.1 + 1e-5) - final_loss(0.1 - 1e-5)) / 2e-5
    np.testing.assert_allclose(g, fd, rtol=1e-4)


def test_bounded_weight_network_bounds_hold(getkey):
    """BoundedWeightNetwork.bounds() (eq. 7.3, ∞-norm, Frobenius on w) dominate the true
    derivative norms at random x ∈ [0,1]^n, large w and random unit directions."""
    n, n_out, N = 5, 2, 32
    mask = (jax.random.uniform(getkey(), (n, n)) < 0.6) * (1 - jnp.eye(n))
    alpha = 2.0 / jnp.maximum(mask.sum(1), 1.0)
    net = sf.BoundedWeightNetwork(alpha, mask, n_out=n_out)
    b = net.bounds()
    np.testing.assert_allclose(b.beta_x, net.rate(), rtol=1e-12)
    args = (jax.random.normal(getkey(), (n,)), jnp.zeros(n_out))
    xs = jax.random.uniform(getkey(), (N, n))
    ws = 3 * jax.random.normal(getkey(), (N, n, n))
    a = jnp.sign(jax.random.normal(getkey(), (2, N, n)))  # ‖a‖_∞ = 1 (vertices)
    B = jax.random.normal(getkey(), (2, N, n, n)) * mask[None, None]
    B = B / jnp.linalg.norm(B, axis=(2, 3), keepdims=True)
    f = lambda x, w: net.f(x, w, args)

    def d2(x, w, dx1, dw1, dx2, dw2):
        inner = lambda x_, w_: jax.jvp(f, (x_, w_), (dx1, dw1))[1]
        return jnp.max(jnp.abs(jax.jvp(inner, (x, w), (dx2, dw2))[1]))

    @jax.jit
    def measure(xs, ws, a, B):
        z, zw = jnp.zeros_like(xs), jnp.zeros_like(ws)
        d1 = lambda x, w, dx, dw: jnp.max(jnp.abs(jax.jvp(f, (x, w), (dx, dw))[1]))
        bd2 = jax.vmap(d2)
        return dict(
            L_w_f=jnp.max(jax.vmap(d1)(xs, ws, z, B[0])),
            L_x_f=jnp.max(jax.vmap(d1)(xs, ws, a[0], zw)),
            L_xx_f=jnp.max(bd2(xs, ws, a[0], zw, a[1], zw)),
            L_xw_f=jnp.max(bd2(xs, ws, a[0], zw, z, B[0])),
            L_ww_f=jnp.max(bd2(xs, ws, z, B[0], z, B[1])),
        )

    got = measure(xs, ws, a, B)
    for name, val in got.items():
        assert 0 < val <= getattr(b, name), name
    with pytest.raises(ValueError, match="norm"):
        sf.BoundedWeightNetwork(alpha, mask, n_out=n_out, norm="one").bounds()
