"""Private helpers for `contractax.rnn`: QR (Benettin) steps, Jacobians along trajectories."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def check_flat_state(x0, name: str = "x0") -> None:
    if jnp.ndim(x0) != 1:
        raise ValueError(
            f"`{name}` must be a 1-D state vector, got shape {jnp.shape(x0)}; flatten the state "
            "(e.g. with jax.flatten_util.ravel_pytree) before calling this function."
        )


def push_frame(step, x, args, q):
    """Apply the step to x and its Jacobian to the columns of `q` (one jvp per column)."""

    def one(v):
        return jax.jvp(lambda z: step(z, args), (x,), (v,))

    xs, tq = jax.vmap(one, in_axes=1, out_axes=(0, 1))(q)
    return xs[0], tq


def qr_positive(z):
    """QR decomposition with a non-negative diagonal of R; returns (Q, log|diag R|)."""
    q, r = jnp.linalg.qr(z)
    d = jnp.diagonal(r)
    sign = jnp.where(d < 0, -1.0, 1.0).astype(z.dtype)
    tiny = jnp.finfo(z.dtype).tiny
    return q * sign[None, :], jnp.log(jnp.maximum(jnp.abs(d), tiny))


def state_jacobians(step, xs, args):
    """Jacobians of `step(., args)` at each row of `xs`: shape (T, n, n)."""
    return jax.vmap(jax.jacfwd(lambda z: step(z, args)))(xs)
