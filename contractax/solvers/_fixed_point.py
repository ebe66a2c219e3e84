"""`fixed_point`: solve z = f(z, args) and differentiate the solution with respect to args."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_count, check_in_interval, check_positive
from ._adjoints import AbstractAdjoint, ImplicitAdjoint
from ._loop import Inputs, default_tol, finish, make_norm
from ._results import Solution
from ._solvers import AbstractSolver, Anderson


def named(obj) -> str:
    """`repr` with the defining library: optimistix's ImplicitAdjoint is not contractax's."""
    module = type(obj).__module__.split(".")[0]
    return f"{obj!r} from {module!r}" if module != "contractax" else repr(obj)


def check_adjoint(adjoint) -> AbstractAdjoint:
    """`ImplicitAdjoint()` for None; a contractax adjoint, or a ValueError naming its library."""
    adjoint = ImplicitAdjoint() if adjoint is None else adjoint
    if not isinstance(adjoint, AbstractAdjoint):
        raise ValueError(
            f"`adjoint` must be a contractax adjoint such as cx.ImplicitAdjoint(), got "
            f"{named(adjoint)}."
        )
    return adjoint


_RHO = "`contraction` (a contraction factor ρ)"


def check_contraction(contraction):
    """None, or ρ ∈ [0, 1) as an array; a concrete value out of range raises now."""
    if contraction is None:
        return None
    if not isinstance(contraction, jax.core.Tracer):
        check_in_interval(contraction, _RHO, 0.0, 1.0, closed="left")
    return jnp.asarray(contraction)


def guard_contraction(z, contraction):
    """Tie the run-time check of a traced ρ to z, so it fires whenever z is used."""
    if contraction is None:
        return z
    bad = ~jnp.all((contraction >= 0) & (contraction < 1))
    return eqx.error_if(z, bad, f"{_RHO} must be a real number in [0, 1).")


def check_tol(tol, dtype) -> float:
    """The default tolerance for `dtype`, or a concrete finite tol > 0 as a Python float."""
    if tol is None:
        return default_tol(dtype)
    if isinstance(tol, jax.core.Tracer):
        raise ValueError(
            "`tol` must be a concrete number (it is part of the compiled solver), got a traced "
            "value; pass it as a Python float."
        )
    check_positive(tol, "`tol` (the relative tolerance of the solve)")
    return float(tol)


def fixed_point(
    f: Callable,
    z0,
    args=None,
    *,
    solver=Anderson(),
    adjoint=None,
    tol: float | None = None,
    max_steps: int | np.integer = 256,
    norm: Any = 2,
    contraction=None,
    throw: bool = False,
    has_aux: bool = False,
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
    - `adjoint`: `None` (the default, `ImplicitAdjoint()`), [`contractax.ImplicitAdjoint`][contractax.solvers.ImplicitAdjoint], [`contractax.UnrolledAdjoint`][contractax.solvers.UnrolledAdjoint],
      [`contractax.JacobianFreeAdjoint`][contractax.solvers.JacobianFreeAdjoint] or [`contractax.NeumannAdjoint`][contractax.solvers.NeumannAdjoint].
    - `tol`: relative tolerance; default `eps**0.75` of the dtype (≈ 7e-6 in float32,
      2e-12 in float64).
    - `max_steps`: iteration limit.
    - `norm`: `2`, `1`, `jnp.inf` or a callable on the flattened vector.
    - `contraction`: optional contraction factor ρ ∈ [0, 1) of f in `norm`.
    - `throw`: raise (at run time, via `eqx.error_if`) unless successful. With `throw=False`
      the derivatives (tangents and cotangents) of an unsuccessful example are NaN, never
      a finite derivative of an unconverged iterate.
    - `has_aux`: `f` returns `(z_next, aux)`; `Solution.aux` is `aux` evaluated at the returned
      `value` (one more evaluation of f), differentiable like `value`.

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
            f"`solver` must be a contractax solver such as cx.Anderson(), got {named(solver)}."
        )
    adjoint = check_adjoint(adjoint)
    max_steps = check_count(max_steps, "`max_steps`", minimum=0)
    if not isinstance(throw, (bool, np.bool_)):
        raise ValueError(f"`throw` must be True or False, got {throw!r}.")
    if not isinstance(has_aux, (bool, np.bool_)):
        raise ValueError(f"`has_aux` must be True or False, got {has_aux!r}.")
    leaves = jax.tree_util.tree_leaves(z0)
    if not leaves:
        raise ValueError(
            "`z0` has no array leaves; the state of a fixed-point problem cannot be empty."
        )
    dtype = jnp.result_type(*leaves)
    if not jnp.issubdtype(dtype, jnp.inexact):
        raise ValueError(f"`z0` must be real or complex floating point, got dtype {dtype}.")
    tol = check_tol(tol, dtype)
    normfn = make_norm(norm)
    check_contraction(contraction)  # concrete: a ValueError now, not from inside the trace
    if not trace_state_clean():
        # under grad/jit a closure may hold tracers of the outer transformation; hoist them
        # into `args` so the compiled solve sees them as inputs (and differentiates them)
        f, args = _hoist_closure(f, z0, args)
    return _solve(
        f,
        z0,
        args,
        solver,
        adjoint,
        tol,
        max_steps,
        normfn,
        contraction,
        bool(throw),
        bool(has_aux),
    )


def trace_state_clean() -> bool:
    try:
        from jax._src.core import trace_state_clean
    except ImportError:  # pragma: no cover - a JAX without it: always hoist
        return False
    return trace_state_clean()


class _Hoisted(eqx.Module):
    """`f(z, args)` closure-converted: its array args in `a[0]`, its former closed-over tracers in
    `a[1]` (see `_hoist_closure`; the static part of args is baked into `converted`)."""

    converted: Callable

    def __call__(self, z, a):
        dyn, consts = a
        return self.converted(z, dyn, *consts)


def _hoist_closure(f, z0, args):
    """Move tracers that `f` closes over into `args` (`jax.closure_convert`); `f` unchanged
    when it closes over none, so the compiled solve stays cached."""
    dyn, static = eqx.partition(args, eqx.is_array)
    g = lambda z, d: f(z, eqx.combine(d, static))
    converted, consts = jax.closure_convert(g, z0, dyn)
    if not consts:
        return f, args
    return _Hoisted(converted), (dyn, tuple(consts))


def _check_structure(f, z0, args):
    out = eqx.filter_eval_shape(f, z0, args)
    leaves = jax.tree_util.tree_leaves(z0)
    if jax.tree_util.tree_structure(out) != jax.tree_util.tree_structure(z0) or any(
        jnp.shape(a) != b.shape for a, b in zip(leaves, jax.tree_util.tree_leaves(out))
    ):
        raise ValueError(
            "`f(z, args)` must return a pytree with the same structure and shapes as `z0`; got "
            f"{jax.tree_util.tree_map(lambda a: a.shape, out)} for z0 of shapes "
            f"{jax.tree_util.tree_map(jnp.shape, z0)}."
        )


@eqx.filter_jit
def _solve(f, z0, args, solver, adjoint, tol, max_steps, normfn, contraction, throw, has_aux):
    # Compiled once per (f, shapes, configuration): an eager call in a notebook costs one
    # dispatch, not a trace; under an outer jit/vmap/grad this inlines.
    main = _first(f) if has_aux else f
    _check_structure(main, z0, args)
    contraction = check_contraction(contraction)
    flat0, unravel = ravel_pytree(z0)
    to_flat, from_flat, normfn = _real_view(flat0, normfn)
    flat0 = guard_contraction(to_flat(flat0), contraction)
    dyn, static = eqx.partition(args, eqx.is_array)

    def fn(z, d):
        return to_flat(ravel_pytree(main(unravel(from_flat(z)), eqx.combine(d, static)))[0])

    inputs = Inputs(fn, solver, flat0, dyn, tol, max_steps, normfn, throw)
    z, status, k, r, zn = adjoint.apply(inputs)
    z, result, stats = finish(z, status, k, r, zn, contraction, throw, dyn)
    value = unravel(from_flat(z))
    aux = f(value, args)[1] if has_aux else None
    return Solution(value, result, stats, aux)


def _real_view(flat0, normfn):
    """`(to_flat, from_flat, norm)` for the iteration's real vector.

    A complex state z ∈ ℂⁿ is iterated as (Re z, Im z) ∈ ℝ²ⁿ: every solver and backward solve
    then works unchanged (Anderson's mixing coefficients are real), derivatives are JAX's
    ℝ-linear ones (holomorphic or not), and the norm is taken of the complex vector, so ℓ1/ℓ∞
    are of the moduli |zᵢ|.
    """
    dtype = flat0.dtype
    if not jnp.issubdtype(dtype, jnp.complexfloating):
        return (lambda x: x.astype(dtype)), (lambda x: x), normfn
    n = flat0.shape[0]
    join = lambda x: jax.lax.complex(x[:n], x[n:])
    split = lambda x: (lambda c: jnp.concatenate([jnp.real(c), jnp.imag(c)]))(x.astype(dtype))
    return split, join, lambda x: normfn(join(x))


class _first(eqx.Module):
    """`f(z, args)[0]` for a map with auxiliary output (a module, so it hashes like `f`)."""

    f: Callable

    def __call__(self, z, args):
        out = self.f(z, args)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError(
                "with `has_aux=True`, `f(z, args)` must return a pair `(z_next, aux)`; got "
                f"{type(out).__name__}."
            )
        return out[0]
