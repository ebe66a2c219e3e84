"""Derivative bounds and the sufficient timescale of Flynn's slow–fast learning system.

Source: Flynn 2015, Prop. 3, 5, 6, Thm. 3, 4 and the Example 1 recipe of §7 (with the errata
of docs/errata.md: c = αβ/(L_z h), and "L_{x²}" in K means L_{x²} f).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._checks import check_finite, check_positive, check_shape

# |σ|, |σ'|, |σ''| bounds of the sigmoids used in Flynn 2015, §7.
ACTIVATIONS = {
    # σ(x) = 1/(1+e^{-x}): σ' = σ(1-σ) ≤ 1/4, |σ''| = |σ(1-σ)(1-2σ)| ≤ 1/(6√3)
    "logistic": (1.0, 0.25, 1.0 / (6.0 * math.sqrt(3.0))),
    # tanh: tanh' = 1 - tanh² ≤ 1, |tanh''| = 2|tanh|(1 - tanh²) ≤ 4/(3√3)
    "tanh": (1.0, 1.0, 4.0 / (3.0 * math.sqrt(3.0))),
}


def activation_bounds(activation: str) -> tuple[float, float, float]:
    """Return `(L_σ, L_σ', L_σ'')`, bounds on $|\\sigma|, |\\sigma'|, |\\sigma''|$ (Flynn 2015, §7)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[activation]


class DerivativeBounds(eqx.Module):
    """Uniform bounds on the derivatives of the forward system $f$ and the loss $g$.

    The norms are those of Flynn 2015, §3–§6: $\\|\\cdot\\|_X$ on the state, its dual
    $\\|\\cdot\\|_*$ on the adjoint, $\\|\\cdot\\|_W$ on the weights.

    **Arguments (fields):**

    - `L_x_f`: $\\|D_x f\\|_{X,X}$ (Prop. 6; only enters the bound on $D_z u$).
    - `L_xx_f`: $\\|D_x^2 f\\|_{X,X,X}$ (Prop. 3).
    - `L_w_f`: $\\|D_w f\\|_{W,X}$ and $\\|D_w f\\|_{W^*,X}$ (Prop. 5, 6).
    - `L_ww_f`: $\\|D_w^2 f\\|_{W,W^*,X}$ (Prop. 5).
    - `L_xw_f`: $\\|D_{x,w}^2 f\\|_{X,W^*,X}$ (Prop. 5, 6).
    - `L_x_g`: $\\|D_x g\\|_*$ (Prop. 2).
    - `L_xx_g`: $\\|D_x^2 g\\|_{X,X^*}$ (Prop. 3).
    - `beta_x`: contraction rate of the forward system, $\\mu(D_x f) \\le -\\beta_x$ (eq. 3.1).
    - `k`: norm-equivalence constant of eq. 4.2,
      $k^{-1/2}\\|\\cdot\\|_W \\le \\|\\cdot\\|_2 \\le k^{1/2}\\|\\cdot\\|_W$ ($k = 1$ for Frobenius).

    Source: Flynn 2015, §3–§6.
    """

    L_x_f: Float[ArrayLike, ""]
    L_xx_f: Float[ArrayLike, ""]
    L_w_f: Float[ArrayLike, ""]
    L_ww_f: Float[ArrayLike, ""]
    L_xw_f: Float[ArrayLike, ""]
    L_x_g: Float[ArrayLike, ""]
    L_xx_g: Float[ArrayLike, ""]
    beta_x: Float[ArrayLike, ""]
    k: Float[ArrayLike, ""] = 1.0


_NORM_BOUNDS = ("L_x_f", "L_xx_f", "L_w_f", "L_ww_f", "L_xw_f", "L_x_g", "L_xx_g")


