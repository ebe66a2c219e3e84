"""Private helpers of `contractax.ntk`: output-axis bookkeeping (trace / diagonal / zipped),
per-example Jacobians and their contraction, NTK-vector-product blocks, and the check that the
network's output depends on its parameters at all; the argument checks of `ntk`'s entry
points."""

from __future__ import annotations

import math
import string

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.extend import core as jex_core

from ._batching import leading_size
from ._checks import check_finite

JAC_BYTES = 2**28  # "auto" uses the Jacobian contraction while a Jacobian chunk fits in this


def normalise_axes(axes, ndim: int, name: str) -> tuple[int, ...]:
    out = []
    for a in tuple(axes):
        if isinstance(a, bool) or not isinstance(a, int) or not -ndim <= a < ndim:
            raise ValueError(
                f"`{name}` contains axis {a!r}, but the output of `apply_fn` on one example has "
                f"only {ndim} axes (axes refer to the per-example output, without the batch axis)."
            )
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"`{name}` repeats an axis: {tuple(axes)}.")
    return tuple(out)


class Axes:
    """Trace / diagonal axes of one output leaf, and the divisor of a traced kernel."""

    def __init__(self, shape, trace_axes, diagonal_axes, trace_mean: bool):
        nout = len(shape)
        if nout == 0:
            trace_axes = diagonal_axes = ()  # a scalar output has no axis to trace or keep
        self.shape, self.nout = tuple(shape), nout
        self.trace = normalise_axes(trace_axes, nout, "trace_axes")
        self.diag = normalise_axes(diagonal_axes, nout, "diagonal_axes")
        if set(self.trace) & set(self.diag):
            raise ValueError(
                "An output axis cannot be both traced and diagonal: `trace_axes` and "
                f"`diagonal_axes` share {sorted(set(self.trace) & set(self.diag))}."
            )
        size = math.prod(self.shape[i] for i in self.trace)
        self.scale = 1.0 / size if trace_mean and size else 1.0


def einsum_spec(ax: Axes, extra: str, pair: bool = True) -> tuple[str, str, str]:
    """Letters for the (n1, out...) and (n2, out...) operands and the zipped result; with
    `pair=False` both operands share the batch letter (the batch-diagonal kernel)."""
    letters = iter(string.ascii_letters.replace("a", "").replace("b", "").replace(extra, ""))
    left, right, result = "a", ("b" if pair else "a"), ("ab" if pair else "a")
    for i in range(ax.nout):
        c = next(letters)
        if i in ax.trace:
            left, right = left + c, right + c
        elif i in ax.diag:
            left, right, result = left + c, right + c, result + c
        else:
            d = next(letters)
            left, right, result = left + c, right + d, result + c + d
    return left + extra, right + extra, result


def jacobian(f, dyn, x):
    """Per-example Jacobians of the array output of `f`, one (n, out..., P_leaf) per leaf."""
    jac = jax.vmap(jax.jacrev(f), in_axes=(None, 0))(dyn, x)
    leaves = []
    for j, p in zip(jax.tree_util.tree_leaves(jac), jax.tree_util.tree_leaves(dyn)):
        n_out = j.ndim - p.ndim
        leaves.append(j.reshape(j.shape[:n_out] + (-1,)))
    return leaves


def contract(j1, j2, ax: Axes, pair: bool = True):
    left, right, result = einsum_spec(ax, "z", pair)
    k = sum(jnp.einsum(f"{left},{right}->{result}", a, b) for a, b in zip(j1, j2))
    return k * ax.scale if ax.scale != 1.0 else k


def _basis(ax: Axes, dyn):
    size = math.prod(ax.shape)
    dtype = jnp.result_type(*jax.tree_util.tree_leaves(dyn))
    return jnp.eye(size, dtype=dtype).reshape((size,) + ax.shape)


def vp_block(f, dyn, x1, x2, ax: Axes):
    """The kernel block K(x1, x2) from NTK-vector products: a `vjp` per output basis vector of
    each x2 example, then a `jvp` over x1. No Jacobian is stored."""
    basis = _basis(ax, dyn)
    batched = lambda p: jax.vmap(f, in_axes=(None, 0))(p, x1)

    def column(x2j):
        _, vjp_fn = jax.vjp(lambda p: f(p, x2j), dyn)
        vs = jax.vmap(lambda e: vjp_fn(e)[0])(basis)
        return jax.vmap(lambda v: jax.jvp(batched, (dyn,), (v,))[1])(vs)  # (size, n1, out...)

    nout = ax.nout
    cols = jax.vmap(column)(x2)  # (n2, size, n1, out...)
    cols = cols.reshape((cols.shape[0],) + ax.shape + cols.shape[2:])
    perm = tuple(range(nout + 1, 2 * nout + 2)) + tuple(range(nout + 1))
    full = jnp.transpose(cols, perm)  # (n1, out..., n2, out...)
    left, right, result = einsum_spec(ax, "")
    k = jnp.einsum(f"{left}{right}->{result}", full)
    return k * ax.scale if ax.scale != 1.0 else k


