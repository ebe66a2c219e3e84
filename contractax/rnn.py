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
from ._lyapunov import check_flat_state, push_frame, qr_positive, state_jacobians
from ._types import Args, Array, ArrayLike, Bool, Count, Float, PyTree, Scalar

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


def lyapunov_spectrum(
    step: Callable, x0: Array, args: Args, steps: Count, burn_in: Count = 0, k: Count | None = None
) -> Float[Array, " k"]:
    r"""Lyapunov exponents of $x_{t+1} = f(x_t; \theta)$ per step, by the QR (Benettin) method.

    An orthonormal frame $Q_0 \in \mathbb{R}^{n \times k}$ is pushed through the Jacobians
    with `jax.jvp` (no Jacobian is formed) and re-orthonormalised,
    $D f(x_t) Q_t = Q_{t+1} R_{t+1}$; then
    $\lambda_i \approx \frac{1}{N} \sum_{t=1}^{N} \log |(R_t)_{ii}|$. The first `burn_in`
    steps move the state onto the attractor and align the frame, and are not averaged.

    **Arguments:**

    - `step`: `step(x, args) -> x_next` on a 1-D state.
    - `x0`: initial state, shape `(n,)`.
    - `args`: parameters of the map.
    - `steps`: number of averaged steps $N$.
    - `burn_in`: transient steps before averaging.
    - `k`: how many leading exponents (default all $n$).

    **Returns:** the `k` exponents, descending (nats per step). $\lambda_1 > 0$ means chaos;
    for a linear map $x \mapsto Ax$ they are $\log|\mathrm{eig}(A)|$.

    ```python
    step, theta, x0 = contractax.models.chaotic_lstm()
    lyapunov_spectrum(step, x0, theta, 20_000, burn_in=1000, k=1)   # ≈ [0.17]
    ```

    Source: seed 002, §3.1 (chaotic attractor of the LSTM); Benettin et al. (1980).
    """
    check_flat_state(x0)
    n = x0.shape[0]
    k = n if k is None else check_count(k, "k")
    if not 1 <= k <= n:
        raise ValueError(f"`k` must be between 1 and the state dimension {n}, got {k}.")
    steps = check_count(steps, "steps")
    burn_in = check_count(burn_in, "burn_in", minimum=0)
    check_state_fn(step, "`step(x, args)`", x0, args)
    return _spectrum(step, x0, args, steps, burn_in, k)


@eqx.filter_jit
def _spectrum(step, x0, args, steps, burn_in, k):
    n = x0.shape[0]
    q0 = jnp.eye(n, k, dtype=x0.dtype)

    def body(carry, _):
        x, q = carry
        x, z = push_frame(step, x, args, q)
        q, logr = qr_positive(z)
        return (x, q), logr

    carry = (x0, q0)
    if burn_in > 0:
        carry = jax.lax.scan(body, carry, None, length=burn_in)[0]
    logs = jax.lax.scan(body, carry, None, length=steps)[1]
    return jnp.sort(jnp.mean(logs, axis=0))[::-1]


class LipschitzGrowth(eqx.Module):
    """Smoothness of $V_N$ against the sequence length $N = 1, \\dots, N_{max}$.

    `grad_norm[N-1]` is $\\max_i \\|\\nabla V_N(\\theta_i)\\|_2$ over the samples `thetas`;
    `lipschitz[N-1]` is $\\max_i |V_N(a_i) - V_N(b_i)| / \\|a_i - b_i\\|$ over sampled pairs.
    """

    lengths: Array
    grad_norm: Float[Array, " N"]
    lipschitz: Float[Array, " N"]
    thetas: Float[Array, "m p"]


def _ball(key, center, radius, num):
    k1, k2 = jax.random.split(key)
    p = center.shape[0]
    u = jax.random.normal(k1, (num, p), center.dtype)
    u = u / jnp.linalg.norm(u, axis=1, keepdims=True)
    r = radius * jax.random.uniform(k2, (num, 1), center.dtype) ** (1.0 / p)
    return center[None, :] + r * u