class Timescale(eqx.Module):
    """Every constant of the timescale recipe (Flynn 2015, §6, Example 1), with its equation.

    `Timescale.EQUATIONS[name]` names the equation each field comes from; `table()` lists
    them with their values. `descent_bound = k α` bounds the descent ratio
    $\\|h-h^*\\|_2/\\|h\\|_2$ (eq. 4.1) on the invariant set $\\|u\\|_Z \\le c\\|h\\|_W$ of Thm. 3.
    """

    tau: Float[Array, ""]
    c: Float[Array, ""]
    beta: Float[Array, ""]
    K: Float[Array, ""]
    L_zh: Float[Array, ""]
    L_wh: Float[Array, ""]
    L_wu: Float[Array, ""]
    L_zu: Float[Array, ""]
    p1: Float[Array, ""]
    p2: Float[Array, ""]
    alpha: Float[Array, ""]
    k: Float[Array, ""]
    descent_bound: Float[Array, ""]

    EQUATIONS: ClassVar[dict[str, str]] = {
        "K": "Prop. 3: K = (L_x g / β_x) L_{x²} f + L_{x²} g",
        "p1": "Prop. 3 / Thm. 1: weight of ‖x‖_X in ‖z‖_Z = p1‖x‖ + p2‖y‖_* (default 1)",
        "p2": "Prop. 3 / Thm. 1: weight of ‖y‖_*, needs β_x − (p2/p1) K > 0 (default β_x/(2K))",
        "beta": "Prop. 3: β = β_x − (p2/p1) K, joint (x, y) contraction rate in ‖·‖_Z",
        "L_zh": "Prop. 5: L_z h = max{(L_x g/β_x) L_{xw} f / p1, L_w f / p2}",
        "L_wh": "Prop. 5: L_w h = (L_x g/β_x) L_{w²} f",
        "L_wu": "Prop. 6: L_w u = p1 L_w f + p2 L_{xw} f L_x g/β_x",
        "L_zu": "Prop. 6: L_z u = L_x f + (L_x g/β_x)(p2/p1) L_{x²} f",
        "alpha": "Thm. 3 / Thm. 4: 0 < α < 1/(2k)",
        "k": "eq. 4.2: norm equivalence between ‖·‖_W and ‖·‖_2",
        "c": "Thm. 3 (errata): c = α β / L_z h",
        "tau": "Thm. 3: τ = (1 − α) β c / (c L_w h + L_w u)",
        "descent_bound": "eq. 4.1–4.5: ‖h − h*‖_2 ≤ k α ‖h‖_2 while ‖u‖_Z ≤ c‖h‖_W",
    }

    def table(self) -> list[tuple[str, float, str]]:
        """Rows `(name, value, equation)` for every constant, in the order of the recipe."""
        order = [
            "K",
            "p1",
            "p2",
            "beta",
            "L_zh",
            "L_wh",
            "L_wu",
            "L_zu",
            "alpha",
            "k",
            "c",
            "tau",
            "descent_bound",
        ]
        return [(n, float(getattr(self, n)), self.EQUATIONS[n]) for n in order]


def timescale(
    bounds: DerivativeBounds,
    alpha: Float[ArrayLike, ""] = 0.25,
    p1: Float[ArrayLike, ""] = 1.0,
    p2: Float[ArrayLike, ""] | None = None,
) -> Timescale:
    """A sufficient timescale $\\tau$ for the slow–fast learning system (Flynn 2015, eq. 2.7).

    Follows the Example 1 recipe of Flynn 2015, §7 (Prop. 3, 5, 6 and Thm. 3, with the errata
    $c = \\alpha\\beta/(L_z h)$):

    $$K = \\tfrac{L_x g}{\\beta_x} L_{x^2} f + L_{x^2} g,\\quad
      \\beta = \\beta_x - \\tfrac{p_2}{p_1} K,\\quad
      L_z h = \\max\\{\\tfrac{L_x g\\, L_{xw} f}{\\beta_x p_1}, \\tfrac{L_w f}{p_2}\\},$$
    $$L_w h = \\tfrac{L_x g}{\\beta_x} L_{w^2} f,\\quad
      L_w u = p_1 L_w f + p_2 L_{xw} f \\tfrac{L_x g}{\\beta_x},\\quad
      c = \\tfrac{\\alpha\\beta}{L_z h},\\quad
      \\tau = \\tfrac{(1-\\alpha)\\beta c}{c L_w h + L_w u}.$$

    With this τ, $\\|u\\|_Z \\le c\\|h\\|_W$ is forward invariant (Thm. 3) and on that set the
    descent ratio $\\|h-h^*\\|_2/\\|h\\|_2 \\le k\\alpha < 1/2$ (eq. 4.1–4.5, Thm. 4).

    **Arguments:**

    - `bounds`: a `DerivativeBounds`; `beta_x` must be positive (contracting forward system).
    - `alpha`: gradient-error parameter of Thm. 3, $0 < \\alpha < 1/(2k)$.
    - `p1`, `p2`: weights of the joint norm $p_1\\|x\\| + p_2\\|y\\|_*$; `p2=None` gives
      $p_2 = p_1\\beta_x/(2K)$, so that $\\beta = \\beta_x/2$.

    **Returns:** a `Timescale` holding every intermediate constant.

    **Example:**

    ```python
    b = cx.slowfast.fixed_feedback_bounds(v, rho)
    ts = cx.slowfast.timescale(b, alpha=0.25)
    ts.tau, ts.table()
    ```

    Source: Flynn 2015, §5–§7 (Thm. 3, Prop. 3, 5, 6, Example 1 recipe).
    """
    f = lambda v: jnp.asarray(v, dtype=jnp.result_type(float))
    if not isinstance(bounds, DerivativeBounds):
        raise ValueError(f"bounds must be a DerivativeBounds, got {type(bounds).__name__}.")
    b = jax.tree_util.tree_map(f, bounds)
    # every L is a bound on a norm: finite and >= 0 (a NaN would propagate into tau silently)
    b = dataclasses.replace(
        b,
        **{
            n: check_positive(getattr(b, n), f"bounds.{n} (a bound on a norm)", allow_zero=True)
            for n in _NORM_BOUNDS
        },
    )
    alpha, p1 = f(alpha), f(p1)
    beta_x = check_positive(
        b.beta_x,
        "bounds.beta_x (the forward contraction rate; <= 0 means the system is not "
        "contracting, so no timescale separation is guaranteed: shrink the feedback weights)",
    )
    k = b.k
    if not isinstance(k, jax.core.Tracer) and not float(k) >= 1:
        raise ValueError(f"bounds.k (norm equivalence of eq. 4.2) must be >= 1, got {float(k)}.")
    alpha = check_positive(alpha, "alpha")
    alpha = alpha + 0 * check_positive(
        1 / (2 * k) - alpha,
        "1/(2k) - alpha (Theorem 4 needs 0 < alpha < 1/(2k), k the norm equivalence of "
        "eq. 4.2; choose a smaller alpha)",
    )
    ratio = b.L_x_g / beta_x  # the bound on ‖y‖_* of Prop. 2
    K = ratio * b.L_xx_f + b.L_xx_g
    p1 = check_positive(p1, "p1")
    p2 = p1 * beta_x / (2 * K) if p2 is None else check_positive(f(p2), "p2")
    beta = check_positive(
        beta_x - p2 / p1 * K,
        "beta = beta_x - (p2/p1) K (Proposition 3 needs it > 0; lower p2)",
    )
    L_zh = jnp.maximum(ratio * b.L_xw_f / p1, b.L_w_f / p2)
    L_wh = ratio * b.L_ww_f
    L_wu = p1 * b.L_w_f + p2 * b.L_xw_f * ratio
    L_zu = b.L_x_f + ratio * (p2 / p1) * b.L_xx_f
    c = alpha * beta / L_zh
    tau = (1 - alpha) * beta * c / (c * L_wh + L_wu)
    return Timescale(
        tau=tau,
        c=c,
        beta=beta,
        K=K,
        L_zh=L_zh,
        L_wh=L_wh,
        L_wu=L_wu,
        L_zu=L_zu,
        p1=p1,
        p2=p2,
        alpha=alpha,
        k=k,
        descent_bound=k * alpha,
    )


