r"""Lipschitz-bounded deep networks (LBDNs) from sandwich layers: ℓ2-Lipschitz ≤ γ by construction.

A **sandwich layer** $\mathbb R^{n_{\rm in}} \to \mathbb R^{n}$ is

$$h \mapsto \sqrt2\,A^\top\Psi\,\sigma\!\big(\sqrt2\,\Psi^{-1}Bh + b\big),\qquad
\Psi = \operatorname{diag}(e^{d}),\quad AA^\top + BB^\top = I,$$

with $[A^\top; B^\top] = $ `cayley(Y, Z)` (orthonormal columns) for free $Y \in \mathbb R^{n\times n}$,
$Z \in \mathbb R^{n_{\rm in}\times n}$. It is 1-Lipschitz in ℓ2 for any σ slope-restricted in [0, 1]:
for increments, $s = \Psi\Delta w$ satisfies $\Delta w_i(\Delta v_i - \Delta w_i) \ge 0$ with
$\Delta v = \sqrt2\Psi^{-1}B\Delta h$, hence $2\sqrt2\,s^\top B\Delta h \ge 2\|s\|^2$; and, by $AA^\top = I - BB^\top$,
$$\|\Delta h\|^2 - \|\Delta h^+\|^2 = \|\Delta h\|^2 - 2\|s\|^2 + 2\|B^\top s\|^2
\ge \|\Delta h - \sqrt2 B^\top s\|^2 \ge 0.$$
An LBDN scales its input by $\sqrt\gamma$, applies sandwich layers, and ends with a linear layer
$\sqrt\gamma\,Q h + b_y$ with $\|Q\|_2 \le 1$ (Cayley again), so it is γ-Lipschitz:
$\|f(x) - f(x')\|_2 \le \gamma\|x - x'\|_2$ for every parameter value.

As for the RENs, every constrained product runs at `precision` (default `Precision.HIGHEST`):
with TF32/bfloat16 matmuls the orthogonality $U^\top U = I$ only holds to ~1e-3 and measured
Lipschitz ratios exceed γ.

Source: Wang & Manchester 2023 (ICML), §3 (Thm 3.1, eq. 9–11, the sandwich layer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import check_count, check_positive, check_shape
from ._activation import check_slopes
from ._ren_param import HIGHEST, cayley, mm, orthonormal, orthonormal_shapes

__all__ = ["LBDN", "OrthogonalLinear", "SandwichLayer"]


class SandwichLayer(eqx.Module):
    r"""One sandwich layer $h \mapsto \sqrt2 A^\top\Psi\sigma(\sqrt2\Psi^{-1}Bh + b)$, 1-Lipschitz in ℓ2.

    **Arguments:** `in_size`, `out_size`; `activation` (slopes in [0, 1], default ReLU), `slopes`;
    `precision`; `key`, `dtype`. **Returns** (call): `(out_size,)`.

    Source: Wang & Manchester 2023 (ICML), §3.2, eq. (10)–(11).
    """

    Y: Float[Array, "n n"]
    Z: Float[Array, "m n"]
    d: Float[Array, " n"]
    b: Float[Array, " n"]
    activation: Callable = eqx.field(static=True)
    precision: jax.lax.Precision = eqx.field(static=True)

    def __init__(self, in_size: int, out_size: int, *, activation: Callable = jax.nn.relu,
                 slopes=(0.0, 1.0), precision=HIGHEST, key: PRNGKeyArray, dtype=None):  # fmt: skip
        m, n = check_count(in_size, "in_size"), check_count(out_size, "out_size")
        check_slopes(activation, slopes, "SandwichLayer")
        dtype = jnp.result_type(float) if dtype is None else dtype
        kY, kZ, kb = jax.random.split(key, 3)
        self.Y = jax.random.normal(kY, (n, n), dtype) / math.sqrt(n)
        self.Z = jax.random.normal(kZ, (m, n), dtype) / math.sqrt(m)
        self.d = jnp.zeros((n,), dtype)
        self.b = 0.1 * jax.random.normal(kb, (n,), dtype)
        self.activation, self.precision = activation, precision

    def AB(self) -> tuple[Float[Array, "n n"], Float[Array, "n m"]]:
        """`(A, B)` with $AA^\\top + BB^\\top = I$."""
        n = self.Y.shape[0]
        U = cayley(self.Y, self.Z, self.precision)
        return U[:n].T, U[n:].T

    def __call__(self, h: Float[Array, " m"]) -> Float[Array, " n"]:
        A, B = self.AB()
        psi = jnp.exp(self.d)
        v = math.sqrt(2.0) * mm(B, h, self.precision) / psi + self.b
        return math.sqrt(2.0) * mm(A.T, psi * self.activation(v), self.precision)


class OrthogonalLinear(eqx.Module):
    """Linear map $h \\mapsto Qh + b$ with $\\|Q\\|_2 \\le 1$ (orthonormal rows or columns, by Cayley)."""

    Y: Array
    Z: Array
    b: Array
    shape: tuple[int, int] = eqx.field(static=True)
    precision: jax.lax.Precision = eqx.field(static=True)

    def __init__(self, in_size: int, out_size: int, *, precision=HIGHEST, key, dtype=None):
        dtype = jnp.result_type(float) if dtype is None else dtype
        self.shape = (check_count(out_size, "out_size"), check_count(in_size, "in_size"))
        (k, _), (r, _) = orthonormal_shapes(*self.shape)
        kY, kZ = jax.random.split(key)
        self.Y = jax.random.normal(kY, (k, k), dtype) / math.sqrt(k)
        self.Z = jax.random.normal(kZ, (r, k), dtype) / math.sqrt(max(r, 1))
        self.b = jnp.zeros((self.shape[0],), dtype)
        self.precision = precision

    def Q(self) -> Array:
        return orthonormal(self.Y, self.Z, self.shape, self.precision)

    def __call__(self, h: Array) -> Array:
        return mm(self.Q(), h, self.precision) + self.b


class LBDN(eqx.Module):
    r"""Lipschitz-bounded deep network $f(x) = \sqrt\gamma\,Q\,(S_{L-1}\circ\cdots\circ S_1)(\sqrt\gamma x) + b_y$
    of sandwich layers $S_k$: $\|f(x) - f(x')\|_2 \le \gamma\|x - x'\|_2$ for every parameter value.

    **Arguments (constructor):**

    - `sizes`: `(n_0, n_1, ..., n_L)`: input, hidden widths, output (at least input and output;
      with two sizes the network is the linear $\gamma Q x + b$).
    - `gamma`: the Lipschitz bound γ > 0.
    - `activation`, `slopes`: as `SandwichLayer`. `precision`: of every product (default HIGHEST).
    - `key`, `dtype`.

    ```python
    net = cx.models.LBDN((64, 128, 64, 10), gamma=2.0, key=jax.random.key(0))
    logits = jax.vmap(net)(x)            # ℓ2-Lipschitz ≤ 2
    # certified ℓ2 radius of a correct prediction: margin / (√2 γ)
    ```

    Source: Wang & Manchester 2023 (ICML), §3, Thm 3.1 and eq. (11).
    """

    layers: tuple[SandwichLayer, ...]
    head: OrthogonalLinear
    gamma: float = eqx.field(static=True)
    sizes: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, sizes: Sequence[int], gamma: float, *, activation: Callable = jax.nn.relu,
                 slopes=(0.0, 1.0), precision=HIGHEST, key: PRNGKeyArray, dtype=None):  # fmt: skip
        sizes = tuple(check_count(s, f"sizes[{i}]") for i, s in enumerate(sizes))
        if len(sizes) < 2:
            raise ValueError(f"LBDN `sizes` needs at least (input, output) sizes, got {sizes}.")
        self.gamma = float(check_positive(gamma, "gamma"))
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            SandwichLayer(
                a, b, activation=activation, slopes=slopes, precision=precision, key=k, dtype=dtype
            )  # fmt: skip
            for a, b, k in zip(sizes[:-2], sizes[1:-1], keys[:-1])
        )
        self.head = OrthogonalLinear(sizes[-2], sizes[-1], precision=precision, key=keys[-1],
                                     dtype=dtype)  # fmt: skip
        self.sizes = sizes

    def __call__(self, x: Float[Array, " n0"]) -> Float[Array, " nL"]:
        x = check_shape(x, "x (the LBDN input)", (self.sizes[0],))
        h = math.sqrt(self.gamma) * x
        for layer in self.layers:
            h = layer(h)
        return math.sqrt(self.gamma) * mm(self.head.Q(), h, self.head.precision) + self.head.b

    def lipschitz_bound(self) -> float:
        """γ, the guaranteed ℓ2 Lipschitz constant."""
        return self.gamma
