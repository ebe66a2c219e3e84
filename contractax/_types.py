"""Shared type aliases (jaxtyping) used in signatures."""

from typing import Any

import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PyTree

Scalar = Float[Array, ""]
"""A 0-d float array (a loss, a rate, an eigenvalue)."""
Matrix = Float[Array, "*batch n n"]
"""A square matrix, or a batch of them on the last two axes."""
Count = int | np.integer
"""A count (steps, chunk sizes, iterations): a Python or NumPy integer."""
Args = PyTree[Any]
"""Data and fixed parameters passed through to a callback `fn(state, args)`."""

__all__ = [
    "Any",
    "Array",
    "ArrayLike",
    "Bool",
    "Float",
    "Int",
    "PyTree",
    "Scalar",
    "Matrix",
    "Args",
]
