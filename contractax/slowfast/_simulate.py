"""`simulate`: the slow–fast learning system (Flynn 2015, eq. 2.7) on diffrax, with monitors."""

from __future__ import annotations

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PyTree

from .._checks import check_count, check_positive
from ..norms import dual
from ._core import FixedPointSettings, _ratio
from ._system import (
    AbstractLearningSystem,
    _check_state,
    fast_field,
    slow_field,
    tree_norm,
    vector_field,
)


class RESULTS(diffrax.RESULTS):
    """diffrax's result codes plus the two ways a slow–fast run stops on NaN or inf."""

    nonfinite_start = (
        "The initial state (x0, y0, w0), args or the vector field at the start contain NaN or "
        "inf: nothing was integrated. Pass finite initial values and args."
    )
    nonfinite_state = (
        "The state (x, y, w) became NaN or inf during the integration: the weights probably "
        "diverged. Lower tau (see slowfast.timescale) or the initial weights."
    )


class Trajectory(eqx.Module):
    """A saved trajectory of the learning system with its descent monitors.

    **Fields:** `ts` (T,); `x`, `y` (T, n); `w` (pytree, leading T); `loss` $g(x^*(w(t)))$;
    `online_loss` $g(x(t))$; `descent_ratio` $\\|h-h^*\\|_2/\\|h\\|_2$ (eq. 4.1); `h_norm`
    $\\|h\\|_2$; `grad_norm` $\\|h^*\\|_2$; `ux_norm` $\\|f\\|_p$; `uy_norm`
    $\\|y D_xf - D_xg\\|_{p^*}$; `y_norm` $\\|y\\|_{p^*}$; `result` (`slowfast.RESULTS`);
    `num_steps`. Monitors are NaN at times the solver did not reach; `loss`, `descent_ratio`
    and `grad_norm` are NaN with `monitor=False`.
    """

    ts: Float[Array, "*b T"]
    x: Float[Array, "*b T n"]
    y: Float[Array, "*b T n"]
    w: PyTree
    loss: Float[Array, "*b T"]
    online_loss: Float[Array, "*b T"]
    descent_ratio: Float[Array, "*b T"]
    h_norm: Float[Array, "*b T"]
    grad_norm: Float[Array, "*b T"]
    ux_norm: Float[Array, "*b T"]
    uy_norm: Float[Array, "*b T"]
    y_norm: Float[Array, "*b T"]
    result: RESULTS
    num_steps: Any


_IMEX = (diffrax.KenCarp3, diffrax.KenCarp4, diffrax.KenCarp5, diffrax.Sil3)
DEFAULT_CONTROLLER = diffrax.PIDController(rtol=1e-7, atol=1e-9, pcoeff=0.3, icoeff=0.4)


def _all_finite(tree) -> Array:
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(l)) for l in leaves]))


def _real(x) -> Array:
    return jnp.asarray(x, dtype=jnp.result_type(float))


def _check_interval(t0, t1, name="t1"):
    """Return t1 after checking t1 > t0: now when concrete, else at run time."""
    if isinstance(t0, jax.core.Tracer) or isinstance(t1, jax.core.Tracer):
        return eqx.error_if(t1, ~(t1 > t0), f"{name} must be later than t0.")
    check_positive(np.asarray(t1 - t0), f"{name} - t0 ({name} must be later than t0)")
    return t1


def _check_common(system, solver, controller, max_steps):
    if not isinstance(system, AbstractLearningSystem):
        raise ValueError(
            "system must be a slowfast.AbstractLearningSystem (e.g. LearningSystem(f, g) or a "
            f"network such as FixedFeedbackNetwork), got {type(system).__name__}."
        )
    if not isinstance(solver, diffrax.AbstractSolver):
        raise ValueError(f"solver must be a diffrax solver (e.g. diffrax.Tsit5()), got {solver!r}.")
    if not isinstance(controller, diffrax.AbstractStepSizeController):
        raise ValueError(
            "stepsize_controller must be a diffrax step-size controller (e.g. "
            f"diffrax.PIDController(rtol=1e-7, atol=1e-9)), got {controller!r}."
        )
    check_count(max_steps, "max_steps")


