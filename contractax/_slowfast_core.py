"""Core formulas of Flynn's learning system: vector field, norms, true objective, descent ratio.

Private helper of `contractax.slowfast`; the public names are re-exported there.
Source: seeds/000_6fe122188c81f0a1.txt §2–§4 (eq. 2.2–2.7, 4.1), Prop. 3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PyTree

from .solvers import RESULTS, ImplicitAdjoint, fixed_point


def dual_p(p: float | int) -> float | int:
    """The dual exponent: 1 ↔ ∞, 2 ↔ 2 (seed 000 §3, Prop. 1)."""
    if p == 1:
        return jnp.inf
    if p == 2:
        return 2
    if p == jnp.inf:
        return 1
    raise ValueError(f"p must be 1, 2 or jnp.inf, got {p!r}.")


def tree_norm(tree: PyTree[Array]) -> Float[Array, ""]:
    """Euclidean (Frobenius) norm of all leaves of a pytree together: $\\|w\\|_W$ with $k = 1$."""
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.sqrt(sum(jnp.sum(jnp.square(l)) for l in leaves))


def vector_field(
    f: Callable, g: Callable, x: Float[Array, " n"], y: Float[Array, " _n"], w: PyTree, args: Any
) -> tuple[Float[Array, " n"], Float[Array, " n"], PyTree]:
    """The unscaled right-hand sides of the learning system (seed 000 eq. 2.7).

    $$u_x = f(x, w),\\qquad u_y = y D_x f - D_x g,\\qquad h = y D_w f,$$

    computed with one vector–Jacobian product of `f` (no dense Jacobian) and one gradient of
    `g`. `w` may be any pytree; `h` has its structure.

    **Arguments:** `f(x, w, args)`, `g(x, args)`, the state `x`, adjoint `y`, weights `w`, `args`.

    **Returns:** `(u_x, u_y, h)`.

    **Example:** `ux, uy, h = cx.slowfast.vector_field(f, g, x, y, w, args)`

    Source: seeds/000_6fe122188c81f0a1.txt §2, eq. 2.7.
    """
    if jnp.ndim(x) != 1 or jnp.shape(y) != jnp.shape(x):
        raise ValueError(
            f"x must be a vector and y must have its shape; got {jnp.shape(x)} and {jnp.shape(y)}."
        )
    fx, vjp = jax.vjp(lambda x_, w_: f(x_, w_, args), x, w)
    if jnp.shape(fx) != jnp.shape(x):
        raise ValueError(
            f"f(x, w, args) must return an array of x's shape {jnp.shape(x)}, got {jnp.shape(fx)}."
        )
    y_dxf, h = vjp(y.astype(fx.dtype))
    return fx, y_dxf - jax.grad(g)(x, args), h


def joint_norm(
    ux: Float[Array, " n"],
    uy: Float[Array, " n"],
    p: float | int = 2,
    p1: ArrayLike = 1.0,
    p2: ArrayLike = 1.0,
) -> Float[Array, ""]:
    """The joint norm $\\|(x, y)\\|_Z = p_1\\|x\\|_p + p_2\\|y\\|_{p^*}$ of Prop. 3 (seed 000)."""
    return p1 * jnp.linalg.norm(ux, ord=p) + p2 * jnp.linalg.norm(uy, ord=dual_p(p))


def _fixed_point(f, x0, w, args, step, fp_solver, tol, max_steps):
    """x*(w) as the fixed point of x ↦ x + step f(x, w, args), via contractax.fixed_point."""
    T = lambda x, a: x + step * f(x, a[0], a[1])
    kw = {} if fp_solver is None else {"solver": fp_solver}
    return fixed_point(
        T, x0, (w, args), adjoint=ImplicitAdjoint(), tol=tol, max_steps=max_steps, throw=False, **kw
    )


def objective(
    f: Callable,
    g: Callable,
    w: PyTree,
    args: Any,
    x0: Float[Array, " n"],
    *,
    step: float = 1.0,
    fp_solver: Any = None,
    tol: float = 1e-10,
    max_steps: int = 1000,
) -> tuple[Float[Array, ""], Float[Array, " n"]]:
    """The true objective $g(x^*(w))$ and the fixed point $x^*(w)$ (seed 000 eq. 2.2–2.3).

    $x^*$ solves $f(x^*, w) = 0$, found as the fixed point of $x \\mapsto x + s f(x, w)$
    (`step` $s$; $s = 1$ gives $\\sigma(vx + w\\rho)$ for the §7 networks) with
    `contractax.fixed_point` and implicit differentiation, so
    `jax.grad(lambda w: objective(...)[0])(w)` $= -h^*$, the exact gradient of eq. 2.3.

    **Returns:** `(g(x*(w)), x*(w))`; both are NaN when the fixed-point solve failed.

    Source: seeds/000_6fe122188c81f0a1.txt §2, eq. 2.2–2.4.
    """
    sol = _fixed_point(f, x0, w, args, step, fp_solver, tol, max_steps)
    ok = sol.result == RESULTS.successful
    xs = jnp.where(ok, sol.value, jnp.nan)
    return g(xs, args), xs


def descent_ratio(
    f: Callable,
    g: Callable,
    x: Float[Array, " n"],
    y: Float[Array, " _n"],
    w: PyTree,
    args: Any,
    **objective_kwargs,
) -> tuple[Float[Array, ""], Float[Array, ""], Float[Array, ""], Float[Array, ""]]:
    """The descent ratio $\\|h - h^*\\|_2 / \\|h\\|_2$ of condition 4.1 (seed 000 §4).

    $h = y D_w f(x, w)$ is the online weight velocity; $h^* = -\\nabla_w g(x^*(w))$ is the
    exact negative gradient at the true fixed point (implicit differentiation through
    `contractax.fixed_point`, warm-started at `x`). Corollary 1: a ratio below 1/2 along the
    whole trajectory guarantees descent and convergence of $g(x^*(w(t)))$.

    **Returns:** `(ratio, loss, |h|_2, |h*|_2)` with `loss` $= g(x^*(w))$.

    Source: seeds/000_6fe122188c81f0a1.txt §4, eq. 4.1 and Corollary 1.
    """
    _, _, h = vector_field(f, g, x, y, w, args)
    (loss, _), grad = jax.value_and_grad(
        lambda w_: objective(f, g, w_, args, jax.lax.stop_gradient(x), **objective_kwargs),
        has_aux=True,
    )(w)
    diff = jax.tree_util.tree_map(lambda a, b: a + b, h, grad)  # h - h* with h* = -grad
    hn = tree_norm(h)
    return tree_norm(diff) / hn, loss, hn, tree_norm(grad)
