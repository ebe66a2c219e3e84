"""Flynn's slow–fast learning system: forward, adjoint and weight flows on diffrax.

The system (seed 000 eq. 2.7) trains a contracting recurrent network $\\dot x = f(x, w)$ on
the objective $g(x^*(w))$, locally in time and space:

$$\\tau_x \\dot x = f(x, w),\\qquad \\tau_y \\dot y = y D_x f - D_x g,\\qquad
  \\dot w = h = y D_w f,$$

with $\\tau_x = \\tau_y = \\tau$ in the paper. `timescale` computes a τ for which the weight
flow provably descends the true objective (Thm. 3, Prop. 3, 5, 6, Thm. 4);
`simulate` integrates the system and monitors the descent ratio
$\\|h - h^*\\|_2/\\|h\\|_2$ (eq. 4.1) against the exact gradient $h^* = -\\nabla_w g(x^*(w))$,
computed with `contractax.fixed_point` and implicit differentiation.

Callbacks: `f(x, w, args) -> dx` with `x` a vector and `w` any pytree of arrays;
`g(x, args) -> scalar`.

Source: seeds/000_6fe122188c81f0a1.txt (T. Flynn, *Timescale Separation in Recurrent Neural
Networks*, Neural Computation 2015).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx
from jaxtyping import Array, ArrayLike, Float, PyTree

from ._slowfast_bounds import (
    ACTIVATIONS,
    DerivativeBounds,
    Timescale,
    activation_bounds,
    example1_bounds,
    timescale,
)
from ._slowfast_core import (
    descent_ratio,
    dual_p,
    joint_norm,
    objective,
    tree_norm,
    vector_field,
)
from ._slowfast_examples import Example1, Example2, Example3

__all__ = [
    "ACTIVATIONS",
    "Bootstrap",
    "DerivativeBounds",
    "Example1",
    "Example2",
    "Example3",
    "GradientFlow",
    "Timescale",
    "Trajectory",
    "activation_bounds",
    "bootstrap",
    "descent_ratio",
    "dual_p",
    "example1_bounds",
    "gradient_flow",
    "joint_norm",
    "objective",
    "simulate",
    "sweep_tau",
    "timescale",
    "tree_norm",
    "vector_field",
]


# ----------------------------------------------------------------------------- simulation


class Trajectory(eqx.Module):
    """A saved trajectory of the learning system with its descent monitors.

    **Fields:** `ts` (T,); `x`, `y` (T, n); `w` (pytree, leading T); `loss` $g(x^*(w(t)))$;
    `online_loss` $g(x(t))$; `descent_ratio` $\\|h-h^*\\|_2/\\|h\\|_2$ (eq. 4.1); `h_norm`
    $\\|h\\|_2$; `grad_norm` $\\|h^*\\|_2$; `ux_norm` $\\|f\\|_p$; `uy_norm`
    $\\|y D_xf - D_xg\\|_{p^*}$; `y_norm` $\\|y\\|_{p^*}$; `result` (diffrax `RESULTS`);
    `num_steps`. Monitors are NaN at times the solver did not reach or with `monitor=False`.
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
    result: Any
    num_steps: Any


class Bootstrap(eqx.Module):
    """Result of `bootstrap`: the state where condition 4.5 first held (or the last state).

    **Fields:** `x`, `y`; `t` (time spent); `satisfied` (bool); `u_norm` $\\|u\\|_Z$;
    `bound` $c\\|h\\|_W$; `result` (diffrax `RESULTS`).
    """

    x: Float[Array, "*b n"]
    y: Float[Array, "*b n"]
    t: Float[Array, "*b"]
    satisfied: Any
    u_norm: Float[Array, "*b"]
    bound: Float[Array, "*b"]
    result: Any


class GradientFlow(eqx.Module):
    """Result of `gradient_flow`: `ts`, `w` (leading T), `loss` $g(x^*(w(t)))$, `result`."""

    ts: Float[Array, " T"]
    w: PyTree
    loss: Float[Array, " T"]
    result: Any
    num_steps: Any


_IMEX = (diffrax.KenCarp3, diffrax.KenCarp4, diffrax.KenCarp5, diffrax.Sil3)


def _positive(x, name):
    x = jnp.asarray(x, dtype=jnp.result_type(float))
    msg = f"{name} must be positive."
    if isinstance(x, jax.core.Tracer):
        return eqx.error_if(x, x <= 0, msg)
    if not bool(jnp.all(x > 0)):
        raise ValueError(msg)
    return x


