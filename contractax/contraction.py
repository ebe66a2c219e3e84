r"""Contraction rates of vector fields and recurrent networks, step sizes, interconnections.

Convention: a **rate** `c > 0` means contracting, `rate = −sup_x μ(D_x f(x))`; the distance
between two solutions then decays like $e^{-ct}$ in the chosen norm.

Sources: seed 001 (Bullo: "Tight transcription" of the firing-rate osLip, "NonEuclidean
contractivity of firing rate model", forward-step/averaged iteration step sizes, "Networks of
contracting systems", Lim's lemma and its one-sided version); seed 000 §3 and Table 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from . import norms
from ._checks import (
    as_float_array,
    check_finite,
    check_nonempty,
    check_p,
    check_positive,
    check_real,
    check_slope_bounds,
    check_square,
    leak_matrix,
)

__all__ = [
    "firing_rate_rate",
    "hopfield_rate",
    "persidskii_rate",
    "lure_rate",
    "optimal_rate",
    "sampled_rate",
    "averaged_step",
    "averaged_step_factor",
    "interconnection_rate",
    "equilibrium_shift_bound",
    "one_sided_shift_bound",
]


def firing_rate_rate(
    A: Float[ArrayLike, "*batch n n"], *, C=None, dmin=0.0, dmax=1.0, p=math.inf, weight=None
) -> Float[Array, "*batch"]:
    r"""Exact contraction rate of the firing-rate network $\dot x = -Cx + \Phi(Ax + u)$.

    $$c = -\operatorname{osLip}(f) = -\max_{d\in[d_{\min},d_{\max}]^n}\mu(-C + \mathrm{dg}(d)A)$$

    for activations with slopes in $[d_{\min}, d_{\max}]$ (tanh: [0, 1]; logistic: [0, 1/4]).
    `C=None` means C = I (the standard leak). Exact for p ∈ {1, ∞} (closed forms) and for p = 2
    with n ≤ `norms.MAX_VERTEX_N` (vertex enumeration).

    **Returns:** the rate (positive: contracting), shape `A.shape[:-2]`.

    Example: `firing_rate_rate(0.5 * jnp.eye(3))` is 0.5.

    Source: seed 001 "Tight transcription"; seed 000 Table 1.
    """
    C = 1.0 if C is None else C
    return -norms.max_lognorm_over_slopes(A, dmin, dmax, p, weight, side="left", C=C)


def hopfield_rate(
    A: Float[ArrayLike, "*batch n n"], *, C=None, dmin=0.0, dmax=1.0, p=math.inf, weight=None
) -> Float[Array, "*batch"]:
    r"""Exact contraction rate of the Hopfield network $\dot x = -Cx + A\Phi(x) + u$.

    $c = -\max_{d\in[d_{\min},d_{\max}]^n}\mu(-C + A\,\mathrm{dg}(d))$; `C=None` means C = I.

    Source: seed 001 "Contractivity of recurrent neural networks".
    """
    C = 1.0 if C is None else C
    return -norms.max_lognorm_over_slopes(A, dmin, dmax, p, weight, side="right", C=C)


def persidskii_rate(
    A: Float[ArrayLike, "*batch n n"], *, C=None, dmin=0.0, dmax=1.0, p=1.0, weight=None
) -> Float[Array, "*batch"]:
    r"""Exact contraction rate of the Persidskii-type network $\dot x = -Cx + A\Phi(x)$.

    $c = -\max_{d\in[d_{\min},d_{\max}]^n}\mu(-C + A\,\mathrm{dg}(d))$ with `C=None` meaning
    C = 0, the seed's $\dot x = A\Phi(x)$ (with C it is the Hopfield form, `hopfield_rate`).
    For C = 0 and a diagonal weight η: $\operatorname{osLip}_{1,\eta} = \max\{d_{\min}
    \mu_{1,\eta}(A), d_{\max}\mu_{1,\eta}(A)\}$, so the network contracts in ℓ1 iff
    $\mu_{1,\eta}(A) < 0$ **and** $d_{\min} > 0$ (rate $-d_{\min}\mu_{1,\eta}(A)$); with
    $d_{\min} = 0$ the slope vertex d = 0 makes osLip ≥ 0 in every norm — at best weakly
    contracting. ℓ∞: $\max_i(\max(d_{\min}a_{ii}, d_{\max}a_{ii}) + d_{\max}\sum_{j\ne i}|a_{ij}|)$.

    **Arguments:** as `hopfield_rate` (`p` defaults to 1, the Persidskii norm).

    **Returns:** the rate (positive: contracting; 0: weakly contracting at best), shape
    `A.shape[:-2]`.

    Example: `persidskii_rate(-jnp.eye(2), dmin=0.5)` is 0.5.

    Source: seed 001 "Contractivity of recurrent neural networks" (Persidskii-type
    $\dot x = A\Phi(x)$, slope-restricted activations) and "Max log norms over hypercubes".
    """
    C = 0.0 if C is None else C
    return -norms.max_lognorm_over_slopes(A, dmin, dmax, p, weight, side="right", C=C)


def lure_rate(
    A: Float[ArrayLike, "*batch n n"], *, dmin=0.0, dmax=1.0, p=math.inf, weight=None
) -> Float[Array, "*batch"]:
    r"""Exact contraction rate of $\dot x = Ax - \Phi(x)$ (a Lur'e-type network).

    The Jacobian is $A - \mathrm{dg}(d)$, $d \in [d_{\min}, d_{\max}]^n$. Writing it as
    $(A - d_{\min}I) - \mathrm{dg}(d - d_{\min})$ and using subadditivity with
    $\mu(-\mathrm{dg}(e)) \le 0$ for $e \ge 0$ (true for ℓ1, ℓ∞ with diagonal weights and for
    unweighted ℓ2):

    $$\operatorname{osLip}(f) = \mu(A) - d_{\min},\qquad c = d_{\min} - \mu(A),$$

    attained at d = d_min 𝟙; the slope upper bound does not matter. For p = 2 with a weight P
    the inequality can fail, and the $2^n$ slope vertices are enumerated instead
    (`norms.max_lognorm_over_slopes`, n ≤ `norms.MAX_VERTEX_N`).

    **Arguments:** `A` square (batch on leading axes); `0 ≤ dmin ≤ dmax` the slope bounds;
    `p`, `weight` the norm.

    **Returns:** the rate, shape `A.shape[:-2]`.

    Example: `lure_rate(jnp.zeros((3, 3)), dmin=0.25)` is 0.25.

    Source: seed 001 "Contractivity of recurrent neural networks" ($\dot x = Ax - \Phi(x)$,
    slope-restricted activations).
    """
    p = check_p(p)
    A = check_square(A)
    dmin, dmax = check_slope_bounds(dmin, dmax, A.dtype)
    if p == 2 and weight is not None:
        minus_eye = -jnp.broadcast_to(jnp.eye(A.shape[-1], dtype=A.dtype), A.shape)
        return -norms.max_lognorm_over_slopes(minus_eye, dmin, dmax, p, weight, C=-A)
    return dmin - norms.lognorm(A, p, weight)


def _diag_C(C, A):
    """The diagonal of the leak matrix (default I); a non-diagonal C raises at run time."""
    M = leak_matrix(C, A, 1.0)
    d = jnp.diagonal(M, axis1=-2, axis2=-1)
    off = M - d[..., :, None] * jnp.eye(A.shape[-1], dtype=M.dtype)
    return eqx.error_if(d, jnp.any(off != 0), "optimal_rate needs a diagonal C.")


def _row_product_weight(M, c, dmin, dmax, p):
    """The Perron weight of the worst matrix of the row-product family {−C + dg(s)B : sᵢ ∈
    {d_min, d_max}} (B = ⌈A⌉_M for rows, its transpose for the columns of ℓ1), by policy
    iteration.

    At a weight η the worst choice for row i is d_max where (Bη)ᵢ ≥ 0, else d_min; switching
    to it gives K′η ≥ α(K)η, so α(K′) ≥ α(K) (Collatz–Wielandt), and at a fixed point every
    member satisfies K_s η ≤ α η, so α is the largest abscissa of the family — the optimum
    inf_η max_s μ_η (Blondel & Nesterov 2009; Protasov 2015, product families). The value is
    attained by the weight of some iterate; the one with the smallest max_s μ_η is returned
    (the last member can be reducible, with a degenerate Perron vector).
    """
    B = M if p == math.inf else jnp.swapaxes(M, -1, -2)
    n = M.shape[-1]
    eye = jnp.eye(n, dtype=M.dtype)

    def weight(s):
        return norms.optimal_weight(s[..., :, None] * B - c[..., :, None] * eye, math.inf)[0]

    def value(eta):  # max over the family of μ∞,η: max_i max_{sᵢ} (−cᵢ + sᵢ (Bη)ᵢ/ηᵢ)
        r = jnp.einsum("...ij,...j->...i", B, eta) / eta
        v = jnp.max(-c + jnp.maximum(dmin * r, dmax * r), axis=-1)
        return jnp.where(jnp.isfinite(v), v, jnp.inf), r

    def body(state):
        s, _, k, best, best_v = state
        eta = weight(s)
        v, r = value(eta)
        better = v < best_v
        best = jnp.where(better[..., None], eta, best)
        best_v = jnp.where(better, v, best_v)
        new = jnp.where(r > 0, dmax, jnp.where(r < 0, dmin, s))
        return new, jnp.any(new != s), k + 1, best, best_v

    s0 = jnp.full(M.shape[:-1], dmax, M.dtype)
    inf = jnp.full(M.shape[:-2], jnp.inf, M.dtype)
    state = (s0, jnp.array(True), 0, jnp.ones_like(s0), inf)
    s, _, _, best, best_v = jax.lax.while_loop(lambda st: st[1] & (st[2] <= n + 1), body, state)
    # The last policy's weight, unless an earlier iterate's was better: when the last member is
    # reducible (d_min = 0 zeroes rows), its Perron vector has near-zero entries and a poor
    # value, while the optimum is attained at an earlier weight.
    eta = weight(s)
    return jnp.where((value(eta)[0] <= best_v)[..., None], eta, best)


def optimal_rate(
    A: Float[ArrayLike, "*batch n n"],
    *,
    C=None,
    dmin=0.0,
    dmax=1.0,
    p=math.inf,
    model: str = "firing_rate",
):
    r"""The best ℓ∞ (or ℓ1) contraction rate over diagonal weights, and the weight attaining it.

    For $0 \le d_{\min} \le d_{\max}$ and diagonal C, every row (ℓ∞) or column (ℓ1) of the
    worst-case Jacobian is bounded by a Metzler matrix N, and
    $\inf_\eta \max_d \mu_{p,\eta}(J(d)) = \alpha(N)$ (Collatz–Wielandt), attained at N's
    Perron vector:

    - firing rate, ℓ∞ / Hopfield, ℓ1: row i (column i) of the worst case is that of
      $N_s = -C + \mathrm{dg}(s)\lceil A\rceil_{\mathrm M}$ with $s_i \in \{d_{\min}, d_{\max}\}$
      chosen by the weight itself, so the optimum is $\max_s \alpha(N_s)$ over this row-product
      family, found by policy iteration (Blondel & Nesterov 2009); for $d_{\min} = 0$ it is
      seed 001's $\max\{\alpha(-C), \alpha(-C + d_{\max}\lceil A\rceil_{\mathrm M})\}$;
    - firing rate, ℓ1 / Hopfield, ℓ∞: N has diagonal $-c_i + \max(d_{\min}a_{ii}, d_{\max}a_{ii})$
      and off-diagonal $d_{\max}|a_{ij}|$.

    **Returns:** `(eta, rate)` with `rate = −max_lognorm_over_slopes(A, ..., weight=eta)`
    evaluated at the returned η (an attained, certified rate).

    Source: seed 001 "NonEuclidean contractivity of firing rate model".
    """
    p = check_p(p)
    if p == 2:
        raise ValueError(
            "optimal_rate is implemented for p = 1 and p = jnp.inf (diagonal weights); "
            "for p = 2 use norms.optimal_weight on a Metzler matrix."
        )
    if model not in ("firing_rate", "hopfield"):
        raise ValueError(f"model must be 'firing_rate' or 'hopfield'; got {model!r}.")
    A = check_square(A)
    c = _diag_C(C, A)
    dmin, dmax = check_slope_bounds(dmin, dmax, A.dtype)
    return _optimal_rate(A, c, dmin, dmax, p, model)


@eqx.filter_jit
def _optimal_rate(A, c, dmin, dmax, p, model):
    """The array work of `optimal_rate`, compiled once per shape and configuration (an eager
    call retraced the policy iteration's while loop: 0.8 s per call at n = 6)."""
    eye = jnp.eye(A.shape[-1], dtype=A.dtype)
    off = jnp.abs(A) * (1 - eye)
    diag = jnp.diagonal(A, axis1=-2, axis2=-1)
    simple = (model == "firing_rate") == (p == math.inf)
    if simple:
        eta = _row_product_weight(diag[..., :, None] * eye + off, c, dmin, dmax, p)
    else:
        dd = jnp.maximum(dmin * diag, dmax * diag)
        eta, _ = norms.optimal_weight(dmax * off + (dd - c)[..., :, None] * eye, p)
    side = "left" if model == "firing_rate" else "right"
    rate = -norms.max_lognorm_over_slopes(A, dmin, dmax, p, eta, side=side, C=c)
    return eta, rate


def sampled_rate(
    f: Callable, xs: Float[ArrayLike, "m n"], args=None, p=2, weight=None
) -> Float[Array, ""]:
    r"""An **estimate** of the contraction rate: $-\max_k \mu(D_x f(x_k, \text{args}))$ over samples.

    Only an upper bound on the true rate (the supremum may be attained between samples); use the
    exact `firing_rate_rate`/`hopfield_rate` where the model allows.

    **Arguments:** `f(x, args)` a vector field on ℝⁿ; `xs` sample points, shape (m, n).
    """
    p = check_p(p)
    xs = as_float_array(xs, "xs")
    if xs.ndim != 2:
        raise ValueError(f"xs must be a batch of sample points of shape (m, n); got {xs.shape}.")
    xs = check_finite(check_nonempty(xs, "xs"), "xs")
    if not callable(f):
        raise ValueError(f"f must be a callable vector field f(x, args); got {type(f).__name__}.")
    fx = jax.eval_shape(f, xs[0], args)
    if getattr(fx, "shape", None) != xs.shape[1:]:
        raise ValueError(
            f"f(x, args) must return a vector of x's shape {xs.shape[1:]} (a vector field on "
            f"ℝⁿ, so that its Jacobian is square); got {getattr(fx, 'shape', type(fx).__name__)}."
        )
    J = jax.vmap(jax.jacfwd(f), in_axes=(0, None))(xs, args)
    return -jnp.max(norms.lognorm(J, p, weight))


def averaged_step_factor(alpha, rate, lipschitz, p=2):
    r"""Contraction factor bound of $x \mapsto x + \alpha F(x)$ for a given step α.

    Euclidean (p = 2, any weight P): $\sqrt{1 - 2\alpha c + \alpha^2\ell^2}$.
    Non-Euclidean (p ∈ {1, ∞}): $1 - \alpha c + \alpha^2\ell^2/(1 - \alpha\ell)$ for αℓ < 1.
    Source: seed 001 ("forward step = Euler integration", both slides).
    """
    p = check_p(p)
    alpha = check_positive(alpha, "alpha (the step size)")
    rate = check_real(rate, "rate")
    lipschitz = check_positive(lipschitz, "lipschitz", allow_zero=True)
    alpha, c, l = (jnp.asarray(v, dtype=jnp.result_type(float)) for v in (alpha, rate, lipschitz))
    if p == 2:
        return jnp.sqrt(jnp.maximum(1 - 2 * alpha * c + alpha**2 * l**2, 0.0))
    return jnp.where(alpha * l < 1, 1 - alpha * c + alpha**2 * l**2 / (1 - alpha * l), jnp.inf)


def averaged_step(rate, lipschitz, p=2):
    r"""Optimal step and contraction factor of the forward step $x_{k+1} = x_k + \alpha F(x_k)$.

    Equivalently the averaged iteration $x_{k+1} = (1-\alpha)x_k + \alpha G(x_k)$ with
    $G = \mathrm{Id} + F$. With rate c = −osLip(F) > 0, Lipschitz ℓ = Lip(F) and κ = ℓ/c:

    - Euclidean (p = 2): $\alpha^* = 1/(c\kappa^2)$, factor $\sqrt{1 - 1/\kappa^2}
      = 1 - \frac{1}{2\kappa^2} + O(\kappa^{-4})$; contracting for $0 < \alpha < 2/(c\kappa^2)$.
    - Non-Euclidean (p ∈ {1, ∞}): minimising $1 - \alpha c + \alpha^2\ell^2/(1-\alpha\ell)$ gives
      $\alpha^* = (1 - \sqrt{\kappa/(1+\kappa)})/\ell = \frac1c(\frac{1}{2\kappa^2} - \frac{3}{8\kappa^3}
      + O(\kappa^{-4}))$ and factor $1 - \frac{1}{4\kappa^2} + \frac{1}{8\kappa^3} + O(\kappa^{-4})$;
      contracting for $0 < \alpha < 1/(c\kappa(1+\kappa))$.

    **Arguments:** `rate` c > 0, `lipschitz` ℓ ≥ c, `p` the norm family.

    **Returns:** `(alpha, factor)`.

    Source: seed 001, the two "forward step" slides (Euclidean and non-Euclidean).
    """
    p = check_p(p)
    c = jnp.asarray(rate, dtype=jnp.result_type(float))
    l = jnp.asarray(lipschitz, dtype=c.dtype)
    c = eqx.error_if(
        c, ~(c > 0), "averaged_step needs a contracting field: rate must be > 0 (and finite)."
    )
    l = eqx.error_if(
        l, ~(l >= c), "the Lipschitz constant of F (lipschitz) must be ≥ its contraction rate."
    )
    kappa = l / c
    if p == 2:
        alpha = c / l**2
        factor = jnp.sqrt(jnp.maximum(1 - 1 / kappa**2, 0.0))
    else:
        alpha = (1 - jnp.sqrt(kappa / (1 + kappa))) / l
        factor = averaged_step_factor(alpha, c, l, p)
    return alpha, factor


def interconnection_rate(
    rates: Float[ArrayLike, "*batch k"], gains: Float[ArrayLike, "*batch k k"]
) -> Float[Array, "*batch"]:
    r"""Rate certificate of an interconnection of contracting subsystems.

    Subsystem i contracts at rate $c_i$ in its own norm and depends on $x_j$ with Lipschitz gain
    $\gamma_{ij}$. If the Metzler gain matrix $\Gamma$ (diagonal $-c_i$, off-diagonal
    $\gamma_{ij}$) is Hurwitz, the network contracts, at rate $-\alpha(\Gamma)$ in the weighted
    norm $\sum_i \xi_i\|x_i\|_i$ (or $\max_i \|x_i\|_i/\eta_i$) built from Γ's Perron vector.

    **Arguments:** `rates` (k,), `gains` (k, k) non-negative (its diagonal is ignored).

    **Returns:** $-\alpha(\Gamma)$; positive means the network contracts.

    Source: seed 001 "Networks of contracting systems".
    """
    rates = check_finite(as_float_array(rates, "rates"), "rates")
    if rates.ndim < 1:
        raise ValueError(
            f"rates must be a vector (k,) of subsystem rates; got shape {rates.shape}."
        )
    gains = check_square(gains, "gains")
    if gains.shape[-1] != rates.shape[-1]:
        raise ValueError(
            f"gains must be ({rates.shape[-1]}, {rates.shape[-1]}) to match rates; "
            f"got {gains.shape}."
        )
    gains = eqx.error_if(gains, jnp.any(gains < 0), "interconnection gains must be ≥ 0.")
    eye = jnp.eye(rates.shape[-1], dtype=gains.dtype)
    Gamma = gains * (1 - eye) - rates[..., :, None] * eye
    return -norms.spectral_abscissa(Gamma)


def equilibrium_shift_bound(lip_u, lip_x, du):
    r"""Lim's lemma: for fixed points of $x = G(x, u)$ with $\mathrm{Lip}_x G < 1$,

    $$\|x^*_u - x^*_v\| \le \frac{\mathrm{Lip}_u G}{1 - \mathrm{Lip}_x G}\|u - v\|.$$

    Source: seed 001 "Robustness of fixed point algorithms".
    """
    lip_u = check_positive(lip_u, "lip_u (Lip_u G)", allow_zero=True)
    du = check_positive(du, "du (the distance ‖u − v‖)", allow_zero=True)
    lip_x = jnp.asarray(lip_x, dtype=jnp.result_type(float))
    lip_x = eqx.error_if(
        lip_x, ~(lip_x < 1), "Lim's lemma needs lip_x = Lip_x G < 1 (a contraction)."
    )
    lip_x = check_positive(lip_x, "lip_x (Lip_x G, a Lipschitz constant)", allow_zero=True)
    return lip_u / (1 - lip_x) * du


def one_sided_shift_bound(oslip_x, lip_u, du, disturbance=0.0):
    r"""One-sided version: $x^*_u = G(x^*_u, u)$, $x^*_v = G(x^*_v, v) + D(x^*_v, v)$ with
    $\operatorname{osLip}_x(G + D) < 1$ gives

    $$\|x^*_u - x^*_v\| \le \frac{\mathrm{Lip}_u(G+D)\|u-v\| + \|D(x^*_u, u)\|}{1 - \operatorname{osLip}_x(G+D)}.$$

    Source: seed 001 "Robustness via one-sided Lipschitz constants".
    """
    lip_u = check_positive(lip_u, "lip_u (Lip_u(G + D))", allow_zero=True)
    du = check_positive(du, "du (the distance ‖u − v‖)", allow_zero=True)
    disturbance = check_positive(disturbance, "disturbance (‖D(x*_u, u)‖)", allow_zero=True)
    oslip_x = jnp.asarray(oslip_x, dtype=jnp.result_type(float))
    oslip_x = eqx.error_if(
        oslip_x, ~(oslip_x < 1), "the one-sided bound needs oslip_x = osLip_x(G + D) < 1."
    )
    return (lip_u * du + disturbance) / (1 - oslip_x)
