"""A generic deep-equilibrium layer z* = cell(z*, x) around any equinox cell (seed 004 §2)."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_count, check_positive
from ._failure import on_failure


class DEQ(eqx.Module):
    """Deep equilibrium layer: $z^\\star(x)$ solves $z = \\text{cell}(z, x)$.

    The forward pass is `contractax.fixed_point` with the given `solver`; derivatives with
    respect to `x` and to the cell's parameters follow the chosen `adjoint` (by default the
    implicit function theorem, $\\partial z^\\star = (I - \\partial_z f)^{-1}\\partial f$, seed 004
    eq. 2.3), in forward and reverse mode. The cell's array leaves travel through `args`,
    so implicit differentiation sees them.

    **Arguments (constructor):**

    - `cell`: any callable `cell(z, x) -> z` (same shape as z); make it an equinox module so
      that its parameters are differentiated (arrays captured by a plain closure are constants).
    - `solver`: a `contractax` solver (default `cx.Anderson()`); `adjoint`: a `contractax`
      adjoint (default `cx.ImplicitAdjoint()`).
    - `z_shape`: shape of the state (default: inferred from `z0` when called).
    - `tol`, `max_steps`: forwarded to `fixed_point`.
    - `throw`: what `layer(x)` does when the solve fails: raise the `RESULTS` message (`True`,
      the default) or return NaN (with NaN derivatives) for that example (`False`).
      `layer.solve(x)` returns the full `contractax.Solution` and never raises.

    ```python
    cell = lambda z, x: jnp.tanh(W @ z + U @ x)        # any equinox module works
    layer = cx.models.DEQ(cell, z_shape=(16,))
    z_star = layer(x)
    ```

    Source: seed 004 (§2.1 deep equilibrium models, §2.2 implicit backward pass).
    """

    cell: Any
    solver: Any
    adjoint: Any
    z_shape: tuple[int, ...] | None = eqx.field(static=True)
    tol: float | None = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    throw: bool = eqx.field(static=True)

    def __init__(
        self,
        cell,
        solver=None,
        adjoint=None,
        *,
        z_shape=None,
        tol=None,
        max_steps: int = 200,
        throw: bool = True,
    ):
        from .. import solvers

        if not callable(cell):
            raise ValueError(f"DEQ needs a callable cell(z, x); got {type(cell).__name__}.")
        self.cell = cell
        self.solver = solvers.Anderson() if solver is None else solver
        self.adjoint = solvers.ImplicitAdjoint() if adjoint is None else adjoint
        self.z_shape = (
            None
            if z_shape is None
            else tuple(check_count(s, "DEQ(z_shape) entries") for s in z_shape)
        )
        self.tol = None if tol is None else float(check_positive(tol, "DEQ(tol)"))
        self.max_steps = check_count(max_steps, "DEQ(max_steps)")
        self.throw = bool(throw)

    def solve(self, x, z0=None):
        """Solve for the equilibrium; returns the full `contractax.Solution` (never raises:
        read `sol.result`)."""
        from .. import solvers

        if z0 is None:
            if self.z_shape is None:
                raise ValueError("DEQ needs `z0` or a `z_shape` given at construction.")
            z0 = jnp.zeros(self.z_shape, jnp.result_type(x))
        _check_cell(self.cell, z0, x)
        kwargs = {} if self.tol is None else {"tol": self.tol}
        # the cell travels in `args`: its arrays are differentiated by the adjoint, the rest is
        # static, and the module-level map keeps the compiled solve cached across calls
        return solvers.fixed_point(
            _apply_cell,
            z0,
            (self.cell, x),
            solver=self.solver,
            adjoint=self.adjoint,
            max_steps=self.max_steps,
            throw=False,
            **kwargs,
        )

    def __call__(self, x, z0=None) -> Float[Array, "..."]:
        """The equilibrium state $z^\\star(x)$ (raises or NaN on a failed solve, per `throw`)."""
        sol = self.solve(x, z0)
        return on_failure(sol, sol.value, self.throw)


def _check_cell(cell, z0, x):
    """cell(z, x) must run on (z0, x) and return z0's structure and shapes (eval_shape only)."""
    shapes = lambda t: jax.tree_util.tree_map(lambda a: tuple(jnp.shape(a)), t)  # noqa: E731
    try:
        out = jax.eval_shape(cell, z0, x)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"DEQ: cell(z, x) failed for z of shape {shapes(z0)} (from z0 or z_shape) and x of "
            f"shape {shapes(x)}; check that z_shape/z0 and x are the sizes the cell expects. "
            f"The cell raised: {e}"
        ) from e
    if jax.tree_util.tree_structure(out) != jax.tree_util.tree_structure(z0) or shapes(
        out
    ) != shapes(z0):
        raise ValueError(
            f"DEQ: cell(z, x) must return a state of z's structure and shapes {shapes(z0)} "
            f"(z0 or z_shape); got {shapes(out)}."
        )


def _apply_cell(z, args):
    cell, x = args
    return cell(z, x)
