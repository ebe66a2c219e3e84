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
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from . import _chunking, _ntk as _k
from ._batching import check_same_on_processes
from ._checks import check_count, check_square
from ._lanczos import lanczos_eigenvalues

__all__ = ["empirical_ntk", "ntk_vp", "min_eigenvalue", "min_eigenvalue_lanczos", "linearize"]

_METHODS = ("auto", "jacobian", "ntk_vp")
_TRACE = ("mean", "sum")


def _kernel_leaf(f, dyn, x1, x2, same, ax, method, chunk_size, n1, n2):
    c1 = _chunking.round_chunk(chunk_size, n1)
    c2 = _chunking.round_chunk(chunk_size, n2)
    method = _k.auto_method(method, dyn, ax.shape, c1, c2)
    if method == "jacobian":
        if chunk_size is None:
            j1 = _k.jacobian(f, dyn, _chunking.shard_axis(x1, 0))
            j2 = j1 if same else _k.jacobian(f, dyn, x2)
            return _k.contract(j1, j2, ax)
        outer = lambda a: _k.jacobian(f, dyn, _chunking.shard_axis(a, 0))
        inner = lambda j1, b: _k.contract(j1, _k.jacobian(f, dyn, b), ax)
    else:
        outer = lambda a: _chunking.shard_axis(a, 0)
        inner = lambda a, b: _k.vp_block(f, dyn, a, b, ax)
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


def _diagonal_leaf(f, dyn, x1, x2, ax, method, chunk_size, n1):
    method = _k.auto_method(method, dyn, ax.shape, _chunking.round_chunk(chunk_size, n1), 1)
    if method == "jacobian":

        def one(ab):
            ja = _k.jacobian(f, dyn, jax.tree_util.tree_map(lambda t: t[None], ab[0]))
            jb = _k.jacobian(f, dyn, jax.tree_util.tree_map(lambda t: t[None], ab[1]))
            return _k.contract(ja, jb, ax, pair=False)[0]

    else:
        one = lambda ab: _k.vp_diagonal(
            f, dyn, *(jax.tree_util.tree_map(lambda t: t[None], v) for v in ab), ax
        )[0]
    return _chunking.chunked_vmap(one, (x1, x2), chunk_size)


@eqx.filter_jit
def _empirical_ntk(
    apply_fn,
    params,
    x1,
    x2,
    method,
    trace_axes,
    diagonal_axes,
    chunk_size,
    batch_diagonal,
    trace_mean,
):
    dyn, static = _k.split_params(params, finite=True)
    same = x2 is None
    x2 = x1 if same else x2
    n1, n2 = _k.size(x1, "x1"), _k.size(x2, "x2")
    if not same:
        _k.check_same_examples(x1, x2)
    if batch_diagonal and n1 != n2:
        raise ValueError(
            f"`batch_diagonal=True` pairs x1[i] with x2[i]: both need the same number of "
            f"examples; got {n1} and {n2}."
        )
    f, fns, shapes, tree = _k.leaf_fns(apply_fn, static, dyn, _k.first(x1))
    _k.check_uses_params(f, dyn, x1)
    out = []
    for fi, shape in zip(fns, shapes):
        ax = _k.Axes(shape, trace_axes, diagonal_axes, trace_mean)
        if batch_diagonal:
            out.append(_diagonal_leaf(fi, dyn, x1, x2, ax, method, chunk_size, n1))
        else:
            out.append(_kernel_leaf(fi, dyn, x1, x2, same, ax, method, chunk_size, n1, n2))
    return jax.tree_util.tree_unflatten(tree, out)


