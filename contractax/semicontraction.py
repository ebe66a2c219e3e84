r"""Weak contraction (osLip ≤ 0) and semi-contraction (contraction with respect to a semi-norm).

A **semi-norm** $\|x\|_R = \|Rx\|$ is built from a norm on $\mathbb{R}^k$ (the conventions of
`contractax.norms`: `p ∈ {1, 2, jnp.inf}` and a `weight`) and a full-row-rank matrix
$R \in \mathbb{R}^{k\times n}$, $k \le n$; its kernel is $\mathcal K = \ker R$ (for the
consensus semi-norm, `consensus_basis`, $\mathcal K = \mathrm{span}(\mathbb 1)$). When
$\mathcal K$ is invariant under A ($A\mathcal K \subseteq \mathcal K$, equivalently
$RA(I - R^+R) = 0$) the **log semi-norm** is

$$\mu_R(A) = \mu(RAR^+),\qquad\text{and } \dot x = Ax \text{ gives } \tfrac{d}{dt}Rx = (RAR^+)\,Rx,$$

so $\|x(t)\|_R \le e^{\mu_R(A)t}\|x(0)\|_R$. A field f with $\mathcal K$ invariant under every
$Df(x)$ and $\mu_R(Df(x)) \le -c$ is **semi-contracting**: $\|x(t) - y(t)\|_R \le
e^{-ct}\|x(0) - y(0)\|_R$. **Weakly contracting** means $\operatorname{osLip}(f) \le 0$:
distances never grow.

The one-sided Lipschitz constant in a norm with compatible weak pairing ⟦·,·⟧ is
$\operatorname{osLip}(f) = \sup_{x\ne y} ⟦f(x) - f(y), x - y⟧/\|x - y\|^2 = \sup_x
\mu(Df(x))$ (seed 001 "Weak pairings", "Non-Euclidean contraction").

Source: seed 001 (Bullo 2022), slides "Weakly contracting systems", "Contraction theory for
networks" (conservation laws and translation invariance) and "Semi-contracting systems"
(Jafarpour, Cisneros-Velarde & Bullo, IEEE TAC 2022).
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float

from . import norms
from ._checks import (
    as_float_array,
    check_finite,
    check_matrix,
    check_nonempty,
    check_p,
    check_positive,
    check_square,
    check_weight,
)

__all__ = [
    "consensus_basis",
    "semi_norm",
    "semi_lognorm",
    "weak_pairing",
    "oslip_from_pairs",
    "sampled_oslip",
    "weakly_contracting",
]


def consensus_basis(n: int, dtype=None) -> Float[Array, "k n"]:
    r"""The consensus semi-norm's matrix: $R \in \mathbb{R}^{(n-1)\times n}$ with orthonormal
    rows and $\ker R = \mathrm{span}(\mathbb 1)$ (the Helmert basis of $\mathbb 1^\perp$).

    Row k (k = 1 … n−1) is $(1, \dots, 1, -k, 0, \dots, 0)/\sqrt{k(k+1)}$, so $RR^\top = I$,
    $R^+ = R^\top$ and $R^\top R = I - \mathbb 1\mathbb 1^\top/n$; $\|Rx\|_2$ is the distance of
    x from consensus.

    **Arguments:** `n ≥ 2`; `dtype` (default: the float type in use).

    **Returns:** R, shape (n − 1, n).

    Example: `semi_lognorm(-L, consensus_basis(n))` is $-\lambda_2(L)$ for a symmetric graph
    Laplacian L.

    Source: seed 001 "Semi-contracting systems" (consensus semi-norm; Jafarpour et al. 2022).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n (the state dimension) must be an integer ≥ 2; got {n!r}.")
    dtype = jnp.result_type(float) if dtype is None else dtype
    k = jnp.arange(1, n, dtype=dtype)[:, None]
    j = jnp.arange(n, dtype=dtype)[None, :]
    rows = jnp.where(j < k, 1.0, jnp.where(j == k, -k, 0.0))
    return (rows / jnp.sqrt(k * (k + 1))).astype(dtype)


