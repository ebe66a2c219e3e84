"""Activation slope checks shared by the firing-rate and implicit models."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np


def check_slopes(
    activation: Callable, slopes: tuple[float, float], name: str
) -> tuple[float, float]:
    """Validate declared slope bounds `[dmin, dmax] ⊆ [0, 1]` and test them on a grid.

    The contraction, averaged-iteration and Lipschitz results of seed 001 hold for
    activations that are weakly increasing with slopes at most 1 (ReLU, tanh, logistic,
    leaky ReLU with slope in [0, 1], ...). The activation's derivative is evaluated on 801
    points of [-8, 8] at construction; a value outside the declared bounds raises a
    `ValueError`.
    """
    try:
        lo, hi = (float(s) for s in slopes)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: `slopes` must be a pair of numbers (dmin, dmax); got {slopes!r}."
        ) from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(
            f"{name}: the activation slope bounds must satisfy 0 <= dmin <= dmax <= 1; got "
            f"slopes=({lo}, {hi}). The contraction guarantees of seed 001 need weakly increasing, "
            "1-Lipschitz activations."
        )
    with jax.ensure_compile_time_eval():
        grid = jnp.linspace(-8.0, 8.0, 801)
        try:
            d = np.asarray(jax.vmap(jax.grad(activation))(grid))
        except Exception as err:  # noqa: BLE001 - a non-differentiable activation
            raise ValueError(f"{name}: could not differentiate the activation: {err}") from err
    if d.shape != grid.shape:
        raise ValueError(f"{name}: the activation must act elementwise (scalar in, scalar out).")
    tol = 1e-6
    if np.any(~np.isfinite(d)) or d.min() < lo - tol or d.max() > hi + tol:
        raise ValueError(
            f"{name}: the activation has slopes in [{d.min():.4g}, {d.max():.4g}] on [-8, 8], "
            f"outside the declared slope bounds [{lo}, {hi}]. Use an activation that is weakly "
            "increasing with slope at most 1, or declare its true `slopes=(dmin, dmax)` if "
            "they lie within [0, 1]."
        )
    return lo, hi