def empirical_ntk(
    apply_fn: Callable,
    params: PyTree,
    x1: PyTree,
    x2: PyTree | None = None,
    *,
    method: str = "auto",
    trace_axes: Sequence[int] = (-1,),
    diagonal_axes: Sequence[int] = (),
    trace: str = "mean",
    batch_diagonal: bool = False,
    chunk_size: int | np.integer | None = None,
) -> PyTree:
    """The empirical neural tangent kernel $K_{ij} = J(x^1_i) J(x^2_j)^\\top$.

    $J(x) = \\partial_\\theta f(\\theta, x)$ is the Jacobian of one example's output with respect to
    all floating-point leaves of `params`. Output axes in `trace_axes` are traced: with
    `trace="mean"` (the default, as neural-tangents) the trace is divided by the size of the
    traced axes, $\\frac{1}{O}\\sum_o K_{ij}^{oo}$; with `trace="sum"` it is the plain sum
    $\\sum_o K_{ij}^{oo}$ (the trace of the $O\\times O$ block). Axes in `diagonal_axes` keep
    one index ($K_{ij}^{oo}$); every other output axis appears twice, zipped: for a vector output
    and `trace_axes=()` the result has shape `(N1, N2, O, O)` (no scaling).

    **Arguments:**

    - `apply_fn`: `apply_fn(params, x)` on **one** example, returning an array or a pytree of
      arrays (neural-tangents' parallel outputs: then the result is the same pytree, with each
      leaf the kernel of that output leaf; blocks between different leaves are not formed).
      It must use `params`: a function whose output does not depend on the differentiated
      leaves has an identically zero kernel and raises a `ValueError`.
    - `params`: a pytree (e.g. an equinox module); its inexact array leaves are differentiated.
    - `x1`, `x2`: non-empty pytrees batched on axis 0. `x2=None` means `x2 = x1`.
    - `method`: `"jacobian"` (per-example Jacobians by reverse mode, contracted over the
      parameters), `"ntk_vp"` (NTK-vector products: a `vjp` for each output basis vector of
      `x2` followed by a `jvp` over `x1`; no Jacobian is stored), or `"auto"` (the Jacobian
      contraction while one chunk's Jacobian fits in 256 MiB, else NTK-vector products).
    - `trace_axes`, `diagonal_axes`: axes of the per-example output (negative allowed; the batch
      axis is not counted, unlike neural-tangents where axis 0 is the batch). For a scalar
      output (or a scalar leaf of a pytree output) the axes are ignored: its kernel is `(N1, N2)`.
    - `trace`: `"mean"` or `"sum"`, see above.
    - `batch_diagonal`: only $K(x^1_i, x^2_i)$, shape `(N, *zipped_out)` (neural-tangents'
      batch axis in `diagonal_axes`); `x2` defaults to `x1`, as for the full kernel.
    - `chunk_size`: evaluate the kernel in blocks of `chunk_size × chunk_size` examples with
      `lax.map`, bounding memory; any batch size works (the last block is padded). Blocks are
      sharded over all visible devices.

    Compiled once per `apply_fn` (hashed by identity), structure, shapes and static options:
    repeated eager calls with new values reuse the program.

    **Returns:** an array of shape `(N1, N2, *zipped_out)` (or `(N, *zipped_out)`), or a
    pytree of them for a pytree output.

    ```python
    K = cx.ntk.empirical_ntk(lambda p, x: p(x), model, xs)          # (N, N), mean over logits
    K4 = cx.ntk.empirical_ntk(lambda p, x: p(x), model, xs, trace_axes=())   # (N, N, O, O)
    kd = cx.ntk.empirical_ntk(lambda p, x: p(x), model, xs, batch_diagonal=True)  # (N,)
    ```

    Through a DEQ: if `apply_fn` calls `cx.fixed_point(..., adjoint=cx.ImplicitAdjoint())`, the
    Jacobians come from the implicit function theorem, $\\partial z^*/\\partial\\theta =
    (I - \\partial_z f)^{-1} \\partial_\\theta f$ (004 eq. 2.3), not from the solver's iterations.

    Source: Hieu 2022 (thesis), §2.6 (Lemma 2.6.2), §3.3 (Prop. 4); trace and diagonal
    conventions of neural-tangents (Novak et al. 2022).
    """
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}; got {method!r}.")
    if trace not in _TRACE:
        raise ValueError(f"`trace` must be one of {_TRACE}; got {trace!r}.")
    if chunk_size is not None:
        chunk_size = check_count(chunk_size, "chunk_size")
    check_same_on_processes({"params": params, "x1": x1, "x2": x2})
    return _empirical_ntk(
        apply_fn,
        params,
        x1,
        x2,
        method,
        tuple(trace_axes),
        tuple(diagonal_axes),
        chunk_size,
        bool(batch_diagonal),
        trace == "mean",
    )


@eqx.filter_jit
def _ntk_vp(apply_fn, params, x, v, x2):
    dyn, static = _k.split_params(params, finite=True)
    _k.size(x, "x")
    if x2 is not None:
        _k.size(x2, "x2")
        _k.check_same_examples(x, x2, "x2", "x")
    f = lambda p, xi: apply_fn(eqx.combine(p, static), xi)
    _k.check_uses_params(f, dyn, x)
    batched = lambda p, xs: jax.vmap(lambda xi: f(p, xi))(xs)
    out2, vjp_fn = jax.vjp(lambda p: batched(p, x if x2 is None else x2), dyn)
    want = jax.tree_util.tree_map(jnp.shape, out2)
    got = jax.tree_util.tree_map(jnp.shape, v)
    if jax.tree_util.tree_structure(out2) != jax.tree_util.tree_structure(v) or want != got:
        raise ValueError(
            f"`v` must have the batched output shape of `apply_fn` on "
            f"{'`x`' if x2 is None else '`x2`'}, {want}; got {got}."
        )
    (jtv,) = vjp_fn(jax.tree_util.tree_map(lambda a, o: jnp.asarray(a, o.dtype), v, out2))
    return jax.jvp(lambda p: batched(p, x), (dyn,), (jtv,))[1]