def _check_R(R, n: int | None = None):
    R = check_matrix(R, "R")
    if R.ndim != 2:
        raise ValueError(f"R must be one k×n matrix (no batch axes); got shape {R.shape}.")
    k, m = R.shape
    if k > m:
        raise ValueError(f"R must be k×n with k ≤ n (full row rank); got shape {R.shape}.")
    if n is not None and m != n:
        raise ValueError(f"R must have n = {n} columns to act on the state; got {R.shape}.")
    s = jnp.linalg.svd(R, compute_uv=False)
    tol = jnp.sqrt(jnp.finfo(R.dtype).eps) * s[0]
    return eqx.error_if(R, ~(s[-1] > tol), "R must have full row rank (rank k for a k×n R).")


def semi_norm(
    x: Float[ArrayLike, "*batch n"], R: Float[ArrayLike, "k n"], p=2, weight=None
) -> Float[Array, "*batch"]:
    r"""The semi-norm $\|x\|_R = \|Rx\|_{p,\text{weight}}$ (zero exactly on $\ker R$).

    **Arguments:** `x` vectors (last axis n); `R` a full-row-rank k×n matrix; `p`, `weight` the
    norm on $\mathbb{R}^k$ (see `contractax.norms`).

    **Returns:** the semi-norms, shape `x.shape[:-1]`.

    Example: `semi_norm(jnp.ones(4), consensus_basis(4))` is 0.

    Source: seed 001 "Semi-contracting systems".
    """
    x = check_finite(as_float_array(x, "x"), "x")
    if x.ndim < 1:
        raise ValueError(f"x must have at least one axis (a vector); got shape {x.shape}.")
    R = _check_R(R, x.shape[-1])
    return norms.vector_norm(jnp.einsum("kn,...n->...k", R, x), p, weight)


def semi_lognorm(
    A: Float[ArrayLike, "*batch n n"],
    R: Float[ArrayLike, "k n"],
    p=2,
    weight=None,
    rtol: float | None = None,
) -> Float[Array, "*batch"]:
    r"""The log semi-norm $\mu_R(A) = \mu_{p,\text{weight}}(RAR^+)$ of the semi-norm $\|R\cdot\|$.

    Valid when the kernel $\mathcal K = \ker R$ is **invariant under A**, $A\mathcal K \subseteq
    \mathcal K \iff RA(I - R^+R) = 0$; then $\frac{d}{dt}Rx = RAR^+Rx$ along $\dot x = Ax$ and
    $\|Rx(t)\| \le e^{\mu_R(A)t}\|Rx(0)\|$. The condition is checked (relative residual
    $\|RA(I - R^+R)\|_F \le$ `rtol` $\cdot\|R\|_F\|A\|_F$, default $\sqrt{\epsilon}$) and a
    violation raises at run time: without it $\|Rx\|$ obeys no closed differential inequality.

    **Arguments:** `A` square (batch on leading axes); `R` full-row-rank k×n; `p`, `weight` the
    norm on $\mathbb{R}^k$; `rtol` the invariance tolerance.

    **Returns:** $\mu_R(A)$, shape `A.shape[:-2]`. μ_R ≤ −c < 0 for every Jacobian:
    semi-contraction at rate c; μ_R ≤ 0: weak semi-contraction.

    Example: for a connected undirected graph's Laplacian L,
    `semi_lognorm(-L, consensus_basis(n))` is $-\lambda_2(L)$ (the algebraic connectivity).

    Source: seed 001 "Semi-contracting systems" (Jafarpour, Cisneros-Velarde & Bullo 2022).
    """
    A = check_square(A)
    n = A.shape[-1]
    R = _check_R(R, n).astype(A.dtype)
    Rp = jnp.linalg.pinv(R)
    proj = jnp.eye(n, dtype=A.dtype) - Rp @ R  # projector onto ker R
    resid = jnp.linalg.norm(R @ A @ proj, axis=(-2, -1))
    tol = jnp.sqrt(jnp.finfo(A.dtype).eps) if rtol is None else check_positive(rtol, "rtol")
    scale = jnp.linalg.norm(R) * jnp.linalg.norm(A, axis=(-2, -1)) + jnp.finfo(A.dtype).tiny
    A = eqx.error_if(
        A,
        jnp.any(resid > tol * scale),
        "semi_lognorm needs ker R invariant under A (R A (I − R⁺R) = 0); it is not, so "
        "μ(RAR⁺) bounds nothing. Check A (e.g. a Laplacian's rows must sum to zero for the "
        "consensus semi-norm).",
    )
    return norms.lognorm(R @ A @ Rp, p, weight)


