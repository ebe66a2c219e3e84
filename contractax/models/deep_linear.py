r"""Deep linear network $x \mapsto W_L \cdots W_1 x$ (seed 003, §2–3)."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from .._checks import check_count, check_matrix, check_real, check_shape
from .._types import Array, Float


class DeepLinear(eqx.Module):
    """A deep linear network $x \\mapsto W_L W_{L-1} \\cdots W_1 x$ with $W_j \\in
    \\mathbb R^{n_j \\times n_{j-1}}$.

    Its training cost is not quadratic in the weights, so gradient descent on it is a
    nonlinear dynamical system; every minimum lies on a manifold $\\{\\alpha_j W_j\\}$,
    $\\prod_j \\alpha_j = 1$ (`rescale`).

    **Arguments:**

    - `sizes`: `[n_0, n_1, ..., n_L]` (input size first), at least two entries.
    - `init`: `"identity"` ($W_j = I$, needs square layers; seed 003 Theorem 2),
      `"normal"` (entries $\\mathcal N(0, \\text{scale}^2 / n_{j-1})$) or `"orthogonal"`
      (scale × a random orthogonal/semi-orthogonal matrix).
    - `scale`: multiplies the initial weights (for `"identity"`: $W_j = \\text{scale}\\,I$).
    - `key`: PRNG key (required unless `init="identity"`).
    - `dtype`: floating dtype of the weights (default: JAX's default float).

    **Fields:** `weights`, a tuple `(W_1, ..., W_L)`.

    **Example:**

    ```python
    net = cx.models.DeepLinear([3, 3, 3], init="identity")
    net(jnp.ones(3)); net.product(); cx.models.deep_linear_loss(net, R)
    ```

    Source: seed 003, §2 (Theorem 1) and §3 (Theorems 2–3).
    """

    weights: tuple[Float[Array, "..."], ...]

    def __init__(
        self,
        sizes: Sequence[int] | None = None,
        init: str = "identity",
        scale: float = 1.0,
        *,
        key=None,
        dtype=None,
        weights: Sequence | None = None,
    ):
        if weights is not None:
            self.weights = tuple(jnp.asarray(w) for w in weights)
            _check_chain(self.weights)
            return
        if sizes is None or len(sizes) < 2:
            raise ValueError(f"`sizes` must list at least [n_0, n_1], got {sizes!r}.")
        sizes = [check_count(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
        check_real(scale, "scale")
        dtype = jnp.result_type(float) if dtype is None else dtype
        pairs = list(zip(sizes[:-1], sizes[1:]))
        if init == "identity":
            if any(a != b for a, b in pairs):
                raise ValueError(f"identity initialisation needs equal sizes, got {sizes}.")
            self.weights = tuple(scale * jnp.eye(b, a, dtype=dtype) for a, b in pairs)
            return
        if key is None:
            raise ValueError(f"init={init!r} is random: pass `key=`.")
        keys = jax.random.split(key, len(pairs))
        if init == "normal":
            self.weights = tuple(
                scale * jax.random.normal(k, (b, a), dtype) / jnp.sqrt(a)
                for k, (a, b) in zip(keys, pairs)
            )
        elif init == "orthogonal":
            init_fn = jax.nn.initializers.orthogonal(scale)
            self.weights = tuple(init_fn(k, (b, a), dtype) for k, (a, b) in zip(keys, pairs))
        else:
            raise ValueError(f"unknown init {init!r}; use 'identity', 'normal' or 'orthogonal'.")

    @property
    def depth(self) -> int:
        return len(self.weights)

    def product(self) -> Float[Array, "m n"]:
        """The end-to-end matrix $W_L \\cdots W_1$."""
        out = self.weights[0]
        for w in self.weights[1:]:
            out = w @ out
        return out

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " m"]:
        check_shape(x, "x (one DeepLinear input; vmap over a batch)", (self.weights[0].shape[1],))
        for w in self.weights:
            x = w @ x
        return x

    def rescale(self, alphas) -> DeepLinear:
        """The network $\\{\\alpha_j W_j\\}$; same function when $\\prod_j \\alpha_j = 1$."""
        alphas = jnp.asarray(alphas)
        if alphas.shape != (self.depth,):
            raise ValueError(
                f"`alphas` must have shape ({self.depth},) (one per layer), got {alphas.shape}."
            )
        return DeepLinear(weights=[a * w for a, w in zip(alphas, self.weights)])


def _check_chain(ws) -> None:
    if not ws:
        raise ValueError("`weights` must contain at least one matrix.")
    for w in ws:
        if w.ndim != 2:
            raise ValueError(f"each weight must be a matrix, got shape {w.shape}.")
    for a, b in zip(ws[:-1], ws[1:]):
        if b.shape[1] != a.shape[0]:
            raise ValueError(f"consecutive weights do not chain: {a.shape} followed by {b.shape}.")


def deep_linear_loss(model: DeepLinear, R: Float[Array, "m n"]) -> Float[Array, ""]:
    """$\\tfrac12\\|W_L\\cdots W_1 - R\\|_F^2$, the cost of seed 003 eq. (2) for whitened inputs.

    With $\\frac1N\\sum_i x_i x_i^\\top = I$, $\\frac{1}{2N}\\sum_i\\|Rx_i - W_L\\cdots W_1x_i\\|^2$
    equals this. Use it as `loss_fn(params, args)` with `args = R`.

    Source: seed 003, §2, eq. (2).
    """
    prod = model.product()
    R = check_matrix(R, "R (the target matrix)")
    if R.shape != prod.shape:
        raise ValueError(
            f"R (the target matrix) must have the shape of the end-to-end product {prod.shape}; "
            f"got {R.shape}."
        )
    e = prod - R
    return 0.5 * jnp.sum(e * e)
