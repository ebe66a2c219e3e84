r"""Induced matrix norms, logarithmic norms (matrix measures) and optimal weights.

Conventions (Bullo's): `p ∈ {1, 2, jnp.inf}`; `weight` is `None`, a positive vector `eta` for
p ∈ {1, ∞}, or an SPD matrix `P` for p = 2, with

$$\|x\|_{\infty,\eta} = \max_i |x_i|/\eta_i,\quad \|x\|_{1,\eta} = \sum_i \eta_i|x_i|,\quad
\|x\|_{2,P} = \sqrt{x^\top P x}.$$

Then $\mu_{\infty,\eta}(A) = \mu_{1,\eta}(A^\top)$, the dual of $(\infty,\eta)$ is $(1,\eta)$ and
the dual of $(2, P)$ is $(2, P^{-1})$. Every function acts on the last two axes and broadcasts
over leading ones, and works under `jit`, `vmap` and `grad` (finite at kinks).

Sources: seed 001 (Bullo, *Perspectives on contraction theory*, "From LMIs to log norms",
"Max log norms over hypercubes", "NonEuclidean contractivity of firing rate model"), seed 000
§3 (matrix measures, dual norms, Table 1).
"""

from __future__ import annotations

import itertools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._checks import (
    as_float_array,
    check_finite,
    check_nonempty,
    check_p,
    check_positive,
    check_slope_bounds,
    check_square,
    check_weight,
    leak_matrix,
    upcast,
)

__all__ = [
    "induced_norm",
    "vector_norm",
    "lognorm",
    "lognorm_by_definition",
    "dual",
    "max_lognorm_over_slopes",
    "MAX_VERTEX_N",
    "metzler_majorant",
    "spectral_abscissa",
    "optimal_weight",
]

#: Largest n for which `max_lognorm_over_slopes(..., p=2)` enumerates the 2ⁿ vertices.
MAX_VERTEX_N = 12


def _bc(x: Array, ndim: int) -> Array:
    """Prepend unit axes so that `x` has `ndim` axes (explicit broadcasting: no rank promotion)."""
    return x.reshape((1,) * (ndim - x.ndim) + x.shape)


def _sym(A: Array) -> Array:
    return 0.5 * (A + jnp.swapaxes(A, -1, -2))


def _eye_like(A: Array) -> Array:
    return jnp.eye(A.shape[-1], dtype=A.dtype)


def _scale(A: Array, eta: Array, p: float) -> Array:
    """Similarity transform turning a weighted ℓ1/ℓ∞ problem into the unweighted one."""
    eta = _bc(eta, A.ndim - 1)
    if p == math.inf:  # D⁻¹ A D with D = diag(η)
        return A * eta[..., None, :] / eta[..., :, None]
    return A * eta[..., :, None] / eta[..., None, :]  # p = 1: D A D⁻¹


def _chol_transform(A: Array, P: Array) -> Array:
    """R A R⁻¹ with P = RᵀR (R = Lᵀ, L the Cholesky factor): ‖A‖_{2,P} = ‖RAR⁻¹‖₂."""
    P = jnp.broadcast_to(_bc(P, A.ndim), jnp.broadcast_shapes(P.shape, A.shape))
    A = jnp.broadcast_to(A, P.shape)
    L = jnp.linalg.cholesky(P)
    Lt = jnp.swapaxes(L, -1, -2)
    M = Lt @ A  # Lᵀ A
    # M L⁻ᵀ = (L⁻¹ Mᵀ)ᵀ
    X = jax.scipy.linalg.solve_triangular(L, jnp.swapaxes(M, -1, -2), lower=True)
    return jnp.swapaxes(X, -1, -2)


def _prepare(A, p, weight, name="A"):
    """The one funnel: p, shape, finiteness, weight kind; float16/bfloat16 are computed in
    float32 (eigvalsh/svd have no half-precision kernels) and the caller casts back."""
    p = check_p(p)
    A = check_square(A, name)
    A, dtype = upcast(A)
    weight = None if weight is None else upcast(weight)[0]
    w = check_weight(weight, p, A.shape[-1], A.ndim - 2)
    if w is not None:
        A = _chol_transform(A, w) if p == 2 else _scale(A, w, p)
    return A, p, dtype