def _make_solver(solver, rtol, atol):
    """A diffrax solver from a name ("tsit5", "kvaerno5", "kencarp4") or an instance."""
    if not isinstance(solver, str):
        return solver
    # Implicit stages are solved by Newton at tolerances 100x tighter than the step control:
    # diffrax's default chord iteration stalls the step-size controller at tight tolerances.
    newton = optx.Newton(rtol=rtol * 1e-2, atol=atol * 1e-2)
    makers = {
        "tsit5": lambda: diffrax.Tsit5(),
        "dopri5": lambda: diffrax.Dopri5(),
        "kvaerno5": lambda: diffrax.Kvaerno5(root_finder=newton),
        "kencarp4": lambda: diffrax.KenCarp4(root_finder=newton),
        "kencarp5": lambda: diffrax.KenCarp5(root_finder=newton),
    }
    if solver not in makers:
        raise ValueError(
            f"Unknown solver {solver!r}; use one of {sorted(makers)} or a diffrax solver instance."
        )
    return makers[solver]()


def _controller(rtol, atol, pcoeff, icoeff):
    return diffrax.PIDController(rtol=rtol, atol=atol, pcoeff=pcoeff, icoeff=icoeff)


def simulate(
    f: Callable,
    g: Callable,
    x0: Float[Array, " n"],
    y0: Float[Array, " n"],
    w0: PyTree,
    args: Any,
    tau: ArrayLike,
    t1: float,
    *,
    tau_y: ArrayLike | None = None,
    t0: float = 0.0,
    ts: Float[Array, " T"] | None = None,
    n_save: int = 101,
    solver: Any = "tsit5",
    rtol: float = 1e-7,
    atol: float = 1e-9,
    pcoeff: float = 0.3,
    icoeff: float = 0.4,
    dt0: float | None = None,
    max_steps: int = 100_000,
    throw: bool = False,
    progress: bool = False,
    monitor: bool = True,
    p: float | int = 2,
    fp_step: float = 1.0,
    fp_solver: Any = None,
    fp_tol: float = 1e-10,
) -> Trajectory:
    """Integrate the slow–fast learning system (seed 000 eq. 2.7) with diffrax.

    $$\\tau_x\\dot x = f(x, w),\\quad \\tau_y\\dot y = y D_x f - D_x g,\\quad \\dot w = y D_w f,$$

    with $\\tau_y = \\tau_x = \\tau$ unless `tau_y` is given (the three-timescale variant).
    `solver` is a diffrax solver or a name: explicit `"tsit5"` (default, for moderate τ),
    implicit `"kvaerno5"` (stiff, small τ) integrate the whole field; IMEX `"kencarp4"` /
    `"kencarp5"` (or any `diffrax.KenCarp*` instance) treat the fast $(x, y)$ part
    implicitly and the slow weight flow explicitly. Named implicit solvers use a Newton
    root finder at 1/100 of the step tolerances. Steps are chosen by a PID
    controller (`rtol`, `atol`, `pcoeff`, `icoeff`). At every saved time the monitors of
    `Trajectory` are computed, including the descent ratio against the exact gradient at
    the true fixed point (`descent_ratio`, eq. 4.1).

    Works under `jit` and `vmap` (e.g. over `tau`). With `throw=False` a failed solve (e.g.
    `max_steps` reached) is reported in `Trajectory.result` and the unreached times are inf.

    **Arguments:** `f(x, w, args)`, `g(x, args)`, initial `x0`, `y0`, `w0` (any pytree),
    `args`, `tau`, end time `t1`; keywords as above; `p` is the state norm of the monitors
    ($\\|\\cdot\\|_p$ on $x$, its dual on $y$); `fp_*` configure the fixed-point solves.

    **Returns:** a `Trajectory`.

    **Example:**

    ```python
    ex = cx.slowfast.Example1(v)
    traj = cx.slowfast.simulate(ex.f, ex.g, x0, y0, w0, (rho, target), tau=0.01, t1=50.0)
    traj.descent_ratio.max(), traj.loss[-1]
    ```

    Source: seeds/000_6fe122188c81f0a1.txt §2 (eq. 2.7), §4 (eq. 4.1).
    """
    tau_x = _positive(tau, "tau")
    tau_y = tau_x if tau_y is None else _positive(tau_y, "tau_y")
    solver = _make_solver(solver, rtol, atol)

    def full(t, s, a):
        ux, uy, h = vector_field(f, g, s[0], s[1], s[2], a)
        return ux / tau_x, uy / tau_y, h

    if isinstance(solver, _IMEX):

        def fast(t, s, a):
            ux, uy, _ = vector_field(f, g, s[0], s[1], s[2], a)
            return ux / tau_x, uy / tau_y, jax.tree_util.tree_map(jnp.zeros_like, s[2])

        def slow(t, s, a):
            _, _, h = vector_field(f, g, s[0], s[1], s[2], a)
            return jnp.zeros_like(s[0]), jnp.zeros_like(s[1]), h

        terms = diffrax.MultiTerm(diffrax.ODETerm(slow), diffrax.ODETerm(fast))
    else:
        terms = diffrax.ODETerm(full)
    ts = jnp.linspace(t0, t1, n_save) if ts is None else jnp.asarray(ts)
    sol = diffrax.diffeqsolve(
        terms,
        solver,
        t0,
        t1,
        dt0,
        (x0, y0, w0),
        args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=_controller(rtol, atol, pcoeff, icoeff),
        max_steps=max_steps,
        throw=throw,
        progress_meter=diffrax.TqdmProgressMeter() if progress else diffrax.NoProgressMeter(),
    )
    xs, ys, ws = sol.ys
    mon = _monitors(
        f,
        g,
        xs,
        ys,
        ws,
        args,
        (x0, y0, w0),
        p,
        monitor,
        dict(step=fp_step, fp_solver=fp_solver, tol=fp_tol),
    )
    return Trajectory(
        ts=sol.ts, x=xs, y=ys, w=ws, **mon, result=sol.result, num_steps=sol.stats["num_steps"]
    )


