"""The iteration driver shared by the forward solve and the backward (adjoint) solves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._results import RESULTS

DIVERGENCE_FACTOR = 1e4

# internal status codes (RESULTS indices are used only at the end)
RUNNING, DONE, DIVERGED, NONFINITE = 0, 1, 2, 3


class Inputs(NamedTuple):
    """Everything one solve of z = fn(z, args) needs, bundled once and handed to
    `adjoint.apply` (as optimistix hands its `inputs`).

    - `fn`: the map on flat vectors, `fn(z, args)`.
    - `solver`: an `AbstractSolver` (its `init`/`step`).
    - `z0`, `args`: the starting point and the differentiated parameters (array pytree).
    - `tol`, `max_steps`, `norm`, `throw`: the stopping rule and the failure mode.
    - `structured_solves`: optional problem-specific backward solves,
      `structured_solves(tol, max_steps, norm, throw) -> make(z, args) -> (solve,
      transpose_solve)` for I − ∂fn/∂z; `ImplicitAdjoint()` uses them instead of GMRES (the
      monotone problem solves its backward systems by the forward splitting).
    """

    fn: Callable
    solver: Any
    z0: Any
    args: Any
    tol: float
    max_steps: int
    norm: Callable
    throw: bool = False
    structured_solves: Callable | None = None


def default_tol(dtype) -> float:
    """Default relative tolerance from the dtype: eps^(3/4) (≈ 7e-6 in float32, 2e-12 in float64)."""
    return float(np.finfo(np.dtype(dtype)).eps ** 0.75)


def _norm2(x):
    return jnp.sqrt(jnp.real(jnp.vdot(x, x)))  # vdot conjugates: also the norm of a complex x


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
        ~finite, NONFINITE, jnp.where(conv, DONE, jnp.where(div, DIVERGED, RUNNING))
    ).astype(jnp.int32)


def to_result(status) -> RESULTS:
    """Map the internal status (`RUNNING` after the loop means out of steps) to RESULTS."""
    return RESULTS.where(
        status == DONE,
        RESULTS.successful,
        RESULTS.where(
            status == DIVERGED,
            RESULTS.diverged,
            RESULTS.where(status == NONFINITE, RESULTS.nonfinite, RESULTS.max_steps_reached),
        ),
    )


def iterate(inputs: Inputs, *, unrolled: bool = False, floor: float = 1.0):
    """Run `inputs.solver` on z = fn(z, args) from the flat vector `inputs.z0`.

    Returns `(z, fz, status, num_steps, abs_residual, z_norm)` where z is the last iterate,
    fz = fn(z, args) and abs_residual = ‖fz − z‖; one fn evaluation per step. Converged means
    ‖fz − z‖ ≤ tol · max(‖z‖, floor). With `unrolled=True` a masked `lax.scan` of `max_steps`
    steps replaces the `while_loop`, so the result is reverse-differentiable (memory grows with
    `max_steps`).
    """
    fn, solver, z0, args, tol, max_steps, norm = inputs[:7]
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
            run = c[-1] == RUNNING
            c = jax.tree_util.tree_map(lambda a, b: jnp.where(run, a, b), new, c)
            return c, None

        carry, _ = lax.scan(scan_body, carry, None, length=max_steps)
    else:
        carry = lax.while_loop(lambda c: (c[-1] == RUNNING) & (c[3] < max_steps), body, carry)
    z, fz, _, k, r, zn, status = carry
    return z, fz, status, k, r, zn


@jax.custom_jvp
def nan_derivative_unless(z, dyn, ok):
    """The identity on z whose derivatives are NaN where `ok` is False.

    Tangent: ż·s + c·Σθ̇ with s = 1, c = 0 where ok and s = c = NaN elsewhere — linear in
    (ż, θ̇), so its transpose gives NaN cotangents to z's producers *and* to every parameter
    leaf θ, even those whose path to z is masked by a ReLU's select (0·NaN there would be 0).
    """
    return z


@nan_derivative_unless.defjvp
def nan_derivative_unless_jvp(primals, tangents):
    z, dyn, ok = primals
    dz, tdyn, _ = tangents
    s = jnp.where(ok, 1.0, jnp.nan).astype(dz.dtype)
    c = jnp.where(ok, 0.0, jnp.nan).astype(dz.dtype)
    total = sum(
        (
            jnp.real(jnp.sum(t)).astype(dz.dtype)
            for t, p in zip(jax.tree_util.tree_leaves(tdyn), jax.tree_util.tree_leaves(dyn))
            if jnp.issubdtype(jnp.result_type(p), jnp.inexact)
        ),
        jnp.zeros((), dz.dtype),
    )
    return z, dz * s + c * total


def finish(
    z, status, num_steps, abs_res, z_norm, contraction, throw, dyn
) -> tuple[Any, RESULTS, dict]:
    """Build (value, result, stats) from the loop outputs (`dyn`: the differentiated
    parameters), raising if asked."""
    result = to_result(status)
    # derivatives through an unsuccessful solve are NaN, never finite and wrong (seed 004 §2.1.3
    # differentiates the *solution*; an unconverged iterate has no such derivative)
    z = nan_derivative_unless(z, dyn, status == DONE)
    if throw:
        z = result.error_if(z, result != RESULTS.successful)
    stats = {
        "num_steps": num_steps,
        "num_evals": num_steps + 1,
        "residual": abs_res / jnp.maximum(z_norm, 1.0),
        "abs_residual": abs_res,
    }
    if contraction is not None:
        stats["error_bound"] = abs_res / (1.0 - contraction)
    return z, result, stats
