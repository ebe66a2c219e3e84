"""Nar & Sastry's step-size bounds for gradient descent on deep linear and two-layer ReLU
networks (re-exported by `contractax.gd`).

Source: seed `003_68268b79b74b2241.txt` (K. Nar, S. Sastry, *Step Size Matters in Deep
Learning*, NeurIPS 2018), Theorems 1–4.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp

from ._checks import as_float_array, check_count, check_finite, check_matrix, check_positive
from ._types import Array, Float, Matrix, Scalar


def _top_singular(m):
    u, s, vt = jnp.linalg.svd(m, full_matrices=False)
    return u[..., :, 0], s[..., 0], vt[..., 0, :]


def _check_depth(L) -> int:
    return check_count(L, "the depth L")


def _check_matrix(R, name="R"):
    return check_matrix(R, f"`{name}`")


def deep_linear_step_bound(weights: Sequence[Float[Array, "..."]]) -> Float[Array, "..."]:
    """Theorem 1: the largest step size that can converge to the solution $\\{W_j\\}$.

    $$\\delta \\le \\frac{2}{\\sum_{j=1}^L p_{j-1}^2 q_{j+1}^2},\\qquad
    p_j = \\|W_j\\cdots W_1 v\\|,\\; q_j = \\|u^\\top W_L \\cdots W_j\\|,\\;
    p_0 = q_{L+1} = 1,$$

    where $u, v$ are the top left/right singular vectors of $\\hat R = W_L\\cdots W_1$. It is a
    necessary condition for Lyapunov stability of GD on $\\tfrac12\\|W_L\\cdots W_1 - R\\|_F^2$
    at a global minimum (tight when the $W_j$ commute with $\\hat R$'s singular bases, e.g.
    $W_j = \\alpha_j R^{1/L}$ for symmetric PSD $R$).

    **Arguments:** `weights` = `[W_1, ..., W_L]` (`W_1` applied first; a `DeepLinear`'s
    `weights`), each of shape `(..., n_j, n_{j-1})`, leading axes broadcast.

    **Returns:** the bound, shape of the leading axes.

    **Example:** `cx.gd.deep_linear_step_bound([jnp.eye(2) * 2.0])` is `2.0` (L = 1: 2/1).

    Source: seed 003, §2, Theorem 1.
    """
    weights = [_check_matrix(w, "weights[j]") for w in weights]
    if not weights:
        raise ValueError("`weights` must contain at least one matrix.")
    for a, b in zip(weights[:-1], weights[1:]):
        if b.shape[-1] != a.shape[-2]:
            raise ValueError(
                f"consecutive weights do not chain: a {a.shape[-2:]} matrix is followed by a "
                f"{b.shape[-2:]} matrix; W_(j+1) must have as many columns as W_j has rows."
            )
    prod = weights[0]
    for w in weights[1:]:
        prod = w @ prod
    u, _, v = _top_singular(prod)
    L = len(weights)
    # p[j] = ||W_j ... W_1 v|| for j = 0..L-1 ; q[j] = ||u^T W_L ... W_j|| for j = 2..L+1
    ps, x = [jnp.linalg.norm(v, axis=-1)], v
    for w in weights[:-1]:
        x = jnp.einsum("...ij,...j->...i", w, x)
        ps.append(jnp.linalg.norm(x, axis=-1))
    qs, y = [jnp.linalg.norm(u, axis=-1)], u
    for w in reversed(weights[1:]):
        y = jnp.einsum("...i,...ij->...j", y, w)
        qs.append(jnp.linalg.norm(y, axis=-1))
    qs = qs[::-1]  # qs[j-1] = q_{j+1}
    total = sum(ps[j] ** 2 * qs[j] ** 2 for j in range(L))
    return 2.0 / total


def deep_linear_global_bound(R: Float[Array, "*batch m n"], L: int) -> Float[Array, "*batch"]:
    """Corollary 1: GD cannot converge to any global optimum unless
    $\\delta \\le \\delta_c = 2 / (L\\,\\rho(R)^{2(L-1)/L})$, $\\rho$ the largest singular value.

    **Arguments:** target matrix `R` (leading axes broadcast), depth `L` (Python int).

    **Returns:** $\\delta_c$.

    **Example:** `cx.gd.deep_linear_global_bound(4.0 * jnp.eye(2), 2)` is `2 / (2 * 4) = 0.25`.

    Source: seed 003, §2, Corollary 1.
    """
    R, L = _check_matrix(R), _check_depth(L)
    rho = jnp.linalg.norm(R, ord=2, axis=(-2, -1))
    return 2.0 / (L * rho ** (2.0 * (L - 1) / L))


def converged_spectral_bound(delta, L: int) -> Float[Array, "*batch"]:
    """Corollary 2: after converging with step $\\delta$,
    $\\rho(\\hat R) \\le (2/(L\\delta))^{L/(2L-2)}$.

    **Arguments:** step size `delta` (broadcasts), depth `L` (Python int; `L = 1` gives `inf`).

    **Returns:** the bound on the largest singular value of the estimate.

    **Example:** `cx.gd.converged_spectral_bound(0.25, 2)` is `(2 / 0.5) ** 1 = 4`.

    Source: seed 003, §2, Corollary 2.
    """
    L = _check_depth(L)
    delta = check_positive(delta, "delta (the step size)")
    delta = jnp.asarray(delta, dtype=jnp.result_type(float))
    if L == 1:
        return jnp.full(delta.shape, jnp.inf, delta.dtype)
    return (2.0 / (L * delta)) ** (L / (2.0 * L - 2.0))


def identity_init_bound(R: Matrix, L: int) -> Float[Array, "*batch"]:
    """Theorems 2–3: a step size for which identity initialisation provably converges.

    $$\\delta \\le \\min\\Big\\{\\frac1L,\\; \\frac{1}{L\\,\\rho(R)^{2(L-1)/L}}\\Big\\}$$
    for symmetric PSD $R$ (each $W_i \\to R^{1/L}$ at a linear rate, Theorem 2), with the extra
    term $1/(1 - \\lambda_{\\min}(R))$ when $\\lambda_{\\min}(R) < 0$ (Theorem 3: the product
    then converges to the closest PSD matrix in Frobenius norm).

    **Arguments:** a symmetric matrix `R` (leading axes broadcast), depth `L`.

    **Returns:** the bound.

    **Example:** `cx.gd.identity_init_bound(jnp.diag(jnp.array([4.0, -1.0])), 2)` is
    `min(1/2, 1/(2*4), 1/2) = 0.125`.

    Source: seed 003, §3, Theorems 2 and 3.
    """
    R, L = _check_matrix(R), _check_depth(L)
    if R.shape[-1] != R.shape[-2]:
        raise ValueError(f"`R` must be square (symmetric), got shape {R.shape}.")
    ev = jnp.linalg.eigvalsh(0.5 * (R + jnp.swapaxes(R, -1, -2)))
    rho = jnp.max(jnp.abs(ev), axis=-1)
    b = jnp.minimum(1.0 / L, 1.0 / (L * rho ** (2.0 * (L - 1) / L)))
    lmin = ev[..., 0]
    extra = jnp.where(lmin < 0, 1.0 / (1.0 - jnp.minimum(lmin, 0.0)), jnp.inf)
    return jnp.minimum(b, extra)


def identity_init_rate(lam, L: int, delta) -> Float[Array, "*batch"]:
    """Lemma 3: the linear rate $\\beta(\\delta)$ of $w_i[k] \\to \\lambda^{1/L}$ from $w_i[0]=1$.

    $$\\beta = 1 - \\delta\\frac{\\lambda - 1}{\\lambda^{1/L} - 1}\\;(\\lambda > 1),\\qquad
    \\beta = 1 - \\delta L \\lambda^{2(L-1)/L}\\;(0 < \\lambda \\le 1),$$

    so $|w_i[k] - \\lambda^{1/L}| \\le \\beta^k |1 - \\lambda^{1/L}|$ for $\\delta$ below the
    threshold of Lemma 3 (`identity_init_bound` for the matrix case). Apply per eigenvalue of
    an SPD $R$.

    **Arguments:** eigenvalue(s) `lam > 0`, depth `L`, step size `delta` (broadcast).

    **Returns:** $\\beta$.

    **Example:** `cx.gd.identity_init_rate(1.0, 3, 0.1)` is `1 - 0.3 = 0.7`.

    Source: seed 003, App. B, Lemma 3.
    """
    L = _check_depth(L)
    lam = check_positive(lam, "lam (an eigenvalue of the SPD target)")
    delta = check_positive(delta, "delta (the step size)")
    lam = jnp.asarray(lam, dtype=jnp.result_type(float))
    big = lam > 1
    safe = jnp.where(big, lam, 2.0)
    b_big = 1 - delta * (safe - 1) / (safe ** (1.0 / L) - 1)
    b_small = 1 - delta * L * jnp.maximum(lam, 0.0) ** (2.0 * (L - 1) / L)
    return jnp.where(big, b_big, b_small)


def relu_step_bound(xs: Float[Array, "N n"], predictions: Float[Array, "M m"]) -> Scalar:
    """Theorem 4: the largest step size at which a two-layer ReLU solution can be stable,
    $1 / \\max_i \\|x_i\\|_2\\,\\|\\hat f(x_i)\\|_2$.

    For the loss $\\tfrac12\\sum_i\\|W g(Vx_i - b) - f(x_i)\\|^2$, GD with step $\\delta$ can
    converge to $(\\hat W, \\hat V)$ only if $\\delta \\le$ this value. (For a loss without
    the $\\tfrac12$, halve it.)

    **Arguments:** inputs `xs` `(N, n)` and the network's outputs `predictions` `(N, m)` at the
    solution (e.g. `jax.vmap(model)(xs)`).

    **Returns:** the bound (a scalar; `inf` if all outputs vanish).

    **Example:** `cx.gd.relu_step_bound(jnp.ones((3, 1)), 2.0 * jnp.ones((3, 1)))` is `0.5`.

    Source: seed 003, §4, Theorem 4.
    """
    xs, predictions = as_float_array(xs, "`xs`"), as_float_array(predictions, "`predictions`")
    if xs.ndim != 2 or predictions.ndim != 2 or xs.shape[0] != predictions.shape[0]:
        raise ValueError(
            "`xs` and `predictions` must be (N, n) and (N, m) arrays with the same N; got "
            f"{xs.shape} and {predictions.shape}."
        )
    if xs.shape[0] == 0:
        raise ValueError("`xs` is empty (N = 0); give at least one training input.")
    xs, predictions = check_finite(xs, "`xs`"), check_finite(predictions, "`predictions`")
    m = jnp.max(jnp.linalg.norm(xs, axis=-1) * jnp.linalg.norm(predictions, axis=-1))
    return 1.0 / m
