"""The iteration driver shared by the forward solve and the backward (adjoint) solves."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._results import RESULTS

DIVERGENCE_FACTOR = 1e4

# internal status codes (RESULTS indices are used only at the end)
_RUNNING, _DONE, _DIVERGED, _NONFINITE = 0, 1, 2, 3


def default_tol(dtype) -> float:
    """Default relative tolerance from the dtype: eps^(3/4) (≈ 7e-6 in float32, 2e-12 in float64)."""
    return float(np.finfo(np.dtype(dtype)).eps ** 0.75)


def _norm2(x):
    return jnp.sqrt(jnp.sum(x * x))


def _norm1(x):
    return jnp.sum(jnp.abs(x))


def _norm_inf(x):
    return jnp.max(jnp.abs(x), initial=0.0)


def make_norm(norm) -> Callable:
    """A vector norm from `2`, `1`, `jnp.inf` or a callable (module-level functions, so a
    compiled solve is cached across calls)."""
    if callable(norm):
        return norm
    if not isinstance(norm, (bool, np.bool_, str)):  # True == 1 must not mean the ℓ1 norm
        if norm == 2:
            return _norm2
        if norm == 1:
            return _norm1
        if norm == jnp.inf or norm == np.inf:
            return _norm_inf
    raise ValueError(f"`norm` must be 1, 2, jnp.inf or a callable on a flat vector, got {norm!r}.")


def _status(r, r0, znorm, tol, floor):
    finite = jnp.isfinite(r) & jnp.isfinite(znorm)
    conv = r <= tol * jnp.maximum(znorm, floor)
    div = r > DIVERGENCE_FACTOR * r0
    return jnp.where(
        ~finite, _NONFINITE, jnp.where(conv, _DONE, jnp.where(div, _DIVERGED, _RUNNING))
    ).astype(jnp.int32)


def to_result(status) -> RESULTS:
    """Map the internal status (`_RUNNING` after the loop means out of steps) to RESULTS."""
    return RESULTS.where(
        status == _DONE,
        RESULTS.successful,
        RESULTS.where(
            status == _DIVERGED,
            RESULTS.diverged,
            RESULTS.where(status == _NONFINITE, RESULTS.nonfinite, RESULTS.max_steps_reached),
        ),
    )


def iterate(
    fn, solver, z0, args, tol, max_steps: int, norm, unrolled: bool = False, floor: float = 1.0
):
    """Run `solver` on z = fn(z, args) from the flat vector z0.

    Returns `(z, fz, status, num_steps, abs_residual, z_norm)` where z is the last iterate,
    fz = fn(z, args) and abs_residual = ‖fz − z‖. One fn evaluation per step. With
    Converged means ‖fz − z‖ ≤ tol · max(‖z‖, floor). With
    `unrolled=True` a masked `lax.scan` of `max_steps` steps replaces the `while_loop`, so the
    result is reverse-differentiable (memory grows with `max_steps`).
    """
    sg = lax.stop_gradient
    fz0 = fn(z0, args)
    r0 = sg(norm(fz0 - z0))
    zn0 = sg(norm(z0))
    carry = (
        z0,
        fz0,
        solver.init(z0, fz0, args),
        jnp.array(0, jnp.int32),
        r0,
        zn0,
        _status(r0, r0, zn0, tol, floor),
    )

    def body(c):
        z, fz, state, k, _, _, _ = c
        z_new, state = solver.step(z, fz, state, args)
        fz_new = fn(z_new, args)
        r = sg(norm(fz_new - z_new))
        zn = sg(norm(z_new))
        return (z_new, fz_new, state, k + 1, r, zn, _status(r, r0, zn, tol, floor))

    if unrolled:

        def scan_body(c, _):
            new = body(c)
            run = c[-1] == _RUNNING
            c = jax.tree_util.tree_map(lambda a, b: jnp.where(run, a, b), new, c)
            return c, None

        carry, _ = lax.scan(scan_body, carry, None, length=max_steps)
    else:
        carry = lax.while_loop(lambda c: (c[-1] == _RUNNING) & (c[3] < max_steps), body, carry)
    z, fz, _, k, r, zn, status = carry
    return z, fz, status, k, r, zn
