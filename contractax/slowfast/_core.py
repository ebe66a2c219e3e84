"""The true objective $g(x^*(w))$ and the descent ratio of Flynn's learning system.

Source: Flynn 2015, §2 (eq. 2.2–2.4), §4 (eq. 4.1, Corollary 1).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._checks import check_count, check_positive
from ..solvers import RESULTS, AbstractSolver, ImplicitAdjoint, fixed_point
from ._system import AbstractLearningSystem, slow_field, tree_norm


class FixedPointSettings(eqx.Module):
    """How the true fixed point $x^*(w)$ is solved (for the monitors and `gradient_flow`).

    $x^*$ is the fixed point of $x \\mapsto x + s\\,f(x, w)$ with `step` $s$ ($s = 1$ gives
    $\\sigma(vx + w\\rho)$ for the networks of §7), solved by `contractax.fixed_point` with
    `solver` (None: its default, Anderson), relative tolerance `tol`, at most `max_steps`
    iterations, and differentiated implicitly.

    Source: Flynn 2015, §2, eq. 2.2.
    """

    step: float = 1.0
    solver: AbstractSolver | None = None
    tol: float = 1e-10
    max_steps: int = eqx.field(static=True, default=1000)

    def __check_init__(self):
        check_positive(self.step, "FixedPointSettings.step")
        check_positive(self.tol, "FixedPointSettings.tol")
        check_count(self.max_steps, "FixedPointSettings.max_steps")


def _solve(system, x0, w, args, settings):
    kw = {} if settings.solver is None else {"solver": settings.solver}
    # the system and the step travel in `args` (a traced step is an input, not a constant of
    # a closure), and the module-level map keeps the compiled solve cached
    return fixed_point(
        _relaxed_field,
        x0,
        (system, w, args, settings.step),
        adjoint=ImplicitAdjoint(),
        tol=settings.tol,
        max_steps=settings.max_steps,
        throw=False,
        **kw,
    )


def _relaxed_field(x, a):
    system, w, args, step = a
    return x + step * system.f(x, w, args)


def objective(
    system: AbstractLearningSystem,
    w: PyTree,
    args: Any,
    x0: Float[Array, " n"],
    settings: FixedPointSettings = FixedPointSettings(),
) -> tuple[Float[Array, ""], Float[Array, " n"]]:
    """The true objective $g(x^*(w))$ and the fixed point $x^*(w)$ (Flynn 2015, §2, eq. 2.2–2.3).

    $x^*$ solves $f(x^*, w) = 0$ (see `FixedPointSettings`, warm start `x0`), so
    `jax.grad(lambda w: objective(sys, w, args, x0)[0])(w)` $= -h^*$, the exact gradient
    of eq. 2.3 (implicit differentiation).

    **Returns:** `(g(x*(w)), x*(w))`; both are NaN when the fixed-point solve failed.

    **Example:** `loss, xs = cx.slowfast.objective(net, w, (rho, target), jnp.full(n, 0.5))`

    Source: Flynn 2015, §2, eq. 2.2–2.4.
    """
    if jnp.ndim(x0) != 1:
        raise ValueError(f"x0 must be a state vector (n,), got shape {jnp.shape(x0)}.")
    sol = _solve(system, x0, w, args, settings)
    xs = jnp.where(sol.result == RESULTS.successful, sol.value, jnp.nan)
    return system.g(xs, args), xs


def _ratio(system, h, x, w, args, settings):
    """(ratio, loss, |h|, |h*|) given the online h at (x, y, w)."""
    (loss, _), grad = jax.value_and_grad(
        lambda w_: objective(system, w_, args, jax.lax.stop_gradient(x), settings), has_aux=True
    )(w)
    diff = jax.tree_util.tree_map(lambda a, b: a + b, h, grad)  # h - h* with h* = -grad
    hn = tree_norm(h)
    return tree_norm(diff) / hn, loss, hn, tree_norm(grad)


def descent_ratio(
    system: AbstractLearningSystem,
    x: Float[Array, " n"],
    y: Float[Array, " _n"],
    w: PyTree,
    args: Any,
    settings: FixedPointSettings = FixedPointSettings(),
) -> tuple[Float[Array, ""], Float[Array, ""], Float[Array, ""], Float[Array, ""]]:
    """The descent ratio $\\|h - h^*\\|_2 / \\|h\\|_2$ of condition 4.1 (Flynn 2015, §4).

    $h = y D_w f(x, w)$ is the online weight velocity; $h^* = -\\nabla_w g(x^*(w))$ the exact
    negative gradient at the true fixed point (warm-started at `x`). Corollary 1: a ratio
    below 1/2 along the whole trajectory guarantees descent and convergence of $g(x^*(w(t)))$.

    **Returns:** `(ratio, loss, |h|_2, |h*|_2)` with `loss` $= g(x^*(w))$.

    **Example:** `ratio, loss, hn, gn = cx.slowfast.descent_ratio(net, x, y, w, args)`

    Source: Flynn 2015, §4, eq. 4.1 and Corollary 1.
    """
    return _ratio(system, slow_field(system, x, y, w, args), x, w, args, settings)
