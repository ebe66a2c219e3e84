"""Private helpers of `contractax.convergence`: argument checks and operator norms."""

from __future__ import annotations

import jax.numpy as jnp

from ._checks import as_float_array, check_positive, check_real


def scalar(value, name: str, *, allow_zero: bool = False):
    """A finite real scalar > 0 (≥ 0 with `allow_zero`), as a JAX array."""
    value = check_positive(value, name, allow_zero=allow_zero)
    value = jnp.asarray(value)
    if value.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar; got shape {value.shape}.")
    return value


def real(value, name: str):
    """A finite real scalar of any sign, as a JAX array."""
    value = jnp.asarray(check_real(value, name))
    if value.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar; got shape {value.shape}.")
    return value


def vector(x, name: str):
    """A finite 1-D float array."""
    x = as_float_array(x, name)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D array; got shape {x.shape}.")
    return check_real(x, name)


def matrix(x, name: str):
    """A finite non-empty 2-D float array."""
    x = as_float_array(x, name)
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 2-D array; got shape {x.shape}.")
    return check_real(x, name)


def op_norm(a):
    """‖a‖₂: the spectral norm of a matrix, the Euclidean norm of a vector."""
    return jnp.linalg.norm(a, ord=2) if a.ndim == 2 else jnp.linalg.norm(a)
