"""The residual DEQ cell of Hieu 2022 (thesis) eq. 4.1 (convolutions and GroupNorm) and its dense
version, the weight-tied repeat-k network built from either, and an image classifier whose core
is either the equilibrium of the cell (a DEQ) or k applications of it (repeat-k), as in
§4.1–4.2."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._failure import on_failure


def _normal_conv(conv: eqx.nn.Conv2d, std: float, key) -> eqx.nn.Conv2d:
    w = std * jax.random.normal(key, conv.weight.shape, conv.weight.dtype)
    return eqx.tree_at(lambda c: c.weight, conv, w)


class ResidualCell(eqx.Module):
    """$f(z, x) = \\operatorname{norm}(\\operatorname{ReLU}(z + \\operatorname{norm}(x + W_2 *
    \\operatorname{norm}(\\operatorname{ReLU}(W_1 * z)))))$, the residual cell of eq. 4.1.

    $W_1$ is a `kernel_size` convolution from `channels` to `inner_channels`, $W_2$ one back
    (no biases, 'SAME' padding), and every norm is an `eqx.nn.GroupNorm` with `groups` groups.
    The convolution weights are drawn from $\\mathcal N(0, \\text{init\\_std}^2)$: the thesis's
    "$\\mathcal N(0, 0.01)$" (std 0.01, as `normal_(0, 0.01)` in the DEQ tutorial code the
    thesis's model comes from) against $\\mathcal N(0, 1)$ in §4.1.1.

    **Arguments:** `channels` (of z and x), `inner_channels`, `kernel_size` (odd), `groups`
    (dividing both channel counts), `init_std`, `key`.

    `cell(z, x)` takes one example, `z` and `x` of shape `(channels, H, W)`, and returns the new
    `z` of the same shape.

    ```python
    cell = cx.models.ResidualCell(16, 32, groups=4, key=key)
    z = cell(jnp.zeros((16, 8, 8)), x)
    ```

    Source: Hieu 2022 (thesis), §4.1, eq. 4.1; Wu & He 2018 (GroupNorm); Kolter, Duvenaud &
    Johnson, "Deep Implicit Layers" tutorial (2020), ch. 4.
    """

    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d
    norm1: eqx.nn.GroupNorm
    norm2: eqx.nn.GroupNorm
    norm3: eqx.nn.GroupNorm

    def __init__(
        self,
        channels: int,
        inner_channels: int,
        kernel_size: int = 3,
        groups: int = 8,
        init_std: float = 0.01,
        *,
        key: PRNGKeyArray,
        dtype=None,
    ):
        if kernel_size % 2 != 1:
            raise ValueError(f"`kernel_size` must be odd ('SAME' padding); got {kernel_size}.")
        for c, name in ((channels, "channels"), (inner_channels, "inner_channels")):
            if c % groups:
                raise ValueError(f"`groups`={groups} must divide `{name}`={c}.")
        dtype = jnp.result_type(float) if dtype is None else dtype
        k1, k2, k3, k4 = jax.random.split(key, 4)
        conv = lambda i, o, k: eqx.nn.Conv2d(
            i, o, kernel_size, padding="SAME", use_bias=False, dtype=dtype, key=k
        )
        self.conv1 = _normal_conv(conv(channels, inner_channels, k1), init_std, k3)
        self.conv2 = _normal_conv(conv(inner_channels, channels, k2), init_std, k4)
        self.norm1 = eqx.nn.GroupNorm(groups, inner_channels, dtype=dtype)
        self.norm2 = eqx.nn.GroupNorm(groups, channels, dtype=dtype)
        self.norm3 = eqx.nn.GroupNorm(groups, channels, dtype=dtype)

    def __call__(self, z: Float[Array, "..."], x: Float[Array, "..."]) -> Float[Array, "c h w"]:
        c = self.conv2.out_channels
        if jnp.ndim(z) != 3 or jnp.shape(z)[0] != c or jnp.shape(z) != jnp.shape(x):
            raise ValueError(
                f"ResidualCell takes z and x of one shape (channels={c}, H, W); got "
                f"{jnp.shape(z)} and {jnp.shape(x)}."
            )
        y = self.norm1(jax.nn.relu(self.conv1(z)))
        return self.norm3(jax.nn.relu(z + self.norm2(x + self.conv2(y))))


class DenseResidualCell(eqx.Module):
    """$f(z, x) = \\operatorname{norm}(\\operatorname{ReLU}(z + \\operatorname{norm}(x + W_2
    \\operatorname{norm}(\\operatorname{ReLU}(W_1 z)))))$: the residual cell of eq. 4.1 with
    matrices in place of the convolutions.

    $W_1$ maps `size` to `inner_size`, $W_2$ back (no biases); every norm is an
    `eqx.nn.GroupNorm` over the vector with `groups` groups (`groups=1`: zero mean and unit
    variance over all entries, $\\epsilon = 10^{-5}$), with a per-entry scale and shift when
    `affine=True` (PyTorch's default, initialised to 1 and 0) and none when `affine=False`. The
    weights are drawn from $\\mathcal N(0, \\text{init\\_std}^2)$ (the thesis's
    "$\\mathcal N(0, 0.01)$" is std 0.01, against $\\mathcal N(0, 1)$ in §4.1.1). `x` is the
    input injection (e.g. $Ux$ for a dense input layer $U$), of the same shape as `z`.

    `cell(z, x)` takes one example, `z` and `x` of shape `(size,)`, and returns the new `z`;
    the DEQ is `cx.fixed_point(lambda z, x: cell(z, x), z0, x)` and repeat-k is
    `repeat(cell, x, k)`.

    ```python
    cell = cx.models.DenseResidualCell(32, 32, affine=False, key=key)
    z = cx.models.repeat(cell, U @ x, 6)                      # repeat-6
    z_star = cx.fixed_point(lambda z, a: a[0](z, a[1]), jnp.zeros(32), (cell, U @ x)).value
    ```

    Source: Hieu 2022 (thesis), §4.1, eq. 4.1 (a dense stand-in for its convolutions); Wu & He
    2018 (GroupNorm).
    """

    W1: Float[Array, "k n"]
    W2: Float[Array, "n k"]
    norm1: eqx.nn.GroupNorm
    norm2: eqx.nn.GroupNorm
    norm3: eqx.nn.GroupNorm

    def __init__(
        self,
        size: int,
        inner_size: int,
        groups: int = 1,
        init_std: float = 0.01,
        affine: bool = True,
        *,
        key: PRNGKeyArray,
        dtype=None,
    ):
        for c, name in ((size, "size"), (inner_size, "inner_size")):
            if c % groups:
                raise ValueError(f"`groups`={groups} must divide `{name}`={c}.")
        dtype = jnp.result_type(float) if dtype is None else dtype
        k1, k2 = jax.random.split(key)
        self.W1 = init_std * jax.random.normal(k1, (inner_size, size), dtype)
        self.W2 = init_std * jax.random.normal(k2, (size, inner_size), dtype)
        gn = lambda c: eqx.nn.GroupNorm(groups, c, channelwise_affine=affine, dtype=dtype)
        self.norm1, self.norm2, self.norm3 = gn(inner_size), gn(size), gn(size)

    def __call__(self, z: Float[Array, " n"], x: Float[Array, " n"]) -> Float[Array, " n"]:
        n = self.W2.shape[0]
        if jnp.shape(z) != (n,) or jnp.shape(x) != (n,):
            raise ValueError(
                f"DenseResidualCell takes z and x of shape (size={n},); got {jnp.shape(z)} and "
                f"{jnp.shape(x)} (use jax.vmap(cell) for a batch)."
            )
        y = self.norm1(jax.nn.relu(self.W1 @ z))
        return self.norm3(jax.nn.relu(z + self.norm2(x + self.W2 @ y)))


def repeat(cell, x, depth: int, z0=None):
    """The weight-tied, input-injected network: $z^{[k]} = f(z^{[k-1]}, x)$, $z^{[0]} = 0$,
    applied `depth` times (repeat-k of Hieu 2022, §4.2.1; App. B, Thm B.0.1), for a
    `ResidualCell` or a `DenseResidualCell`."""
    z0 = jnp.zeros_like(x) if z0 is None else z0
    return jax.lax.fori_loop(0, depth, lambda _, z: cell(z, x), z0)


class ResidualNetwork(eqx.Module):
    """An image classifier around `ResidualCell`: injection, core, head.

    $x = \\operatorname{norm}(V * \\text{image})$ (a 3×3 convolution to `channels` and a
    GroupNorm), then the core $z$ = the equilibrium $z^\\star = f(z^\\star, x)$ (`depth=None`, a
    DEQ solved by `cx.fixed_point` with Anderson and implicit gradients) or $z^{[k]}$ after
    `depth=k` weight-tied applications (repeat-k), then GroupNorm, average pooling over space and
    a linear readout to `num_classes` logits.

    **Failed solves** (DEQ core): `model.solve(image)` returns the raw `contractax.Solution`;
    `model(image)` raises with the `RESULTS` message (`throw=True`, the default) or returns NaN
    logits (`throw=False`); `model.logits_unchecked(image)` uses the solver's last iterate
    whatever its result (what a fixed iteration budget in training does; count the failures
    with `solve`).

    **Arguments:** `in_channels`, `channels`, `inner_channels`, `num_classes`; `depth`
    (None = DEQ, or k ≥ 1); `groups`, `kernel_size`, `init_std` of the cell; `tol`,
    `max_steps`, `history` of the forward solve and `backward_tol`, `backward_max_steps` of the
    implicit backward solve; `throw`; `key`.

    ```python
    deq = cx.models.ResidualNetwork(1, 16, 32, 10, groups=4, key=key)          # DEQ
    r6 = cx.models.ResidualNetwork(1, 16, 32, 10, groups=4, depth=6, key=key)  # repeat-6
    logits = jax.vmap(deq)(images)                                  # images (N, 1, 8, 8)
    ```

    Source: Hieu 2022 (thesis), §4.1 (eq. 4.1, Anderson), §4.2.1 (repeat-6/11/18 vs DEQ).
    """

    inject: eqx.nn.Conv2d
    inject_norm: eqx.nn.GroupNorm
    cell: ResidualCell
    head_norm: eqx.nn.GroupNorm
    readout: eqx.nn.Linear
    depth: int | None = eqx.field(static=True)
    tol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    history: int = eqx.field(static=True)
    backward_tol: float = eqx.field(static=True)
    backward_max_steps: int = eqx.field(static=True)
    throw: bool = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        channels: int,
        inner_channels: int,
        num_classes: int,
        *,
        depth: int | None = None,
        groups: int = 8,
        kernel_size: int = 3,
        init_std: float = 0.01,
        tol: float = 1e-3,
        max_steps: int = 100,
        history: int = 5,
        backward_tol: float = 1e-2,
        backward_max_steps: int = 200,
        throw: bool = True,
        key: PRNGKeyArray,
        dtype=None,
    ):
        if depth is not None and (
            isinstance(depth, bool) or not isinstance(depth, int) or depth < 1
        ):
            raise ValueError(f"`depth` must be None (a DEQ) or an integer ≥ 1; got {depth!r}.")
        dtype = jnp.result_type(float) if dtype is None else dtype
        k1, k2, k3 = jax.random.split(key, 3)
        self.inject = eqx.nn.Conv2d(in_channels, channels, 3, padding="SAME", dtype=dtype, key=k1)
        self.inject_norm = eqx.nn.GroupNorm(groups, channels, dtype=dtype)
        self.cell = ResidualCell(
            channels, inner_channels, kernel_size, groups, init_std, key=k2, dtype=dtype
        )
        self.head_norm = eqx.nn.GroupNorm(groups, channels, dtype=dtype)
        self.readout = eqx.nn.Linear(channels, num_classes, dtype=dtype, key=k3)
        self.depth, self.throw = depth, bool(throw)
        self.tol, self.max_steps, self.history = float(tol), int(max_steps), int(history)
        self.backward_tol, self.backward_max_steps = float(backward_tol), int(backward_max_steps)

    def injection(self, image: Float[Array, "..."]) -> Float[Array, "c h w"]:
        cin = self.inject.in_channels
        if jnp.ndim(image) != 3 or jnp.shape(image)[0] != cin:
            raise ValueError(
                f"ResidualNetwork takes one image of shape (in_channels={cin}, H, W); got "
                f"{jnp.shape(image)} (use jax.vmap(model) for a batch)."
            )
        return self.inject_norm(self.inject(image))

    def solve(self, image: Float[Array, "..."]):
        """The equilibrium solve of the DEQ core (`depth=None` only): a `contractax.Solution`."""
        from .. import solvers

        if self.depth is not None:
            raise ValueError("`solve` is for the DEQ core (depth=None); this is repeat-k.")
        x = self.injection(image)
        return solvers.fixed_point(
            _cell_fn,
            jnp.zeros_like(x),
            (self.cell, x),
            solver=solvers.Anderson(history=self.history),
            adjoint=solvers.ImplicitAdjoint(
                tol=self.backward_tol, max_steps=self.backward_max_steps
            ),
            tol=self.tol,
            max_steps=self.max_steps,
            throw=False,
        )

    def head(self, z: Float[Array, "c h w"]) -> Float[Array, " q"]:
        return self.readout(jnp.mean(self.head_norm(z), axis=(1, 2)))

    def features(self, image: Float[Array, "..."]) -> Float[Array, "c h w"]:
        """The core's output z (repeat-k: no solve, so no failure)."""
        if self.depth is not None:
            return repeat(self.cell, self.injection(image), self.depth)
        sol = self.solve(image)
        return on_failure(sol, sol.value, self.throw)

    def logits_unchecked(self, image: Float[Array, "..."]) -> Float[Array, " q"]:
        """Logits from the solver's last iterate, converged or not (see the class docstring)."""
        if self.depth is not None:
            return self(image)
        return self.head(self.solve(image).value)

    def __call__(self, image: Float[Array, "..."]) -> Float[Array, " q"]:
        return self.head(self.features(image))


def _cell_fn(z, args):
    cell, x = args
    return cell(z, x)
