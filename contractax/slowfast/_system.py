"""The learning system (f, g) of Flynn's slow–fast training rule and its vector field.

Source: Flynn 2015, §2 (eq. 2.7), §3 (Prop. 1–3).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PyTree

from .._checks import check_p, check_positive, check_shape
from ..norms import dual


class AbstractLearningSystem(eqx.Module):
    """A forward network $\\dot x = f(x, w)$ with a loss $g(x)$ on its state (Flynn 2015, §2).

    Subclasses define `f(x, w, args) -> dx` (`x` a vector, `w` any pytree of arrays),
    `g(x, args) -> scalar` and an attribute `p` (a field, class variable or property), the state norm ($1$, $2$ or $\\infty$) in which the forward
    system contracts; the adjoint $y$ is measured in the dual norm (Prop. 1). The networks of
    Flynn 2015 §7 (`FixedFeedbackNetwork`, `ReservoirReadoutNetwork`,
    `BoundedWeightNetwork`) are subclasses; `LearningSystem` wraps two plain callables.

    Source: Flynn 2015, §2, eq. 2.1–2.7.
    """

    @abc.abstractmethod
    def f(self, x: Float[Array, " n"], w: PyTree, args: Any) -> Float[Array, " n"]:
        """The forward vector field $f(x, w)$."""

    @abc.abstractmethod
    def g(self, x: Float[Array, " n"], args: Any) -> Float[Array, ""]:
        """The loss $g(x)$."""


class LearningSystem(AbstractLearningSystem):
    """A learning system from two callables: `forward(x, w, args)` and `loss(x, args)`.

    **Arguments:** `forward` ($f$), `loss` ($g$), `p` the state norm of the monitors
    ($\\|\\cdot\\|_p$ on $x$, its dual on $y$; default 2).

    Callables are static (hashed by identity): define them once, not per call, so that
    `simulate` compiles once. Bound methods of equinox Modules are fine (their arrays are data).

    **Example:** `sys = cx.slowfast.LearningSystem(lambda x, w, a: -x + jnp.tanh(w @ x + a),
    lambda x, a: 0.5 * jnp.sum(x**2))`

    Source: Flynn 2015, §2.
    """

    forward: Callable
    loss: Callable
    p: float = eqx.field(static=True, default=2, kw_only=True)

    def __check_init__(self):
        check_p(self.p)
        for name in ("forward", "loss"):
            if not callable(getattr(self, name)):
                raise ValueError(f"{name} must be a callable, got {getattr(self, name)!r}.")

    def f(self, x, w, args):
        return self.forward(x, w, args)

    def g(self, x, args):
        return self.loss(x, args)


def _check_state(x, y):
    if jnp.ndim(x) != 1:
        raise ValueError(f"x must be a vector (n,), got shape {jnp.shape(x)}.")
    check_shape(y, "y", jnp.shape(x))


def _check_output(fx, x):
    if jnp.shape(fx) != jnp.shape(x):
        raise ValueError(
            f"f(x, w, args) must return an array of x's shape {jnp.shape(x)}, got "
            f"{jnp.shape(fx)}; fix the system's f."
        )


def vector_field(
    system: AbstractLearningSystem,
    x: Float[Array, " n"],
    y: Float[Array, " _n"],
    w: PyTree,
    args: Any,
) -> tuple[Float[Array, " n"], Float[Array, " n"], PyTree]:
    """The unscaled right-hand sides of the learning system (Flynn 2015, §2, eq. 2.7).

    $$u_x = f(x, w),\\qquad u_y = y D_x f - D_x g,\\qquad h = y D_w f,$$

    with one evaluation of $f$ and one vector–Jacobian product (no dense Jacobian), and one
    gradient of $g$. `w` may be any pytree; `h` has its structure.

    **Returns:** `(u_x, u_y, h)`.

    **Example:** `ux, uy, h = cx.slowfast.vector_field(net, x, y, w, args)`

    Source: Flynn 2015, §2, eq. 2.7.
    """
    _check_state(x, y)
    fx, vjp = jax.vjp(lambda x_, w_: system.f(x_, w_, args), x, w)
    _check_output(fx, x)
    y_dxf, h = vjp(y.astype(fx.dtype))
    return fx, y_dxf - jax.grad(system.g)(x, args), h


def fast_field(system, x, y, w, args):
    """$(u_x, u_y)$ only: one evaluation of $f$ and one VJP in $x$ (the IMEX implicit part)."""
    fx, vjp = jax.vjp(lambda x_: system.f(x_, w, args), x)
    _check_output(fx, x)
    (y_dxf,) = vjp(y.astype(fx.dtype))
    return fx, y_dxf - jax.grad(system.g)(x, args)


def slow_field(system, x, y, w, args):
    """$h = y D_w f$ only: one evaluation of $f$ and one VJP in $w$ (the IMEX explicit part)."""
    fx, vjp = jax.vjp(lambda w_: system.f(x, w_, args), w)
    (h,) = vjp(y.astype(fx.dtype))
    return h


def tree_norm(tree: PyTree[Array]) -> Float[Array, ""]:
    """Frobenius norm of all leaves together: $\\|w\\|_W$ with $k = 1$ (private helper)."""
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.sqrt(sum(jnp.sum(jnp.square(l)) for l in leaves))


def joint_norm(
    ux: Float[Array, " n"],
    uy: Float[Array, " n"],
    p: float | int = 2,
    p1: ArrayLike = 1.0,
    p2: ArrayLike = 1.0,
) -> Float[Array, ""]:
    """The joint norm $\\|(x, y)\\|_Z = p_1\\|x\\|_p + p_2\\|y\\|_{p^*}$ (Flynn 2015, §3, Prop. 3).

    **Example:** `cx.slowfast.joint_norm(ux, uy, 2, scale.p1, scale.p2)`
    """
    p = check_p(p)
    if jnp.ndim(ux) != 1:
        raise ValueError(f"ux must be a vector (n,), got shape {jnp.shape(ux)}.")
    check_shape(uy, "uy", jnp.shape(ux))
    p1 = check_positive(p1, "p1")
    p2 = check_positive(p2, "p2")
    return p1 * jnp.linalg.norm(ux, ord=p) + p2 * jnp.linalg.norm(uy, ord=dual(p)[0])
