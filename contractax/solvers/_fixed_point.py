"""`fixed_point`: solve z = f(z, args) and differentiate the solution with respect to args."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ._adjoints import AbstractAdjoint, ImplicitAdjoint
from ._loop import default_tol, make_norm, to_result
from ._results import RESULTS, Solution
from ._solvers import AbstractSolver, Anderson


def _check_contraction(contraction):
    if contraction is None:
        return None
    if isinstance(contraction, (int, float)) and not 0.0 <= contraction < 1.0:
        raise ValueError(
            f"`contraction` is a contraction factor rho and must satisfy 0 <= rho < 1, "
            f"got {contraction!r}."
        )
    return jnp.asarray(contraction)


def finish(z, status, num_steps, abs_res, z_norm, contraction, throw) -> tuple[Any, RESULTS, dict]:
    """Build (value, result, stats) from the loop outputs, raising if asked."""
    result = to_result(status)
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


def fixed_point(
    f: Callable,
    z0,
    args=None,
    *,
    solver=Anderson(),
    adjoint=ImplicitAdjoint(),
    tol: float | None = None,
    max_steps: int = 256,
    norm: Any = 2,
    contraction=None,
    throw: bool = False,
) -> Solution:
    """Solve $z = f(z, \\theta)$ and differentiate $z^*(\\theta)$ with respect to `args`.

    Iterates `solver` from `z0` (one evaluation of f per step) until
    $\\|f(z) - z\\| \\le \\text{tol}\\cdot\\max(\\|z\\|, 1)$. The derivative is given by
    `adjoint`; with the default [`contractax.ImplicitAdjoint`][contractax.solvers.ImplicitAdjoint] it is the implicit function
    theorem $\\partial z^*/\\partial\\theta = (I - \\partial_z f)^{-1}\\partial_\\theta f$ (seed 004
    eq. 2.3), in forward mode (`jvp`, `jacfwd`, `hessian`) and reverse mode (`grad`, `vjp`).
    When a contraction factor ρ < 1 of f (in `norm`) is known, Banach's theorem gives the
    certificate $\\|z - z^*\\| \\le \\|f(z) - z\\|/(1-ρ)$, returned as `stats["error_bound"]`.

    **Arguments:**

    - `f`: the map, called as `f(z, args)`, returning a pytree like `z0`.
    - `z0`: the starting point (any pytree of floating arrays; flattened internally).
    - `args`: data and parameters (pytree). Only array leaves are differentiated; other
      leaves are treated as static.
    - `solver`: [`contractax.Picard`][contractax.solvers.Picard], [`contractax.Relaxed`][contractax.solvers.Relaxed], [`contractax.Anderson`][contractax.solvers.Anderson]
      or [`contractax.Broyden`][contractax.solvers.Broyden].
    - `adjoint`: [`contractax.ImplicitAdjoint`][contractax.solvers.ImplicitAdjoint], [`contractax.UnrolledAdjoint`][contractax.solvers.UnrolledAdjoint],
      [`contractax.JacobianFreeAdjoint`][contractax.solvers.JacobianFreeAdjoint] or [`contractax.NeumannAdjoint`][contractax.solvers.NeumannAdjoint].
    - `tol`: relative tolerance; default `eps**0.75` of the dtype (≈ 7e-6 in float32,
      2e-12 in float64).
    - `max_steps`: iteration limit.
    - `norm`: `2`, `1`, `jnp.inf` or a callable on the flattened vector.
    - `contraction`: optional contraction factor ρ ∈ [0, 1) of f in `norm`.
    - `throw`: raise (at run time, via `eqx.error_if`) unless successful.

    **Returns:**

    A [`contractax.Solution`][contractax.solvers.Solution] `(value, result, stats)`; under `vmap` every example has its
    own `result` and `stats["num_steps"]`.

    **Example:**

    ```python
    f = lambda z, a: jnp.tanh(a["W"] @ z + a["x"])
    sol = cx.fixed_point(f, jnp.zeros(3), {"W": 0.5 * jnp.eye(3), "x": jnp.ones(3)})
    sol.value, sol.result == cx.RESULTS.successful, sol.stats["num_steps"]
    ```

    Source: seed 004 §2.1.2–2.1.3, seed 001 (Banach contraction theorem).
    """
    if not isinstance(solver, AbstractSolver):
        raise ValueError(
            f"`solver` must be a contractax solver such as Anderson(), got {solver!r}."
        )
    if not isinstance(adjoint, AbstractAdjoint):
        raise ValueError(
            f"`adjoint` must be a contractax adjoint such as ImplicitAdjoint(), got {adjoint!r}."
        )
    if not isinstance(max_steps, int) or max_steps < 0:
        raise ValueError(f"`max_steps` must be a non-negative int, got {max_steps!r}.")
    contraction = _check_contraction(contraction)
    leaves = jax.tree_util.tree_leaves(z0)
    if not leaves:
        raise ValueError(
            "`z0` has no array leaves; the state of a fixed-point problem cannot be empty."
        )
    flat0, unravel = ravel_pytree(z0)
    if not jnp.issubdtype(flat0.dtype, jnp.floating):
        raise ValueError(f"`z0` must be floating point, got dtype {flat0.dtype}.")
    out = jax.eval_shape(f, z0, args)
    in_struct = jax.tree_util.tree_structure(z0)
    if jax.tree_util.tree_structure(out) != in_struct or any(
        jnp.shape(a) != b.shape for a, b in zip(leaves, jax.tree_util.tree_leaves(out))
    ):
        raise ValueError(
            "`f(z, args)` must return a pytree with the same structure and shapes as `z0`; got "
            f"{jax.tree_util.tree_map(lambda a: a.shape, out)} for z0 of shapes "
            f"{jax.tree_util.tree_map(jnp.shape, z0)}."
        )
    dtype = flat0.dtype
    tol = default_tol(dtype) if tol is None else float(tol)
    normfn = make_norm(norm)
    dyn, static = eqx.partition(args, eqx.is_array)

    def fn(z, d):
        return ravel_pytree(f(unravel(z), eqx.combine(d, static)))[0].astype(dtype)

    z, status, k, r, zn = adjoint.solve(fn, solver, flat0, dyn, tol, max_steps, normfn, throw)
    z, result, stats = finish(z, status, k, r, zn, contraction, throw)
    return Solution(unravel(z), result, stats)