def lipschitz_vs_length(
    losses_fn: Callable,
    theta0: Float[Array, " p"],
    args: Args,
    key: Array,
    *,
    radius: float = 1e-2,
    num_samples: Count = 8,
) -> LipschitzGrowth:
    r"""How the smoothness of $V_N = \frac1N \sum_{t=1}^N l_t(\theta)$ scales with $N$.

    Theorem 1 of seed 002: the Lipschitz constant of $V_N$ is $O(1)$, $O(N)$ or
    $O(L_f^{2N})$ when $L_f < 1$, $= 1$ or $> 1$. This measures, for every $N$ at once (the
    per-step losses are computed once and summed cumulatively), the largest gradient norm
    $\max_i \|\nabla_\theta V_N(\theta_i)\|$ (forward mode, `jax.jacfwd`) over `num_samples`
    points uniform in the ball $\|\theta - \theta_0\| \le r$, and the sampled Lipschitz
    quotient $\max_i |V_N(a_i) - V_N(b_i)| / \|a_i - b_i\|$ over as many independent pairs in
    the same ball.

    **Arguments:**

    - `losses_fn`: `losses_fn(theta, args) -> (N_max,)` per-step losses $l_1, \dots, l_{N_{max}}$.
    - `theta0`: centre of the ball, shape `(p,)`.
    - `args`: passed to `losses_fn`.
    - `key`: PRNG key for the samples.
    - `radius`: $r$.
    - `num_samples`: number of gradient samples and of pairs.

    **Returns:** [`LipschitzGrowth`][contractax.rnn.LipschitzGrowth] with `lengths = 1..N_max`.

    Source: seed 002, §3.2, Theorem 1, eq. (4)–(5); proof in Appendix C.
    """
    check_flat_state(theta0, "theta0")
    check_positive(radius, "radius")
    num_samples = check_count(num_samples, "num_samples")
    return _lipschitz(losses_fn, theta0, args, key, radius, num_samples)


@eqx.filter_jit
def _lipschitz(losses_fn, theta0, args, key, radius, num_samples):
    def cost(theta):
        losses = losses_fn(theta, args)
        n = jnp.arange(1, losses.shape[0] + 1, dtype=losses.dtype)
        return jnp.cumsum(losses) / n

    kg, ka, kb = jax.random.split(key, 3)
    thetas = _ball(kg, theta0, radius, num_samples)
    grads = jax.vmap(jax.jacfwd(cost))(thetas)  # (m, N, p)
    grad_norm = jnp.max(jnp.linalg.norm(grads, axis=-1), axis=0)
    a = _ball(ka, theta0, radius, num_samples)
    b = _ball(kb, theta0, radius, num_samples)
    va, vb = jax.vmap(cost)(a), jax.vmap(cost)(b)
    dist = jnp.linalg.norm(a - b, axis=-1)[:, None]
    lipschitz = jnp.max(jnp.abs(va - vb) / dist, axis=0)
    lengths = jnp.arange(1, grad_norm.shape[0] + 1)
    return LipschitzGrowth(lengths=lengths, grad_norm=grad_norm, lipschitz=lipschitz, thetas=thetas)


def growth_rate(lengths: ArrayLike, values: Float[Array, " N"]) -> Scalar:
    r"""Least-squares slope $\hat\gamma$ of $\log v_N \approx a + \hat\gamma N$ (per step).

    Compare with $2 \log L_f$ (Theorem 1) or with the largest Lyapunov exponent.
    """
    values = jnp.asarray(values)
    if not jnp.issubdtype(values.dtype, jnp.floating):
        values = values.astype(jnp.result_type(float))
    n = jnp.asarray(lengths, values.dtype)
    if n.ndim != 1 or values.shape != n.shape:
        raise ValueError(
            f"`lengths` and `values` must be 1-D arrays of the same length; got shapes "
            f"{n.shape} and {values.shape}."
        )
    if n.shape[0] < 2:
        raise ValueError(f"a slope needs at least two points; got {n.shape[0]} `lengths`.")
    values = eqx.error_if(
        values,
        ~jnp.all((values > 0) & jnp.isfinite(values)),
        "growth_rate fits log(values): `values` must be finite and > 0.",
    )
    y = jnp.log(values)
    n_c = n - jnp.mean(n)
    return jnp.sum(n_c * (y - jnp.mean(y))) / jnp.sum(n_c**2)


class EntropyBound(eqx.Module):
    r"""Per-step terms of the entropy bound, eq. (8)–(9): along a trajectory,
    `log_det` $\le$ `hadamard` $\le$ `spectral` $\le N_x$ `log_lipschitz`."""

    log_det: Float[Array, " T"]
    hadamard: Float[Array, " T"]
    spectral: Float[Array, " T"]
    log_lipschitz: Float[Array, ""]
    state_dim: int = eqx.field(static=True)