def weak_pairing(
    u: Float[ArrayLike, "*batch n"], v: Float[ArrayLike, "*batch n"], p=2, weight=None
) -> Float[Array, "*batch"]:
    r"""The compatible weak pairing ⟦u, v⟧ of the (weighted) ℓp norm.

    $⟦u, v⟧_{2,P} = u^\top P v$; $⟦u, v⟧_{1,\eta} = \|v\|_{1,\eta}\sum_i \eta_i
    \operatorname{sign}(v_i)u_i$; $⟦u, v⟧_{\infty,\eta} = \max_{i \in I(v)} u_iv_i/\eta_i^2$
    with $I(v) = \{i : |v_i|/\eta_i = \|v\|_{\infty,\eta}\}$. Then $⟦v, v⟧ = \|v\|^2$ and
    $\mu(A) = \sup_{v \ne 0} ⟦Av, v⟧/\|v\|^2$.

    **Returns:** the pairings, shape of the broadcast batch.

    Source: seed 001 "Generalizing inner products: weak pairings" (Davydov, Jafarpour & Bullo
    2021).
    """
    p = check_p(p)
    u = check_finite(as_float_array(u, "u"), "u")
    v = check_finite(as_float_array(v, "v"), "v")
    if u.ndim < 1 or v.ndim < 1 or u.shape[-1] != v.shape[-1]:
        raise ValueError(f"u and v must be vectors of one length n; got {u.shape}, {v.shape}.")
    n = v.shape[-1]
    w = check_weight(weight, p, n)
    if p == 2:
        Pv = v if w is None else jnp.einsum("...ij,...j->...i", w, v)
        shape = jnp.broadcast_shapes(u.shape, Pv.shape)
        return jnp.sum(jnp.broadcast_to(u, shape) * jnp.broadcast_to(Pv, shape), axis=-1)
    eta = jnp.ones((n,), v.dtype) if w is None else w
    shape = jnp.broadcast_shapes(u.shape, v.shape, eta.shape)
    u, v, eta = (jnp.broadcast_to(a, shape) for a in (u, v, eta))
    if p == 1:
        return jnp.sum(eta * jnp.abs(v), -1) * jnp.sum(eta * jnp.sign(v) * u, -1)
    a = jnp.abs(v) / eta
    top = a >= jnp.max(a, axis=-1, keepdims=True)
    return jnp.max(jnp.where(top, u * v / eta**2, -jnp.inf), axis=-1)


def _check_field(f, x0, args):
    if not callable(f):
        raise ValueError(f"f must be a callable vector field f(x, args); got {type(f).__name__}.")
    fx = jax.eval_shape(f, x0, args)
    if getattr(fx, "shape", None) != x0.shape:
        raise ValueError(
            f"f(x, args) must return a vector of x's shape {x0.shape} (a vector field on ℝⁿ); "
            f"got {getattr(fx, 'shape', type(fx).__name__)}."
        )


def _points(xs, name):
    xs = as_float_array(xs, name)
    if xs.ndim != 2:
        raise ValueError(f"{name} must be a batch of points of shape (m, n); got {xs.shape}.")
    return check_finite(check_nonempty(xs, name), name)


