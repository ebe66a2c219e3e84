"""Loss landscapes: random and filter-normalised directions, PCA of a trajectory, 1-D lines,
2-D surfaces evaluated as one vmapped, chunked, sharded program, and flatness summaries.

The surface around a point $\\theta^*$ is $\\Phi(\\alpha, \\beta) = \\mathcal L(\\theta^* + \\alpha d_1 +
\\beta d_2)$ (seed 004 §4.2). With *filter-wise normalisation* (Li et al. 2018) each filter of a
random Gaussian direction is rescaled to the norm of the matching filter of $\\theta^*$,
$d_{i,j} \\leftarrow d_{i,j} \\|\\theta_{i,j}\\| / \\|d_{i,j}\\|$, which removes the scale
ambiguity of ReLU networks (Dinh et al. 2017) so that surfaces of different networks compare.
A *filter* is an output unit: index $j$ along axis 0 of each weight array (equinox's `Linear`
is `(out, in)`, `Conv` is `(out, in, *kernel)`), decided per leaf.

Callbacks take `(params, args)`: `loss_fn(params, args) -> scalar`, data in `args`.

Source: `seeds/004_0a77b624c3a24369.txt` §3.1 and §4.2; Li, Xu, Taylor, Studer, Goldstein,
*Visualizing the Loss Landscape of Neural Nets* (NeurIPS 2018).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from . import _chunking, _directions as _d
from ._batching import check_same_on_processes
from ._checks import check_count, check_finite, check_positive, check_real
from ._directions import (
    PCADirections,
    normalize_direction,
    orthogonalize,
    pca_directions,
    random_direction,
)

__all__ = [
    "random_direction",
    "normalize_direction",
    "orthogonalize",
    "PCADirections",
    "pca_directions",
    "line",
    "surface",
    "Flatness",
    "basin_area",
    "sharpness_at_radius",
]

_arrays = _d.arrays
_shift = _d.shift


def _chunk_of(chunk_size, fn, example, n, params):
    if chunk_size is None:
        return _d.auto_chunk(fn, example, n, _d.nbytes(_arrays(params)))
    return check_count(chunk_size, "chunk_size")


def _line_point(loss_fn, a, diff, si, args):
    return loss_fn(_shift(a, (si,), (diff,)), args)


@eqx.filter_jit
def _line(loss_fn, a, diff, s, args, chunk_size):
    fn = lambda si: _line_point(loss_fn, a, diff, si, args)
    example = (loss_fn, a, diff, s[0], args)
    chunk = _chunk_of(chunk_size, lambda *e: _line_point(*e), example, s.shape[0], a)
    return _chunking.chunked_vmap(fn, s, chunk)


def line(
    loss_fn: Callable,
    a: PyTree,
    b: PyTree,
    s: Float[ArrayLike, "..."],
    *,
    args: Any = None,
    chunk_size: int | np.integer | None = None,
) -> Float[Array, " S"]:
    """The loss along the segment $\\mathcal L(a + s(b - a))$ for every $s$ in `s`.

    With `b = a + d` this is the 1-D plot $\\mathcal L(\\theta^* + s d)$; with two trained
    networks it is the linear interpolation of Goodfellow et al. One vmapped program, chunked,
    compiled once per `loss_fn`, structure and shapes (repeated calls reuse it).

    **Arguments:** `loss_fn(params, args)`; endpoints `a`, `b` with the same array leaves;
    `s` (1-D); `args`; `chunk_size` (points per chunk; `None` picks it from the memory one
    point needs, see `surface`).

    **Returns:** shape `(S,)`.

    ```python
    ls = cx.landscape.line(loss_fn, params, cx.landscape.random_direction(key, params), s, args=data)
    ```

    Source: seed 004 §4.2; Li et al. 2018 §3.
    """
    s = jnp.asarray(s)
    if s.ndim != 1 or s.shape[0] == 0:
        raise ValueError(f"`s` must be a non-empty 1-D array of positions; got shape {s.shape}.")
    s = check_finite(s, "`s`")
    if chunk_size is not None:
        chunk_size = check_count(chunk_size, "chunk_size")
    bd = _d.check_direction(b, a, "b", "a")
    diff = jax.tree_util.tree_map(lambda x, y: y - x, _arrays(a), bd)
    check_same_on_processes({"a": a, "b": b, "s": s, "args": args})
    return _line(loss_fn, a, diff, s, args, chunk_size)


def _surface_point(loss_fn, center, d1, d2, pt, args):
    return loss_fn(_shift(center, (pt[0], pt[1]), (d1, d2)), args)


@eqx.filter_jit
def _surface(loss_fn, center, d1, d2, alphas, betas, args, chunk_size):
    ga, gb = jnp.meshgrid(alphas, betas, indexing="ij")
    pts = jnp.stack([ga.ravel(), gb.ravel()], axis=1)
    fn = lambda pt: _surface_point(loss_fn, center, d1, d2, pt, args)
    example = (loss_fn, center, d1, d2, pts[0], args)
    chunk = _chunk_of(chunk_size, lambda *e: _surface_point(*e), example, pts.shape[0], center)
    return _chunking.chunked_vmap(fn, pts, chunk).reshape(ga.shape)


def surface(
    loss_fn: Callable,
    center: PyTree,
    d1: PyTree,
    d2: PyTree,
    alphas: Float[ArrayLike, "..."],
    betas: Float[ArrayLike, "..."],
    *,
    args: Any = None,
    chunk_size: int | np.integer | None = None,
) -> Float[Array, "A B"]:
    """The 2-D loss surface $\\Phi(\\alpha, \\beta) = \\mathcal L(\\theta^* + \\alpha d_1 + \\beta d_2)$.

    All $A \\cdot B$ grid points are evaluated by one compiled program: `vmap` over a chunk of
    points, `lax.map` over chunks, each chunk sharded over all visible devices. Any grid size
    works (the last chunk is padded). The program is compiled once per `loss_fn` (hashed by
    identity: pass the same function object), pytree structure, shapes and `chunk_size`;
    repeated calls with new values reuse it.

    **Arguments:**

    - `loss_fn`: `loss_fn(params, args) -> scalar`.
    - `center`: $\\theta^*$; `d1`, `d2`: directions with the array leaves of `center` (e.g.
      `random_direction`; a `ValueError` naming the leaf and both shapes otherwise).
    - `alphas`, `betas`: non-empty 1-D grids; `args`: data.
    - `chunk_size`: points per chunk. `None` (default) picks it from memory: XLA's memory
      analysis of one point's loss plus one copy of the parameters, so that a chunk's working
      set is about 8 MiB (cache-sized on a CPU, where a 2601-point surface of an MLP on 512
      digits then costs about the bare forward passes). Pass `A*B` for one vmapped batch.

    **Returns:** shape `(A, B)`, entry `[i, j]` at `(alphas[i], betas[j])`.

    ```python
    Z = cx.landscape.surface(loss_fn, params, d1, d2, jnp.linspace(-1, 1, 51),
                             jnp.linspace(-1, 1, 51), args=(x, y))
    ```

    Source: seed 004 §4.2 (51×51 grids over [−1, 1]²); Li et al. 2018 §4.
    """
    alphas, betas = jnp.asarray(alphas), jnp.asarray(betas)
    if alphas.ndim != 1 or betas.ndim != 1 or alphas.size == 0 or betas.size == 0:
        raise ValueError(
            "`alphas` and `betas` must be non-empty 1-D arrays of grid coordinates; got shapes "
            f"{alphas.shape} and {betas.shape}."
        )
    alphas, betas = check_finite(alphas, "`alphas`"), check_finite(betas, "`betas`")
    if chunk_size is not None:
        chunk_size = check_count(chunk_size, "chunk_size")
    d1a = _d.check_direction(d1, center, "d1", "center")
    d2a = _d.check_direction(d2, center, "d2", "center")
    check_same_on_processes(
        {"center": center, "d1": d1, "d2": d2, "alphas": alphas, "betas": betas, "args": args}
    )
    return _surface(loss_fn, center, d1a, d2a, alphas, betas, args, chunk_size)


class Flatness(eqx.Module):
    """Loss increases at distance `radius` along random normalised directions: `max_increase`,
    `mean_increase` over `num_directions` draws, and `base` = the loss at the center."""

    radius: Float[Array, ""]
    base: Float[Array, ""]
    max_increase: Float[Array, ""]
    mean_increase: Float[Array, ""]


def sharpness_at_radius(
    loss_fn: Callable,
    center: PyTree,
    key: PRNGKeyArray,
    radius: float,
    *,
    args: Any = None,
    num_directions: int = 16,
    normalize: str | None = "filter",
    ignore: str | None = "biasbn",
) -> Flatness:
    """How much the loss rises at distance `radius` along random filter-normalised directions.

    $\\max_k$ and $\\operatorname{mean}_k$ of $\\mathcal L(\\theta^* + r d_k) - \\mathcal L(\\theta^*)$;
    because each $d_k$ carries the scale of $\\theta^*$, the numbers compare across networks
    (a flatter minimum has smaller values).

    **Returns:** a `Flatness`.

    ```python
    fl = cx.landscape.sharpness_at_radius(loss_fn, params, key, 0.25, args=data)
    ```

    Source: seed 004 §4.2 (flatness of minima); Li et al. 2018 §6.
    """
    num_directions = check_count(num_directions, "num_directions")
    radius = check_positive(radius, "radius")
    base = loss_fn(center, args)
    keys = jax.random.split(key, num_directions)

    def one(k):
        d = random_direction(k, center, normalize, ignore)
        return loss_fn(_shift(center, (radius,), (d,)), args) - base

    inc = jax.lax.map(one, keys)
    return Flatness(jnp.asarray(radius, base.dtype), base, jnp.max(inc), jnp.mean(inc))


def basin_area(
    alphas: Float[ArrayLike, "..."],
    betas: Float[ArrayLike, "..."],
    values: Float[ArrayLike, "A B"],
    level: float,
    reference: float | None = None,
) -> Float[Array, ""]:
    """Fraction of a surface's grid where the loss is within `level` of the reference value.

    $\\frac{1}{AB}\\#\\{(i, j): \\Phi_{ij} \\le \\Phi_{\\text{ref}} + \\text{level}\\}$, with
    $\\Phi_{\\text{ref}}$ the value at the grid point nearest $(0, 0)$ unless given: the size of
    the small-loss neighbourhood that seed 004 §4.2.1 compares between networks.

    **Returns:** a scalar in $[0, 1]$.

    ```python
    cx.landscape.basin_area(alphas, betas, Z, level=0.1)
    ```

    Source: seed 004 §4.2.1.
    """
    alphas, betas, values = jnp.asarray(alphas), jnp.asarray(betas), jnp.asarray(values)
    if alphas.ndim != 1 or betas.ndim != 1 or alphas.size == 0 or betas.size == 0:
        raise ValueError(
            "`alphas` and `betas` must be non-empty 1-D grids; got shapes "
            f"{alphas.shape} and {betas.shape}."
        )
    if values.shape != (alphas.shape[0], betas.shape[0]):
        raise ValueError(f"`values` must have shape (len(alphas), len(betas)); got {values.shape}.")
    level = check_positive(level, "level", allow_zero=True)
    if reference is None:
        reference = values[jnp.argmin(jnp.abs(alphas)), jnp.argmin(jnp.abs(betas))]
    else:
        reference = check_real(reference, "reference")
    return jnp.mean((values <= reference + level).astype(values.dtype))
