"""Parameter-space directions of `contractax.landscape` (which re-exports the public ones):
random and filter-normalised directions, orthogonalisation, PCA of a trajectory; their
validation, the bias rule of filter normalisation, and the memory-based chunk of a batched loss
evaluation. Source: Li et al. 2018 (filter normalisation), seed 004 §4.2."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from ._checks import check_finite

# Working-set target of one chunk of a batched loss evaluation (8 MiB): small enough that its
# activations stay in the last-level cache of a CPU, big enough to amortise the loop step.
CHUNK_BYTES = 2**23


def arrays(tree):
    """The inexact array leaves of `tree` (other leaves `None`)."""
    return eqx.filter(tree, eqx.is_inexact_array)


def tree_dot(a, b):
    return sum(
        jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    )


def shift(center, coeffs, dirs):
    """center + Σ_k coeffs[k] dirs[k] on the array leaves of `center` (dirs already filtered)."""
    dyn, static = eqx.partition(center, eqx.is_inexact_array)

    def one(c, *ds):
        out = c
        for a, d in zip(coeffs, ds):
            out = out + (a * d).astype(c.dtype)
        return out

    return eqx.combine(jax.tree_util.tree_map(one, dyn, *dirs), static)


def _describe(tree) -> str:
    paths = jax.tree_util.tree_flatten_with_path(tree)[0]
    return "{" + ", ".join(f"{jax.tree_util.keystr(p)}: {tuple(a.shape)}" for p, a in paths) + "}"


def check_direction(direction, params, name: str, params_name: str = "params"):
    """The array leaves of `direction`, checked against those of `params`: the same pytree
    structure and, leaf by leaf, the same shape (a ValueError naming both otherwise; a
    wrong-shape leaf would broadcast silently)."""
    d, p = arrays(direction), arrays(params)
    if jax.tree_util.tree_structure(d) != jax.tree_util.tree_structure(p):
        raise ValueError(
            f"`{name}` must have the array leaves of `{params_name}` (same pytree structure, "
            f"e.g. from random_direction({params_name})); expected leaves {_describe(p)}, got "
            f"{_describe(d)}."
        )
    paths = jax.tree_util.tree_flatten_with_path(p)[0]
    for (path, w), a in zip(paths, jax.tree_util.tree_leaves(d)):
        if jnp.shape(a) != jnp.shape(w):
            raise ValueError(
                f"`{name}` leaf {jax.tree_util.keystr(path)} has shape {tuple(jnp.shape(a))}, "
                f"but the matching leaf of `{params_name}` has shape {tuple(jnp.shape(w))}; "
                "a direction must have the shape of the parameters, leaf by leaf."
            )
    # a NaN/inf direction would make every shifted loss NaN without a word
    return jax.tree_util.tree_map(lambda a: check_finite(a, f"`{name}`"), d)


def _last_name(path) -> str | None:
    if not path:
        return None
    k = path[-1]
    for attr in ("name", "key"):
        if hasattr(k, attr):
            v = getattr(k, attr)
            return v if isinstance(v, str) else None
    return None


def is_bias(path, leaf) -> bool:
    """A bias or norm scale (one number per unit): a leaf with at most one axis, or a leaf named
    `bias` (equinox's `Conv` keeps its bias as `(out, 1, ..., 1)`). A weight with a single
    input, like `Linear(1, out).weight` `(out, 1)` or a 1×1 conv on one channel
    `(out, 1, 1, 1)`, is a weight: its filters are perturbed."""
    return jnp.ndim(leaf) <= 1 or _last_name(path) == "bias"


def nbytes(tree) -> int:
    return sum(
        math.prod(jnp.shape(a)) * jnp.dtype(jnp.result_type(a)).itemsize
        for a in jax.tree_util.tree_leaves(tree)
        if eqx.is_array(a)
    )


def auto_chunk(point_fn: Callable, example: Any, n: int, copy_bytes: int) -> int:
    """Points per chunk so that one chunk's working set is about `CHUNK_BYTES`: per point, XLA's
    memory analysis of one evaluation `point_fn(*example)` (temporaries and output) plus
    `copy_bytes` (the shifted parameters each point holds); `copy_bytes` alone when the backend
    does not report the analysis."""
    dyn, static = eqx.partition(example, eqx.is_array)
    shapes = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), dyn
    )
    per_point = copy_bytes
    try:
        fn = lambda d: point_fn(*eqx.combine(d, static))
        mem = jax.jit(fn).lower(shapes).compile().memory_analysis()
        per_point += int(mem.temp_size_in_bytes) + int(mem.output_size_in_bytes)
    except Exception:  # pragma: no cover - backends without memory analysis
        pass
    return int(max(1, min(n, CHUNK_BYTES // max(per_point, 1))))


_NORMALIZE = ("filter", "layer", None)


def _bias_rule(ignore):
    if ignore in ("biasbn", None):
        return is_bias
    if callable(ignore):
        return lambda path, leaf: is_bias(path, leaf) or bool(ignore(path, leaf))
    raise ValueError(
        f"`ignore` must be 'biasbn', None, or a callable (path, leaf) -> bool naming further "
        f"bias-like leaves; got {ignore!r}."
    )


def normalize_direction(
    direction: PyTree,
    params: PyTree,
    normalize: str | None = "filter",
    ignore: str | Callable | None = "biasbn",
) -> PyTree:
    """Rescale a direction to the scale of `params`, filter by filter or layer by layer.

    - `"filter"`: for every weight leaf and every index $j$ of axis 0 (an output unit),
      $d_j \\leftarrow d_j\\, \\|\\theta_j\\|_F / \\|d_j\\|_F$.
    - `"layer"`: the whole leaf, $d \\leftarrow d\\, \\|\\theta\\|_F / \\|d\\|_F$.
    - `None`: unchanged.

    *Biases* are the leaves with at most one axis and the leaves named `bias` (equinox's
    `Conv` stores its bias as `(out, 1, ..., 1)`); they are set to zero when
    `ignore="biasbn"` (or a callable), and to the parameters themselves when `ignore=None`
    (as in Li et al.'s code). Every other leaf is a weight, including those with a single input:
    `Linear(1, out).weight` `(out, 1)` and a 1×1 conv on one channel `(out, 1, 1, 1)` get the
    filter rule (each filter then keeps the norm of its one entry). A callable
    `ignore(path, leaf) -> bool` (path as in `jax.tree_util.tree_flatten_with_path`) names
    further leaves to treat as biases, e.g. norm-layer weights.

    **Arguments:** `direction` and `params` with the same array leaves (structure and shapes);
    `normalize`; `ignore`.

    **Returns:** the normalised direction (array leaves only; other leaves are `None`).

    ```python
    d = cx.landscape.normalize_direction(g, params)      # e.g. a gradient, filter-normalised
    ```

    Source: seed 004 §4.2; Li et al. 2018 §4 (filter-wise normalisation).
    """
    if normalize not in _NORMALIZE:
        raise ValueError(f"`normalize` must be one of {_NORMALIZE}; got {normalize!r}.")
    bias = _bias_rule(ignore)
    d_tree = check_direction(direction, params, "direction")
    p_tree = arrays(params)

    def one(path, d, w):
        if bias(path, w):
            return jnp.zeros_like(d) if ignore is not None else w.astype(d.dtype)
        if normalize is None:
            return d
        axes = tuple(range(1, d.ndim)) if normalize == "filter" else tuple(range(d.ndim))
        dn = jnp.sqrt(jnp.sum(d * d, axis=axes, keepdims=True))
        wn = jnp.sqrt(jnp.sum(w * w, axis=axes, keepdims=True)).astype(d.dtype)
        return d * wn / jnp.where(dn > 0, dn, 1.0)

    return jax.tree_util.tree_map_with_path(lambda p, w, d: one(p, d, w), p_tree, d_tree)


def random_direction(
    key: PRNGKeyArray,
    params: PyTree,
    normalize: str | None = "filter",
    ignore: str | Callable | None = "biasbn",
) -> PyTree:
    """A Gaussian direction in parameter space, filter-normalised by default (Li et al.).

    Draws $d \\sim \\mathcal N(0, I)$ with the array structure of `params` and applies
    `normalize_direction(d, params, normalize, ignore)`.

    **Arguments:** `key`; `params` (any pytree, e.g. an equinox module); `normalize` in
    `"filter" | "layer" | None`; `ignore="biasbn"` zeroes the biases (see
    `normalize_direction` for which leaves those are).

    **Returns:** a pytree with `params`' array leaves (non-array leaves `None`).

    ```python
    d1 = cx.landscape.random_direction(jax.random.key(0), model)
    ```

    Source: seed 004 §4.2 (filter-wise normalised directions); Li et al. 2018 §4.
    """
    p_tree = arrays(params)
    leaves, treedef = jax.tree_util.tree_flatten(p_tree)
    if not leaves:
        raise ValueError("`params` has no floating-point array leaves to draw a direction for.")
    keys = jax.random.split(key, len(leaves))
    noise = [jax.random.normal(k, w.shape, w.dtype) for k, w in zip(keys, leaves)]
    return normalize_direction(
        jax.tree_util.tree_unflatten(treedef, noise), params, normalize, ignore
    )


def orthogonalize(d1: PyTree, d2: PyTree) -> PyTree:
    """Gram–Schmidt: $d_2 - \\frac{\\langle d_1, d_2\\rangle}{\\langle d_1, d_1\\rangle} d_1$ over all
    array leaves, so the two axes of a surface are orthogonal.

    **Arguments:** `d1`, `d2` with the same array leaves (a `ValueError` naming the shapes
    otherwise); `d1` must not be zero (an error under `jit` too, instead of NaN).

    **Returns:** the new $d_2$ (same structure). Note that filter normalisation of $d_2$ is
    only approximately kept; in high dimension random directions are nearly orthogonal anyway.

    ```python
    d2 = cx.landscape.orthogonalize(d1, d2)
    ```

    Source: Li et al. 2018 §4 (nearly orthogonal random directions).
    """
    a = arrays(d1)
    b = check_direction(d2, d1, "d2", "d1")
    aa = tree_dot(a, a)
    aa = eqx.error_if(
        aa, ~(aa > 0), "orthogonalize: `d1` is the zero direction; pass a non-zero `d1`."
    )
    coef = tree_dot(a, b) / aa
    return jax.tree_util.tree_map(lambda x, y: y - coef * x, a, b)


class PCADirections(eqx.Module):
    """Result of `pca_directions`: two orthonormal directions and the trajectory in their plane.

    - `d1`, `d2`: unit directions (pytrees like one checkpoint).
    - `explained_variance`: shape `(2,)`, the fraction of $\\sum_t\\|\\theta_t - c\\|^2$ each explains.
    - `coords`: shape `(T, 2)`, each checkpoint's coordinates in the plane through the center.
    - `distance`: shape `(T,)`, each checkpoint's distance from that plane.
    """

    d1: PyTree
    d2: PyTree
    explained_variance: Float[Array, "2"]
    coords: Float[Array, "T 2"]
    distance: Float[Array, " T"]


def pca_directions(trajectory: PyTree, center: PyTree | None = None) -> PCADirections:
    """The top two principal directions of a parameter trajectory around `center`.

    With $M = [\\theta_0 - c; \\dots; \\theta_{T-1} - c] = U S V^\\top$, $d_{1,2}$ are the first two
    rows of $V^\\top$ (signs chosen so that $\\theta_0$ has non-negative coordinates). The default
    center is the last checkpoint, so the plane passes through the final point (Li et al. §7).

    **Arguments:**

    - `trajectory`: a pytree whose array leaves are stacked checkpoints, shape `(T, ...)`.
    - `center`: one checkpoint (unstacked); default the last one.

    **Returns:** a `PCADirections`.

    ```python
    pca = cx.landscape.pca_directions(jax.tree.map(lambda *a: jnp.stack(a), *checkpoints))
    ```

    Source: seed 004 §4.1 (PCA of trajectories); Li et al. 2018 §7.
    """
    traj = arrays(trajectory)
    leaves, treedef = jax.tree_util.tree_flatten(traj)
    if not leaves:
        raise ValueError("`trajectory` has no floating-point array leaves.")
    t = {a.shape[0] if a.ndim else None for a in leaves}
    if len(t) != 1 or None in t or t.pop() < 2:
        raise ValueError("Every array leaf of `trajectory` must be stacked on axis 0 with T ≥ 2.")
    mat = jnp.concatenate([a.reshape(a.shape[0], -1) for a in leaves], axis=1)
    if center is None:
        c = mat[-1]
    else:
        c = jnp.concatenate([jnp.ravel(a) for a in jax.tree_util.tree_leaves(arrays(center))])
        if c.shape[0] != mat.shape[1]:
            raise ValueError("`center` must have the array structure of one checkpoint.")
    mat = check_finite(mat, "`trajectory`")
    diffs = mat - c[None, :]
    _, s, vt = jnp.linalg.svd(diffs, full_matrices=False)
    s = eqx.error_if(
        s,
        ~(jnp.sum(s**2) > 0),
        "`trajectory` does not move away from `center` (every checkpoint equals it): there "
        "are no principal directions.",
    )
    v = vt[:2]
    coords = diffs @ v.T
    sign = jnp.where(coords[0] < 0, -1.0, 1.0).astype(v.dtype)
    v, coords = v * sign[:, None], coords * sign[None, :]
    dist = jnp.linalg.norm(diffs - coords @ v, axis=1)
    total = jnp.sum(s**2)
    explained = s[:2] ** 2 / jnp.where(total > 0, total, 1.0)

    def unflatten(vec):
        out, i = [], 0
        for a in leaves:
            size = a[0].size
            out.append(vec[i : i + size].reshape(a.shape[1:]))
            i += size
        return jax.tree_util.tree_unflatten(treedef, out)

    return PCADirections(unflatten(v[0]), unflatten(v[1]), explained, coords, dist)