def entropy_bound(step: Callable, xs: Float[Array, "T n"], args: Args) -> EntropyBound:
    r"""The terms of the entropy bound of seed 002 §4 along the states `xs`.

    With $J_t = \partial x_{t+1} / \partial x_t$ and columns $v_i$, Hadamard's inequality and
    $\|v_i\|_2 \le \|J_t\|_2 \le L_f$ give (eq. 8)
    $\log|\det J_t| \le \sum_i \log\|v_i\|_2 \le N_x \log\|J_t\|_2 \le N_x \log L_f$.
    The change of variables gives $H_{t+1} = H_t + \mathbb{E}\log|\det J_t|$, so the entropy
    changes by at most $N_x \log L_f$ per step. `log_lipschitz` estimates
    $\log L_f$ as $\max_t \log\|J_t\|_2$ over the given states.

    **Arguments:**

    - `step`: `step(x, args) -> x_next`.
    - `xs`: states, shape `(T, n)` (e.g. from [`unroll`][contractax.rnn.unroll]).
    - `args`: parameters of the map.

    **Returns:** [`EntropyBound`][contractax.rnn.EntropyBound] with per-step
    `log_det`, `hadamard`, `spectral` $= N_x \log\|J_t\|_2$, and `log_lipschitz`.

    Source: seed 002, §4, eq. (7)–(9).
    """
    if jnp.ndim(xs) != 2:
        raise ValueError(f"`xs` must have shape (T, n), got {jnp.shape(xs)}.")
    check_state_fn(step, "`step(x, args)`", xs[0], args)
    return _entropy_bound(step, xs, args)


@eqx.filter_jit
def _entropy_bound(step, xs, args):
    jac = state_jacobians(step, xs, args)
    n = xs.shape[1]
    log_det = jnp.linalg.slogdet(jac)[1]
    hadamard = jnp.sum(jnp.log(jnp.linalg.norm(jac, axis=-2)), axis=-1)
    log_spec = jnp.log(jnp.linalg.norm(jac, ord=2, axis=(-2, -1)))
    return EntropyBound(
        log_det=log_det,
        hadamard=hadamard,
        spectral=n * log_spec,
        log_lipschitz=jnp.max(log_spec),
        state_dim=n,
    )


class Sensitivities(eqx.Module):
    """States $x_t$ and their parameter Jacobians $D_t = \\partial x_t / \\partial\\theta$,
    $t = 1..N$; with a readout, outputs $\\hat y_t$ and $J_t = \\partial \\hat y_t/\\partial\\theta$."""

    xs: Float[Array, "N n"]
    D: Float[Array, "N n p"]
    ys: Any = None
    J: Any = None


def forward_sensitivities(
    step: Callable,
    x0: Float[Array, " n"],
    theta: Float[Array, " p"],
    steps: Count,
    *,
    readout: Callable | None = None,
) -> Sensitivities:
    r"""Forward (real-time recurrent) sensitivities by the recursion of eq. (12).

    $$D_{t+1} = A_t D_t + B_t, \quad D_0 = 0, \qquad J_t = C_t D_t + F_t,$$

    with $A_t = \partial f/\partial x$, $B_t = \partial f/\partial \theta$ at $(x_t, \theta)$
    and $C_t, F_t$ the same for the readout $g$. It equals `jax.jacfwd` of the unrolled
    trajectory with respect to $\theta$.

    **Arguments:**

    - `step`: `step(x, theta) -> x_next`, 1-D state and 1-D parameters.
    - `x0`: initial state (independent of $\theta$).
    - `theta`: parameters, shape `(p,)`.
    - `steps`: $N$.
    - `readout`: optional `readout(x, theta) -> y`.

    **Returns:** [`Sensitivities`][contractax.rnn.Sensitivities] (`ys`, `J` are `None`
    without a readout).

    Source: seed 002, Appendix B, eq. (12)–(13).
    """
    check_flat_state(x0)
    check_flat_state(theta, "theta")
    steps = check_count(steps, "steps", minimum=0)
    return _sensitivities(step, x0, theta, steps, readout)


@eqx.filter_jit
def _sensitivities(step, x0, theta, steps, readout):
    jx = jax.jacfwd(step, argnums=0)
    jt = jax.jacfwd(step, argnums=1)

    def body(carry, _):
        x, d = carry
        d_new = jx(x, theta) @ d + jt(x, theta)
        x_new = step(x, theta)
        return (x_new, d_new), (x_new, d_new)

    d0 = jnp.zeros((x0.shape[0], theta.shape[0]), jnp.result_type(x0, theta))
    xs, ds = jax.lax.scan(body, (x0, d0), None, length=steps)[1]
    if readout is None:
        return Sensitivities(xs=xs, D=ds)
    ys = jax.vmap(readout, in_axes=(0, None))(xs, theta)
    cs = jax.vmap(jax.jacfwd(readout, argnums=0), in_axes=(0, None))(xs, theta)
    fs = jax.vmap(jax.jacfwd(readout, argnums=1), in_axes=(0, None))(xs, theta)
    return Sensitivities(xs=xs, D=ds, ys=ys, J=cs @ ds + fs)


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
