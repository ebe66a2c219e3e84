"""Result codes of the fixed-point solvers and the `Solution` they return."""

from __future__ import annotations

from typing import Any

import equinox as eqx


class RESULTS(eqx.Enumeration):
    """Why a fixed-point solve stopped.

    Each message says what to change. Compare with `sol.result == RESULTS.successful`;
    under `vmap` every example carries its own code.
    """

    successful = ""
    max_steps_reached = (
        "The fixed-point solver did not reach `tol` within `max_steps` iterations: raise "
        "`max_steps`, loosen `tol`, or use an accelerated solver (`Anderson`, `Broyden`)."
    )
    diverged = (
        "The fixed-point iteration diverged (the residual grew 10^4-fold over its initial value): "
        "the map is probably not contracting; check its contraction factor, use a damped "
        "`Relaxed(alpha)` step, or an `Anderson`/`Broyden` solver."
    )
    nonfinite = (
        "The fixed-point iterate or f(z) became NaN or infinite: check `args` and `z0` for "
        "NaN/inf and that f is finite near the starting point."
    )
    backward_not_converged = (
        "The backward (adjoint) linear solve of the implicit function theorem did not converge: "
        "I - df/dz may be (nearly) singular at the solution. Raise the adjoint's `max_steps`, "
        "use `ImplicitAdjoint(solver=Anderson())`, or check that f contracts."
    )


class Solution(eqx.Module):
    """The result of [`contractax.fixed_point`][contractax.solvers.fixed_point] or [`contractax.solvers.monotone_solve`][].

    **Fields:**

    - `value`: the computed fixed point z (same pytree structure as `z0`).
    - `result`: a [`contractax.RESULTS`][contractax.solvers.RESULTS] code; `RESULTS.successful` when converged.
    - `stats`: a dict with `num_steps` (iterations taken; one f evaluation each),
      `residual` (relative residual ‖f(z) − z‖ / max(‖z‖, 1)), `abs_residual` (‖f(z) − z‖)
      and, when a contraction factor ρ was given, `error_bound` = ‖f(z) − z‖ / (1 − ρ),
      a certificate of ‖z − z*‖.
    - `aux`: with `fixed_point(..., has_aux=True)`, the auxiliary output of f at `value`;
      otherwise None.
    """

    value: Any
    result: RESULTS
    stats: dict[str, Any]
    aux: Any = None
