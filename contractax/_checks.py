"""Argument checks shared by every module (three error tiers).

Structural mistakes raise `ValueError` at trace time; value problems (non-positive weights,
non-SPD matrices, NaN) raise through `eqx.error_if` at run time, which works under `jit` and
`vmap`.
"""

from __future__ import annotations

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

P_VALUES = (1, 2, math.inf)


def check_p(p) -> float:
    """Return p normalised to 1, 2 or inf, or raise a ValueError naming the allowed values."""
    if isinstance(p, (bool, np.bool_, str, bytes)) or isinstance(p, jax.core.Tracer):
        raise ValueError(f"p must be one of 1, 2 or jnp.inf (a concrete Python number), got {p!r}.")
    try:
        pf = float(p)
    except (TypeError, ValueError):
        raise ValueError(
            f"p must be one of 1, 2 or jnp.inf (a Python number), got {p!r}; contractax "
            "implements the log norms with closed forms for these three only."
        ) from None
    if pf not in P_VALUES:
        raise ValueError(
            f"p must be one of 1, 2 or jnp.inf, got p={p!r}; the log norm of a general ℓp norm "
            "has no closed form. Use lognorm_by_definition for other norms."
        )
    return pf


def as_float_array(x, name: str) -> Array:
    """`x` as a real floating array (integers and bools are promoted; complex is refused, since
    casting it would silently drop the imaginary part)."""
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise TypeError(
            f"{name} must be real, got a complex array (dtype {x.dtype}); contractax works on "
            "real matrices and vectors. Pass the real part explicitly if that is what you mean."
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def check_matrix(x, name: str, *, square: bool = False, finite: bool = True) -> Array:
    """A real (batch of) matrix on the last two axes, non-empty, finite (at run time)."""
    if square:
        return check_square(x, name, finite=finite)
    x = as_float_array(x, name)
    if x.ndim < 2:
        raise ValueError(f"{name} must be a matrix (last two axes), got shape {x.shape}.")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); give at least a 1×1 matrix.")
    return check_finite(x, name) if finite else x


def check_square(A, name: str = "A", *, finite: bool = True) -> Array:
    """A square matrix (or batch on the last two axes), at least float32, with finite entries
    (checked at run time through `eqx.error_if`, so under jit/vmap too)."""
    A = as_float_array(A, name)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(
            f"{name} must be a square matrix (or a batch of them, on the last two axes); "
            f"got shape {A.shape}."
        )
    if A.size == 0:
        raise ValueError(f"{name} is empty (shape {A.shape}); give at least a 1×1 matrix.")
    return check_finite(A, name) if finite else A


def check_weight(weight, p: float, n: int, batch_ndim: int | None = None) -> Array | None:
    """Validate a norm weight: None, a positive vector η (p ∈ {1, ∞}) or an SPD matrix P (p = 2).

    `batch_ndim` is the number of batch axes of the matrix or vector the weight goes with; the
    weight may have at most that many (so a 3×3 matrix given for p = ∞ is refused, not read as
    three vectors η).
    """
    if weight is None:
        return None
    w = as_float_array(weight, "weight")
    kind = "matrix P" if p == 2 else "vector eta"
    core = 2 if p == 2 else 1
    if batch_ndim is not None and w.ndim - core > batch_ndim:
        other = (
            "a positive vector eta (for p = 1 or jnp.inf)" if p == 2 else "an SPD matrix P (p = 2)"
        )
        raise ValueError(
            f"for p = {p:g} the weight must be a {kind} with at most {batch_ndim} batch axes "
            f"(the input's); got shape {w.shape}. Did you pass {other}?"
        )
    if p == 2:
        if w.ndim < 2 or w.shape[-2:] != (n, n):
            raise ValueError(
                f"for p = 2 the weight must be a symmetric positive-definite matrix P of shape "
                f"({n}, {n}) (the norm is sqrt(xᵀPx)); got shape {w.shape}."
            )
        w = check_finite(w, "the weight P")
        rtol = 1e3 * jnp.finfo(w.dtype).eps  # round-off in a computed P, per dtype
        sym = jnp.all(jnp.abs(w - jnp.swapaxes(w, -1, -2)) <= rtol * (1 + jnp.abs(w)))
        w = eqx.error_if(w, ~sym, "the weight P for p = 2 must be symmetric.")
        chol = jnp.linalg.cholesky(w)
        w = eqx.error_if(
            w, ~jnp.all(jnp.isfinite(chol)), "the weight P for p = 2 must be positive definite."
        )
        return w
    if w.ndim < 1 or w.shape[-1] != n:
        raise ValueError(
            f"for p = {p:g} the weight must be a positive vector eta of length {n} "
            f"(‖x‖_∞,η = max_i |x_i|/η_i, ‖x‖_1,η = Σ_i η_i|x_i|); got shape {w.shape}."
        )
    w = eqx.error_if(
        w,
        ~jnp.all((w > 0) & jnp.isfinite(w)),
        "the weight vector eta must have strictly positive, finite entries.",
    )
    return w