def vector_norm(x: Float[ArrayLike, "*batch n"], p=2, weight=None) -> Float[Array, "*batch"]:
    r"""The weighted vector norm $\|x\|_{p,\text{weight}}$ on the last axis.

    **Arguments:**

    - `x`: vectors, last axis of length n.
    - `p`: 1, 2 or `jnp.inf`.
    - `weight`: `None`, a positive vector η (p ∈ {1, ∞}) or an SPD matrix P (p = 2).

    **Returns:** the norms, shape `x.shape[:-1]`.

    Example: `vector_norm(jnp.array([3., -4.]), p=1)` is 7.
    """
    p = check_p(p)
    x = as_float_array(x, "x")
    if x.ndim < 1:
        raise ValueError(f"x must have at least one axis (a vector); got shape {x.shape}.")
    check_nonempty(x, "x")
    x = check_finite(x, "x")
    w = check_weight(weight, p, x.shape[-1], x.ndim - 1)
    if p == math.inf:
        y = x if w is None else x / _bc(w, x.ndim)
        return jnp.max(jnp.abs(y), axis=-1)
    if p == 1:
        y = x if w is None else x * _bc(w, x.ndim)
        return jnp.sum(jnp.abs(y), axis=-1)
    if w is None:
        q = jnp.sum(x * x, axis=-1)
    else:
        q = jnp.sum(x * jnp.squeeze(_bc(w, x.ndim + 1) @ x[..., None], -1), axis=-1)
    safe = jnp.where(q > 0, q, 1.0)
    return jnp.where(q > 0, jnp.sqrt(safe), 0.0)


def induced_norm(A: Float[ArrayLike, "*batch n n"], p=2, weight=None) -> Float[Array, "*batch"]:
    r"""The matrix norm induced by the (weighted) vector norm $\|\cdot\|_{p}$.

    $\|A\|_1 = \max_j \sum_i |a_{ij}|$, $\|A\|_\infty = \max_i \sum_j |a_{ij}|$,
    $\|A\|_2 = \sigma_{\max}(A)$; weighted norms by the similarity $D^{-1}AD$ ($\infty,\eta$),
    $DAD^{-1}$ ($1,\eta$) or $RAR^{-1}$ with $P = R^\top R$ ($2,P$).

    **Arguments:**

    - `A`: square matrix or batch of them (last two axes).
    - `p`: 1, 2 or `jnp.inf`.
    - `weight`: `None`, positive vector η (p ∈ {1, ∞}), or SPD matrix P (p = 2).

    **Returns:** the norms, shape `A.shape[:-2]`.

    Example: `induced_norm(jnp.array([[1., -2.], [3., 4.]]), p=jnp.inf)` is 7.

    Source: seed 000 §3 (induced norms of Table 1); seed 001 "Norms".
    """
    B, p, dtype = _prepare(A, p, weight)
    if p == math.inf:
        out = jnp.max(jnp.sum(jnp.abs(B), axis=-1), axis=-1)
    elif p == 1:
        out = jnp.max(jnp.sum(jnp.abs(B), axis=-2), axis=-1)
    else:
        out = jnp.linalg.svd(B, compute_uv=False)[..., 0]
    return out.astype(dtype)


def lognorm(A: Float[ArrayLike, "*batch n n"], p=2, weight=None) -> Float[Array, "*batch"]:
    r"""The logarithmic norm (matrix measure) $\mu_p(A) = \lim_{h\to0^+}(\|I+hA\|_p - 1)/h$.

    Closed forms: $\mu_\infty(A) = \max_i (a_{ii} + \sum_{j\ne i}|a_{ij}|)$,
    $\mu_1(A) = \max_j (a_{jj} + \sum_{i\ne j}|a_{ij}|)$,
    $\mu_2(A) = \lambda_{\max}((A + A^\top)/2)$; $\mu_{2,P}(A) = \min\{b : A^\top P + PA \preceq 2bP\}$.

    **Arguments:**

    - `A`: square matrix or batch of them (last two axes).
    - `p`: 1, 2 or `jnp.inf`.
    - `weight`: `None`, positive vector η (p ∈ {1, ∞}), or SPD matrix P (p = 2).

    **Returns:** μ, shape `A.shape[:-2]`. μ < 0 for the Jacobian everywhere means contraction.

    Example: `lognorm(-jnp.eye(3), p=1)` is −1.

    Source: seed 001 "From LMIs to log norms"; seed 000 §3 eq. 3.1.
    """
    B, p, dtype = _prepare(A, p, weight)
    return _lognorm_closed_form(B, p).astype(dtype)


def _lognorm_closed_form(B: Array, p: float) -> Array:
    if p == 2:
        return jnp.linalg.eigvalsh(_sym(B))[..., -1]
    axis = -1 if p == math.inf else -2
    diag = jnp.diagonal(B, axis1=-2, axis2=-1)
    off = jnp.sum(jnp.abs(B), axis=axis) - jnp.abs(diag)
    return jnp.max(diag + off, axis=-1)


