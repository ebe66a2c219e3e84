r"""Shared algebra of the direct parametrisations: full-precision products, the Cayley transform,
and the split of $H = X^\top X + \varepsilon I$ into the implicit REN matrices.

**Why full precision.** Every guarantee below is an exact matrix identity (an orthogonality
$U^\top U = I$, a positive-definite $H$ split into blocks). JAX's default matmul precision on TPU
(bfloat16 passes) and on recent NVIDIA GPUs (TF32) rounds float32 products to about 3 decimal
digits, so the constructed matrices miss their constraints by ~1e-3 relative, and a network
"guaranteed" to be 1-Lipschitz can measure 1.002. All products here use
`precision=jax.lax.Precision.HIGHEST` (the models take a `precision` option); on CPU it changes
nothing, on GPU/TPU it restores float32 accuracy.

Sources: Revay, Wang & Manchester 2023 (IEEE TAC), §V; Wang & Manchester 2023 (ICML), §3.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

HIGHEST = jax.lax.Precision.HIGHEST


def mm(a: Array, b: Array, precision=HIGHEST) -> Array:
    """`a @ b` at the given matmul precision (default HIGHEST: exact float32 on GPU/TPU)."""
    return jnp.matmul(a, b, precision=precision)


def solve(a: Array, b: Array) -> Array:
    """`a⁻¹ b` (LU; XLA's triangular solves run at full precision)."""
    return jnp.linalg.solve(a, b)


def cayley(
    Y: Float[Array, "k k"], Z: Float[Array, "r k"], precision=HIGHEST
) -> Float[Array, "k+r k"]:
    r"""Cayley transform of a tall free matrix: a $(k+r)\times k$ matrix with orthonormal columns.

    $$M = Y - Y^\top + Z^\top Z,\qquad
    U = \begin{bmatrix}(I - M)(I + M)^{-1}\\ -2Z(I + M)^{-1}\end{bmatrix},\qquad U^\top U = I.$$

    Proof: $(I+M)^\top(I+M) - (I-M)^\top(I-M) = 2(M + M^\top) = 4Z^\top Z$, so
    $(I-M)^\top(I-M) + 4Z^\top Z = (I+M)^\top(I+M)$; and $I + M$ is invertible because its
    symmetric part $I + Z^\top Z \succ 0$. Source: Wang & Manchester 2023, §3.1, eq. (9).
    """
    k = Y.shape[-1]
    eye = jnp.eye(k, dtype=Y.dtype)
    M = Y - Y.T + mm(Z.T, Z, precision)
    # (I - M)(I + M)^{-1} = ((I + M)^{-T} (I - M)^T)^T
    inv_t = solve((eye + M).T, jnp.concatenate([(eye - M).T, -2.0 * Z.T], axis=-1))
    return inv_t.T


def orthonormal(Y: Array, Z: Array, shape: tuple[int, int], precision=HIGHEST) -> Array:
    """A matrix of `shape` with ‖Q‖₂ ≤ 1: orthonormal columns (tall) or rows (wide), by `cayley`."""
    U = cayley(Y, Z, precision)
    return U if shape[0] >= shape[1] else U.T


def orthonormal_shapes(rows: int, cols: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Shapes of the free `(Y, Z)` that `orthonormal` maps to a `(rows, cols)` matrix."""
    k, r = min(rows, cols), abs(rows - cols)
    return (k, k), (r, k)


def split_h(H: Float[Array, "N N"], n: int, q: int, Y: Float[Array, "n n"], rate) -> dict:
    r"""Read the implicit REN matrices off a positive-definite $H$ (blocks of sizes n, q, n).

    $$H = \begin{bmatrix} H_{11} & H_{12} & H_{13}\\ H_{21} & H_{22} & H_{23}\\
    H_{31} & H_{32} & H_{33}\end{bmatrix}
    = \begin{bmatrix} E + E^\top - P/\bar\alpha^2 & -C_1^\top & F^\top\\ -C_1 & W & B_1^\top\\
    F & B_1 & P \end{bmatrix},\qquad W = 2\Lambda - D_{11} - D_{11}^\top,$$

    solved by $P = H_{33}$, $F = H_{31}$, $B_1 = H_{32}$, $C_1 = -H_{21}$,
    $E = \tfrac12(H_{11} + P/\bar\alpha^2 + Y - Y^\top)$, $\Lambda = \tfrac12\operatorname{diag}(H_{22})$,
    $D_{11} = -\operatorname{tril}(H_{22}, -1)$ (strictly lower triangular, so that
    $2\Lambda - D_{11} - D_{11}^\top = H_{22}$ exactly). Source: Revay et al. 2023, §V-A, eq. (27)–(29).
    """
    H11, H21, H22 = H[:n, :n], H[n : n + q, :n], H[n : n + q, n : n + q]
    H31, H32, H33 = H[n + q :, :n], H[n + q :, n : n + q], H[n + q :, n + q :]
    P = H33
    return {
        "E": 0.5 * (H11 + P / rate**2 + Y - Y.T),
        "F": H31,
        "B1": H32,
        "C1": -H21,
        "Lam": 0.5 * jnp.diag(H22),
        "D11": -jnp.tril(H22, -1),
        "P": P,
    }


def guaranteed_rate(H: Array, n: int, q: int, M: Array, rate) -> Array:
    r"""A certified contraction rate $\rho \le \bar\alpha$ in the metric $M = E^\top P^{-1} E$.

    With $S$ the Schur complement of $H_{33} = P$ in $H$ (the $(x, w)$ block), the REN's
    incremental dissipation inequality gives
    $\bar\alpha^2 V(\Delta x) - V(\Delta x^+) \ge \lambda_{\min}(S)\,\|\Delta x\|^2
    \ge \frac{\lambda_{\min}(S)}{\lambda_{\max}(M)} V(\Delta x)$, $V(\Delta x) = \Delta x^\top M \Delta x$, so
    $\rho^2 = \bar\alpha^2 - \lambda_{\min}(S)/\lambda_{\max}(M)$.
    """
    k = n + q
    S = H[:k, :k] - mm(H[:k, k:], solve(H[k:, k:], H[k:, :k]))
    lam_s = jnp.linalg.eigvalsh(0.5 * (S + S.T))[0]
    lam_m = jnp.linalg.eigvalsh(M)[-1]
    return jnp.sqrt(jnp.maximum(rate**2 - lam_s / lam_m, 0.0))