def ntk_vp(
    apply_fn: Callable, params: PyTree, x: PyTree, v: PyTree, x2: PyTree | None = None
) -> PyTree:
    """Matrix-free NTK-vector product $K(x, x_2)\\, v = J(x) (J(x_2)^\\top v)$, without forming $K$.

    $J$ stacks the per-example Jacobians of `apply_fn(params, x_i)`; $J(x_2)^\\top v$ is one
    `vjp` of the batched network on `x2` and $J(x)(\\cdot)$ one `jvp` on `x`, so the cost is
    about three forward passes. This is the operator Lanczos needs for $\\lambda_{\\min}(K)$ at
    sizes where $K$ is too big, and, with two batches, the kernel regression step
    $K(x_{\\text{test}}, x_{\\text{train}})\\, \\alpha$.

    **Arguments:**

    - `apply_fn`, `params`: as in `empirical_ntk` (pytree outputs allowed).
    - `x`: the batch (axis 0) the result lives on; `x2`: the batch `v` lives on (default `x`).
    - `v`: shaped like the batched output on `x2`, `(N2, *out)` (a pytree for pytree outputs).

    **Returns:** $K(x, x_2)v$, shaped like the batched output on `x` (the full, untraced kernel).

    ```python
    Kv = cx.ntk.ntk_vp(apply_fn, params, xs, jnp.ones((N, O)))
    Kt = cx.ntk.ntk_vp(apply_fn, params, x_test, alpha, x2=x_train)   # (N_test, O)
    ```

    Source: Hieu 2022 (thesis), §2.6 (NTK), §3.3.1 (λ_min(K) drives the loss decay);
    neural-tangents' `empirical_ntk_vp_fn` (Novak et al. 2022).
    """
    return _ntk_vp(apply_fn, params, x, v, x2)


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
    k = check_square(k, "`kernel`")  # non-empty, real, finite (NaN would give a NaN λ_min)
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
    num_iters = None if num_iters is None else check_count(num_iters, "num_iters")
    return _lanczos(apply_fn, params, x, key, num_iters)


@eqx.filter_jit
def _lanczos(apply_fn, params, x, key, num_iters):
    dyn, static = _k.split_params(params)
    n = _k.size(x, "x")
    out = jax.eval_shape(lambda p: apply_fn(eqx.combine(p, static), _k.first(x)), dyn)
    if not isinstance(out, jax.ShapeDtypeStruct):
        raise ValueError("min_eigenvalue_lanczos needs `apply_fn` with one array output.")
    shape = (n,) + tuple(out.shape)
    dim = math.prod(shape)
    num_iters = dim if num_iters is None else num_iters
    if not 1 <= num_iters <= dim:
        raise ValueError(f"`num_iters` must lie in [1, N·O] = [1, {dim}]; got {num_iters}.")
    matvec = lambda v: _ntk_vp(apply_fn, params, x, v.reshape(shape), None).reshape(-1)
    return lanczos_eigenvalues(matvec, dim, num_iters, key, out.dtype)[0]


class _Linearized(eqx.Module):
    """`f_lin(new_params, x)`: the first-order Taylor model returned by `linearize`."""

    apply_fn: Callable = eqx.field(static=True)
    dyn0: PyTree
    static: PyTree = eqx.field(static=True)

    def __call__(self, new_params: Any, x: Any):
        return _lin(self.apply_fn, self.dyn0, self.static, new_params, x)


def _check_like(new, dyn0):
    from ._directions import check_direction

    return check_direction(new, dyn0, "new_params", "params (the expansion point)")


@eqx.filter_jit
def _lin(apply_fn, dyn0, static, new_params, x):
    dyn = _check_like(new_params, dyn0)
    delta = jax.tree_util.tree_map(lambda a, b: a - b, dyn, dyn0)
    f = lambda p: apply_fn(eqx.combine(p, static), x)
    y0, dy = jax.jvp(f, (dyn0,), (delta,))
    return jax.tree_util.tree_map(lambda a, b: a + b, y0, dy)


def linearize(apply_fn: Callable, params: PyTree) -> Callable:
    """The first-order Taylor model of a network in its parameters around `params`.

    $f_{\\text{lin}}(\\theta, x) = f(\\theta_0, x) + \\partial_\\theta f(\\theta_0, x)(\\theta - \\theta_0)$,
    computed with one `jvp`. Gradient flow on $f_{\\text{lin}}$ follows the constant-kernel
    dynamics $\\dot{\\hat y} = -K(0)(\\hat y - y)$ that the NTK analysis compares against.

    **Arguments:** `apply_fn(params, x)` and the expansion point `params`.

    **Returns:** `f_lin(new_params, x)` with the signature of `apply_fn` (an equinox module,
    compiled once per `apply_fn`, structure and shapes). `new_params` must have the array leaves
    of `params`, leaf by leaf the same shapes (a `ValueError` naming the leaf otherwise: a
    wrong-shape leaf would broadcast silently).

    ```python
    f_lin = cx.ntk.linearize(apply_fn, params0)
    f_lin(params0, x) == apply_fn(params0, x)
    ```

    Source: Hieu 2022 (thesis), §2.6 (first-order expansion around θ_0); neural-tangents'
    `linearize` (Novak et al. 2022).
    """
    if not callable(apply_fn):
        raise ValueError(f"`apply_fn` must be callable, got {type(apply_fn).__name__}.")
    dyn0, static = _k.split_params(params)
    return _Linearized(apply_fn, dyn0, static)