def _lognorm_unchecked(A: Array, p, weight=None) -> Array:
    """`lognorm` without the run-time value checks (NaN in, NaN out), for callers that promise
    NaN outputs on failure (the models' `throw=False`); shapes and `p` are still checked."""
    p = check_p(p)
    A = check_square(A, finite=False)
    if weight is not None:
        w = jnp.asarray(weight, A.dtype)
        A = _chol_transform(A, w) if p == 2 else _scale(A, w, p)
    return _lognorm_closed_form(A, p)


def lognorm_by_definition(
    A: Float[ArrayLike, "*batch n n"], p=2, weight=None, h: float = 1e-7
) -> Float[Array, "*batch"]:
    r"""The log norm from its definition, $(\|I + hA\| - 1)/h$ at a small $h > 0$.

    A reference for tests (error $O(h)$ plus round-off $O(\epsilon/h)$): use float64.

    Source: seed 000 §3, seed 001 "Generalizing LMIs: log norms".
    """
    A = check_square(A)
    check_positive(h, "h (the finite-difference step)")
    return (induced_norm(_eye_like(A) + h * A, p, weight) - 1.0) / h


def dual(p, weight=None):
    r"""The dual norm's `(p, weight)`: $(\infty,\eta)^* = (1,\eta)$, $(1,\eta)^* = (\infty,\eta)$,
    $(2,P)^* = (2,P^{-1})$.

    With these, $\mu_{p^*,w^*}(A^\top) = \mu_{p,w}(A)$ (seed 000, proof of Prop. 1), which is why
    the adjoint of a contracting system contracts in the dual norm.

    **Arguments:** `p` ∈ {1, 2, ∞}; `weight` `None`, a positive vector η (p ∈ {1, ∞}) or an
    SPD matrix P (p = 2), or a batch of them on leading axes (checked as in `lognorm`).

    **Returns:** `(p_dual, weight_dual)`.
    """
    p = check_p(p)
    if weight is not None:
        w = as_float_array(weight, "weight")
        n = w.shape[-1] if w.ndim else 0
        weight = check_weight(w, p, n)
    if p == 2:
        if weight is None:
            return 2.0, None
        return 2.0, jnp.linalg.inv(weight)
    return (1.0 if p == math.inf else math.inf), weight


def _slope_vertex(A, C, d, side):
    """−C + diag(d) A (side="left") or −C + A diag(d) (side="right"), d scalar or vector."""
    d = jnp.asarray(d, A.dtype)
    if d.ndim == 0:
        return d * A - _bc(C, A.ndim)
    d = _bc(d, A.ndim - 1)
    scaled = d[..., :, None] * A if side == "left" else A * d[..., None, :]
    return scaled - _bc(C, scaled.ndim)


