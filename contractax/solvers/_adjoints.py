"""How to differentiate a fixed point: implicit, unrolled, Jacobian-free, Neumann.

All but `UnrolledAdjoint` define the derivative by a `jax.custom_jvp` rule whose tangent
solve (I − ∂f/∂z) ż = (∂f/∂θ) θ̇ is a `lax.custom_linear_solve` with a transpose solve, so
forward mode (jvp, jacfwd, hessian) and reverse mode (grad, vjp) both work. Source: seed 004
§2.1.3 (eq. 2.3–2.4, the adjoint fixed point vᵀ = vᵀ J_f + ∂ℓ/∂z*), seed 000 §2.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.sparse.linalg import gmres

from .._checks import count, optional, positive
from ._loop import DONE, Inputs, iterate
from ._results import RESULTS
from ._solvers import AbstractSolver

GMRES_RESTART = 20  # Krylov dimension of the default backward solve (GMRES(20))


def _zero_tangent(x):
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.zeros_like(x)
    return np.zeros(x.shape, dtype=jax.dtypes.float0)


def fixed_point_linear_solve(
    solver: AbstractSolver | None, tol: float, max_steps: int, norm: Callable, throw: bool
) -> Callable:
    """A `solve(A, b)` for A = I − J: restarted GMRES (`solver=None`), or the fixed-point
    iteration x ← x − A x + b = J x + b with `solver`.

    GMRES (`jax.scipy.sparse.linalg.gmres`, restart min(20, n), at most `max_steps` matrix–vector
    products) converges whenever A is well conditioned, whatever the spectrum of J — unlike a
    fixed-point iteration, which needs ρ(J) < 1 (Picard) or a favourable spectrum (Anderson).
    Convergence is judged on the true residual, as for the fixed-point iterations:
    ‖A x − b‖ = ‖x − (Jx + b)‖ ≤ tol · max(‖x‖, tiny). An
    unconverged solve returns NaN (never a silent wrong gradient) and, with `throw=True`,
    raises `RESULTS.backward_not_converged` at run time.
    """

    def solve(matvec, b):
        tiny = float(np.finfo(np.dtype(b.dtype)).tiny)
        if solver is None:
            n = b.shape[0]
            restart = max(1, min(GMRES_RESTART, n))
            # GMRES on b/‖b‖, then scaled back: jax's GMRES detects breakdown by an absolute
            # threshold, so a tiny right-hand side (a cotangent of 1e-11 near a zero loss)
            # stopped it at a relative residual of 3e-7 instead of 1e-10.
            scale = jnp.linalg.norm(b)
            scale = jnp.where(scale > 0, scale, 1.0)
            x, _ = gmres(
                matvec, b / scale, tol=0.1 * tol, atol=0.0,
                restart=restart, maxiter=max(1, -(-max_steps // restart)), solve_method="batched",
            )  # fmt: skip
            x = x * scale
            # the criterion of every contractax solve: ‖x − (Jx + b)‖ ≤ tol · max(‖x‖, tiny)
            resid = norm(matvec(x) - b)
            ok = jnp.isfinite(resid) & (resid <= tol * jnp.maximum(norm(x), tiny))
        else:
            fn = lambda x, _: x - matvec(x) + b
            problem = Inputs(fn, solver, b, None, tol, max_steps, norm)
            x, _, status, *_ = iterate(problem, floor=tiny)
            ok = status == DONE
        x = jnp.where(ok, x, jnp.nan)
        if throw:
            x = RESULTS.backward_not_converged.error_if(x, ~ok)
        return x

    return solve


def implicit_solve(forward: Callable, fn: Callable, z0, dyn, make_solves: Callable):
    """Differentiate `forward(z0, dyn) -> (z, *aux)` through z = fn(z, dyn) implicitly.

    The tangent is ż = (I − ∂f/∂z)⁻¹ (∂f/∂θ) θ̇ computed by `lax.custom_linear_solve(matvec,
    rhs, solve, transpose_solve)` with `(solve, transpose_solve) = make_solves(z, dyn)`;
    `solve(matvec, b)` and `transpose_solve(vecmat, c)` may be exact, iterative or approximate
    (Jacobian-free, Neumann); they are not differentiated (JAX differentiates `matvec`).
    """

    @jax.custom_jvp
    def core(z0, dyn):
        return forward(z0, dyn)

    @core.defjvp
    def core_jvp(primals, tangents):
        z0, dyn = primals
        _, tdyn = tangents
        out = core(z0, dyn)
        z = out[0]
        _, jvp_z = jax.linearize(lambda x: fn(x, dyn), z)
        _, rhs = jax.jvp(lambda d: fn(z, d), (dyn,), (tdyn,))
        solve, transpose_solve = make_solves(z, dyn)
        dz = lax.custom_linear_solve(lambda v: v - jvp_z(v), rhs, solve, transpose_solve)
        return out, (dz,) + tuple(_zero_tangent(o) for o in out[1:])

    return core(z0, dyn)


class AbstractAdjoint(eqx.Module):
    """How `fixed_point` differentiates its solution.

    A subclass gives `linear_solves` (how to solve with I − ∂f/∂z in the implicit rule) or
    overrides `apply` altogether (`UnrolledAdjoint`).
    """

    def apply(self, inputs: Inputs):
        """Solve `inputs` and return `(z, status, num_steps, abs_residual, z_norm)`,
        differentiable in `inputs.args` by the implicit rule with `linear_solves`."""

        def forward(z0, dyn):
            z, _, status, k, r, zn = iterate(inputs._replace(z0=z0, args=dyn))
            return z, status, k, r, zn

        return implicit_solve(
            forward, inputs.fn, inputs.z0, inputs.args, self.linear_solves(inputs)
        )

    def linear_solves(self, inputs: Inputs) -> Callable:
        """`make(z, args) -> (solve, transpose_solve)` for I − ∂f/∂z at the solution z."""
        raise NotImplementedError


class ImplicitAdjoint(AbstractAdjoint):
    """Implicit function theorem, matrix-free.

    The cotangent of θ is vᵀ ∂f/∂θ where v solves the adjoint equation
    $$v^⊤ (I - \\tfrac{∂f}{∂z}(z^*)) = \\bar g^⊤,$$
    and the tangent solves (I − ∂f/∂z) ż = (∂f/∂θ) θ̇ (forward mode). By default both are
    solved by restarted GMRES (GMRES(20), matrix-free, `jax.scipy.sparse.linalg.gmres`)
    whatever the forward solver is: a Krylov solve converges whenever I − ∂f/∂z is well
    conditioned, also where a fixed-point iteration of the linear map stalls or diverges because
    ∂f/∂z has an eigenvalue near or beyond −1 (x = cos x + θ at sin x* ≈ 1, where reusing Picard
    gives NaN). Memory is independent of the number of forward iterations. An unconverged
    backward solve gives NaN and, with `throw=True`, raises `RESULTS.backward_not_converged`.

    **Arguments:**

    - `solver`: the backward solver: `None` (default, GMRES), any contractax fixed-point solver
      (iterating v ← v ∂f/∂z + ḡ), or `"forward"` to reuse the forward solver (the behaviour
      of contractax ≤ 0.1; exact in q steps for a nilpotent ∂f/∂z with Picard, as in a REN).
    - `tol`, `max_steps`: for the backward solve (default: the forward ones; for GMRES
      `max_steps` bounds the matrix–vector products).

    Source: seed 004 §2.1.3, eq. (2.3)–(2.4); Saad & Schultz 1986 (GMRES).
    """

    solver: AbstractSolver | str | None = None
    tol: float | None = eqx.field(
        default=None, converter=optional(positive("ImplicitAdjoint(tol)"))
    )
    max_steps: int | None = eqx.field(
        default=None, converter=optional(count("ImplicitAdjoint(max_steps)", minimum=0))
    )

    def __check_init__(self):
        if not (
            self.solver is None
            or self.solver == "forward"
            or isinstance(self.solver, AbstractSolver)
        ):
            raise ValueError(
                f'ImplicitAdjoint(solver) must be None, "forward" or a contractax solver such '
                f"as Anderson(), got {self.solver!r}."
            )

    def backward_solver(self, forward: AbstractSolver) -> AbstractSolver | None:
        """The solver of the linear backward/tangent equation (None: GMRES)."""
        if self.solver is None:
            return None  # GMRES
        if isinstance(self.solver, str):
            return forward
        return self.solver

    def linear_solves(self, inputs):
        tol = inputs.tol if self.tol is None else self.tol
        max_steps = inputs.max_steps if self.max_steps is None else self.max_steps
        if self.solver is None and inputs.structured_solves is not None:
            # the problem's own backward method (monotone_solve: the forward splitting)
            return inputs.structured_solves(tol, max_steps, inputs.norm, inputs.throw)
        s = fixed_point_linear_solve(
            self.backward_solver(inputs.solver), tol, max_steps, inputs.norm, inputs.throw
        )
        return lambda z, dyn: (s, s)


class JacobianFreeAdjoint(AbstractAdjoint):
    """Jacobian-free backpropagation: replace (I − ∂f/∂z)⁻¹ by the identity.

    The gradient is ḡᵀ ∂f/∂θ — a descent direction when f is contracting enough, and free
    (one vjp). Source: Fung et al. 2021, "JFB: Jacobian-free backpropagation for implicit
    networks".
    """

    def linear_solves(self, inputs):
        ident = lambda _, b: b
        return lambda z, dyn: (ident, ident)


class NeumannAdjoint(AbstractAdjoint):
    """Truncated Neumann series (phantom gradient): (I − J)⁻¹ ≈ Σ_{k=0}^{K} J^k.

    **Arguments:**

    - `terms`: K, the number of powers of J beyond the identity.

    Source: Geng et al. 2021, "On training implicit models" (phantom gradients); the series
    converges to the implicit gradient when ρ(J) < 1 (seed 004 §2.3.1).
    """

    terms: int = eqx.field(default=5, converter=count("NeumannAdjoint(terms)", minimum=0))

    def linear_solves(self, inputs):
        def solve(matvec, b):
            return lax.fori_loop(0, self.terms, lambda _, x: x - matvec(x) + b, b)

        return lambda z, dyn: (solve, solve)


class UnrolledAdjoint(AbstractAdjoint):
    """Differentiate through the iterations (a masked `lax.scan` of `max_steps` steps).

    Exact derivative of the computed iterate, for comparison; memory and time grow with
    `max_steps` (seed 004 §2.1.3: "ever growing memory"). Works in forward and reverse mode.
    """

    def apply(self, inputs):
        z, _, status, k, r, zn = iterate(inputs, unrolled=True)
        return z, status, k, r, zn
