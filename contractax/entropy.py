r"""Differential entropy of an ensemble of states, and how a map changes it.

The information an RNN keeps about its initial state is measured by the entropy
$H_t = -\int p_t \log p_t$ of its state distribution (Ribeiro et al. 2020, §4, eq. 7). For an
injective map $x_{t+1} = f(x_t)$ the change of variables gives
$H_{t+1} = H_t + \mathbb{E}\,\log|\det \partial f/\partial x|$, and Hadamard's inequality bounds
the last term by $N_x \log L_f$ (eq. 8), so $H_{t+1} \le H_t + N_x \log L_f$ (eq. 9 with the
inequality in the direction its derivation gives; see the errata page). These functions
*estimate* $H_t$ from samples, so that eq. 9 and Fig. 2 become checks that can fail.

Two estimators:

- `method="knn"`: Kozachenko–Leonenko (1987), with $r_i$ the Euclidean distance from sample $i$
  to its $k$-th nearest neighbour among $N$ samples in $\mathbb{R}^d$,
  $\hat H = \psi(N) - \psi(k) + \log V_d + \frac{d}{N}\sum_i \log r_i$, $V_d = \pi^{d/2}/\Gamma(d/2+1)$.
  Consistent for any density; exactly equivariant under $x \mapsto cQx + b$ ($Q$ orthogonal):
  $\hat H \mapsto \hat H + d\log|c|$.
- `method="gaussian"`: the entropy of the Gaussian with the sample covariance,
  $\frac12 \log\det(2\pi e\,\hat\Sigma)$ — exact for Gaussian ensembles and an upper bound on
  the entropy of any distribution with that covariance. Exactly equivariant under every affine
  map: $\hat H \mapsto \hat H + \log|\det A|$.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln
from jaxtyping import Array, Float

from ._checks import check_count, check_finite, check_state_fn

__all__ = ["EntropyTrajectory", "differential_entropy", "ensemble_entropy"]

Method = Literal["knn", "gaussian"]


def _check_samples(samples, k: int, method: str) -> Array:
    x = jnp.asarray(samples)
    if x.ndim != 2:
        raise ValueError(f"samples must have shape (N, d), got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    if method not in ("knn", "gaussian"):
        raise ValueError(f"method must be 'knn' or 'gaussian', got {method!r}.")
    n, d = x.shape
    need = k + 1 if method == "knn" else d + 1
    if n < need:
        raise ValueError(
            f"samples has N = {n} rows; the {method} estimator needs at least {need} "
            f"({'k + 1' if method == 'knn' else 'd + 1'}) samples."
        )
    return check_finite(x, "samples")


def _knn_log_radius(x: Float[Array, "N d"], k: int) -> Float[Array, " N"]:
    """log of the distance from each row to its k-th nearest other row (rows in blocks)."""
    sq = jnp.sum(x * x, axis=1)
    n = x.shape[0]

    def row(i):
        d2 = sq[i] + sq - 2.0 * (x @ x[i])
        d2 = jnp.where(jnp.arange(n) == i, jnp.inf, jnp.maximum(d2, 0.0))
        kth = -jax.lax.top_k(-d2, k)[0][-1]
        return 0.5 * jnp.log(kth)

    return jax.lax.map(row, jnp.arange(n), batch_size=min(n, 256))


@eqx.filter_jit
def _entropy(x: Float[Array, "N d"], k: int, method: str) -> Float[Array, ""]:
    n, d = x.shape
    if method == "gaussian":
        cov = jnp.atleast_2d(jnp.cov(x, rowvar=False))
        return 0.5 * jnp.linalg.slogdet(2 * math.pi * math.e * cov)[1]
    log_vd = 0.5 * d * math.log(math.pi) - gammaln(0.5 * d + 1)
    return digamma(n) - digamma(k) + log_vd + d * jnp.mean(_knn_log_radius(x, k))


def differential_entropy(
    samples: Float[Array, "N d"], *, method: Method = "knn", k: int = 3
) -> Float[Array, ""]:
    r"""Estimate the differential entropy (in nats) of the distribution behind `samples`.

    **Arguments:**

    - `samples`: `(N, d)` draws.
    - `method`: `"knn"` (Kozachenko–Leonenko, default) or `"gaussian"` (see the module text).
    - `k`: the neighbour order of the kNN estimator (a static integer ≥ 1).

    **Returns:** the scalar estimate $\hat H$. Duplicate samples make the kNN estimate $-\infty$
    (a distribution with an atom has no density).

    **Example:**

    ```python
    x = jax.random.normal(key, (4000, 2))
    cx.entropy.differential_entropy(x)  # ≈ log(2πe) = 2.838
    ```

    Source: Kozachenko & Leonenko 1987; used as in Ribeiro et al. 2020, §4, eq. 7.
    """
    k = check_count(k, "k")
    return _entropy(_check_samples(samples, k, method), k, method)


class EntropyTrajectory(eqx.Module):
    r"""Entropy of an ensemble along a map, with the two sides of eq. 9.

    - `entropy`: $\hat H_t$, $t = 0..T$, shape `(T + 1,)`.
    - `mean_log_det`: $\mathbb{E}\log|\det J_t|$ over the ensemble, shape `(T,)` (the exact
      change $H_{t+1} - H_t$ for an injective map).
    - `log_lipschitz`: $\max$ over the ensemble of $\log\|J_t\|_2$, shape `(T,)`; eq. 9 says
      $H_{t+1} - H_t \le N_x \cdot$ this.
    - `state_dim`: $N_x$.
    """

    entropy: Float[Array, " T1"]
    mean_log_det: Float[Array, " T"]
    log_lipschitz: Float[Array, " T"]
    state_dim: int = eqx.field(static=True)


@eqx.filter_jit
def _trajectory(step, x0s, args, steps: int, k: int, method: str):
    jac = jax.vmap(jax.jacfwd(step), in_axes=(0, None))

    def body(xs, _):
        j = jac(xs, args)
        out = (
            _entropy(xs, k, method),
            jnp.mean(jnp.linalg.slogdet(j)[1]),
            jnp.max(jnp.log(jnp.linalg.norm(j, ord=2, axis=(-2, -1)))),
        )
        return jax.vmap(step, in_axes=(0, None))(xs, args), out

    last, (h, logdet, loglip) = jax.lax.scan(body, x0s, None, length=steps)
    return jnp.append(h, _entropy(last, k, method)), logdet, loglip


def ensemble_entropy(
    step: Callable[[Array, Any], Array],
    x0s: Float[Array, "N n"],
    args: Any,
    steps: int,
    *,
    method: Method = "knn",
    k: int = 3,
) -> EntropyTrajectory:
    r"""Push an ensemble through `step` and estimate its entropy at every time.

    $x^{(i)}_{t+1} = \text{step}(x^{(i)}_t, \text{args})$ for the $N$ rows of `x0s`; returns
    $\hat H_t$ with the per-step $\mathbb{E}\log|\det J_t|$ and $\max\log\|J_t\|_2$ so that the
    change of variables and the bound $H_{t+1} \le H_t + N_x\log L_f$ (Ribeiro et al. 2020,
    §4, eq. 8–9; direction as derived, see the errata) can be checked against the estimate.

    **Arguments:**

    - `step`: `step(x, args) -> x_next` on one state of shape `(n,)` (hashed by identity:
      define it once, not per call).
    - `x0s`: the initial ensemble, shape `(N, n)`.
    - `args`: parameters of the map.
    - `steps`: number of steps $T$ (static).
    - `method`, `k`: as in [`differential_entropy`][contractax.entropy.differential_entropy].

    **Returns:** [`EntropyTrajectory`][contractax.entropy.EntropyTrajectory].

    **Example:**

    ```python
    step = lambda x, a: a @ x
    traj = cx.entropy.ensemble_entropy(step, x0s, 0.9 * jnp.eye(2), 10, method="gaussian")
    jnp.diff(traj.entropy)  # = 2 log 0.9 each step
    ```

    Source: Ribeiro et al. 2020, §4, eq. 7–9 and Fig. 2.
    """
    k = check_count(k, "k")
    steps = check_count(steps, "steps")
    x = _check_samples(x0s, k, method)
    check_state_fn(step, "`step(x, args)`", x[0], args)
    h, logdet, loglip = _trajectory(step, x, args, steps, k, method)
    return EntropyTrajectory(h, logdet, loglip, x.shape[1])