def max_lognorm_over_slopes(
    A: Float[ArrayLike, "*batch n n"],
    dmin: float | Float[ArrayLike, ""],
    dmax: float | Float[ArrayLike, ""],
    p=math.inf,
    weight=None,
    side: str = "left",
    C=None,
) -> Float[Array, "*batch"]:
    r"""$\max_{d\in[d_{\min},d_{\max}]^n} \mu(-C + \mathrm{dg}(d)A)$ (left) or of
    $\mu(-C + A\,\mathrm{dg}(d))$ (right), exactly.

    The maximum of a convex function over the box is attained at a vertex. For ℓ∞ with left
    scaling and ℓ1 with right scaling, every row (column) depends on one $d_i$ only, so two
    vertices suffice (seed 001): $\max\{\mu(-C + d_{\min}A), \mu(-C + d_{\max}A)\}$. For ℓ1 with
    left scaling (ℓ∞ with right scaling) every column (row) is a separable sum of convex terms
    in the $d_i$, maximised term by term at the endpoints; with diagonal C this is seed 001's
    $\max\{\mu_1(d_{\max}A), \mu_1(d_{\max}A - (d_{\max}-d_{\min})(I\circ A))\}$. For p = 2 the
    $2^n$ vertices are enumerated (n ≤ `MAX_VERTEX_N`).

    **Arguments:**

    - `A`: square matrix or batch; `dmin ≤ dmax`: the slope bounds of the activation.
    - `p`, `weight`: the norm (see module docstring).
    - `side`: `"left"` (firing-rate Jacobian $-C + \Phi'A$) or `"right"` (Hopfield $-C + A\Phi'$).
    - `C`: `None` (0), a scalar, a vector (diagonal) or a matrix.

    **Returns:** the maximal log norm, shape `A.shape[:-2]`.

    Example: the firing-rate network $\dot x = -x + \tanh(Ax + u)$ contracts in ℓ∞ at rate
    `-max_lognorm_over_slopes(A, 0., 1., C=1.)` when that number is positive.

    Source: seed 001 "Max log norms over hypercubes" and "NonEuclidean contractivity of firing
    rate model".
    """
    p = check_p(p)
    A = check_square(A)
    if side not in ("left", "right"):
        raise ValueError(
            f"side must be 'left' (−C + diag(d)A) or 'right' (−C + A diag(d)); got {side!r}."
        )
    Cm = leak_matrix(C, A, 0.0)
    dmin, dmax = check_slope_bounds(dmin, dmax, A.dtype)
    n = A.shape[-1]
    if p == 2:
        if n > MAX_VERTEX_N:
            raise ValueError(
                f"for p = 2 the maximum over the slope box is computed by enumerating its 2ⁿ "
                f"vertices, which is limited to n ≤ {MAX_VERTEX_N}; got n = {n}. Use p = 1 or "
                "p = jnp.inf (closed forms), or bound μ₂ by sampling with contraction.sampled_rate."
            )
        verts = jnp.asarray(list(itertools.product([0.0, 1.0], repeat=n)), A.dtype)
        ds = dmin + (dmax - dmin) * verts  # (2ⁿ, n)
        mus = jax.vmap(lambda d: lognorm(_slope_vertex(A, Cm, d, side), 2, weight))(ds)
        return jnp.max(mus, axis=0)
    two_vertex = (p == math.inf) == (side == "left")
    if two_vertex:
        return jnp.maximum(
            lognorm(_slope_vertex(A, Cm, dmin, side), p, weight),
            lognorm(_slope_vertex(A, Cm, dmax, side), p, weight),
        )
    # Separable case: ℓ1-left (columns) or ℓ∞-right (rows); reduce the right case to ℓ1-left on
    # the transpose: μ_{∞,η}(M) = μ_{1,η}(Mᵀ) and (−C + A dg(d))ᵀ = −Cᵀ + dg(d) Aᵀ.
    if side == "right":
        A, Cm = jnp.swapaxes(A, -1, -2), jnp.swapaxes(Cm, -1, -2)
    w = check_weight(weight, p, n, A.ndim - 2)
    Cm = _bc(Cm, A.ndim)
    lo = dmin * A - Cm
    hi = dmax * A - Cm
    eye = _eye_like(A).astype(bool)
    diag = jnp.maximum(jnp.diagonal(lo, axis1=-2, axis2=-1), jnp.diagonal(hi, axis1=-2, axis2=-1))
    off = jnp.where(eye, 0.0, jnp.maximum(jnp.abs(lo), jnp.abs(hi)))
    if w is not None:  # ℓ1,η: column j gets Σ_i |m_ij| η_i / η_j
        w = _bc(w, A.ndim - 1)
        off = off * w[..., :, None] / w[..., None, :]
    return jnp.max(diag + jnp.sum(off, axis=-2), axis=-1)


def metzler_majorant(A: Float[ArrayLike, "*batch n n"]) -> Float[Array, "*batch n n"]:
    r"""$\lceil A\rceil_{\mathrm M}$: diagonal $a_{ii}$, off-diagonal $|a_{ij}|$.

    $\mu_{\infty,\eta}(A) = \mu_{\infty,\eta}(\lceil A\rceil_{\mathrm M})$ for every η, so optimal
    ℓ∞/ℓ1 weights come from the Perron vector of the majorant. Source: seed 001 (optimal weights).
    """
    A = check_square(A)
    eye = _eye_like(A).astype(bool)
    return jnp.where(eye, A, jnp.abs(A))


def spectral_abscissa(M: Float[ArrayLike, "*batch n n"]) -> Float[Array, "*batch"]:
    r"""$\alpha(M) = \max_i \operatorname{Re}\lambda_i(M)$.

    α(M) ≤ μ(M) for every norm, and for Metzler M, α(M) = inf_η μ_{∞,η}(M). Uses a general
    eigenvalue solver (CPU; on accelerators JAX runs it on the host).
    """
    M = check_square(M, "M")
    return jnp.max(jnp.real(jnp.linalg.eigvals(M)), axis=-1)