def check_slope_bounds(dmin, dmax, dtype):
    """Finite activation slope bounds dmin ≤ dmax, as arrays of `dtype` (concrete: ValueError
    now; traced: eqx.error_if at run time)."""
    if _is_concrete(dmin) and _is_concrete(dmax):
        lo, hi = np.asarray(dmin, dtype=float), np.asarray(dmax, dtype=float)
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError(
                f"the slope bounds dmin, dmax must be finite numbers, got dmin={dmin!r}, "
                f"dmax={dmax!r}."
            )
        if not np.all(lo <= hi):
            raise ValueError(
                f"the slope bounds need dmin ≤ dmax, got dmin={dmin!r}, dmax={dmax!r}."
            )
        return jnp.asarray(dmin, dtype), jnp.asarray(dmax, dtype)
    lo, hi = jnp.asarray(dmin, dtype), jnp.asarray(dmax, dtype)
    bad = ~jnp.all(jnp.isfinite(lo) & jnp.isfinite(hi) & (lo <= hi))
    lo = eqx.error_if(lo, bad, "the slope bounds must be finite with dmin ≤ dmax.")
    return lo, hi


def check_finite(x: Array, name: str) -> Array:
    """Raise (via eqx.error_if, so under jit/vmap too) if `x` has a NaN or inf entry."""
    return eqx.error_if(
        x, ~jnp.all(jnp.isfinite(x)), f"{name} contains NaN or inf; pass finite values."
    )


# ---------------------------------------------------------------------------------------------
# Scalar arguments (counts, tolerances, rates). One sentence per failure, naming the argument.
# Concrete values are checked at trace time (ValueError); traced values through eqx.error_if.


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_count(value, name: str, *, minimum: int = 1) -> int:
    """Return a Python int ≥ `minimum`; accept NumPy/JAX integer scalars, refuse bools/floats.

    Counts (max_steps, history, chunk_size, steps, batch_size) are static configuration, so they
    must be concrete.
    """
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got the boolean {value!r}.")
    if isinstance(value, jax.core.Tracer):
        raise ValueError(
            f"{name} must be a concrete Python integer (it fixes the compiled program's shape or "
            f"loop bound), got a traced value; pass it as a static argument."
        )
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0:
        value = value.item()
    if isinstance(value, np.integer):
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value}.")
    return value


def check_positive(value, name: str, *, allow_zero: bool = False, finite: bool = True):
    """Check a real scalar (or array) is > 0 (≥ 0 with `allow_zero`) and finite.

    Concrete values raise ValueError now; traced values raise at run time via eqx.error_if.
    Returns the value unchanged (a Python float stays a Python float).
    """
    bound = "≥ 0" if allow_zero else "> 0"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a real number {bound}, got the boolean {value!r}.")
    if _is_concrete(value):
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real number {bound}, got {value!r}.") from None
        ok = (arr >= 0) if allow_zero else (arr > 0)
        if finite:
            ok = ok & np.isfinite(arr)
        if not np.all(ok):
            raise ValueError(
                f"{name} must be a {'finite ' if finite else ''}real number {bound}, got {value!r}."
            )
        return value
    ok = (value >= 0) if allow_zero else (value > 0)
    if finite:
        ok = ok & jnp.isfinite(value)
    return eqx.error_if(value, ~jnp.all(ok), f"{name} must be a finite real number {bound}.")