def vp_diagonal(f, dyn, x1, x2, ax: Axes):
    """K(x1_i, x2_i) for each i from NTK-vector products (the batch-diagonal kernel)."""
    basis = _basis(ax, dyn)
    left, right, result = einsum_spec(ax, "")

    def one(a, b):
        _, vjp_fn = jax.vjp(lambda p: f(p, b), dyn)
        vs = jax.vmap(lambda e: vjp_fn(e)[0])(basis)
        cols = jax.vmap(lambda v: jax.jvp(lambda p: f(p, a), (dyn,), (v,))[1])(vs)
        full = jnp.moveaxis(
            cols.reshape(ax.shape + ax.shape), range(ax.nout), range(ax.nout, 2 * ax.nout)
        )
        full = full.reshape((1,) + ax.shape + (1,) + ax.shape)
        return jnp.einsum(f"{left}{right}->{result}", full)[0, 0]

    k = jax.vmap(one)(x1, x2)
    return k * ax.scale if ax.scale != 1.0 else k


def _depends(jaxpr, seeds) -> set:
    """Variables of `jaxpr` that depend on `seeds` (conservatively through inner jaxprs)."""
    dep = set(seeds)
    for eqn in jaxpr.eqns:
        if any(isinstance(v, jex_core.Var) and v in dep for v in eqn.invars):
            dep.update(eqn.outvars)
    return dep


def output_depends_on_params(f, dyn, x0) -> bool:
    """Whether some output of `f(dyn, x0)` depends on some leaf of `dyn`, read off the jaxpr
    (a data-dependence pass; a primitive with a dependent input is taken to make all its
    outputs dependent, so the answer is never a false "no")."""
    closed = jax.make_jaxpr(f)(dyn, x0)
    jaxpr = closed.jaxpr
    n = len(jax.tree_util.tree_leaves(dyn))
    dep = _depends(jaxpr, jaxpr.invars[:n])
    return any(isinstance(v, jex_core.Var) and v in dep for v in jaxpr.outvars)


def split_params(params, finite: bool = False):
    dyn, static = eqx.partition(params, eqx.is_inexact_array)
    if not jax.tree_util.tree_leaves(dyn):
        raise ValueError("`params` has no floating-point array leaves to differentiate.")
    if finite:  # a NaN/inf parameter gives an all-NaN kernel: say so instead
        dyn = jax.tree_util.tree_map(lambda a: check_finite(a, "`params`"), dyn)
    return dyn, static


def check_same_examples(x1, x2, name="x2", ref="x1"):
    """Per-example structure and shapes of x2 must be those of x1 (apply_fn runs on both)."""
    s1 = jax.tree_util.tree_map(lambda a: jnp.shape(a)[1:], x1)
    s2 = jax.tree_util.tree_map(lambda a: jnp.shape(a)[1:], x2)
    if jax.tree_util.tree_structure(x1) != jax.tree_util.tree_structure(x2) or s1 != s2:
        raise ValueError(
            f"the examples of `{name}` must have the structure and shapes of those of `{ref}` "
            f"(`apply_fn` runs on both): {ref} examples {s1}, {name} examples {s2}."
        )


def size(x, name: str) -> int:
    try:
        n = leading_size(x)
    except ValueError as e:
        raise ValueError(f"`{name}`: {e}") from None
    if n == 0:
        raise ValueError(f"`{name}` is an empty batch (leading axis of size 0); give ≥ 1 example.")
    return n


def first(x):
    return jax.tree_util.tree_map(lambda a: a[0], x)


def check_uses_params(f, dyn, x, name="apply_fn"):
    if not output_depends_on_params(f, dyn, first(x)):
        raise ValueError(
            f"The output of `{name}(params, x)` does not depend on any floating-point leaf of "
            "`params`, so its NTK is identically zero. Use the `params` argument inside "
            "`apply_fn`: e.g. `lambda p, x: p(x)` for an equinox module, not `lambda p, x: "
            "model(x)`, which closes over the model."
        )


def leaf_fns(apply_fn, static, dyn, one):
    """The output's leaves as separate array-valued functions, and its structure."""
    f = lambda p, x: apply_fn(eqx.combine(p, static), x)
    out = jax.eval_shape(f, dyn, one)
    leaves, tree = jax.tree_util.tree_flatten(out)
    fns = [
        lambda p, x, i=i: jnp.asarray(jax.tree_util.tree_leaves(f(p, x))[i])
        for i in range(len(leaves))
    ]
    return f, fns, [tuple(o.shape) for o in leaves], tree


def auto_method(method, dyn, shape, c1, c2):
    if method != "auto":
        return method
    num_params = sum(a.size for a in jax.tree_util.tree_leaves(dyn))
    itemsize = jnp.dtype(jax.tree_util.tree_leaves(dyn)[0].dtype).itemsize
    jac_bytes = max(c1, c2) * math.prod(shape) * num_params * itemsize
    return "jacobian" if jac_bytes <= JAC_BYTES else "ntk_vp"
