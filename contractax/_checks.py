"""Argument checks shared by the norm and contraction modules (three error tiers).

Structural mistakes raise `ValueError` at trace time; value problems (non-positive weights,
non-SPD matrices, NaN) raise through `eqx.error_if` at run time, which works under `jit` and
`vmap`.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

P_VALUES = (1, 2, math.inf)


def check_p(p) -> float:
    """Return p normalised to 1, 2 or inf, or raise a ValueError naming the allowed values."""
    try:
        pf = float(p)
    except (TypeError, ValueError):
        raise ValueError(
            f"p must be one of 1, 2 or jnp.inf (a Python number), got {p!r}; contractax "
            "implements the log norms with closed forms for these three only."
        ) from None
    if pf not in P_VALUES:
        raise ValueError(
            f"p must be one of 1, 2 or jnp.inf, got p={p!r}; the log norm of a general ℓp norm "
            "has no closed form. Use lognorm_by_definition for other norms."
        )
    return pf


def as_float_array(x, name: str) -> Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def check_square(A, name: str = "A") -> Array:
    A = as_float_array(A, name)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(
            f"{name} must be a square matrix (or a batch of them, on the last two axes); "
            f"got shape {A.shape}."
        )
    return A


def check_weight(weight, p: float, n: int) -> Array | None:
    """Validate a norm weight: None, a positive vector (p ∈ {1, ∞}) or an SPD matrix (p = 2)."""
    if weight is None:
        return None
    w = as_float_array(weight, "weight")
    if p == 2:
        if w.ndim < 2 or w.shape[-2:] != (n, n):
            raise ValueError(
                f"for p = 2 the weight must be a symmetric positive-definite matrix P of shape "
                f"({n}, {n}) (the norm is sqrt(xᵀPx)); got shape {w.shape}."
            )
        rtol = 1e3 * jnp.finfo(w.dtype).eps  # round-off in a computed P, per dtype
        sym = jnp.all(jnp.abs(w - jnp.swapaxes(w, -1, -2)) <= rtol * (1 + jnp.abs(w)))
        w = eqx.error_if(w, ~sym, "the weight P for p = 2 must be symmetric.")
        chol = jnp.linalg.cholesky(w)
        w = eqx.error_if(
            w, ~jnp.all(jnp.isfinite(chol)), "the weight P for p = 2 must be positive definite."
        )
        return w
    if w.ndim < 1 or w.shape[-1] != n:
        raise ValueError(
            f"for p = {p:g} the weight must be a positive vector eta of length {n} "
            f"(‖x‖_∞,η = max_i |x_i|/η_i, ‖x‖_1,η = Σ_i η_i|x_i|); got shape {w.shape}."
        )
    w = eqx.error_if(
        w, ~jnp.all(w > 0), "the weight vector eta must have strictly positive entries."
    )
    return w


def check_finite(x: Array, name: str) -> Array:
    return eqx.error_if(x, ~jnp.all(jnp.isfinite(x)), f"{name} contains NaN or inf.")