def _terms(system, solver, tau_x, tau_y, ok0):
    """diffrax terms; each evaluation computes only what its term needs, once."""
    zero = lambda tree: jax.tree_util.tree_map(jnp.zeros_like, tree)
    gate = lambda tree: jax.tree_util.tree_map(lambda v: jnp.where(ok0, v, 0), tree)

    if isinstance(solver, _IMEX):

        def fast(t, s, a):
            ux, uy = fast_field(system, s[0], s[1], s[2], a)
            return gate((ux / tau_x, uy / tau_y, zero(s[2])))

        def slow(t, s, a):
            h = slow_field(system, s[0], s[1], s[2], a)
            return gate((zero(s[0]), zero(s[1]), h))

        return diffrax.MultiTerm(diffrax.ODETerm(slow), diffrax.ODETerm(fast))

    def full(t, s, a):
        ux, uy, h = vector_field(system, s[0], s[1], s[2], a)
        return gate((ux / tau_x, uy / tau_y, h))

    return diffrax.ODETerm(full)


def simulate(
    system: AbstractLearningSystem,
    x0: Float[Array, " n"],
    y0: Float[Array, " _n"],
    w0: PyTree,
    args: Any,
    tau: Float[ArrayLike, ""],
    t1: Float[ArrayLike, ""],
    *,
    t0: Float[ArrayLike, ""] = 0.0,
    tau_y: Float[ArrayLike, ""] | None = None,
    solver: diffrax.AbstractSolver = diffrax.Tsit5(),
    stepsize_controller: diffrax.AbstractStepSizeController = DEFAULT_CONTROLLER,
    saveat: diffrax.SaveAt | None = None,
    dt0: Float[ArrayLike, ""] | None = None,
    max_steps: int = 100_000,
    throw: bool = False,
    progress_meter: diffrax.AbstractProgressMeter = diffrax.NoProgressMeter(),
    monitor: bool = True,
    fixed_point: FixedPointSettings = FixedPointSettings(),
) -> Trajectory:
    """Integrate the slow–fast learning system (Flynn 2015, §2, eq. 2.7) with diffrax.

    $$\\tau_x\\dot x = f(x, w),\\quad \\tau_y\\dot y = y D_x f - D_x g,\\quad \\dot w = y D_w f,$$

    with $\\tau_y = \\tau_x = \\tau$ unless `tau_y` is given (the three-timescale variant).
    Each step evaluates the field once per solver stage (one $f$ and one VJP); an IMEX
    `solver` (`diffrax.KenCarp3/4/5`, `Sil3`) treats the fast $(x, y)$ part implicitly and
    the weight flow explicitly, each term computing only its own part. For small τ use a
    stiff solver, e.g. `diffrax.Kvaerno5(root_finder=optx.Newton(rtol=1e-9, atol=1e-11))`
    (a Newton root finder 100× tighter than the step tolerances keeps the PID controller
    from stalling). At every saved time the monitors of `Trajectory` are computed from one
    field evaluation, with the descent ratio against the exact gradient at the true fixed point.

    Compiled once per static configuration (system structure and callables, solver,
    controller, saveat structure, `max_steps`, `throw`, `monitor`): new values of τ, t1 or
    the initial state reuse the program. Works under `jit` and `vmap` (e.g. over `tau`).
    A start with NaN/inf (state, args, or field) returns at once with
    `RESULTS.nonfinite_start`; a state that turns non-finite stops the run with
    `RESULTS.nonfinite_state` (a diffrax event). With `throw=False` (default, so that a
    vmapped sweep over τ returns its failures instead of raising) a failure is reported in
    `Trajectory.result` and unreached times are inf/NaN; `throw=True` raises.

    **Arguments:** `system` (an `AbstractLearningSystem`), initial `x0`, `y0`, `w0` (any
    pytree), `args`, `tau`, end time `t1`; `t0`; diffrax `solver`, `stepsize_controller`,
    `saveat` (default `SaveAt(ts=linspace(t0, t1, 101))`, states only), `dt0`, `max_steps`,
    `progress_meter`; `monitor=False` skips the fixed-point monitors; `fixed_point` configures
    the solves for $x^*(w)$ (`FixedPointSettings`).

    **Returns:** a `Trajectory`.

    **Example:**

    ```python
    net = cx.slowfast.FixedFeedbackNetwork(v)
    traj = cx.slowfast.simulate(net, x0, y0, w0, (rho, target), tau=0.01, t1=50.0)
    traj.descent_ratio.max(), traj.loss[-1]
    ```

    Source: Flynn 2015, §2 (eq. 2.7), §4 (eq. 4.1).
    """
    _check_common(system, solver, stepsize_controller, max_steps)
    _check_state(x0, y0)
    tau_x = check_positive(_real(tau), "tau")
    tau_y = tau_x if tau_y is None else check_positive(_real(tau_y), "tau_y")
    t0, t1 = _real(t0), _real(t1)
    t1 = _check_interval(t0, t1)
    if saveat is None:
        saveat = diffrax.SaveAt(ts=jnp.linspace(t0, t1, 101))
    elif not isinstance(saveat, diffrax.SaveAt):
        raise ValueError(f"saveat must be a diffrax.SaveAt, got {saveat!r}.")
    dt0 = None if dt0 is None else check_positive(_real(dt0), "dt0")
    cfg = (solver, stepsize_controller, saveat, max_steps, throw, progress_meter, monitor)
    return _simulate(system, (x0, y0, w0), args, (tau_x, tau_y), (t0, t1, dt0), cfg, fixed_point)


