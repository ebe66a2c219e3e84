"""Shared type aliases (jaxtyping) used in signatures."""

from typing import Any

from jaxtyping import Array, ArrayLike, Bool, Float, Int, PyTree

Scalar = Float[Array, ""]
ScalarLike = float | Float[ArrayLike, ""]
Matrix = Float[Array, "*batch n n"]
Vector = Float[Array, "*batch n"]
Args = PyTree[Any]

__all__ = [
    "Any",
    "Array",
    "ArrayLike",
    "Bool",
    "Float",
    "Int",
    "PyTree",
    "Scalar",
    "ScalarLike",
    "Matrix",
    "Vector",
    "Args",
]
