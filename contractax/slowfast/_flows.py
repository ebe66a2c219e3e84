"""Siblings of `simulate`: the bootstrap of §6, the exact gradient flow, and sweeps over τ."""

from __future__ import annotations

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PyTree

from .._checks import check_count, check_positive
from ._bounds import Timescale
from ._core import FixedPointSettings, objective
from ._simulate import (
    DEFAULT_CONTROLLER,
    RESULTS,
    Trajectory,
    _check_common,
    _check_interval,
    _real,
    simulate,
)
from ._system import (
    AbstractLearningSystem,
    _check_state,
    fast_field,
    joint_norm,
    slow_field,
    tree_norm,
)


class Bootstrap(eqx.Module):
    """Result of `bootstrap`: the state where condition 4.5 first held (or the last state).

    **Fields:** `x`, `y`; `t` (time spent); `satisfied` (bool); `u_norm` $\\|u\\|_Z$;
    `bound` $c\\|h\\|_W$; `result` (`slowfast.RESULTS`).
    """

    x: Float[Array, "*b n"]
    y: Float[Array, "*b n"]
    t: Float[Array, "*b"]
    satisfied: Any
    u_norm: Float[Array, "*b"]
    bound: Float[Array, "*b"]
    result: RESULTS


class GradientFlow(eqx.Module):
    """Result of `gradient_flow`: `ts`, `w` (leading T), `loss` $g(x^*(w(t)))$, `result`."""

    ts: Float[Array, " T"]
    w: PyTree
    loss: Float[Array, " T"]
    result: RESULTS
    num_steps: Any


def bootstrap(
    system: AbstractLearningSystem,
    x0: Float[Array, " n"],
    y0: Float[Array, " _n"],
    w: PyTree,
    args: Any,
    scale: Timescale,
    *,
    tau: Float[ArrayLike, ""] | None = None,
    t_max: Float[ArrayLike, ""] | None = None,
    solver: diffrax.AbstractSolver = diffrax.Tsit5(),
    stepsize_controller: diffrax.AbstractStepSizeController = diffrax.PIDController(
        rtol=1e-8, atol=1e-10
    ),
    max_steps: int = 100_000,
) -> Bootstrap:
    """Run $(x, y)$ with $w$ frozen until condition 4.5 holds (Flynn 2015, §6).

    Condition (Thm. 3's invariant set, eq. 4.5 with $c = \\alpha\\beta/L_z h$):
    $$\\|u\\|_Z = p_1\\|f(x, w)\\|_p + p_2\\|y D_x f - D_x g\\|_{p^*} \\le c\\,\\|y D_w f\\|_W,$$
    with $p$ = `system.p`. Since $u \\to 0$ and $h \\to h^* \\ne 0$ exponentially fast, it
    eventually holds; after it the learning system can be started with the timescale
    `scale.tau` (a diffrax event stops the run there).

    **Arguments:** `system`, `x0`, `y0`, frozen `w`, `args`; `scale` a `Timescale` (gives
    $c, p_1, p_2, \\tau$); `tau` (default `scale.tau`); `t_max` the longest run (default
    $100\\,\\tau/\\beta$); diffrax `solver`, `stepsize_controller`, `max_steps`.

    **Returns:** a `Bootstrap` (`satisfied` is False when `t_max` passed first).

    **Example:** `boot = cx.slowfast.bootstrap(net, x0, jnp.zeros(n), w0, args, scale)`

    Source: Flynn 2015, §6 (last paragraph before §7), eq. 4.5, Thm. 3.
    """
    _check_common(system, solver, stepsize_controller, max_steps)
    _check_state(x0, y0)
    if not isinstance(scale, Timescale):
        raise ValueError(f"scale must be a slowfast.Timescale, got {type(scale).__name__}.")
    tau = scale.tau if tau is None else check_positive(_real(tau), "tau")
    t_max = 100 * tau / scale.beta if t_max is None else _real(t_max)
    t_max = _check_interval(_real(0.0), t_max, "t_max")
    cfg = (solver, stepsize_controller, max_steps)
    return _bootstrap(system, (x0, y0), w, args, scale, tau, t_max, cfg)


@eqx.filter_jit
def _bootstrap(system, z0, w, args, scale, tau, t_max, cfg):
    solver, controller, max_steps = cfg

    def gap(s):
        ux, uy = fast_field(system, s[0], s[1], w, args)
        h = slow_field(system, s[0], s[1], w, args)
        un = joint_norm(ux, uy, system.p, scale.p1, scale.p2)
        return un, scale.c * tree_norm(h)

    def rhs(t, s, a):
        ux, uy = fast_field(system, s[0], s[1], w, args)
        return ux / tau, uy / tau

    def cond(t, s, a, **kw):
        un, bound = gap(s)
        return un <= bound

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs),
        solver,
        0.0,
        t_max,
        None,
        z0,
        None,
        stepsize_controller=controller,
        max_steps=max_steps,
        event=diffrax.Event(cond),
        throw=False,
    )
    x, y = sol.ys[0][-1], sol.ys[1][-1]
    un, bound = gap((x, y))
    result = RESULTS.promote(sol.result)
    result = RESULTS.where(result == RESULTS.event_occurred, RESULTS.successful, result)
    return Bootstrap(
        x=x, y=y, t=sol.ts[-1], satisfied=un <= bound, u_norm=un, bound=bound, result=result
    )