def _monitors(f, g, xs, ys, ws, args, state0, p, monitor, fp_kwargs):
    """Per saved time: losses, descent ratio and the norms used by Prop. 1–2 and eq. 4.5."""

    def one(x, y, w):
        ok = (
            jnp.all(jnp.isfinite(x))
            & jnp.all(jnp.isfinite(y))
            & jnp.all(jnp.stack([jnp.all(jnp.isfinite(l)) for l in jax.tree_util.tree_leaves(w)]))
        )
        x, y, w = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), (x, y, w), state0)
        ux, uy, h = vector_field(f, g, x, y, w, args)
        out = dict(
            online_loss=g(x, args),
            ux_norm=jnp.linalg.norm(ux, ord=p),
            uy_norm=jnp.linalg.norm(uy, ord=dual_p(p)),
            y_norm=jnp.linalg.norm(y, ord=dual_p(p)),
            h_norm=tree_norm(h),
        )
        if monitor:
            ratio, loss, _, gn = descent_ratio(f, g, x, y, w, args, **fp_kwargs)
        else:
            ratio = loss = gn = jnp.full((), jnp.nan, dtype=x.dtype)
        out |= dict(descent_ratio=ratio, loss=loss, grad_norm=gn)
        return jax.tree_util.tree_map(lambda v: jnp.where(ok, v, jnp.nan), out)

    return jax.vmap(one)(xs, ys, ws)


def bootstrap(
    f: Callable,
    g: Callable,
    x0: Float[Array, " n"],
    y0: Float[Array, " n"],
    w: PyTree,
    args: Any,
    scale: Timescale,
    *,
    p: float | int = 2,
    tau: ArrayLike | None = None,
    t_max: float | None = None,
    solver: Any = "tsit5",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    max_steps: int = 100_000,
) -> Bootstrap:
    """Run the joint system $(x, y)$ with $w$ frozen until condition 4.5 holds (seed 000 §6).

    Condition (Thm. 3's invariant set, eq. 4.5 with $c = \\alpha\\beta/L_z h$):
    $$\\|u\\|_Z = p_1\\|f(x, w)\\|_p + p_2\\|y D_x f - D_x g\\|_{p^*} \\le c\\,\\|y D_w f\\|_W.$$
    Since $u \\to 0$ and $h \\to h^* \\ne 0$ exponentially fast, it eventually holds; after it
    the learning system can be started with the timescale `scale.tau`.

    **Arguments:** `f`, `g`, `x0`, `y0`, frozen `w`, `args`; `scale` a `Timescale` (gives
    $c, p_1, p_2, \\tau$); `p` the state norm used for $\\beta_x$; `t_max` the longest run
    (default $100\\,\\tau/\\beta$).

    **Returns:** a `Bootstrap` (`satisfied` is False when `t_max` passed first).

    Source: seeds/000_6fe122188c81f0a1.txt §6 (last paragraph before §7), eq. 4.5, Thm. 3.
    """
    tau = scale.tau if tau is None else _positive(tau, "tau")
    t_max = 100 * tau / scale.beta if t_max is None else t_max
    solver = _make_solver(solver, rtol, atol)

    def gap(s):
        ux, uy, h = vector_field(f, g, s[0], s[1], w, args)
        return joint_norm(ux, uy, p, scale.p1, scale.p2), scale.c * tree_norm(h)

    def rhs(t, s, a):
        ux, uy, _ = vector_field(f, g, s[0], s[1], w, args)
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
        (x0, y0),
        None,
        stepsize_controller=_controller(rtol, atol, 0.0, 1.0),
        max_steps=max_steps,
        event=diffrax.Event(cond),
        throw=False,
    )
    x, y = sol.ys[0][-1], sol.ys[1][-1]
    un, bound = gap((x, y))
    return Bootstrap(
        x=x, y=y, t=sol.ts[-1], satisfied=un <= bound, u_norm=un, bound=bound, result=sol.result
    )


