"""Convergence certificates of gradient descent: the textbook rates of §2.5–2.6 and the
linear-convergence conditions of an over-parameterised monotone DEQ (Hieu 2022, §3.3).

Two groups of pure functions, all usable under `jit` and `vmap` (and `grad` where the value
is differentiable):

* **GD theory** (seed 004 §2.5, §2.6.1): the ε-critical-point count of the descent lemma
  (Thm 2.5.1), the linear rate $(1 - \\mu/L)^t$ under strong convexity or PL (Thm 2.5.3/2.5.4),
  the PL ratio $\\|\\nabla\\mathcal L\\|^2/\\mathcal L$ (Def. 2.5.3/2.6.1), the path-length radius
  $R = 2\\sqrt{\\mathcal L(\\theta_0)/\\mu}$ and the measured path length of a trajectory.
* **monotone DEQ** $z = \\operatorname{ReLU}(Wz + Ux)$, $f = u^\\top z$ (Def. 3.2.1,
  `MonotoneDEQ(..., "scalar", use_bias=False)`): $\\lambda_0 = \\sigma_{\\min}(Z(0))$,
  Condition 1 (3.8–3.9, gradient flow, Thm 3.3.1), Condition 2 (3.16–3.18) and $\\eta_{\\max}$
  (Thm 3.3.5), the perturbation bounds of Lemma 3.3.4 and Lemma 3.3.6, the step bounds of
  Lemma 3.3.7 and the bounds on the loss terms $I_1, I_2, I_3$ (Lemmas 3.3.8–3.3.10).

The formulas are the thesis's **as printed** (with $\\bar\\lambda_a = \\|a(0)\\|_2 + R_a$ for
$a \\in \\{A, B, U, u\\}$ and $\\bar\\lambda_{ab} = \\bar\\lambda_a\\bar\\lambda_b$), so that they can
be checked; `docs/convergence.md` records where a measurement contradicts one.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from ._checks import check_in_interval
from ._convergence import matrix, op_norm, real, scalar, vector

# ----------------------------------------------------------------------------- GD theory


def descent_iterations(smoothness, loss0, loss_star, eps) -> Float[Array, ""]:
    """Iterations after which GD with step $1/L$ has met an ε-critical point (Thm 2.5.1).

    $T = 2L(\\mathcal L(\\theta_0) - \\mathcal L^\\star)/\\varepsilon^2$: by the descent lemma
    $\\mathcal L_t - \\mathcal L_{t+1} \\ge \\|\\nabla\\mathcal L_t\\|^2/(2L)$, so
    $\\min_{t < T}\\|\\nabla\\mathcal L_t\\| \\le \\varepsilon$ for every $T$ at least this.

    **Arguments:** `smoothness` $L > 0$; `loss0` and `loss_star` (a lower bound of the loss
    works too) with `loss0 ≥ loss_star`; `eps` > 0.

    **Returns:** the count as a real scalar.

    ```python
    cx.convergence.descent_iterations(2.0, 1.0, 0.0, 1e-2)  # 40000
    ```

    Source: seed 004 §2.5, Prop. 2 and Thm 2.5.1.
    """
    L = scalar(smoothness, "smoothness")
    gap = real(loss0, "loss0") - real(loss_star, "loss_star")
    gap = scalar(gap, "loss0 - loss_star", allow_zero=True)
    return 2.0 * L * gap / scalar(eps, "eps") ** 2


def linear_rate_bound(mu, smoothness, steps, gap0) -> Float[Array, "..."]:
    """The linear-convergence bound $(1 - \\mu/L)^t(\\mathcal L_0 - \\mathcal L^\\star)$ of GD with
    step $1/L$ (Thm 2.5.3 under μ-strong convexity, Thm 2.5.4 under μ-PL).

    With the PL inequality in the form $\\tfrac12\\|\\nabla\\mathcal L\\|^2 \\ge \\mu(\\mathcal L -
    \\mathcal L^\\star)$ (Lemma 2.5.2's form) this bound holds; with Def. 2.5.3 as printed,
    $\\|\\nabla\\mathcal L\\|^2 \\ge \\mu\\mathcal L$, the rate that follows is $(1 - \\mu/(2L))^t$
    (see `docs/convergence.md`).

    **Arguments:** `mu` > 0, `smoothness` $L \\ge \\mu$; `steps` $t$ (array of step counts);
    `gap0` $\\ge 0$.

    **Returns:** the bound at each `steps`.

    Source: seed 004 §2.5, Thms 2.5.3–2.5.4.
    """
    mu, L = scalar(mu, "mu"), scalar(smoothness, "smoothness")
    q = check_in_interval(1.0 - mu / L, "1 - mu/smoothness", 0.0, 1.0, closed="left")
    return q ** jnp.asarray(steps) * scalar(gap0, "gap0", allow_zero=True)


def pl_ratio(loss_fn, params, *args) -> Float[Array, ""]:
    """$\\|\\nabla\\mathcal L(\\theta)\\|^2/\\mathcal L(\\theta)$, the largest μ of the PL(*) inequality
    $\\|\\nabla\\mathcal L\\|^2 \\ge \\mu\\mathcal L$ at one point (Defs 2.5.3 and 2.6.1).

    The minimum of this ratio over a set is its PL* constant. For the square loss
    $\\tfrac12\\|F(\\theta) - y\\|^2$ it equals $2r^\\top K r/\\|r\\|^2 \\ge 2\\lambda_{\\min}(K)$
    ($r = F - y$, $K$ the tangent kernel): uniform conditioning implies PL* (Thm 2.6.4).

    **Arguments:** `loss_fn(params, *args)` a scalar ≥ 0; `params` a pytree.

    **Returns:** the ratio (NaN where the loss is 0).

    Source: seed 004 §2.5 Def. 2.5.3, §2.6.1 Def. 2.6.1 and Thm 2.6.4.
    """
    value, grads = jax.value_and_grad(loss_fn)(params, *args)
    sq = sum(jnp.sum(g**2) for g in jax.tree_util.tree_leaves(grads))
    return sq / value


def path_length_radius(loss0, mu) -> Float[Array, ""]:
    """$R = 2\\sqrt{\\mathcal L(\\theta_0)/\\mu}$, the thesis's bound on the GD path length under
    μ-PL* in $B(\\theta_0, R)$ with step $\\eta \\le 1/\\beta$ (§2.6.1, after Thm 2.6.4).

    **Arguments:** `loss0` ≥ 0; `mu` > 0 (the PL* constant, Def. 2.6.1).

    Source: seed 004 §2.6.1 (citing Gupta et al. 2019).
    """
    return 2.0 * jnp.sqrt(scalar(loss0, "loss0", allow_zero=True) / scalar(mu, "mu"))


def path_length(trajectory) -> Float[Array, ""]:
    """$\\sum_i\\|\\theta_{i+1} - \\theta_i\\|_2$ of a trajectory (a pytree whose leaves carry the
    iterations on axis 0), in the Euclidean norm of all parameters together.

    Source: seed 004 §2.6.1.
    """
    leaves = jax.tree_util.tree_leaves(trajectory)
    if not leaves or any(jnp.ndim(a) < 1 or jnp.shape(a)[0] < 1 for a in leaves):
        raise ValueError("`trajectory` needs leaves with the iterations on axis 0.")
    sq = sum(jnp.sum(jnp.diff(a, axis=0).reshape(a.shape[0] - 1, -1) ** 2, 1) for a in leaves)
    return jnp.sum(jnp.sqrt(sq))


def flow_bound(lambda0, t, loss0) -> Float[Array, "..."]:
    """Theorem 3.3.1's gradient-flow bound $\\mathcal L(t) \\le e^{-\\lambda_0^2 t/2}\\mathcal L(0)$.

    Source: seed 004 §3.3.1, Thm 3.3.1.
    """
    lam = scalar(lambda0, "lambda0", allow_zero=True)
    return jnp.exp(-(lam**2) * jnp.asarray(t) / 2) * scalar(loss0, "loss0", allow_zero=True)


def gd_rate_bound(eta, lambda0, steps, loss0) -> Float[Array, "..."]:
    """Theorem 3.3.5's GD bound $\\mathcal L(k) \\le (1 - \\eta\\lambda_0^2/4)^k\\mathcal L(0)$.

    Source: seed 004 §3.3.2, Thm 3.3.5 (Hypothesis 3, eq. 3.20).
    """
    q = 1.0 - scalar(eta, "eta") * scalar(lambda0, "lambda0", allow_zero=True) ** 2 / 4
    return q ** jnp.asarray(steps) * scalar(loss0, "loss0", allow_zero=True)


# ----------------------------------------------------------------------------- monotone DEQ


class Radii(NamedTuple):
    """Radii $R_A, R_B, R_U, R_u$ of the balls around the initial parameters (§3.3)."""

    A: float
    B: float
    U: float
    u: float


class ParamNorms(NamedTuple):
    """Operator norms $\\|A(0)\\|_2, \\|B(0)\\|_2, \\|U(0)\\|_2, \\|u(0)\\|_2$."""

    A: Float[Array, ""]
    B: Float[Array, ""]
    U: Float[Array, ""]
    u: Float[Array, ""]


class Condition1(NamedTuple):
    """Condition 1 as the ratios left side / right side of (3.8) and (3.9) (≥ 1 where it
    holds), with $\\lambda_0$ and `holds`."""

    lambda0: Float[Array, ""]
    ratio_3_8: Float[Array, ""]
    ratio_3_9: Float[Array, ""]
    holds: Bool[Array, ""]


class Condition2(NamedTuple):
    """Condition 2 as the ratios of (3.16)–(3.18) (≥ 1 where it holds), Thm 3.3.5's
    $\\eta_{\\max}$, $\\lambda_0$ and `holds`."""

    lambda0: Float[Array, ""]
    ratio_3_16: Float[Array, ""]
    ratio_3_17: Float[Array, ""]
    ratio_3_18: Float[Array, ""]
    eta_max: Float[Array, ""]
    holds: Bool[Array, ""]


def _bars(norms, radii):
    for name, r in zip(Radii._fields, radii):
        scalar(r, f"radii.{name}")
    for name, v in zip(ParamNorms._fields, norms):
        scalar(v, f"norms.{name}", allow_zero=True)
    return ParamNorms(*(jnp.asarray(n) + jnp.asarray(r) for n, r in zip(norms, radii)))


def _c11_c12(x_norm, b):
    """$C_{11} = \\|X\\|_F^2(\\bar\\lambda_u^2 + 4\\bar\\lambda_{Uu}^2 + 4\\bar\\lambda_{UuA}^2 +
    \\bar\\lambda_U^2)$ and $C_{12} = \\|X\\|_F^2\\bar\\lambda_{UuA}^2/4$ (Lemma 3.3.8)."""
    U, u, A = b.U, b.u, b.A
    c11 = x_norm**2 * (u**2 + 4 * (U * u) ** 2 + 4 * (U * u * A) ** 2 + U**2)
    return c11, x_norm**2 * (U * u * A) ** 2 / 4


def lambda0(features: Float[Array, "N n"]) -> Float[Array, ""]:
    """$\\lambda_0 = \\sigma_{\\min}(Z) = \\sqrt{\\lambda_{\\min}(Z^\\top Z)}$ of the equilibria
    $Z = [z_1, \\dots, z_N] \\in \\mathbb R^{n\\times N}$, given as `features` of shape `(N, n)`
    (the rows $z_i^\\top$, as `jax.vmap(net.features)(x)` returns them). It is 0 when $n < N$:
    eq. (3.14) needs $n \\ge N$.

    Source: seed 004 §3.3.1 (λ₀ = σ_min(Z(0))), eq. (3.14).
    """
    F = matrix(features, "features")
    return jnp.sqrt(jnp.maximum(jnp.linalg.eigvalsh(F @ F.T)[0], 0.0))


def param_norms(net) -> ParamNorms:
    """`ParamNorms` of a thesis `MonotoneDEQ` (`"scalar"` readout, `use_bias=False`)."""
    _check_thesis(net)
    return ParamNorms(*(op_norm(a) for a in (net.A, net.B, net.U, net.C)))


def condition1(lambda0, x_norm, loss0, norms: ParamNorms, radii: Radii, m) -> Condition1:
    """Condition 1 of Theorem 3.3.1 (gradient flow) as ratios:

    (3.8) $\\lambda_0^2 \\ge 4\\|X\\|_F\\sqrt{2\\mathcal L_0}\\max\\{\\frac{2\\bar\\lambda_{UuA}}{m^2R_A},
    \\frac{2\\bar\\lambda_{Uu}}{m^2R_B}, \\frac{\\bar\\lambda_u}{mR_U}, \\frac{\\bar\\lambda_U}{mR_u}\\}$,

    (3.9) $\\lambda_0^3 \\ge 8\\|X\\|_F^2\\sqrt{2\\mathcal L_0}\\frac{\\bar\\lambda_u}{m^2}
    \\big(\\frac{4(\\bar\\lambda_{UA}^2 + \\bar\\lambda_U^2)}{m^2} + 1\\big)$.

    **Arguments:** $\\lambda_0 \\ge 0$; `x_norm` $\\|X\\|_F > 0$; `loss0` $\\mathcal L(\\theta_0)
    = \\tfrac12\\|\\hat y_0 - y\\|^2 \\ge 0$; `norms` (`ParamNorms` at init); `radii` (`Radii`,
    each > 0); `m` in (0, 1].

    **Returns:** `Condition1(lambda0, ratio_3_8, ratio_3_9, holds)`.

    ```python
    c = cx.convergence.condition1(lam0, xf, loss0, cx.convergence.param_norms(net),
                                  cx.convergence.Radii(0.1, 0.1, 0.1, 0.1), net.m)
    ```

    Source: seed 004 §3.3.1, Condition 1 and Thm 3.3.1.
    """
    lam, xf, s, m, b, r = _inputs(lambda0, x_norm, loss0, norms, radii, m)
    rhs8 = 4 * xf * s * _ball_max(b, r, m)
    rhs9 = 8 * xf**2 * s * b.u / m**2 * (4 * ((b.U * b.A) ** 2 + b.U**2) / m**2 + 1)
    r8, r9 = lam**2 / rhs8, lam**3 / rhs9
    return Condition1(lam, r8, r9, (r8 >= 1) & (r9 >= 1))


def condition2(lambda0, x_norm, loss0, norms: ParamNorms, radii: Radii, m) -> Condition2:
    """Condition 2 of Theorem 3.3.5 (GD) as ratios, and $\\eta_{\\max}$:

    (3.16) $\\lambda_0^2 \\ge 8\\|X\\|_F\\sqrt{2\\mathcal L_0}\\max\\{\\frac{2\\bar\\lambda_{UuA}}{m^2R_A},
    \\frac{2\\bar\\lambda_{Uu}}{m^2R_B}, \\frac{\\bar\\lambda_u}{mR_U}, \\frac{\\bar\\lambda_U}{mR_u}\\}$,

    (3.17) $\\lambda_0^3 \\ge 8\\|X\\|_F^2\\sqrt{2\\mathcal L_0}\\,\\bar\\lambda_u(1 + 6\\bar\\lambda_{UA}^2
    + 4\\bar\\lambda_U^2)$,

    (3.18) $\\lambda_0^2 \\ge 20\\|X\\|_F^2(\\bar\\lambda_u^2 + 4\\bar\\lambda_{uUA}^2 +
    4\\bar\\lambda_{uU}^2 + \\bar\\lambda_U^2)$.

    Arguments as `condition1`. **Returns:** `Condition2(lambda0, ratio_3_16, ratio_3_17,
    ratio_3_18, eta_max, holds)` with `eta_max` from `eta_max`.

    Source: seed 004 §3.3.2, Condition 2 and Thm 3.3.5.
    """
    lam, xf, s, m, b, r = _inputs(lambda0, x_norm, loss0, norms, radii, m)
    c11, _ = _c11_c12(xf, b)
    r16 = lam**2 / (8 * xf * s * _ball_max(b, r, m))
    r17 = lam**3 / (8 * xf**2 * s * b.u * (1 + 6 * (b.U * b.A) ** 2 + 4 * b.U**2))
    r18 = lam**2 / (20 * c11)
    holds = (r16 >= 1) & (r17 >= 1) & (r18 >= 1)
    return Condition2(lam, r16, r17, r18, _eta_max(lam, xf, b), holds)


def eta_max(lambda0, x_norm, norms: ParamNorms, radii: Radii) -> Float[Array, ""]:
    """Theorem 3.3.5's largest step:
    $\\eta_{\\max} = \\min\\{\\frac{4}{\\lambda_0^2}, \\frac{1}{\\|X\\|_F^2(\\bar\\lambda_u^2 +
    4\\bar\\lambda_{Uu}^2 + 4\\bar\\lambda_{UuA}^2 + \\bar\\lambda_U^2)},
    \\frac{1}{2\\|X\\|_F\\lambda_0\\bar\\lambda_{UuA}}, \\frac{1}{6\\lambda_0^2\\bar\\lambda_{uA}^2}\\}$.

    Source: seed 004 §3.3.2, Thm 3.3.5.
    """
    lam = scalar(lambda0, "lambda0")
    return _eta_max(lam, scalar(x_norm, "x_norm"), _bars(norms, radii))


def _eta_max(lam, xf, b):
    c11, _ = _c11_c12(xf, b)
    terms = (
        4 / lam**2,
        1 / c11,
        0.5 / (xf * lam * b.U * b.u * b.A),
        1 / (6 * lam**2 * (b.u * b.A) ** 2),
    )
    return jnp.min(jnp.stack(terms))


def _ball_max(b, r, m):
    terms = (
        2 * b.U * b.u * b.A / (m**2 * r.A),
        2 * b.U * b.u / (m**2 * r.B),
        b.u / (m * r.U),
        b.U / (m * r.u),
    )
    return jnp.max(jnp.stack(terms))


def _inputs(lambda0, x_norm, loss0, norms, radii, m):
    lam = scalar(lambda0, "lambda0", allow_zero=True)
    xf = scalar(x_norm, "x_norm")
    s = jnp.sqrt(2.0 * scalar(loss0, "loss0", allow_zero=True))
    m = jnp.asarray(check_in_interval(m, "m", 0.0, 1.0, closed="right"))
    return lam, xf, s, m, _bars(norms, radii), Radii(*(jnp.asarray(v) for v in radii))


class Certificate(NamedTuple):
    """Everything §3.3 needs about a thesis monDEQ on data $(X, y)$: $\\lambda_0$, $\\mathcal L_0$,
    $\\|X\\|_F$, `norms`, `radii`, both conditions, and `wide` ($n \\ge N$)."""

    lambda0: Float[Array, ""]
    loss0: Float[Array, ""]
    x_norm: Float[Array, ""]
    norms: ParamNorms
    radii: Radii
    condition1: Condition1
    condition2: Condition2
    wide: bool


def certify(net, x: Float[Array, "N d"], y: Float[Array, " N"], radii: Radii, **solve):
    """Solve the monDEQ on the inputs and evaluate Conditions 1–2 and $\\eta_{\\max}$ at init.

    **Arguments:** `net` a `MonotoneDEQ(..., "scalar", use_bias=False)`; inputs `x` `(N, d)`
    (the thesis's $X = x^\\top$); targets `y` `(N,)`; `radii` (`Radii`); `**solve` passed to
    `net.features` (e.g. `solver=`, `adjoint=`).

    **Returns:** a `Certificate`.

    ```python
    net = cx.models.MonotoneDEQ(d, n, "scalar", use_bias=False, m=0.05, key=key)
    cert = cx.convergence.certify(net, x, y, cx.convergence.Radii(0.1, 0.1, 0.1, 0.1))
    cert.condition2.holds, cert.condition2.eta_max
    ```

    Source: seed 004 §3.3, Conditions 1–2, Thms 3.3.1 and 3.3.5.
    """
    _check_thesis(net)
    x, y = matrix(x, "x"), vector(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"`x` and `y` need the same N; got {x.shape[0]} and {y.shape[0]}.")
    z = jax.vmap(lambda xi: net.features(xi, **solve))(x)
    lam, loss0 = lambda0(z), 0.5 * jnp.sum((z @ net.C - y) ** 2)
    xf, norms = jnp.linalg.norm(x), param_norms(net)
    c1 = condition1(lam, xf, loss0, norms, radii, net.m)
    c2 = condition2(lam, xf, loss0, norms, radii, net.m)
    return Certificate(lam, loss0, xf, norms, radii, c1, c2, z.shape[1] >= z.shape[0])


def _check_thesis(net):
    from .models import MonotoneDEQ

    if not isinstance(net, MonotoneDEQ) or net.b is not None or net.C.ndim != 1:
        raise ValueError(
            "`net` must be the thesis's monotone DEQ, "
            "cx.models.MonotoneDEQ(d, n, 'scalar', use_bias=False, ...)."
        )


# ----------------------------------------------------------------------------- Lemmas 3.3.4–10


class Lemma334(NamedTuple):
    """The bounds of Lemma 3.3.4 on $\\|Z(k) - Z(s)\\|_F$ (`z`, eq. 3.15) and
    $\\|\\hat y(k) - \\hat y(s)\\|_2$ (`yhat`)."""

    z: Float[Array, ""]
    yhat: Float[Array, ""]


def lemma334(net_k, net_s, x_norm) -> Lemma334:
    """Lemma 3.3.4 for two parameter values $\\theta(k)$, $\\theta(s)$ of one thesis monDEQ:

    $\\|Z_k - Z_s\\|_F \\le \\|X\\|_F(\\|U_k - U_s\\|_2/m + \\|W_k - W_s\\|_2\\|U_s\\|_2/m^2)$ and
    $\\|\\hat y_k - \\hat y_s\\| \\le \\|X\\|_F(\\|u_k\\|\\|\\Delta U\\|/m + \\|u_k\\|\\|\\Delta W\\|\\|U_s\\|/m^2
    + \\|U_s\\|\\|u_k - u_s\\|/m)$.

    **Arguments:** `net_k`, `net_s` (same `m`); `x_norm` $\\|X\\|_F > 0$.

    **Returns:** `Lemma334(z, yhat)`.

    Source: seed 004 §3.3.2, Lemma 3.3.4 (proof in App. C.0.5).
    """
    _check_thesis(net_k)
    _check_thesis(net_s)
    if net_k.m != net_s.m:
        raise ValueError(f"`net_k` and `net_s` need the same m; got {net_k.m} and {net_s.m}.")
    xf, m = scalar(x_norm, "x_norm"), net_k.m
    dU, dW = op_norm(net_k.U - net_s.U), op_norm(net_k.W - net_s.W)
    Us, uk, du = op_norm(net_s.U), op_norm(net_k.C), op_norm(net_k.C - net_s.C)
    bz = xf * (dU / m + dW * Us / m**2)
    return Lemma334(bz, xf * (uk * dU / m + uk * dW * Us / m**2 + Us * du / m))


def lemma336(A: Float[Array, "n n"], dA: Float[Array, "n n"], dB: Float[Array, "n n"]):
    """Lemma 3.3.6's bound on the change of $W$ when $A \\to A + \\Delta_A$, $B \\to B + \\Delta_B$:
    $\\|\\Delta_W\\|_2 \\le 2\\|A\\|_2\\|\\Delta_A\\|_2 + \\|\\Delta_A\\|_2^2 + 2\\|\\Delta_B\\|_2$.

    Source: seed 004 §3.3.3, Lemma 3.3.6.
    """
    A, dA, dB = matrix(A, "A"), matrix(dA, "dA"), matrix(dB, "dB")
    return 2 * op_norm(A) * op_norm(dA) + op_norm(dA) ** 2 + 2 * op_norm(dB)


class StepBounds(NamedTuple):
    """Lemma 3.3.7's bounds on one GD step of each parameter and of $W$ (spectral norms)."""

    U: Float[Array, ""]
    u: Float[Array, ""]
    A: Float[Array, ""]
    B: Float[Array, ""]
    W: Float[Array, ""]


def lemma337(eta, x_norm, residual_norm, lambda0, norms: ParamNorms, radii: Radii, m):
    """Lemma 3.3.7 (under Hypothesis 1), with $c = \\eta\\|X\\|_F\\|\\hat y(k) - y\\|_2$:
    $\\|\\Delta U\\| \\le c\\bar\\lambda_u/m$, $\\|\\Delta u\\| \\le c\\bar\\lambda_U/m$,
    $\\|\\Delta A\\| \\le 2c\\bar\\lambda_{UuA}/m^2$, $\\|\\Delta B\\| \\le 2c\\bar\\lambda_{Uu}/m^2$,
    $\\|\\Delta W\\| \\le 4c\\bar\\lambda_{Uu}(\\bar\\lambda_A^2 + \\eta\\lambda_0^2\\bar\\lambda_A^2/16
    + 1)/m^2$.

    **Returns:** `StepBounds(U, u, A, B, W)`.

    Source: seed 004 §3.3.3, Lemma 3.3.7.
    """
    b = _bars(norms, radii)
    m = jnp.asarray(check_in_interval(m, "m", 0.0, 1.0, closed="right"))
    lam = scalar(lambda0, "lambda0", allow_zero=True)
    eta = scalar(eta, "eta")
    c = eta * scalar(x_norm, "x_norm") * scalar(residual_norm, "residual_norm", allow_zero=True)
    w = 4 * c * b.U * b.u * (b.A**2 + eta * lam**2 * b.A**2 / 16 + 1) / m**2
    return StepBounds(
        c * b.u / m, c * b.U / m, 2 * c * b.U * b.u * b.A / m**2, 2 * c * b.U * b.u / m**2, w
    )


class LossTerms(NamedTuple):
    """The split $\\mathcal L(k+1) - \\mathcal L(k) = I_1 + I_2 + I_3$ of §3.3.2."""

    I1: Float[Array, ""]
    I2: Float[Array, ""]
    I3: Float[Array, ""]


def loss_terms(yhat, yhat_next, g, y) -> LossTerms:
    """The measured terms, with $g = Z(k)^\\top u(k+1)$:
    $I_1 = \\tfrac12\\|\\hat y_{k+1} - \\hat y_k\\|^2$, $I_2 = (\\hat y_{k+1} - g)^\\top(\\hat y_k - y)$,
    $I_3 = (g - \\hat y_k)^\\top(\\hat y_k - y)$; they sum to $\\mathcal L(k+1) - \\mathcal L(k)$
    exactly for $\\mathcal L = \\tfrac12\\|\\hat y - y\\|^2$.

    Source: seed 004 §3.3.2 (proof sketch of Thm 3.3.5), Lemmas 3.3.8–3.3.10.
    """
    yhat, yhat_next = vector(yhat, "yhat"), vector(yhat_next, "yhat_next")
    g, y = vector(g, "g"), vector(y, "y")
    if not (yhat.shape == yhat_next.shape == g.shape == y.shape):
        raise ValueError("`yhat`, `yhat_next`, `g` and `y` must have one shape (N,).")
    r = yhat - y
    return LossTerms(0.5 * jnp.sum((yhat_next - yhat) ** 2), (yhat_next - g) @ r, (g - yhat) @ r)


def loss_term_bounds(eta, lambda0, loss, x_norm, norms: ParamNorms, radii: Radii) -> LossTerms:
    """Lemmas 3.3.8–3.3.10 as printed (under Hypotheses 1–3):

    $I_1 \\le \\mathcal L_k(\\eta C_{11} + \\eta^2\\lambda_0^2C_{12})^2$ (Lemma 3.3.8; the printed
    expansion's last term $\\eta^4\\lambda_0C_{12}^2$ is taken as the square's $\\eta^4\\lambda_0^4
    C_{12}^2$), $I_2 \\le 2\\mathcal L_k(\\eta(C_{11} - \\bar\\lambda_U^2\\|X\\|_F^2) +
    \\eta^2\\lambda_0^2C_{12})$ (Lemma 3.3.9), $I_3 \\le -\\eta\\lambda_0^2\\mathcal L_k/2$
    (Lemma 3.3.10), with $C_{11} = \\|X\\|_F^2(\\bar\\lambda_u^2 + 4\\bar\\lambda_{Uu}^2 +
    4\\bar\\lambda_{UuA}^2 + \\bar\\lambda_U^2)$, $C_{12} = \\|X\\|_F^2\\bar\\lambda_{UuA}^2/4$.
    Note that $C_{11}$, $C_{12}$ carry no factor of $1/m$.

    **Returns:** `LossTerms` of the three upper bounds.

    Source: seed 004 §3.3.3, Lemmas 3.3.8–3.3.10.
    """
    eta, lam = scalar(eta, "eta"), scalar(lambda0, "lambda0", allow_zero=True)
    loss, xf = scalar(loss, "loss", allow_zero=True), scalar(x_norm, "x_norm")
    b = _bars(norms, radii)
    c11, c12 = _c11_c12(xf, b)
    i1 = loss * (eta * c11 + eta**2 * lam**2 * c12) ** 2
    i2 = 2 * loss * (eta * (c11 - b.U**2 * xf**2) + eta**2 * lam**2 * c12)
    return LossTerms(i1, i2, -eta * lam**2 * loss / 2)
