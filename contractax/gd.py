"""Gradient descent as a discrete-time dynamical system $x_{k+1} = x_k - \\delta \\nabla f(x_k)$.

Trajectories (`run`), orbit classification (`classify`), Hessian-vector products, sharpness and
the Lyapunov radius of the linearised map, and the step-size bounds of Nar & Sastry for deep
linear and two-layer ReLU networks.

Source: seed `003_68268b79b74b2241.txt` (K. Nar, S. Sastry, *Step Size Matters in Deep
Learning*, NeurIPS 2018).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._checks import (
    check_count,
    check_float_tree,
    check_positive,
    check_scalar_fn,
)
from ._directions import check_direction
from ._gd_dynamics import bind, bind_checked, flat_tail, hessian_extremes
from ._step_bounds import (
    converged_spectral_bound,
    deep_linear_global_bound,
    deep_linear_step_bound,
    identity_init_bound,
    identity_init_rate,
    relu_step_bound,
)
from ._types import Args, Array, Count, Int, PyTree, Scalar

__all__ = [
    "ORBIT_KINDS",
    "Trajectory",
    "Orbit",
    "run",
    "classify",
    "hvp",
    "sharpness",
    "lyapunov_radius",
    "deep_linear_step_bound",
    "deep_linear_global_bound",
    "converged_spectral_bound",
    "identity_init_bound",
    "identity_init_rate",
    "relu_step_bound",
]

ORBIT_KINDS = ("converged", "periodic", "aperiodic", "diverged")
"""Names of the orbit codes returned by `classify`: `ORBIT_KINDS[orbit.code]`."""


class Trajectory(eqx.Module):
    """A recorded gradient-descent run.

    **Fields:**

    - `values`: what was recorded (the parameters, or `record(params, args)`) at the recorded
      steps, stacked on a leading axis of length `T = (steps - burn_in) // every`.
    - `loss`: the loss at the recorded steps, shape `(T,)` (`None` if not recorded).
    - `final`: the parameters after the last step.
    - `steps`: the recorded step indices $k$ (the iterate $x_k$), shape `(T,)`.
    """

    values: PyTree
    loss: Any
    final: PyTree
    steps: Int[Array, " T"]


class Orbit(eqx.Module):
    """Kind of long-run behaviour of a trajectory.

    **Fields:**

    - `code`: integer index into `ORBIT_KINDS` (0 converged, 1 periodic, 2 aperiodic,
      3 diverged).
    - `period`: 1 when converged, the smallest period $p \\ge 2$ when periodic, 0 otherwise.
    """

    code: Int[Array, "*batch"]
    period: Int[Array, "*batch"]


def run(
    loss_fn: Callable,
    params0: PyTree,
    lr,
    steps: Count,
    *,
    args: Args = None,
    every: Count = 1,
    burn_in: Count = 0,
    record: Callable | None = None,
    record_loss: bool = True,
) -> Trajectory:
    """Run plain gradient descent $x_{k+1} = x_k - \\delta \\nabla f(x_k)$ with `lax.scan`.

    Only every `every`-th iterate after the first `burn_in` steps is recorded, and only what
    `record` returns, so long runs stay small in memory. Works under `jit`, `vmap` (e.g. over
    `lr` or `params0`) and `grad`.

    **Arguments:**

    - `loss_fn`: `loss_fn(params, args) -> scalar` (or `loss_fn(params)` when `args` is None).
    - `params0`: initial parameters (any pytree of float arrays, e.g. an equinox model).
    - `lr`: step size $\\delta > 0$ (a scalar, may be traced; a traced value ≤ 0 raises at
      run time through `eqx.error_if`).
    - `steps`: number of gradient steps (Python int).
    - `args`: data and fixed parameters passed to `loss_fn`.
    - `every`: record every `every`-th iterate; `steps - burn_in` must be a multiple of it.
    - `burn_in`: number of initial steps that are not recorded.
    - `record`: `record(params, args) -> pytree` to store instead of the full parameters.
    - `record_loss`: also store the loss at the recorded iterates.

    **Returns:** a `Trajectory(values, loss, final, steps)`; `values` has a leading axis
    of length `(steps - burn_in) // every`, entry `i` being the iterate
    $x_{\\text{burn\\_in} + (i+1)\\,\\text{every}}$.

    **Example:**

    ```python
    traj = cx.gd.run(lambda x: jnp.sum(x**2), jnp.ones(3), 0.1, 100)
    traj.final  # ≈ 0.8**100
    ```

    Source: seed 003, eq. (1).
    """
    steps = check_count(steps, "steps", minimum=0)
    every = check_count(every, "every")
    burn_in = check_count(burn_in, "burn_in", minimum=0)
    if burn_in > steps:
        raise ValueError(f"`burn_in` ({burn_in}) must not exceed `steps` ({steps}).")
    if (steps - burn_in) % every:
        raise ValueError(
            f"`steps - burn_in` ({steps - burn_in}) must be a multiple of `every` ({every})."
        )
    if jnp.ndim(lr) != 0:
        raise ValueError(f"`lr` must be a scalar, got shape {jnp.shape(lr)}; vmap over it.")
    if not callable(loss_fn):
        raise ValueError(f"`loss_fn` must be callable, got {type(loss_fn).__name__}.")
    if record is not None and not callable(record):
        raise ValueError(f"`record` must be callable or None, got {type(record).__name__}.")
    lr = check_positive(lr, "lr")
    params0 = check_float_tree(params0, "`params0`")  # real floats, finite (at run time)
    # lr goes in as an array of the default float dtype: new values (Python, NumPy or JAX
    # scalars) do not recompile; each step casts it to the dtype of the parameter it updates.
    lr = jnp.asarray(lr, jnp.result_type(float))
    return _run(loss_fn, params0, lr, steps, args, every, burn_in, record, record_loss)


@eqx.filter_jit
def _run(loss_fn, params0, lr, steps, args, every, burn_in, record, record_loss):
    f = bind(loss_fn, args)
    check_scalar_fn(f, "`loss_fn`", params0)  # at trace time only: once per compilation
    grad = jax.grad(f)

    def step(p, _):
        g = grad(p)
        return jax.tree_util.tree_map(lambda a, b: a - lr.astype(a.dtype) * b, p, g), None

    def steps_(p, n):
        if n == 0:
            return p
        return jax.lax.scan(step, p, None, length=n)[0]

    rec = (lambda p: p) if record is None else (lambda p: record(p, args))

    def block(p, _):
        p = steps_(p, every)
        out = (rec(p), f(p) if record_loss else None)
        return p, out

    p = steps_(params0, burn_in)
    n_rec = (steps - burn_in) // every
    final, (values, loss) = jax.lax.scan(block, p, None, length=n_rec)
    idx = burn_in + every * (1 + jnp.arange(n_rec))
    return Trajectory(values=values, loss=loss, final=final, steps=idx)


def classify(
    trajectory: PyTree,
    *,
    max_period: Count = 16,
    window: Count | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    diverge_at: float = 1e8,
) -> Orbit:
    """Classify the tail of a trajectory as converged, periodic, aperiodic or diverged.

    On the last `window` samples $x_t$ (flattened over all leaves), with
    $\\epsilon = \\mathrm{atol} + \\mathrm{rtol}\\,\\max_t \\|x_t\\|_\\infty$, the trajectory is

    - *diverged* if any entry is non-finite or exceeds `diverge_at` in absolute value;
    - *converged* (period 1) if $\\max_t \\|x_{t+1} - x_t\\|_\\infty \\le \\epsilon$;
    - *periodic* with period $p$ for the smallest $2 \\le p \\le$ `max_period` with
      $\\max_t \\|x_{t+p} - x_t\\|_\\infty \\le \\epsilon$;
    - *aperiodic* (bounded, no period found) otherwise.

    Integer codes, no Python control flow on values: works under `jit` and `vmap` over a sweep.
    A slowly converging run is only "converged" once its steps fall below $\\epsilon$, so run
    long enough (or raise the tolerances).

    **Arguments:**

    - `trajectory`: an array of shape `(T, ...)`, a pytree of such arrays, or a `Trajectory`
      (its `values` are used). Record every iterate (`every=1`) to detect periods correctly.
    - `max_period`: the largest period searched for.
    - `window`: number of final samples inspected (default `min(T, max(64, 4 max_period))`).
    - `rtol`, `atol`: tolerances of the comparisons.
    - `diverge_at`: magnitude beyond which a trajectory counts as diverged.

    **Returns:** `Orbit(code, period)`; `ORBIT_KINDS[int(orbit.code)]` names the kind.

    **Example:**

    ```python
    xs = jnp.tile(jnp.array([0.1, -0.1]), 50)   # a 2-cycle
    orbit = cx.gd.classify(xs)                  # code 1 ("periodic"), period 2
    ```

    Source: seed 003, §1 (Examples 1–2: convergence to an orbit instead of a fixed point).
    """
    if isinstance(trajectory, Trajectory):
        trajectory = trajectory.values
    max_period = check_count(max_period, "max_period")
    window = max(64, 4 * max_period) if window is None else check_count(window, "window")
    rtol = check_positive(rtol, "rtol", allow_zero=True)
    atol = check_positive(atol, "atol", allow_zero=True)
    diverge_at = check_positive(diverge_at, "diverge_at")
    x = flat_tail(trajectory, window)
    w = x.shape[0]
    if w < 2 * max_period + 1:
        raise ValueError(
            f"the trajectory tail has {w} samples, too few to test periods up to {max_period}; "
            f"record at least {2 * max_period + 1} samples or lower `max_period`."
        )
    code, period = _classify_tail(x, max_period, rtol, atol, diverge_at)
    return Orbit(code=code, period=period)


@functools.partial(jax.jit, static_argnums=1)
def _classify_tail(x, max_period: int, rtol, atol, diverge_at):
    w = x.shape[0]
    finite = jnp.all(jnp.isfinite(x))
    xs = jnp.where(jnp.isfinite(x), x, 0.0)
    big = jnp.max(jnp.abs(xs))
    diverged = jnp.logical_or(~finite, big > diverge_at)
    eps = atol + rtol * big
    n = w - max_period  # the same number of pairs for every p

    def gap(p):
        # max_t ||x_{t+p} - x_t||_inf over the last n pairs
        a = jax.lax.dynamic_slice_in_dim(xs, w - n - p, n, axis=0)
        return jnp.max(jnp.abs(xs[w - n :] - a))

    gaps = jnp.stack([gap(p) for p in range(1, max_period + 1)])
    ok = gaps <= eps
    found = jnp.any(ok)
    period = jnp.where(found, jnp.argmax(ok) + 1, 0)
    code = jnp.where(diverged, 3, jnp.where(~found, 2, jnp.where(period == 1, 0, 1)))
    period = jnp.where(code <= 1, period, 0)
    return code.astype(jnp.int32), period.astype(jnp.int32)


def hvp(loss_fn: Callable, params: PyTree, v: PyTree, args: Args = None) -> PyTree:
    """Hessian-vector product $\\nabla^2 f(x)\\,v$ by forward-over-reverse differentiation.

    **Arguments:** `loss_fn(params, args)`, the point `params`, a tangent `v` with the same
    structure, `args`.

    **Returns:** a pytree like `params`.

    **Example:** `cx.gd.hvp(lambda x: 0.5 * x @ A @ x, x, v)` equals `A @ v` for symmetric A.

    Source: seed 003, App. A (the linearisation of the gradient map is $I - \\delta\\nabla^2 f$).
    """
    f = bind_checked(loss_fn, args, params)
    check_direction(v, params, "v", "params")
    return jax.jvp(jax.grad(f), (params,), (v,))[1]


def sharpness(
    loss_fn: Callable,
    params: PyTree,
    args: Args = None,
    *,
    num_iters: Count | None = 32,
    key=None,
) -> Scalar:
    """Largest Hessian eigenvalue $\\lambda_{\\max}(\\nabla^2 f(x))$, matrix-free.

    Lanczos with full reorthogonalisation on Hessian-vector products inside a `fori_loop`;
    exact (up to rounding) when `num_iters` is at least the number of parameters. Gradient
    descent with step $\\delta$ can be stable at a minimum only if
    $\\delta\\,\\lambda_{\\max} \\le 2$.

    **Arguments:** `loss_fn(params, args)`, `params`, `args`; `num_iters` Lanczos steps
    (`None`: the number of parameters); `key` for the start vector (default `PRNGKey(0)`).

    **Returns:** a scalar.

    **Example:** `cx.gd.sharpness(lambda x: 0.5 * x @ A @ x, x0)` is `eigvalsh(A)[-1]`.

    Source: seed 003, App. A (Lyapunov's indirect method).
    """
    num_iters = None if num_iters is None else check_count(num_iters, "num_iters")
    params = check_float_tree(params, "`params`", finite=False)
    return _extremes(loss_fn, params, args, key, num_iters)[1]


def lyapunov_radius(
    loss_fn: Callable,
    params: PyTree,
    lr,
    args: Args = None,
    *,
    num_iters: Count | None = 32,
    key=None,
) -> Scalar:
    """Spectral radius of the linearised gradient map, $\\rho(I - \\delta\\nabla^2 f(x))$.

    Equals $\\max(|1 - \\delta\\lambda_{\\min}|, |1 - \\delta\\lambda_{\\max}|)$ over the Hessian
    spectrum (symmetric). A fixed point is locally asymptotically stable if the radius is
    below 1 and unstable (GD cannot converge to it) if it exceeds 1; at non-isolated minima
    (flat directions, e.g. deep linear networks) it is at least 1 and the test is `> 1`.

    **Arguments:** `loss_fn(params, args)`, `params`, step size `lr`, `args`; `num_iters`,
    `key` as in `sharpness`.

    **Returns:** a scalar.

    **Example:** for $f = \\tfrac12 x^\\top A x$, `lyapunov_radius(f, x, lr)` is
    `max(abs(1 - lr * eigvalsh(A)))`.

    Source: seed 003, App. A (proof of Theorem 1).
    """
    num_iters = None if num_iters is None else check_count(num_iters, "num_iters")
    if jnp.ndim(lr) != 0:
        raise ValueError(f"`lr` must be a scalar, got shape {jnp.shape(lr)}; vmap over it.")
    lr = check_positive(lr, "lr")
    params = check_float_tree(params, "`params`", finite=False)
    return _radius(loss_fn, params, jnp.asarray(lr, jnp.result_type(float)), args, key, num_iters)


@eqx.filter_jit
def _extremes(loss_fn, params, args, key, num_iters):
    # One compiled program per loss function (eager Lanczos would compile op by op).
    key = jax.random.PRNGKey(0) if key is None else key
    f = bind(loss_fn, args)
    check_scalar_fn(f, "`loss_fn`", params)  # at trace time only
    return hessian_extremes(f, params, num_iters, key)


@eqx.filter_jit
def _radius(loss_fn, params, lr, args, key, num_iters):
    lo, hi = _extremes(loss_fn, params, args, key, num_iters)
    return jnp.maximum(jnp.abs(1 - lr * lo), jnp.abs(1 - lr * hi))
