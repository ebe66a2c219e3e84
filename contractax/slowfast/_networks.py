"""The recurrent networks of Flynn 2015, §7 (Examples 1–3) as learning systems.

Each network is an `AbstractLearningSystem` (an immutable `eqx.Module` holding the fixed,
non-trained parameters): `f(x, w, args)` and `g(x, args)` are the forward vector field and the
loss, with `args = (rho, target)`; `rate()` is its contraction rate from
`contractax.contraction`, uniform in the trained weights `w`; `p` is the state norm of that rate.

Source: Flynn 2015, §7 (eq. 7.1–7.4, Tables 1–3).
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .. import contraction
from .._checks import check_count, check_shape
from ._bounds import DerivativeBounds, activation_bounds, fixed_feedback_bounds
from ._system import AbstractLearningSystem

_SIGMA = {"logistic": jax.nn.sigmoid, "tanh": jnp.tanh}


def _check_square(v, name):
    if jnp.ndim(v) != 2 or jnp.shape(v)[0] != jnp.shape(v)[1]:
        raise ValueError(f"{name} must be a square matrix (n, n), got shape {jnp.shape(v)}.")


def _sigma(name: str):
    activation_bounds(name)  # validates the name
    return _SIGMA[name]


def _loss(x, target):
    return 0.5 * jnp.sum((x - target) ** 2)


class FixedFeedbackNetwork(AbstractLearningSystem):
    """Flynn 2015 §7 Example 1: the fixed-feedback network $\\dot x = -x + \\sigma(vx + w\\rho)$ (eq. 7.2).

    Trained weights `w` (n, m) act on the input ρ; the feedback `v` (n, n, zero diagonal) is
    fixed. Loss $g = \\tfrac12\\|x - t\\|_2^2$. In the 2-norm the network contracts at a rate
    independent of `w` (the input enters only through $u = vx + w\\rho$):
    `rate()` $= -\\max_{d \\in [0, L_{\\sigma'}]^n} \\mu_2(-I + \\mathrm{diag}(d) v)$, and the
    recipe's rate of Table 2 is $1 - L_{\\sigma'}\\|v\\|_F \\le$ `rate()`.

    **Example:** `net = cx.slowfast.FixedFeedbackNetwork(v); net.rate(), net.bounds(rho)`

    Source: Flynn 2015, §7, Example 1 (eq. 7.2), Table 2.
    """

    v: Float[Array, "n n"]
    activation: str = eqx.field(static=True, default="logistic")
    p: ClassVar[float] = 2.0  # the state norm of rate()

    def __check_init__(self):
        _check_square(self.v, "v (the fixed feedback)")
        activation_bounds(self.activation)

    def f(self, x, w, args):
        rho, _ = args
        return -x + _sigma(self.activation)(self.v @ x + w @ rho)

    def g(self, x, args):
        return _loss(x, args[1])

    def rate(self) -> Float[Array, ""]:
        """Exact 2-norm rate over all slopes in $[0, L_{\\sigma'}]$ (vertex enumeration)."""
        return contraction.firing_rate_rate(self.v, dmax=activation_bounds(self.activation)[1], p=2)

    def bounds(self, rho: Float[Array, " m"]):
        """Table 2 bounds (`fixed_feedback_bounds`) for this network and input."""
        return fixed_feedback_bounds(self.v, rho, self.activation)


class ReservoirReadoutNetwork(AbstractLearningSystem):
    """Flynn 2015 §7 Example 2: a fixed reservoir with a trained, sigmoid-bounded readout.

    $$\\dot x_1 = -x_1 + \\sigma(\\omega x_2),\\; \\omega = \\sigma_H(w),\\qquad
      \\dot x_2 = -x_2 + \\sigma(v x_2 + u\\rho),$$

    with state $x = (x_1, x_2)$ ($n_1 + n_2$), trained weights `w = {"w": (n1, n2),
    "u": (n2, m)}` and fixed reservoir `v` (n2, n2). Loss $\\tfrac12\\|x_1 - t\\|_2^2$.
    Since $|\\omega_{ij}| < 1$, the Jacobian is dominated entrywise by that of the worst-case
    firing-rate matrix $A = [[0, \\mathbf 1], [0, v]]$, so the optimally weighted ∞-norm rate
    of `contraction.optimal_rate(A)` holds for every `w` and `u` (hierarchy, Thm. 1).

    **Example:** `net = cx.slowfast.ReservoirReadoutNetwork(v, n1=2); net.rate(), net.weight()`

    Source: Flynn 2015, §7, Example 2 (and Thm. 1 for the hierarchy).
    """

    v: Float[Array, "n2 n2"]
    n1: int = eqx.field(static=True)
    activation: str = eqx.field(static=True, default="logistic")
    p: ClassVar[float] = math.inf  # the state norm of rate() (η-weighted, see weight())

    def __check_init__(self):
        _check_square(self.v, "v (the reservoir)")
        check_count(self.n1, "n1 (the readout size)")
        activation_bounds(self.activation)

    def f(self, x, w, args):
        rho, _ = args
        s = _sigma(self.activation)
        x1, x2 = x[: self.n1], x[self.n1 :]
        d1 = -x1 + s(jnp.tanh(w["w"]) @ x2)
        d2 = -x2 + s(self.v @ x2 + w["u"] @ rho)
        return jnp.concatenate([d1, d2])

    def g(self, x, args):
        return _loss(x[: self.n1], args[1])

    def worst_case(self) -> Float[Array, "n n"]:
        n2 = self.v.shape[0]
        top = jnp.concatenate([jnp.zeros((self.n1, self.n1)), jnp.ones((self.n1, n2))], axis=1)
        bot = jnp.concatenate([jnp.zeros((n2, self.n1)), self.v], axis=1)
        return jnp.concatenate([top, bot], axis=0).astype(self.v.dtype)

    def weight(self) -> Float[Array, " n"]:
        """The diagonal weight η of the ∞-norm in which `rate()` holds."""
        return contraction.optimal_rate(
            self.worst_case(), dmax=activation_bounds(self.activation)[1], p=math.inf
        )[0]

    def rate(self) -> Float[Array, ""]:
        """Rate in $\\|\\cdot\\|_{\\infty,\\eta}$ (η = `weight()`), uniform in `w`."""
        return contraction.optimal_rate(
            self.worst_case(), dmax=activation_bounds(self.activation)[1], p=math.inf
        )[1]


class BoundedWeightNetwork(AbstractLearningSystem):
    """Flynn 2015 §7 Example 3: all connections trained, each bounded by a sigmoid (eq. 7.3, 7.4).

    $$\\dot x_i = -x_i + \\sigma\\big(\\textstyle\\sum_{j:(j,i)\\in E}\\omega_{ij}x_j + \\rho_i\\big)$$

    with `norm="inf"`: $\\omega_{ij} = \\alpha_i\\sigma_H(w_{ij})$ (eq. 7.3b), contracting in
    the ∞-norm when $\\alpha_i L_{\\sigma'}\\,\\mathrm{in}(i) < 1$; with `norm="one"`:
    $\\omega_{ij} = \\alpha_j\\sigma(w_{ij})$ (eq. 7.4, logistic), contracting in the 1-norm when
    $|\\alpha_j| L_{\\sigma'}\\,\\mathrm{out}(j) < 1$. `mask[i, j] = 1` when $(j, i) \\in E$.
    The loss is $\\tfrac12\\|x_{\\mathrm{out}} - t\\|_2^2$ on the last `n_out` nodes. The rate is
    that of the entrywise worst case $|\\omega| \\le A$, so it is uniform in `w`.

    **Example:** `net = cx.slowfast.BoundedWeightNetwork(alpha, mask, n_out=2, norm="inf")`

    Source: Flynn 2015, §7, Example 3 (eq. 7.3, 7.4), Table 3.
    """

    alpha: Float[Array, " n"]
    mask: Float[Array, "n n"]
    n_out: int = eqx.field(static=True)
    norm: str = eqx.field(static=True, default="inf")

    def __check_init__(self):
        if self.norm not in ("inf", "one"):
            raise ValueError(
                f"norm must be 'inf' (eq. 7.3b) or 'one' (eq. 7.4), got {self.norm!r}."
            )
        if jnp.ndim(self.alpha) != 1:
            raise ValueError(f"alpha must be a vector (n,), got shape {jnp.shape(self.alpha)}.")
        n = jnp.shape(self.alpha)[0]
        check_shape(self.mask, "mask (the graph, mask[i, j] = 1 when (j, i) is an edge)", (n, n))
        check_count(self.n_out, "n_out")
        if self.n_out > n:
            raise ValueError(f"n_out ({self.n_out}) must not exceed the number of nodes {n}.")

    @property
    def p(self) -> float:
        return math.inf if self.norm == "inf" else 1.0

    def omega(self, w):
        if self.norm == "inf":
            return self.mask * self.alpha[:, None] * jnp.tanh(w)
        return self.mask * self.alpha[None, :] * jax.nn.sigmoid(w)

    def f(self, x, w, args):
        rho, _ = args
        return -x + jax.nn.sigmoid(self.omega(w) @ x + rho)

    def g(self, x, args):
        return _loss(x[x.shape[0] - self.n_out :], args[1])

    def worst_case(self) -> Float[Array, "n n"]:
        a = jnp.abs(self.alpha)
        return self.mask * (a[:, None] if self.norm == "inf" else a[None, :])

    def rate(self) -> Float[Array, ""]:
        """$1 - L_{\\sigma'}\\max_i \\alpha_i\\,\\mathrm{in}(i)$ (∞) or the column version (1)."""
        return contraction.firing_rate_rate(self.worst_case(), dmax=0.25, p=self.p)

    def bounds(self) -> DerivativeBounds:
        """Uniform derivative bounds of eq. 7.3 (`norm="inf"`) for the timescale recipe.

        Norms: ∞ on $x$ (1 on $y$), Frobenius on $w$ ($k = 1$); valid on the forward-invariant
        cube $x \\in [0, 1]^n$ (logistic σ, targets in $[0, 1]$). With $a_i = |\\alpha_i|$,
        $d_i = \\mathrm{in}(i)$, $L_1 = L_{\\sigma'} = 1/4$, $L_2 = L_{\\sigma''}$,
        $L_{\\sigma_H''} = 4/(3\\sqrt3)$ (tanh):

        $$\\beta_x = 1 - L_1\\max_i a_i d_i,\\; L_x f = 1 + L_1\\max_i a_i d_i,\\;
          L_{x^2} f = L_2\\max_i (a_i d_i)^2,\\; L_w f = L_1\\max_i a_i\\sqrt{d_i},$$
        $$L_{xw} f = \\max_i a_i\\sqrt{d_i}\\,(L_2 a_i d_i + L_1),\\;
          L_{w^2} f = \\max_i (L_2 a_i^2 d_i + L_1 a_i L_{\\sigma_H''}),\\;
          L_x g = L_{x^2} g = n_{\\mathrm{out}}.$$

        Derived from the derivatives of Table 3; $D^2_{x,w} f$ also has the term
        $\\sigma'(u_i)\\alpha_i\\sigma_H'(w_{ij})\\delta_{jk}$ (from $\\partial\\omega_{ij}/\\partial
        w_{ij}$), which Table 3 omits; the bound includes it.

        **Example:** `scale = cx.slowfast.timescale(net.bounds(), alpha=0.25)`

        Source: Flynn 2015, §7, Example 3 (eq. 7.3), Table 3; Props. 2, 3, 5, 6.
        """
        if self.norm != "inf":
            raise ValueError(
                "bounds() are derived for norm='inf' (eq. 7.3b); for norm='one' (eq. 7.4) "
                "build a DerivativeBounds by hand."
            )
        _, L1, L2 = activation_bounds("logistic")
        LH2 = activation_bounds("tanh")[2]
        a = jnp.abs(self.alpha)
        d = jnp.sum(self.mask, axis=1)
        ad, asd = a * d, a * jnp.sqrt(d)
        n_out = jnp.asarray(float(self.n_out), dtype=a.dtype)
        return DerivativeBounds(
            L_x_f=1 + L1 * jnp.max(ad),
            L_xx_f=L2 * jnp.max(ad**2),
            L_w_f=L1 * jnp.max(asd),
            L_ww_f=jnp.max(L2 * a**2 * d + L1 * a * LH2),
            L_xw_f=jnp.max(asd * (L2 * ad + L1)),
            L_x_g=n_out,
            L_xx_g=n_out,
            beta_x=1 - L1 * jnp.max(ad),
            k=jnp.asarray(1.0, dtype=a.dtype),
        )
