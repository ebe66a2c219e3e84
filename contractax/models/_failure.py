"""The models' convention for an unsuccessful equilibrium solve (one place for every model).

`model.solve(...)` returns the full `contractax.Solution` and never raises; `model(...)` either
raises the solver's `RESULTS` message (`throw=True`, the default) or returns NaN outputs with
NaN derivatives for the failed examples (`throw=False`, per example under `vmap`). An
unconverged equilibrium is never handed back as a normal-looking output.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def on_failure(sol, y, throw: bool):
    """Apply the convention to the outputs `y` (any pytree) computed from `sol`."""
    from .. import solvers

    ok = sol.result == solvers.RESULTS.successful
    if throw:
        return sol.result.error_if(y, ~ok)

    def poison(a):
        # a multiplication, not a `where`: the value *and* its derivatives become NaN
        return a * jnp.where(ok, 1.0, jnp.nan).astype(a.dtype)

    return jax.tree_util.tree_map(poison, y)