def check_in_interval(value, name: str, lo: float, hi: float, *, closed: str = "neither"):
    """Check lo < value < hi (`closed` in {"neither", "left", "right", "both"}); concrete or traced."""
    left = closed in ("left", "both")
    right = closed in ("right", "both")
    text = f"{'[' if left else '('}{lo:g}, {hi:g}{']' if right else ')'}"

    def ok_of(v, lib):
        lo_ok = (v >= lo) if left else (v > lo)
        hi_ok = (v <= hi) if right else (v < hi)
        return lib.all(lo_ok & hi_ok)

    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a real number in {text}, got the boolean {value!r}.")
    if _is_concrete(value):
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real number in {text}, got {value!r}.") from None
        if not ok_of(arr, np):
            raise ValueError(f"{name} must be a real number in {text}, got {value!r}.")
        return value
    return eqx.error_if(value, ~ok_of(value, jnp), f"{name} must be a real number in {text}.")


def check_real(value, name: str):
    """Check a real scalar (or array) is finite, any sign; concrete or traced."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a finite real number, got the boolean {value!r}.")
    if _is_concrete(value):
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a finite real number, got {value!r}.") from None
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be a finite real number, got {value!r}.")
        return value
    return eqx.error_if(value, ~jnp.all(jnp.isfinite(value)), f"{name} must be finite.")


def check_nonempty(x, name: str) -> Array:
    """Raise a ValueError if the array has a zero-size axis."""
    x = jnp.asarray(x)
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); give at least one element.")
    return x


def check_shape(x, name: str, expected: tuple) -> Array:
    """Check `x.shape == expected`, where None in `expected` matches any size on that axis."""
    x = jnp.asarray(x)
    if len(x.shape) != len(expected) or any(
        e is not None and e != s for e, s in zip(expected, x.shape)
    ):
        want = "(" + ", ".join("·" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name} must have shape {want}, got shape {x.shape}.")
    return x


LOW_PRECISION = (jnp.float16, jnp.bfloat16)


def upcast(x: Array) -> tuple[Array, Any]:
    """Return (x in at least float32, original dtype): float16/bfloat16 are computed in float32."""
    x = jnp.asarray(x)
    if x.dtype in LOW_PRECISION:
        return x.astype(jnp.float32), x.dtype
    return x, x.dtype


# ---------------------------------------------------------------------------------------------
# Converters for configuration modules: `eqx.field(converter=count("Anderson(history)"))`
# validates once, at construction, and normalises NumPy/0-d JAX scalars to Python numbers.


def _scalar(value):
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0 and _is_concrete(value):
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def count(name: str, *, minimum: int = 1):
    """A converter: an integer ≥ `minimum` (NumPy integers accepted), as a Python int."""
    return lambda value: check_count(value, name, minimum=minimum)


def real_in(name: str, lo: float, hi: float, closed: str = "neither"):
    """A converter: a real number in the interval, as a Python float when concrete."""
    return lambda value: _scalar(check_in_interval(_scalar(value), name, lo, hi, closed=closed))


def positive(name: str):
    """A converter: a finite real number > 0, as a Python float when concrete."""
    return lambda value: _scalar(check_positive(_scalar(value), name))


def nonnegative(name: str):
    """A converter: a finite real number ≥ 0, as a Python float when concrete."""
    return lambda value: _scalar(check_positive(_scalar(value), name, allow_zero=True))


def optional(converter):
    """A converter that lets None through."""
    return lambda value: None if value is None else converter(value)


# ---------------------------------------------------------------------------------------------
# Pytrees and user callables: checked once at the boundary, naming the argument, instead of
# letting `jax.grad` / `lax.scan` fail with a message about their own internals.


def check_float_tree(tree, name: str, *, finite: bool = True):
    """Every array leaf of `tree` must be real floating point (what `jax.grad` differentiates);
    with `finite`, a NaN/inf entry raises at run time (eqx.error_if). Python and NumPy numbers
    become arrays (`gd.run(f, 2.0, ...)` is a valid call); other non-array leaves pass. Returns
    the tree to use."""

    def as_array(a):
        numeric = isinstance(a, (int, float, np.number, np.ndarray)) and not isinstance(a, bool)
        return jnp.asarray(a) if numeric else a

    tree = jax.tree_util.tree_map(as_array, tree)
    leaves = [a for a in jax.tree_util.tree_leaves(tree) if eqx.is_array(a)]
    if not leaves:
        raise ValueError(f"{name} has no array leaves to differentiate.")
    for a in leaves:
        if not jnp.issubdtype(a.dtype, jnp.floating):
            raise TypeError(
                f"every array leaf of {name} must be a real float array (it is differentiated); "
                f"got a leaf of dtype {a.dtype} and shape {a.shape}. Cast it, e.g. "
                "`x.astype(float)`, or keep integer data in `args`."
            )
    if not finite:
        return tree

    def fin(a):
        return check_finite(a, name) if eqx.is_array(a) else a

    return jax.tree_util.tree_map(fin, tree)


def _shapes(tree) -> str:
    return str(jax.tree_util.tree_map(lambda a: tuple(jnp.shape(a)), tree))


def check_scalar_fn(fn, name: str, *args):
    """`fn(*args)` must return a real scalar (a loss); checked by `jax.eval_shape`, no compute."""
    if not callable(fn):
        raise ValueError(f"{name} must be callable, got {type(fn).__name__}.")
    out = jax.eval_shape(fn, *args)
    if not (hasattr(out, "shape") and out.shape == () and jnp.issubdtype(out.dtype, jnp.floating)):
        raise ValueError(
            f"{name} must return a real scalar (the loss), got {_shapes(out)} "
            f"(dtype {getattr(out, 'dtype', type(out).__name__)}); reduce it, e.g. with jnp.sum."
        )


def check_state_fn(fn, name: str, x, *args):
    """`fn(x, *args)` must return a pytree with the structure and shapes of the state `x`
    (a recurrence `x_{t+1} = fn(x_t, ...)`); checked by `jax.eval_shape`."""
    if not callable(fn):
        raise ValueError(f"{name} must be callable, got {type(fn).__name__}.")
    out = jax.eval_shape(fn, x, *args)
    same = jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(x) and all(
        tuple(o.shape) == tuple(jnp.shape(a))
        for o, a in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(x))
    )
    if not same:
        raise ValueError(
            f"{name} must return a state of the input state's structure and shapes "
            f"{_shapes(x)}; got {_shapes(out)}."
        )


def leak_matrix(C, A, default: float):
    """The leak matrix C of ẋ = −Cx + … for the n×n matrix `A`, from a scalar (C·I), a length-n
    vector (its diagonal), an n×n matrix (batched on leading axes) or None (`default`·I);
    finite values only. Used by `norms.max_lognorm_over_slopes` and `contraction.optimal_rate`."""
    n = A.shape[-1]
    eye = jnp.eye(n, dtype=A.dtype)
    if C is None:
        return default * eye
    C = check_finite(as_float_array(C, "C"), "C")
    if C.ndim == 0:
        return C * eye
    if C.ndim == 1:
        if C.shape[0] != n:
            raise ValueError(
                f"a vector C is the diagonal of −C and must have length {n}; got shape {C.shape}."
            )
        return C[:, None] * eye
    if C.shape[-2:] != (n, n):
        raise ValueError(
            f"C must be a scalar, a length-{n} vector (diagonal) or an {n}×{n} "
            f"matrix; got shape {C.shape}."
        )
    return C