@eqx.filter_jit
def _simulate(system, state0, args, taus, times, cfg, settings):
    solver, controller, saveat, max_steps, throw, meter, monitor = cfg
    (tau_x, tau_y), (t0, t1, dt0) = taus, times
    ok0 = _all_finite((state0, vector_field(system, *state0, args)))
    safe0 = jax.tree_util.tree_map(lambda v: jnp.where(ok0, v, 0), state0)
    stop = diffrax.Event(lambda t, s, a, **kw: jnp.logical_not(_all_finite(s)))
    sol = diffrax.diffeqsolve(
        _terms(system, solver, tau_x, tau_y, ok0),
        solver,
        t0,
        t1,
        dt0,
        safe0,
        args,
        saveat=saveat,
        stepsize_controller=controller,
        max_steps=max_steps,
        throw=throw,
        progress_meter=meter,
        event=stop,
    )
    result = RESULTS.promote(sol.result)
    result = RESULTS.where(result == RESULTS.event_occurred, RESULTS.nonfinite_state, result)
    result = RESULTS.where(ok0, result, RESULTS.nonfinite_start)
    if throw:
        sol = eqx.error_if(sol, result != RESULTS.successful, "slowfast.simulate failed.")
    xs, ys, ws = jax.tree_util.tree_map(lambda v: jnp.where(ok0, v, jnp.nan), sol.ys)
    mon = _monitors(system, xs, ys, ws, args, safe0, monitor, settings)
    return Trajectory(
        ts=sol.ts, x=xs, y=ys, w=ws, **mon, result=result, num_steps=sol.stats["num_steps"]
    )


def _monitors(system, xs, ys, ws, args, state0, monitor, settings):
    """Per saved time, from one field evaluation: losses, descent ratio, the norms of Prop. 1–2."""
    q = dual(system.p)[0]

    def one(x, y, w):
        ok = _all_finite((x, y, w))
        x, y, w = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), (x, y, w), state0)
        ux, uy, h = vector_field(system, x, y, w, args)
        out = dict(
            online_loss=system.g(x, args),
            ux_norm=jnp.linalg.norm(ux, ord=system.p),
            uy_norm=jnp.linalg.norm(uy, ord=q),
            y_norm=jnp.linalg.norm(y, ord=q),
        )
        if monitor:
            ratio, loss, hn, gn = _ratio(system, h, x, w, args, settings)
        else:
            nan = jnp.full((), jnp.nan, dtype=x.dtype)
            ratio, loss, hn, gn = nan, nan, tree_norm(h), nan
        out |= dict(descent_ratio=ratio, loss=loss, h_norm=hn, grad_norm=gn)
        return jax.tree_util.tree_map(lambda v: jnp.where(ok, v, jnp.nan), out)

    return jax.vmap(one)(xs, ys, ws)