def gradient_flow(
    f: Callable,
    g: Callable,
    w0: PyTree,
    args: Any,
    x0: Float[Array, " n"],
    t1: float,
    *,
    ts: Float[Array, " T"] | None = None,
    n_save: int = 101,
    solver: Any = "tsit5",
    rtol: float = 1e-7,
    atol: float = 1e-9,
    max_steps: int = 100_000,
    fp_step: float = 1.0,
    fp_solver: Any = None,
    fp_tol: float = 1e-10,
) -> GradientFlow:
    """The exact gradient flow $\\dot w = -\\nabla_w g(x^*(w))$ (seed 000 eq. 2.3).

    Every right-hand-side evaluation solves the fixed point $x^*(w)$ with
    `contractax.fixed_point` (warm start `x0`) and differentiates through it implicitly:
    the non-local reference that the slow–fast system approximates.

    **Returns:** a `GradientFlow` with the saved weights and $g(x^*(w(t)))$.

    Source: seeds/000_6fe122188c81f0a1.txt §2, eq. 2.3–2.4.
    """
    kw = dict(step=fp_step, fp_solver=fp_solver, tol=fp_tol)
    obj = lambda w: objective(f, g, w, args, x0, **kw)[0]

    def rhs(t, w, a):
        return jax.tree_util.tree_map(jnp.negative, jax.grad(obj)(w))

    ts = jnp.linspace(0.0, t1, n_save) if ts is None else jnp.asarray(ts)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs),
        _make_solver(solver, rtol, atol),
        0.0,
        t1,
        None,
        w0,
        None,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=_controller(rtol, atol, 0.0, 1.0),
        max_steps=max_steps,
        throw=False,
    )
    return GradientFlow(
        ts=sol.ts,
        w=sol.ys,
        loss=jax.vmap(obj)(sol.ys),
        result=sol.result,
        num_steps=sol.stats["num_steps"],
    )


def sweep_tau(
    f: Callable,
    g: Callable,
    x0: Float[Array, " n"],
    y0: Float[Array, " n"],
    w0: PyTree,
    args: Any,
    taus: Float[Array, " B"],
    t1: float,
    *,
    bucket_size: int | None = None,
    **simulate_kwargs,
) -> Trajectory:
    """`simulate` over many timescales τ as one compiled program (vmap, bucketed).

    The τ are sorted and run in buckets of `bucket_size` consecutive values (a vmapped
    adaptive solve takes as many steps as its stiffest member, so similar τ share a
    bucket), via `contractax.sweep.grid`; results come back in the order of `taus`.

    **Returns:** a `Trajectory` whose leaves have a leading axis of length `len(taus)`.

    **Example:** `trajs = cx.slowfast.sweep_tau(f, g, x0, y0, w0, args, taus, 50.0, bucket_size=8)`

    Source: seeds/000_6fe122188c81f0a1.txt §5–§7 (the timescale τ of Thm. 3).
    """
    from . import sweep  # noqa: PLC0415 (peer module)

    taus = jnp.asarray(taus)
    if taus.ndim != 1:
        raise ValueError(f"taus must be a 1-D array, got shape {taus.shape}.")
    order = jnp.argsort(taus)
    fn = lambda tau: simulate(f, g, x0, y0, w0, args, tau, t1, **simulate_kwargs)
    out = sweep.grid(fn, {"tau": taus[order]}, chunk_size=bucket_size)
    inv = jnp.argsort(order)
    return jax.tree_util.tree_map(lambda a: a[inv], out)
