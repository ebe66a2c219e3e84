r"""Two-layer ReLU network $x \mapsto W\,g(Vx - b)$ with a fixed bias (seed 003, §4)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._checks import check_count, check_shape
from .._types import Array, Float


class TwoLayerReLU(eqx.Module):
    """Two-layer ReLU network $\\hat f(x) = W\\,g(Vx - b)$, $g = \\mathrm{ReLU}$, $b$ fixed.

    Only $W \\in \\mathbb R^{m\\times r}$ and $V \\in \\mathbb R^{r\\times n}$ are trained: the
    bias enters through `stop_gradient`, so its gradient is zero and gradient descent leaves it
    unchanged. All three are drawn from independent standard normals, as in the seed.

    **Arguments:** `in_size` $n$, `hidden` $r$, `out_size` $m$, `key`; optional `dtype`.

    **Fields:** `W` `(m, r)`, `V` `(r, n)`, `b` `(r,)`.

    **Example:**

    ```python
    net = cx.models.TwoLayerReLU(1, 20, 1, key=jax.random.PRNGKey(0))
    loss = cx.models.two_layer_loss(net, (xs, ys))   # xs (N, 1), ys (N, 1)
    ```

    Source: seed 003, §4 (Theorem 4 and Figure 2).
    """

    W: Float[Array, "m r"]
    V: Float[Array, "r n"]
    b: Float[Array, " r"]

    def __init__(self, in_size: int, hidden: int, out_size: int, *, key, dtype=None):
        in_size = check_count(in_size, "in_size")
        hidden = check_count(hidden, "hidden")
        out_size = check_count(out_size, "out_size")
        dtype = jnp.result_type(float) if dtype is None else dtype
        kw, kv, kb = jax.random.split(key, 3)
        self.W = jax.random.normal(kw, (out_size, hidden), dtype)
        self.V = jax.random.normal(kv, (hidden, in_size), dtype)
        self.b = jax.random.normal(kb, (hidden,), dtype)

    def hidden(self, x: Float[Array, " n"]) -> Float[Array, " r"]:
        """The post-activation $g(Vx - b)$."""
        return jax.nn.relu(self.V @ x - jax.lax.stop_gradient(self.b))

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, " m"]:
        check_shape(x, "x (one TwoLayerReLU input; vmap over a batch)", (self.V.shape[1],))
        return self.W @ self.hidden(x)


def two_layer_loss(model: TwoLayerReLU, data) -> Float[Array, ""]:
    """$\\tfrac12\\sum_i\\|W g(Vx_i - b) - f(x_i)\\|^2$ with `data = (xs, ys)`, `xs` `(N, n)`,
    `ys` `(N, m)`; Theorem 4's loss. Use as `loss_fn(params, args)` with `args = data`.

    Source: seed 003, §4, Theorem 4.
    """
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(f"`data` must be a pair (xs, ys); got {type(data).__name__}.")
    xs, ys = (jnp.asarray(a) for a in data)
    n, m = model.V.shape[1], model.W.shape[0]
    if (
        xs.ndim != 2
        or ys.ndim != 2
        or xs.shape[0] != ys.shape[0]
        or (
            xs.shape[1],
            ys.shape[1],
        )
        != (n, m)
    ):
        raise ValueError(
            f"`data` must be (xs, ys) with shapes (N, {n}) and (N, {m}) for this model; got "
            f"{xs.shape}, {ys.shape}."
        )
    e = jax.vmap(model)(xs) - ys
    return 0.5 * jnp.sum(e * e)