def oslip_from_pairs(
    f: Callable,
    xs: Float[ArrayLike, "m n"],
    ys: Float[ArrayLike, "m n"],
    args=None,
    p=2,
    weight=None,
    R: Float[ArrayLike, "k n"] | None = None,
) -> Float[Array, ""]:
    r"""A lower bound on osLip(f) from pairs: $\max_k ⟦f(x_k) - f(y_k), x_k - y_k⟧/\|x_k - y_k\|^2$.

    The definition of the one-sided Lipschitz constant restricted to the sampled pairs, so never
    above the true osLip. With `R`, the same in the semi-norm $\|R\cdot\|$: the pairing of
    $R(f(x) - f(y))$ with $R(x - y)$ (pairs with $R(x - y) = 0$ must be avoided).

    **Arguments:** `f(x, args)` a vector field; `xs`, `ys` paired points (m, n) with $x_k \ne
    y_k$; `p`, `weight` the norm; `R` an optional semi-norm matrix.

    **Returns:** the estimate (a scalar).

    Source: seed 001 "Scalar maps and vector fields" (osL ⇔ (x − y)(F(x) − F(y)) ≤ b(x − y)²),
    "Non-Euclidean contraction" (weak pairings).
    """
    xs, ys = _points(xs, "xs"), _points(ys, "ys")
    if xs.shape != ys.shape:
        raise ValueError(f"xs and ys must have one shape; got {xs.shape} and {ys.shape}.")
    _check_field(f, xs[0], args)
    d = xs - ys
    df = jax.vmap(f, in_axes=(0, None))(xs, args) - jax.vmap(f, in_axes=(0, None))(ys, args)
    if R is not None:
        R = _check_R(R, xs.shape[-1]).astype(xs.dtype)
        d, df = d @ R.T, df @ R.T
    sq = norms.vector_norm(d, p, weight) ** 2
    sq = eqx.error_if(sq, jnp.any(sq == 0), "every pair needs x_k ≠ y_k (in the semi-norm, too).")
    return jnp.max(weak_pairing(df, d, p, weight) / sq)


def sampled_oslip(
    f: Callable,
    xs: Float[ArrayLike, "m n"],
    args=None,
    p=2,
    weight=None,
    R: Float[ArrayLike, "k n"] | None = None,
) -> Float[Array, ""]:
    r"""$\max_k \mu(Df(x_k))$ (or $\max_k \mu_R(Df(x_k))$ with a semi-norm matrix `R`).

    The supremum of $\mu(Df)$ is osLip(f), so this is a lower bound (the sup may lie between
    samples); for a semi-norm each Jacobian's invariance of ker R is checked (`semi_lognorm`).
    Equals `-contraction.sampled_rate(f, xs, args, p, weight)` when R is None.

    **Returns:** the estimate (a scalar).

    Source: seed 001 "Weakly contracting systems", "Semi-contracting systems".
    """
    p = check_p(p)
    xs = _points(xs, "xs")
    _check_field(f, xs[0], args)
    J = jax.vmap(jax.jacfwd(f), in_axes=(0, None))(xs, args)
    if R is None:
        return jnp.max(norms.lognorm(J, p, weight))
    return jnp.max(semi_lognorm(J, R, p, weight))


def weakly_contracting(
    field,
    xs: Float[ArrayLike, "m n"] | None = None,
    args=None,
    p=2,
    weight=None,
    R: Float[ArrayLike, "k n"] | None = None,
    atol: float = 1e-10,
) -> tuple[Float[Array, "*batch"], Bool[Array, "*batch"]]:
    r"""The weak-contraction test $\operatorname{osLip}(f) \le 0$ (to `atol`).

    - `field` a matrix A (the linear field $\dot x = Ax$): osLip = μ(A) (or $\mu_R(A)$), exact.
    - `field` a callable f(x, args) with sample points `xs`: osLip estimated by
      `sampled_oslip` — a lower bound, so `False` disproves weak contraction but `True` is only
      evidence on the samples, not a certificate.

    **Returns:** `(oslip, ok)` with `ok = oslip ≤ atol` (arrays; batched for a batch of A).

    Example: a compartmental matrix (Metzler, zero column sums) gives `(0.0, True)` at p = 1.

    Source: seed 001 "Weakly contracting systems" (osLip(f) ≤ 0: Lotka–Volterra, Kuramoto,
    traffic, compartmental and saddle-point examples).
    """
    atol = check_positive(atol, "atol", allow_zero=True)
    if callable(field) and not hasattr(field, "shape"):
        if xs is None:
            raise ValueError("a nonlinear field needs sample points xs (shape (m, n)).")
        val = sampled_oslip(field, xs, args, p, weight, R)
    else:
        val = norms.lognorm(field, p, weight) if R is None else semi_lognorm(field, R, p, weight)
    return val, val <= atol
