r"""Memory-vs-smoothness measures of a recurrent map $x_{t+1} = f(x_t; \theta)$: Lyapunov
spectra, the growth of the cost's Lipschitz constant with the sequence length, the entropy
bound and forward sensitivities (re-exported by `contractax.rnn`).

Source: seed `002_4194898dbbee6895.txt` (Ribeiro, Tiels, Aguirre, Schön, *The trade-off between
long-term memory and smoothness for recurrent networks*), Theorem 1, Lemma 2, eq. 8–9.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._checks import check_count, check_positive, check_state_fn
from ._lyapunov import check_flat_state, push_frame, qr_positive, state_jacobians
from ._types import Args, Array, ArrayLike, Count, Float, Scalar


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