def fixed_feedback_bounds(
    v: Float[Array, "n n"],
    rho: Float[Array, " m"],
    activation: str = "logistic",
) -> DerivativeBounds:
    """Table 2 of Flynn 2015: derivative bounds of $\\dot x = -x + \\sigma(vx + w\\rho)$.

    With the 2-norm on $x$, the Frobenius norm on $w$ ($k = 1$) and
    $g(x) = \\tfrac12\\|x - t\\|_2^2$, $t \\in [0, 1]^n$:

    $$\\beta_x = 1 - L_{\\sigma'}\\|v\\|_F,\\; L_w f = L_{\\sigma'}\\|\\rho\\|_2,\\;
      L_{xw} f = L_{\\sigma''}\\|\\rho\\|_2\\|v\\|_F,\\; L_{w^2} f = L_{\\sigma''}\\|\\rho\\|_2^2,\\;
      L_{x^2} f = L_{\\sigma''}\\|v\\|_F^2,$$
    $L_x f = 1 + L_{\\sigma'}\\|v\\|_F$, $L_{x^2} g = 1$ and $L_x g = \\sqrt n$ for the logistic
    sigmoid ($x \\in [0,1]^n$); $2\\sqrt n$ for tanh ($x \\in [-1, 1]^n$).

    **Arguments:**

    - `v`: fixed feedback matrix (n, n), needs $\\|v\\|_F < 1/L_{\\sigma'}$ to contract.
    - `rho`: fixed input (m,).
    - `activation`: `"logistic"` or `"tanh"`.

    **Returns:** `DerivativeBounds` (possibly with `beta_x <= 0`; `timescale` then refuses).

    Source: Flynn 2015, §7, Example 1, Table 2, Prop. 7.
    """
    v = check_shape(v, "v", (None, None))
    v = check_finite(check_shape(v, "v", (v.shape[0], v.shape[0])), "v")
    rho = check_finite(check_shape(rho, "rho", (None,)), "rho")
    _, L1, L2 = activation_bounds(activation)
    n = v.shape[0]
    vf = jnp.sqrt(jnp.sum(v**2))
    rn = jnp.sqrt(jnp.sum(rho**2))
    spread = 1.0 if activation == "logistic" else 2.0
    return DerivativeBounds(
        L_x_f=1 + L1 * vf,
        L_xx_f=L2 * vf**2,
        L_w_f=L1 * rn,
        L_ww_f=L2 * rn**2,
        L_xw_f=L2 * rn * vf,
        L_x_g=jnp.asarray(spread * math.sqrt(n), dtype=vf.dtype),
        L_xx_g=jnp.asarray(1.0, dtype=vf.dtype),
        beta_x=1 - L1 * vf,
        k=jnp.asarray(1.0, dtype=vf.dtype),
    )