def gradient_flow(
    system: AbstractLearningSystem,
    w0: PyTree,
    args: Any,
    x0: Float[Array, " n"],
    t1: Float[ArrayLike, ""],
    *,
    saveat: diffrax.SaveAt | None = None,
    solver: diffrax.AbstractSolver = diffrax.Tsit5(),
    stepsize_controller: diffrax.AbstractStepSizeController = diffrax.PIDController(
        rtol=1e-7, atol=1e-9
    ),
    max_steps: int = 100_000,
    fixed_point: FixedPointSettings = FixedPointSettings(),
) -> GradientFlow:
    """The exact gradient flow $\\dot w = -\\nabla_w g(x^*(w))$ (Flynn 2015, §2, eq. 2.3).

    Every right-hand-side evaluation solves the fixed point $x^*(w)$ with
    `contractax.fixed_point` (warm start `x0`) and differentiates through it implicitly:
    the non-local reference that the slow–fast system approximates. Compiled once per
    static configuration.

    **Returns:** a `GradientFlow` with the saved weights and $g(x^*(w(t)))$ (default saved
    times `linspace(0, t1, 101)`).

    **Example:** `gf = cx.slowfast.gradient_flow(net, w0, args, x0, 100.0)`

    Source: Flynn 2015, §2, eq. 2.3–2.4.
    """
    _check_common(system, solver, stepsize_controller, max_steps)
    t1 = _check_interval(_real(0.0), _real(t1))
    if saveat is None:
        saveat = diffrax.SaveAt(ts=jnp.linspace(0.0, t1, 101))
    cfg = (solver, stepsize_controller, saveat, max_steps)
    return _gradient_flow(system, w0, args, x0, t1, cfg, fixed_point)


@eqx.filter_jit
def _gradient_flow(system, w0, args, x0, t1, cfg, settings):
    solver, controller, saveat, max_steps = cfg
    obj = lambda w: objective(system, w, args, x0, settings)[0]

    def rhs(t, w, a):
        return jax.tree_util.tree_map(jnp.negative, jax.grad(obj)(w))

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs),
        solver,
        0.0,
        t1,
        None,
        w0,
        None,
        saveat=saveat,
        stepsize_controller=controller,
        max_steps=max_steps,
        throw=False,
    )
    return GradientFlow(
        ts=sol.ts,
        w=sol.ys,
        loss=jax.vmap(obj)(sol.ys),
        result=RESULTS.promote(sol.result),
        num_steps=sol.stats["num_steps"],
    )


def sweep_tau(
    system: AbstractLearningSystem,
    x0: Float[Array, " n"],
    y0: Float[Array, " _n"],
    w0: PyTree,
    args: Any,
    taus: Float[Array, " B"],
    t1: Float[ArrayLike, ""],
    *,
    bucket_size: int | None = None,
    **simulate_kwargs,
) -> Trajectory:
    """`simulate` over many timescales τ as one compiled program (vmap, bucketed).

    The τ are sorted and run in buckets of `bucket_size` consecutive values (a vmapped
    adaptive solve takes as many steps as its stiffest member, so similar τ share a
    bucket; `lax.map` over buckets); results come back in the order of `taus`. Keywords
    are those of `simulate`. Compiled once per static configuration and number of τ.

    **Returns:** a `Trajectory` whose leaves have a leading axis of length `len(taus)`.

    **Example:** `trajs = cx.slowfast.sweep_tau(net, x0, y0, w0, args, taus, 50.0, bucket_size=8)`

    Source: Flynn 2015, §5–§7 (the timescale τ of Thm. 3).
    """
    taus = check_positive(_real(taus), "taus")
    if taus.ndim != 1 or taus.shape[0] == 0:
        raise ValueError(f"taus must be a non-empty 1-D array, got shape {taus.shape}.")
    size = taus.shape[0] if bucket_size is None else check_count(bucket_size, "bucket_size")
    # Validate once, on the first τ, with the same rules as simulate.
    _check_common(
        system,
        simulate_kwargs.get("solver", diffrax.Tsit5()),
        simulate_kwargs.get("stepsize_controller", DEFAULT_CONTROLLER),
        simulate_kwargs.get("max_steps", 100_000),
    )
    if "tau_y" in simulate_kwargs:
        raise ValueError("sweep_tau sweeps tau_x = tau_y = tau; call simulate for tau_y.")
    return _sweep(system, (x0, y0, w0), args, taus, t1, min(size, taus.shape[0]), simulate_kwargs)


def _sweep(system, state0, args, taus, t1, size, kwargs):
    order = jnp.argsort(taus)
    n = taus.shape[0]
    pad = -n % size
    sorted_taus = jnp.concatenate([taus[order], jnp.repeat(taus[order][-1:], pad)])
    out = _sweep_jit(system, state0, args, sorted_taus.reshape(-1, size), _real(t1), kwargs)
    out = jax.tree_util.tree_map(lambda a: a.reshape(-1, *a.shape[2:])[:n], out)
    inv = jnp.argsort(order)
    return jax.tree_util.tree_map(lambda a: a[inv], out)


@eqx.filter_jit
def _sweep_jit(system, state0, args, buckets, t1, kwargs):
    one = lambda tau: simulate(system, *state0, args, tau, t1, **kwargs)
    return jax.lax.map(jax.vmap(one), buckets)
