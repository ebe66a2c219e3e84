r"""Recurrent networks as dynamical systems: orbits, cost slices, Lyapunov spectra, smoothness.

An RNN is the map $x_{t+1} = f(x_t, u_t; \theta)$ (seed 002, eq. 1). Everything here takes
the map as a callback `step(x, args)` (with `args` holding $\theta$; with an input sequence,
`step(x, args, u)`), and works under `jit` and `vmap`: an orbit (bifurcation) diagram over
thousands of parameter values is one vmapped `lax.scan`.

Source: seed `002_4194898dbbee6895.txt` (Ribeiro, Tiels, Aguirre, Schön, *The trade-off between
long-term memory and smoothness for recurrent networks*).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu

from ._batching import check_chunk, map_rows
from ._checks import check_count, check_positive, check_state_fn
from ._rnn_measures import (
    EntropyBound,
    LipschitzGrowth,
    Sensitivities,
    entropy_bound,
    forward_sensitivities,
    growth_rate,
    lipschitz_vs_length,
    lyapunov_spectrum,
)
from ._types import Args, Array, Bool, Count, Float, PyTree

__all__ = [
    "unroll",
    "orbit_diagram",
    "OrbitDiagram",
    "loss_slice",
    "lyapunov_spectrum",
    "lipschitz_vs_length",
    "LipschitzGrowth",
    "growth_rate",
    "entropy_bound",
    "EntropyBound",
    "forward_sensitivities",
    "Sensitivities",
    "local_minima",
    "count_local_minima",
]


def unroll(
    step: Callable,
    x0: PyTree,
    args: Args,
    steps: Count | None = None,
    *,
    inputs: PyTree | None = None,
) -> PyTree:
    r"""Iterate $x_{t+1} = f(x_t, u_t; \theta)$ and return the visited states $x_1, \dots, x_N$.

    **Arguments:**

    - `step`: `step(x, args) -> x_next`, or `step(x, args, u) -> x_next` when `inputs` is given.
    - `x0`: initial state (any pytree of arrays).
    - `args`: parameters $\theta$ and anything else the step needs.
    - `steps`: $N$; with `inputs`, defaults to their leading length.
    - `inputs`: optional input sequence $u_0, \dots, u_{N-1}$ (pytree, leading axis time).

    **Returns:** the states $x_1, \dots, x_N$ stacked on a new leading axis.

    ```python
    step, theta, x0 = contractax.models.chaotic_lstm()
    xs = unroll(step, x0, theta, 200)      # (200, 4)
    ```

    Source: seed 002, eq. (1a).
    """
    if inputs is None and steps is None:
        raise ValueError("Give `steps` (the sequence length) when `inputs` is None.")
    if steps is not None:
        steps = check_count(steps, "steps", minimum=0)
    if inputs is None:
        check_state_fn(step, "`step(x, args)`", x0, args)
    else:
        sizes = {jnp.shape(a)[0] if jnp.ndim(a) else None for a in jtu.tree_leaves(inputs)}
        if None in sizes or len(sizes) > 1:
            raise ValueError(
                "every leaf of `inputs` must have the same leading (time) axis; got leading "
                f"sizes {sorted(str(s) for s in sizes)}."
            )
        n = sizes.pop() if sizes else None
        u0 = jtu.tree_map(lambda a: a[0], inputs)
        if n:
            check_state_fn(step, "`step(x, args, u)`", x0, args, u0)
        if steps is not None and n is not None and n != steps:
            raise ValueError(
                f"`steps` ({steps}) must equal the leading length of `inputs` ({n}); "
                "give one or the other."
            )
    return _unroll(step, x0, args, steps, inputs)


@eqx.filter_jit
def _unroll(step, x0, args, steps, inputs):
    if inputs is None:

        def body(x, _):
            x = step(x, args)
            return x, x

        return jax.lax.scan(body, x0, None, length=steps)[1]

    def body_u(x, u):
        x = step(x, args, u)
        return x, x

    return jax.lax.scan(body_u, x0, inputs, length=steps)[1]


def _orbit(step, x0, args, steps, burn_in, observe):
    def skip(x, _):
        return step(x, args), None

    x = jax.lax.scan(skip, x0, None, length=burn_in)[0] if burn_in > 0 else x0

    def keep(x, _):
        x = step(x, args)
        return x, observe(x)

    return jax.lax.scan(keep, x, None, length=steps - burn_in)[1]


class OrbitDiagram(eqx.Module):
    """Steady-state points of an orbit (bifurcation) diagram.

    `points[i, j, t]` is `observe(x)` at step `burn_in + t + 1` of the orbit started at
    `x0s[j]` with parameters `params_of_s(s[i])`.
    """

    s: Float[Array, " S"]
    points: Any


def orbit_diagram(
    step: Callable,
    params_of_s: Callable,
    s_grid: Float[Array, " S"],
    x0s: PyTree,
    steps: Count,
    burn_in: Count,
    *,
    observe: Callable | None = None,
    chunk_size: Count | None = None,
) -> OrbitDiagram:
    r"""Orbit (bifurcation) diagram: the states visited after a transient, for each $s$.

    For every $s$ in `s_grid` and every start $x_0^{(j)}$ the map
    $x_{t+1} = f(x_t; \theta(s))$ is iterated `steps` times; the first `burn_in` states are
    discarded and `observe(x)` of the remaining `steps - burn_in` is kept. The whole diagram
    is one `lax.scan` vmapped over starts and over $s$ (or `lax.map`-ped over chunks of
    `chunk_size` values of $s$ to bound memory).

    **Arguments:**

    - `step`: `step(x, args) -> x_next`.
    - `params_of_s`: `params_of_s(s) -> args`, e.g. `lambda s: s * theta`.
    - `s_grid`: 1-D array of bifurcation parameters.
    - `x0s`: initial states with a leading axis of starts (shape `(M, ...)`).
    - `steps`, `burn_in`: total length and discarded transient (seed Fig. 1: 200 and 100).
    - `observe`: what to record of a state (default the state itself), e.g. `lambda x: x[0]`.
    - `chunk_size`: if given, process `s_grid` in chunks of this size.

    **Returns:** an [`OrbitDiagram`][contractax.rnn.OrbitDiagram] with `points` of shape
    `(S, M, steps - burn_in, ...)`.

    ```python
    step, theta, x0 = contractax.models.chaotic_lstm()
    d = orbit_diagram(step, lambda s: s * theta, jnp.linspace(0.5, 2, 5000), x0[None],
                      200, 100, observe=lambda x: x[0])     # d.points: (5000, 1, 100)
    ```

    Source: seed 002, §2 (bifurcation diagrams) and Fig. 1(a), 5, 8, 9.
    """
    steps = check_count(steps, "steps")
    burn_in = check_count(burn_in, "burn_in", minimum=0)
    if burn_in >= steps:
        raise ValueError(f"Need 0 <= burn_in < steps, got burn_in={burn_in}, steps={steps}.")
    s_grid = jnp.asarray(s_grid)
    if s_grid.ndim != 1 or s_grid.shape[0] == 0:
        raise ValueError(f"`s_grid` must be a non-empty 1-D array, got shape {s_grid.shape}.")
    points = _orbit_points(
        step, params_of_s, s_grid, x0s, steps, burn_in, observe, check_chunk(chunk_size)
    )
    return OrbitDiagram(s=s_grid, points=points)


def _identity(x):
    return x


@eqx.filter_jit
def _orbit_points(step, params_of_s, s_grid, x0s, steps, burn_in, observe, chunk):
    observe = _identity if observe is None else observe

    def one_s(s):
        args = params_of_s(s)
        return jax.vmap(lambda x0: _orbit(step, x0, args, steps, burn_in, observe))(x0s)

    return map_rows(one_s, s_grid, chunk_size=chunk)


def loss_slice(
    loss_fn: Callable,
    args: Args,
    center: PyTree,
    directions: Sequence[PyTree],
    grids: Sequence[Float[Array, " _"]],
    *,
    chunk_size: Count | None = None,
) -> Float[Array, "..."]:
    r"""The cost on a line or a plane of parameters: $V(\theta_c + \sum_i s_i d_i)$.

    One direction gives the 1-D slice of seed Fig. 1(b) ($\theta(s) = s\,\theta_{true}$:
    `center = 0`, `d = theta_true`) and Fig. 4 ($\theta(s) = s\theta_{init} +
    (1 - s)\theta_{final}$: `center = theta_final`, `d = theta_init - theta_final`); two give
    the plane $\theta(s_1, s_2) = s_1 \theta_1 + s_2 \theta_2$ of Fig. 7.

    **Arguments:**

    - `loss_fn`: `loss_fn(theta, args) -> scalar`.
    - `args`: passed through to `loss_fn` (data, targets).
    - `center`: $\theta_c$, a parameter pytree.
    - `directions`: one or two pytrees shaped like `center`.
    - `grids`: as many 1-D arrays of coefficients $s_i$.
    - `chunk_size`: evaluate in chunks of this many points (`lax.map`) instead of one vmap.

    **Returns:** the cost, shape `(len(grids[0]),)` or `(len(grids[0]), len(grids[1]))`.

    Source: seed 002, §3.1, Fig. 1(b), 4, 6(b), 7.
    """
    if len(directions) != len(grids) or len(grids) not in (1, 2):
        raise ValueError("Give one or two `directions` and as many `grids`.")
    grids = tuple(jnp.asarray(g) for g in grids)
    for i, g in enumerate(grids):
        if g.ndim != 1 or g.shape[0] == 0:
            raise ValueError(f"`grids[{i}]` must be a non-empty 1-D array, got shape {g.shape}.")
    for i, d in enumerate(directions):
        _check_direction(center, d, f"directions[{i}]")
    return _slice(loss_fn, args, center, tuple(directions), grids, check_chunk(chunk_size))


def _check_direction(center, d, name: str) -> None:
    """`d` has `center`'s structure; each leaf the shape of `center`'s (or `center` scalar)."""
    if jtu.tree_structure(d) != jtu.tree_structure(center):
        raise ValueError(
            f"`{name}` must have the pytree structure of `center`; got "
            f"{jtu.tree_structure(d)} for {jtu.tree_structure(center)}."
        )
    for a, b in zip(jtu.tree_leaves(center), jtu.tree_leaves(d)):
        if jnp.ndim(a) and jnp.shape(a) != jnp.shape(b):
            raise ValueError(
                f"`{name}` has a leaf of shape {jnp.shape(b)} where `center` has shape "
                f"{jnp.shape(a)}; give directions shaped like the parameters."
            )


@eqx.filter_jit
def _slice(loss_fn, args, center, directions, grids, chunk):
    mesh = jnp.meshgrid(*grids, indexing="ij")
    coeffs = jnp.stack([m.ravel() for m in mesh], axis=-1)

    def at(c):
        theta = center
        for i, d in enumerate(directions):
            theta = jtu.tree_map(lambda a, b, ci=c[i]: a + ci * b, theta, d)
        return loss_fn(theta, args)

    return map_rows(at, coeffs, chunk_size=chunk).reshape(mesh[0].shape)


def local_minima(values: Float[Array, " S"], tol: float = 0.0) -> Bool[Array, " S"]:
    """Mask of the interior points of a 1-D curve lower than both neighbours by more than `tol`.

    $m_i = (v_i < v_{i-1} - \\text{tol}) \\wedge (v_i < v_{i+1} - \\text{tol})$ for
    $0 < i < S - 1$; the two end points are never minima.

    **Arguments:** `values` (1-D), `tol` ≥ 0 (use one above the rounding noise of the curve).

    **Returns:** a boolean array shaped like `values`.

    **Example:** `cx.rnn.local_minima(jnp.array([1.0, 0.0, 1.0, 0.5, 2.0]))` is
    `[False, True, False, True, False]`.

    Source: seed 002, §3.1 ("many neighbouring local minima").
    """
    values = jnp.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"`values` must be 1-D, got shape {values.shape}.")
    check_positive(tol, "tol", allow_zero=True)
    if values.shape[0] < 3:
        return jnp.zeros(values.shape, bool)
    left = values[1:-1] < values[:-2] - tol
    right = values[1:-1] < values[2:] - tol
    inner = left & right
    return jnp.concatenate([jnp.zeros(1, bool), inner, jnp.zeros(1, bool)])


def count_local_minima(values: Float[Array, " S"], mask: Any = None, tol: float = 0.0) -> Array:
    """Number of interior local minima of a 1-D curve (e.g. a cost slice).

    A point counts when it is lower than both neighbours by more than `tol` (use a `tol` above
    the rounding noise of the curve, e.g. in float32); with `mask`, only minima where `mask` is
    true are counted. Used to compare how intricate regions of a slice are.

    Source: seed 002, §3.1 ("many neighbouring local minima").
    """
    m = local_minima(values, tol)
    if mask is not None:
        if jnp.shape(mask) != m.shape:
            raise ValueError(
                f"`mask` must have the shape of `values` {m.shape}; got {jnp.shape(mask)}."
            )
        m = m & mask
    return jnp.sum(m)