def _perron(M: Array, left: bool) -> Array:
    """Positive Perron vector of a Metzler matrix by shifted inverse iteration (normalised max 1)."""
    if left:
        M = jnp.swapaxes(M, -1, -2)
    n = M.shape[-1]
    alpha = spectral_abscissa(M)
    scale = 1.0 + jnp.max(jnp.abs(M), axis=(-2, -1))
    eps = jnp.sqrt(jnp.finfo(M.dtype).eps) * scale
    shifted = (alpha + eps)[..., None, None] * jnp.eye(n, dtype=M.dtype) - M
    v = jnp.ones(M.shape[:-1], M.dtype)
    for _ in range(3):  # (σI − M)⁻¹ ≥ 0 and its dominant eigenvalue 1/ε separates strongly
        v = jnp.linalg.solve(shifted, v[..., None])[..., 0]
        v = jnp.abs(v) / jnp.max(jnp.abs(v), axis=-1, keepdims=True)
    return v


def optimal_weight(M: Float[ArrayLike, "*batch n n"], p=math.inf):
    r"""Weights minimising the log norm of a Metzler matrix: $\inf_\eta \mu_{p,\eta}(M) = \alpha(M)$.

    For irreducible Metzler M the infimum is attained: at the right Perron vector η (Mη = αη) for
    ℓ∞, at the left one ξ (ξᵀM = αξᵀ) for ℓ1, and at $P = \mathrm{dg}(\xi/\eta)$ for ℓ2.
    **Reducible fallback:** the Perron vector may have zero entries and the infimum is then not
    attained; we use the Perron vector of an irreducible perturbation $M + \varepsilon(𝟙𝟙^\top - I)$,
    trying ε = 10⁻¹ … 10⁻²⁹ · (1 + max|M|) (to 10⁻¹⁷ below float64) and keeping the weight whose
    *attained* μ(M) is smallest: for a nilpotent part α(M + εJ) − α(M) is of order
    (ε‖M‖ⁿ⁻¹)^{1/n}, so one fixed ε is far off for large ‖M‖ (a feed-forward network with large
    weights). `value` is then near, not at, the infimum.

    **Arguments:** `M` Metzler (off-diagonal ≥ 0; pass `metzler_majorant(A)` for a general A);
    `p` ∈ {1, 2, ∞}.

    **Returns:** `(weight, value)`: η (or P for p = 2) and $\mu_{p,\text{weight}}(M)$ evaluated
    at that weight (an attained value, not a formula).

    Source: seed 001 "NonEuclidean contractivity of firing rate model" (optimal weight and the
    quasiconvex program; α(−C + d_max⌈A⌉_M) at d_min = 0).
    """
    p = check_p(p)
    M = check_square(M, "M")
    n = M.shape[-1]
    eye = jnp.eye(n, dtype=M.dtype)
    M = eqx.error_if(
        M,
        jnp.any((M < 0) & (eye == 0)),
        "optimal_weight needs a Metzler matrix M (off-diagonal entries ≥ 0); pass "
        "metzler_majorant(A) for a general A.",
    )
    scale = 1.0 + jnp.max(jnp.abs(M), axis=(-2, -1))
    tiny = jnp.finfo(M.dtype).eps ** 0.75

    def weight(A):
        if p == math.inf:
            return _perron(A, False)
        if p == 1:
            return _perron(A, True)
        return (_perron(A, True) / _perron(A, False))[..., :, None] * eye

    def attained(w):
        return lognorm(M, p, w)

    vecs = [_perron(M, False)] if p != 1 else []
    vecs += [_perron(M, True)] if p != math.inf else []
    ok = jnp.all(jnp.stack([jnp.all(v > tiny, axis=-1) for v in vecs]), axis=0)
    exact = weight(M)
    # reducible M: the infimum is not attained, and α(M + εJ) − α(M) can be of order
    # (ε‖M‖ⁿ⁻¹)^{1/n} (a nilpotent part), so one fixed ε is far off at large ‖M‖. Try ε from
    # 10⁻¹ to 10⁻²⁹ (10⁻¹⁷ below float64) of the scale and keep the weight that attains the
    # smallest μ(M) — evaluated exactly, so the choice is safe.
    k = jnp.arange(1, 31 if jnp.finfo(M.dtype).bits >= 64 else 19, 2, dtype=M.dtype)
    es = scale * (10.0**-k).reshape((-1,) + (1,) * scale.ndim)  # (K, *batch)
    cands = jax.vmap(lambda e: weight(M + e[..., None, None] * (1.0 - eye)))(es)
    vals = jax.vmap(attained)(cands)
    best = jnp.argmin(jnp.where(jnp.isfinite(vals), vals, jnp.inf), axis=0)
    idx = best.reshape((1,) + best.shape + (1,) * (cands.ndim - 1 - best.ndim))
    fallback = jnp.take_along_axis(cands, idx, axis=0)[0]
    okx = ok.reshape(ok.shape + (1,) * (exact.ndim - ok.ndim))
    w = jnp.where(okx, exact, fallback)
    return w, lognorm(M, p, w)
