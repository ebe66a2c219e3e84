"""Empirical neural tangent kernels, also through implicit (fixed-point) layers.

For a network $f(\\theta, x)$ the empirical NTK is
$K(x, x') = \\partial_\\theta f(\\theta, x)\\, \\partial_\\theta f(\\theta, x')^\\top$; under gradient flow on
the square loss the predictions on the training set obey $\\dot{\\hat y} = -K(t)(\\hat y - y)$
(seed 004, Lemma 2.6.2 and Prop. 4). Every function here only evaluates `apply_fn` and its
`jvp`/`vjp`, so a model whose output goes through `contractax.fixed_point` with
`ImplicitAdjoint` gets its NTK from the implicit function theorem, without unrolling the solver.

Source: `seeds/004_0a77b624c3a24369.txt` §2.6, §3.3 (Hieu, NTK for deep equilibrium models);
the trace/diagonal conventions follow neural-tangents (Novak et al. 2022).
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from . import _chunking
from ._lanczos import lanczos_eigenvalues

__all__ = ["empirical_ntk", "ntk_vp", "min_eigenvalue", "min_eigenvalue_lanczos", "linearize"]

_METHODS = ("auto", "jacobian", "ntk_vp")
_JAC_BYTES = 2**28  # "auto" uses the Jacobian contraction while a Jacobian chunk fits in this


def _split_params(params):
    dyn, static = eqx.partition(params, eqx.is_inexact_array)
    if not jax.tree_util.tree_leaves(dyn):
        raise ValueError("`params` has no floating-point array leaves to differentiate.")
    return dyn, static


def _normalise_axes(axes: Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    out = []
    for a in tuple(axes):
        if not -ndim <= a < ndim:
            raise ValueError(
                f"`{name}` contains axis {a}, but the output of `apply_fn` on one example has "
                f"only {ndim} axes (axes refer to the per-example output, without the batch axis)."
            )
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"`{name}` repeats an axis: {tuple(axes)}.")
    return tuple(out)


def _einsum_spec(nout: int, trace: tuple, diag: tuple, extra: str) -> tuple[str, str, str]:
    """Letters for the (n1, out...) and (n2, out...) operands and the zipped result."""
    letters = iter(string.ascii_letters.replace("a", "").replace("b", "").replace(extra, ""))
    left, right, result = "a", "b", "ab"
    for i in range(nout):
        c = next(letters)
        if i in trace:
            left, right = left + c, right + c
        elif i in diag:
            left, right, result = left + c, right + c, result + c
        else:
            d = next(letters)
            left, right, result = left + c, right + d, result + c + d
    return left + extra, right + extra, result


def _reduce_full(full, nout: int, trace: tuple, diag: tuple):
    """(n1, out..., n2, out...) -> the zipped, traced, diagonal kernel."""
    left, right, result = _einsum_spec(nout, trace, diag, "")
    return jnp.einsum(f"{left[:1]}{left[1:]}{right[:1]}{right[1:]}->{result}", full)


def _jacobian(f, dyn, x):
    """Per-example Jacobians, one array (n, out..., P_leaf) per parameter leaf."""
    jac = jax.vmap(jax.jacrev(f), in_axes=(None, 0))(dyn, x)
    n_out = None
    leaves = []
    for j, p in zip(jax.tree_util.tree_leaves(jac), jax.tree_util.tree_leaves(dyn)):
        n_out = j.ndim - p.ndim
        leaves.append(j.reshape(j.shape[:n_out] + (-1,)))
    return leaves


def _contract(j1, j2, nout, trace, diag):
    left, right, result = _einsum_spec(nout, trace, diag, "z")
    return sum(jnp.einsum(f"{left},{right}->{result}", a, b) for a, b in zip(j1, j2))


def _ntk_vp_block(f, dyn, x1, x2, out_shape, nout, trace, diag):
    size = math.prod(out_shape)
    basis = jnp.eye(size, dtype=jnp.result_type(*jax.tree_util.tree_leaves(dyn))).reshape(
        (size,) + out_shape
    )
    batched = lambda p: jax.vmap(f, in_axes=(None, 0))(p, x1)

    def column(x2j):
        _, vjp_fn = jax.vjp(lambda p: f(p, x2j), dyn)
        vs = jax.vmap(lambda e: vjp_fn(e)[0])(basis)
        return jax.vmap(lambda v: jax.jvp(batched, (dyn,), (v,))[1])(vs)  # (size, n1, out...)

    cols = jax.vmap(column)(x2)  # (n2, size, n1, out...)
    cols = cols.reshape((cols.shape[0],) + out_shape + cols.shape[2:])
    perm = tuple(range(nout + 1, 2 * nout + 2)) + tuple(range(nout + 1))
    return _reduce_full(jnp.transpose(cols, perm), nout, trace, diag)


def empirical_ntk(
    apply_fn: Callable,
    params: PyTree,
    x1: PyTree,
    x2: PyTree | None = None,
    *,
    method: str = "auto",
    trace_axes: Sequence[int] = (-1,),
    diagonal_axes: Sequence[int] = (),
    chunk_size: int | None = None,
) -> Float[Array, "n1 n2 *out"]:
    """The empirical neural tangent kernel $K_{ij} = J(x^1_i) J(x^2_j)^\\top$.

    $J(x) = \\partial_\\theta f(\\theta, x)$ is the Jacobian of one example's output with respect to
    all floating-point leaves of `params`. Output axes in `trace_axes` are summed over
    ($\\sum_o K_{ij}^{oo}$, neural-tangents' default `(-1,)`), those in `diagonal_axes` keep one
    index ($K_{ij}^{oo}$), every other output axis appears twice, zipped: for a vector output and
    `trace_axes=()` the result has shape `(N1, N2, O, O)`.

    **Arguments:**

    - `apply_fn`: `apply_fn(params, x)` on **one** example, returning an array.
    - `params`: a pytree (e.g. an equinox module); its inexact array leaves are differentiated.
    - `x1`, `x2`: pytrees batched on axis 0. `x2=None` means `x2 = x1`.
    - `method`: `"jacobian"` (per-example Jacobians by reverse mode, contracted over the
      parameters), `"ntk_vp"` (NTK-vector products: a `vjp` for each output basis vector of
      `x2` followed by a `jvp` over `x1`; no Jacobian is stored), or `"auto"` (the Jacobian
      contraction while one chunk's Jacobian fits in 256 MiB, else NTK-vector products).
    - `trace_axes`, `diagonal_axes`: axes of the per-example output (negative allowed; the batch
      axis is not counted, unlike neural-tangents where axis 0 is the batch). For a scalar
      output the default `(-1,)` means no axis, and the kernel is `(N1, N2)`.
    - `chunk_size`: evaluate the kernel in blocks of `chunk_size × chunk_size` examples with
      `lax.map`, bounding memory; any batch size works (the last block is padded). Blocks are
      sharded over all visible devices.

    **Returns:** an array of shape `(N1, N2, *zipped_out)`.

    ```python
    K = cx.ntk.empirical_ntk(lambda p, x: model(x), params, xs)          # (N, N)
    K4 = cx.ntk.empirical_ntk(apply_fn, params, xs, trace_axes=())        # (N, N, O, O)
    ```

    Through a DEQ: if `apply_fn` calls `cx.fixed_point(..., adjoint=cx.ImplicitAdjoint())`, the
    Jacobians come from the implicit function theorem, $\\partial z^*/\\partial\\theta =
    (I - \\partial_z f)^{-1} \\partial_\\theta f$ (004 eq. 2.3), not from the solver's iterations.

    Source: seed 004 §2.6 (Lemma 2.6.2), §3.3 (Prop. 4).
    """
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}; got {method!r}.")
    dyn, static = _split_params(params)
    f = lambda p, x: jnp.asarray(apply_fn(eqx.combine(p, static), x))
    same = x2 is None
    x2 = x1 if same else x2
    n1, n2 = _chunking.leading_size(x1), _chunking.leading_size(x2)
    one = jax.tree_util.tree_map(lambda a: a[0], x1)
    out_shape = tuple(jax.eval_shape(f, dyn, one).shape)
    nout = len(out_shape)
    if nout == 0 and tuple(trace_axes) == (-1,):
        trace_axes = ()  # a scalar output has no axis to trace: the default means "none"
    trace = _normalise_axes(trace_axes, nout, "trace_axes")
    diag = _normalise_axes(diagonal_axes, nout, "diagonal_axes")
    if set(trace) & set(diag):
        raise ValueError("An output axis cannot be both traced and diagonal.")
    c1 = _chunking.round_chunk(chunk_size, n1)
    c2 = _chunking.round_chunk(chunk_size, n2)
    if method == "auto":
        num_params = sum(a.size for a in jax.tree_util.tree_leaves(dyn))
        itemsize = jnp.dtype(jax.tree_util.tree_leaves(dyn)[0].dtype).itemsize
        jac_bytes = max(c1, c2) * math.prod(out_shape) * num_params * itemsize
        method = "jacobian" if jac_bytes <= _JAC_BYTES else "ntk_vp"

    if method == "jacobian":
        if chunk_size is None:
            j1 = _jacobian(f, dyn, _chunking.shard_axis(x1, 0))
            j2 = j1 if same else _jacobian(f, dyn, x2)
            return _contract(j1, j2, nout, trace, diag)
        outer = lambda a: _jacobian(f, dyn, _chunking.shard_axis(a, 0))
        inner = lambda j1, b: _contract(j1, _jacobian(f, dyn, b), nout, trace, diag)
    else:
        outer = lambda a: _chunking.shard_axis(a, 0)
        inner = lambda a, b: _ntk_vp_block(f, dyn, a, b, out_shape, nout, trace, diag)
        if chunk_size is None:
            return inner(outer(x1), x2)

    x1r, _ = _chunking.pad_and_split(x1, c1)
    x2r, _ = _chunking.pad_and_split(x2, c2)
    blocks = jax.lax.map(
        lambda a: (lambda o: jax.lax.map(lambda b: inner(o, b), x2r))(outer(a)), x1r
    )
    # blocks: (m1, m2, c1, c2, *out) -> (m1 c1, m2 c2, *out)
    blocks = jnp.swapaxes(blocks, 1, 2)
    s = blocks.shape
    return blocks.reshape((s[0] * s[1], s[2] * s[3]) + s[4:])[:n1, :n2]


def ntk_vp(
    apply_fn: Callable, params: PyTree, x: PyTree, v: Float[Array, "n ..."]
) -> Float[Array, "n ..."]:
    """Matrix-free NTK-vector product $K v = J (J^\\top v)$ on a batch, without forming $K$.

    $J$ stacks the per-example Jacobians of `apply_fn(params, x_i)`; $J^\\top v$ is one `vjp` of
    the batched network and $J(J^\\top v)$ one `jvp`, so the cost is about three forward passes.
    This is the operator Lanczos needs for $\\lambda_{\\min}(K)$ at sizes where $K$ is too big.

    **Arguments:**

    - `apply_fn`, `params`: as in `empirical_ntk`.
    - `x`: the batch (axis 0).
    - `v`: an array shaped like the batched output, `(N, *out)`.

    **Returns:** $Kv$ with the shape of `v` (the full, untraced kernel acting on `v`).

    ```python
    Kv = cx.ntk.ntk_vp(apply_fn, params, xs, jnp.ones((N, O)))
    ```

    Source: seed 004 §2.6 (NTK), §3.3.1 (λ_min(K) drives the loss decay).
    """
    dyn, static = _split_params(params)
    batched = lambda p: jax.vmap(lambda xi: jnp.asarray(apply_fn(eqx.combine(p, static), xi)))(x)
    out, vjp_fn = jax.vjp(batched, dyn)
    if out.shape != jnp.shape(v):
        raise ValueError(f"`v` must have the batched output shape {out.shape}; got {jnp.shape(v)}.")
    (jtv,) = vjp_fn(jnp.asarray(v, out.dtype))
    return jax.jvp(batched, (dyn,), (jtv,))[1]


def _as_square(kernel):
    k = jnp.asarray(kernel)
    if k.ndim == 2:
        return k
    if k.ndim == 4 and k.shape[0] == k.shape[1] and k.shape[2] == k.shape[3]:
        n, o = k.shape[0], k.shape[2]
        return jnp.transpose(k, (0, 2, 1, 3)).reshape(n * o, n * o)
    raise ValueError(
        "`kernel` must be an (N, N) kernel or an (N, N, O, O) kernel from `trace_axes=()`; "
        f"got shape {k.shape}."
    )


def min_eigenvalue(kernel: Float[Array, "..."]) -> Float[Array, ""]:
    """The smallest eigenvalue $\\lambda_{\\min}(K)$ of a (symmetrised) dense NTK.

    An `(N, N, O, O)` kernel is read as the $NO \\times NO$ matrix $K_{(i,o),(j,p)}$. The thesis
    bounds the linear convergence rate by it: $\\mathcal L(t) \\le e^{-2\\lambda_{\\min} t}
    \\mathcal L(0)$ while $\\lambda_{\\min}(K(s)) \\ge \\lambda_{\\min}$ for $s \\le t$, and for a
    monotone DEQ with linear readout $\\lambda_{\\min}(K) \\ge \\sigma_{\\min}(Z)^2$ (eq. 3.14).

    **Arguments:** `kernel`, from `empirical_ntk(..., x2=None)`.

    **Returns:** a scalar.

    ```python
    lam = cx.ntk.min_eigenvalue(cx.ntk.empirical_ntk(apply_fn, params, xs))
    ```

    Source: seed 004 §2.6.1 (uniform conditioning), §3.3.1 (eq. 3.14).
    """
    k = _as_square(kernel)
    if k.shape[0] != k.shape[1]:
        raise ValueError(f"`kernel` must be square; got shape {k.shape}.")
    return jnp.linalg.eigvalsh(0.5 * (k + k.T))[0]


def min_eigenvalue_lanczos(
    apply_fn: Callable,
    params: PyTree,
    x: PyTree,
    *,
    key: PRNGKeyArray,
    num_iters: int | None = None,
) -> Float[Array, ""]:
    """$\\lambda_{\\min}$ of the full NTK on a batch by Lanczos on `ntk_vp`, never forming $K$.

    Runs `num_iters` Lanczos steps with full reorthogonalisation on $v \\mapsto Kv$ (dimension
    $N \\cdot O$) from a random start and returns the smallest Ritz value. With
    `num_iters = N·O` (the default) it is exact up to rounding; fewer iterations give an upper
    bound that tightens as the Krylov space grows.

    **Arguments:**

    - `apply_fn`, `params`, `x`: as in `ntk_vp`.
    - `key`: PRNG key for the starting vector.
    - `num_iters`: Lanczos steps (≤ N·O).

    **Returns:** a scalar, the smallest Ritz value.

    ```python
    lam = cx.ntk.min_eigenvalue_lanczos(apply_fn, params, xs, key=jax.random.key(0), num_iters=40)
    ```

    Source: seed 004 §3.3 (λ_min(K)); Lanczos with full reorthogonalisation (Golub & Van Loan §10).
    """
    dyn, static = _split_params(params)
    one = jax.tree_util.tree_map(lambda a: a[0], x)
    out = jax.eval_shape(lambda p: jnp.asarray(apply_fn(eqx.combine(p, static), one)), dyn)
    shape = (_chunking.leading_size(x),) + tuple(out.shape)
    dim = math.prod(shape)
    num_iters = dim if num_iters is None else num_iters
    if not 1 <= num_iters <= dim:
        raise ValueError(f"`num_iters` must lie in [1, N·O] = [1, {dim}]; got {num_iters}.")
    matvec = lambda v: ntk_vp(apply_fn, params, x, v.reshape(shape)).reshape(-1)
    return lanczos_eigenvalues(matvec, dim, num_iters, key, out.dtype)[0]


def linearize(apply_fn: Callable, params: PyTree) -> Callable:
    """The first-order Taylor model of a network in its parameters around `params`.

    $f_{\\text{lin}}(\\theta, x) = f(\\theta_0, x) + \\partial_\\theta f(\\theta_0, x)(\\theta - \\theta_0)$,
    computed with one `jvp`. Gradient flow on $f_{\\text{lin}}$ follows the constant-kernel
    dynamics $\\dot{\\hat y} = -K(0)(\\hat y - y)$ that the NTK analysis compares against.

    **Arguments:** `apply_fn(params, x)` and the expansion point `params`.

    **Returns:** `f_lin(new_params, x)` with the signature of `apply_fn`.

    ```python
    f_lin = cx.ntk.linearize(apply_fn, params0)
    f_lin(params0, x) == apply_fn(params0, x)
    ```

    Source: seed 004 §2.6 (first-order expansion around θ_0).
    """
    dyn0, static = _split_params(params)

    def f_lin(new_params: Any, x: Any):
        dyn = eqx.filter(new_params, eqx.is_inexact_array)
        delta = jax.tree_util.tree_map(lambda a, b: a - b, dyn, dyn0)
        f = lambda p: apply_fn(eqx.combine(p, static), x)
        y0, dy = jax.jvp(f, (dyn0,), (delta,))
        return jax.tree_util.tree_map(lambda a, b: a + b, y0, dy)

    return f_lin
