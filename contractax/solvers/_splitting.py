"""Operator splitting for monotone equilibrium problems (monotone DEQs).

Find z with 0 ∈ (F + G)(z), F(z) = (I − W) z − u, G = ∂φ for a convex closed proper φ with
σ = prox_φ^1, i.e. z = σ(W z + u) (seed 004 §2.3.2, Winston & Kolter 2020). When
I − W ⪰ m I (strong monotonicity) the solution is unique and both splittings converge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_count, positive
from ._fixed_point import (
    check_adjoint,
    check_contraction,
    check_tol,
    guard_contraction,
    named,
    trace_state_clean,
)
from ._loop import DONE, Inputs, finish, iterate, make_norm
from ._results import RESULTS, Solution
from ._solvers import AbstractSolver


class _FBStep(AbstractSolver):
    alpha: float
    prox: Callable = eqx.field(static=True)

    def step(self, z, fz, state, args):
        a = self.alpha
        v = z + a * (args["W"] @ z + args["u"] - z)
        return self.prox(v, a), state


class _PRState(NamedTuple):
    vinv: jax.Array  # the resolvent (I + α(I − W))⁻¹
    s: jax.Array  # the reflected iterate


class _PRStep(AbstractSolver):
    alpha: float
    prox: Callable = eqx.field(static=True)

    def init(self, z, fz, args):
        # the resolvent (I + α(I − W))⁻¹ as an explicit inverse: it is well conditioned when
        # I − W ⪰ mI, and a matrix product batches (vmap) far better than a triangular solve
        n = z.shape[0]
        V = (1.0 + self.alpha) * jnp.eye(n, dtype=z.dtype) - self.alpha * args["W"]
        return _PRState(jnp.linalg.inv(V), z)

    def step(self, z, fz, state, args):
        a = self.alpha
        s_half = 2.0 * z - state.s
        z_half = state.vinv @ (s_half + a * args["u"])
        s = 2.0 * z_half - s_half
        return self.prox(s, a), state._replace(s=s)


class ForwardBackward(eqx.Module):
    """Forward–backward splitting $z_{k+1} = \\mathrm{prox}^α_φ\\big(z_k - α((I - W) z_k - u)\\big)$.

    The map is a contraction with factor at most $\\sqrt{1 - 2αm + α^2 L^2}$ where
    I − W ⪰ mI and L = ‖I − W‖₂, so it converges for α ∈ (0, 2m/L²) (seed 004 §3.2.2,
    Prop. 3). α = 1 is Picard on z ↦ σ(Wz + u).

    **Arguments:**

    - `alpha`: step α > 0.

    Source: seed 004 §2.3.2 and §3.2.2.
    """

    alpha: float = eqx.field(default=0.5, converter=positive("ForwardBackward(alpha)"))

    def stepper(self, prox):
        return _FBStep(self.alpha, prox)


class PeacemanRachford(eqx.Module):
    """Peaceman–Rachford splitting; the resolvent of F is inverted once per solve.

    $$s_{½} = 2z_k - s_k,\\; z_{½} = ((1+α)I - αW)^{-1}(s_{½} + αu),\\;
    s_{k+1} = 2z_{½} - s_{½},\\; z_{k+1} = \\mathrm{prox}^α_φ(s_{k+1}).$$
    Converges for every α > 0 when F is strongly monotone; α changes the speed.

    **Arguments:**

    - `alpha`: step α > 0.

    Source: seed 004 §2.3.2 (Winston & Kolter 2020).
    """

    alpha: float = eqx.field(default=1.0, converter=positive("PeacemanRachford(alpha)"))

    def stepper(self, prox):
        return _PRStep(self.alpha, prox)


def _linear_prox(d):
    """prox^α of φ(x) = ½ xᵀ(D⁻¹ − I)x (D = diag d, 0 ≤ d ≤ 1): x ↦ d x / (d + α(1 − d))."""
    return lambda x, a: d * x / (d + a * (1.0 - d))


def _splitting_linear_solves(splitting, prox):
    """Backward solves of I − DW, D = diag σ'(Wz + u), by the same splitting on W or Wᵀ.

    (I − M D) v = c is solved as ũ = D(M ũ + c) — the monotone problem with matrix M,
    injection c and the linear prox of φ(x) = ½ xᵀ(D⁻¹ − I)x — then v = c + M ũ.
    (I − D W) x = r uses M = W on c = W r and x = r + D v. Returns the
    `Inputs.structured_solves` of the monotone problem.
    """

    def structured(tol, max_steps, norm, throw):
        return lambda z, dyn: _make(z, dyn, tol, max_steps, norm, throw)

    def _make(z, dyn, tol, max_steps, norm, throw):
        W, u = dyn["W"], dyn["u"]
        pre = W @ z + u
        d = jax.jvp(lambda v: prox(v, 1.0), (pre,), (jnp.ones_like(pre),))[1]
        d = jnp.clip(d, 0.0, 1.0)
        lin = _linear_prox(d)
        step = splitting.stepper(lin)

        def helper(M, c):
            tiny = jnp.finfo(c.dtype).tiny
            fn = lambda x, a: lin(a["W"] @ x + a["u"], 1.0)
            args = {"W": M, "u": c}
            problem = Inputs(fn, step, d * c, args, tol, max_steps, norm)
            ut, _, status, *_ = iterate(problem, floor=tiny)
            v = c + M @ ut
            ok = status == DONE
            v = jnp.where(ok, v, jnp.nan)
            if throw:
                v = RESULTS.backward_not_converged.error_if(v, ~ok)
            return v

        def solve(_, r):
            return r + d * helper(W, W @ r)

        def transpose_solve(_, c):
            return helper(W.T, c)

        return solve, transpose_solve

    return structured


def monotone_solve(
    W,
    u,
    prox: Callable,
    z0=None,
    *,
    solver=PeacemanRachford(),
    adjoint=None,
    tol: float | None = None,
    max_steps: int | np.integer = 256,
    norm=2,
    contraction=None,
    throw: bool = False,
) -> Solution:
    """Solve the monotone equilibrium $z = σ(Wz + u)$, σ = prox_φ^1, by operator splitting.

    Finds $0 ∈ (F + G)(z)$ with $F(z) = (I - W)z - u$ and $G = ∂φ$ using
    [`contractax.solvers.ForwardBackward`][] or [`contractax.solvers.PeacemanRachford`][];
    stops when $\\|σ(Wz+u) - z\\| ≤ \\text{tol}\\cdot\\max(\\|z\\|, 1)$. Differentiable in `W`
    and `u` in forward and reverse mode. With `ImplicitAdjoint()` (no solver given) the
    backward linear systems $(I - DW)x = r$ and $(I - W^⊤D)v = c$, $D = \\mathrm{diag}\\,σ'(Wz^*+u)$,
    are solved by the same splitting on W and Wᵀ; `ImplicitAdjoint(solver=Anderson())`,
    `UnrolledAdjoint()`, `JacobianFreeAdjoint()` and `NeumannAdjoint(K)` also work.

    **Arguments:**

    - `W`: (n, n) matrix with I − W ⪰ mI for some m > 0, e.g. the monotone
      parametrisation W = (1 − m)I − AᵀA + B − Bᵀ (seed 004 Prop. 1).
    - `u`: (n,) injection Ux + b (one example; `vmap` for a batch).
    - `prox`: `prox(v, alpha)` = prox^α_φ(v), elementwise (needed by the implicit backward);
      e.g. ReLU for any α: `lambda v, alpha: jax.nn.relu(v)`.
    - `z0`: starting point (default zeros).
    - `solver`: `PeacemanRachford(alpha)` or `ForwardBackward(alpha)`.
    - `adjoint`, `tol`, `max_steps`, `norm`, `contraction`, `throw`: as in
      [`contractax.fixed_point`][contractax.solvers.fixed_point] (`contraction` is a contraction factor of z ↦ σ(Wz+u)).

    **Returns:**

    A [`contractax.Solution`][contractax.solvers.Solution]; `value` has shape (n,).

    **Example:**

    ```python
    relu = lambda v, alpha: jax.nn.relu(v)
    W = 0.5 * jnp.eye(4) - A.T @ A + B - B.T
    sol = cx.solvers.monotone_solve(W, U @ x + b, relu)
    ```

    Source: seed 004 §2.3.2 (monotone DEQ, FB and PR splitting), §3.2.2.
    """
    if not isinstance(solver, (ForwardBackward, PeacemanRachford)):
        raise ValueError(
            f"`solver` must be ForwardBackward(alpha) or PeacemanRachford(alpha), got "
            f"{named(solver)}."
        )
    adjoint = check_adjoint(adjoint)
    W, u = jnp.asarray(W), jnp.asarray(u)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or u.shape != W.shape[:1]:
        raise ValueError(
            f"`W` must be (n, n) and `u` (n,) (vmap over a batch); got W {W.shape}, u {u.shape}."
        )
    if not jnp.issubdtype(W.dtype, jnp.floating):
        raise ValueError(f"`W` must be floating point, got dtype {W.dtype}.")
    dtype = jnp.result_type(W, u)
    W, u = W.astype(dtype), u.astype(dtype)
    z0 = jnp.zeros_like(u) if z0 is None else jnp.asarray(z0, dtype)
    if z0.shape != u.shape:
        raise ValueError(f"`z0` must have the shape of `u`, {u.shape}; got {z0.shape}.")
    tol = check_tol(tol, dtype)
    max_steps = check_count(max_steps, "`max_steps`", minimum=0)
    normfn = make_norm(norm)
    check_contraction(contraction)
    if not trace_state_clean() and jax.closure_convert(lambda v: prox(v, 1.0), u)[1]:
        raise ValueError(
            "`prox` closes over a traced value (a parameter being differentiated or jitted); "
            "monotone_solve differentiates only W and u. Fold the parameter into u or W (e.g. "
            "a threshold t as u - t with prox = ReLU), or use cx.fixed_point with the parameter "
            "in `args`."
        )
    return _monotone(W, u, prox, z0, solver, adjoint, tol, max_steps, normfn, contraction, throw)


@eqx.filter_jit
def _monotone(W, u, prox, z0, solver, adjoint, tol, max_steps, normfn, contraction, throw):
    contraction = check_contraction(contraction)
    out = jax.eval_shape(lambda v: prox(v, 1.0), u)
    if getattr(out, "shape", None) != u.shape:
        raise ValueError(
            f"`prox(v, alpha)` must return an array of the shape of v, {u.shape} (an elementwise "
            f"proximal operator such as ReLU); got {jax.tree_util.tree_map(jnp.shape, out)}."
        )
    z0 = guard_contraction(z0, contraction)
    dyn = {"W": W, "u": u}
    step = solver.stepper(prox)

    def fn(z, d):
        return prox(d["W"] @ z + d["u"], 1.0)

    structured = _splitting_linear_solves(solver, prox)
    inputs = Inputs(fn, step, z0, dyn, tol, max_steps, normfn, throw, structured)
    z, status, k, r, zn = adjoint.apply(inputs)
    z, result, stats = finish(z, status, k, r, zn, contraction, throw, dyn)
    return Solution(z, result, stats)
