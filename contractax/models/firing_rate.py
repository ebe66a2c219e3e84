"""Firing-rate recurrent network ẋ = −Cx + Φ(Ax + Bu + b) (seed 001)."""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .. import contraction, norms
from .._checks import check_count, check_positive, check_shape
from ._activation import check_slopes


class FiringRateNetwork(eqx.Module):
    """Firing-rate network $\\dot x = -Cx + \\Phi(Ax + Bu + b)$, $C = \\operatorname{diag}(c)$, $c > 0$.

    Its Jacobian is $-C + \\operatorname{diag}(\\Phi')A$ with slopes $\\Phi' \\in [d_{\\min}, d_{\\max}]$;
    the exact contraction rate in a norm is $-\\max_{d}\\mu(-C + \\operatorname{diag}(d)A)$ over
    the slope box, attained at a vertex (seed 001, §Max log norms over hypercubes), computed
    by `contraction.firing_rate_rate`. When the rate $r > 0$ the equilibrium is unique and
    the forward-Euler (averaged) iteration $x \\mapsto x + h\\,f(x)$ at the step of
    `contraction.averaged_step` is a contraction.

    **Arguments (constructor):** `in_size`, `hidden_size`; `activation` with declared
    `slopes` in [0, 1] (checked); `scale` of the random $A$ entries ($N(0, \\text{scale}^2/n)$);
    `leak` (initial $c_i$); `key`.

    ```python
    net = cx.models.FiringRateNetwork(3, 20, scale=0.5, key=key)
    net.rate(p=jnp.inf)           # > 0: contracting in ℓ∞
    x_star = net.equilibrium(u).value
    ```

    Source: seed 001 (§Contractivity of recurrent neural networks; firing-rate model).
    """

    A: Float[Array, "n n"]
    B: Float[Array, "n m"]
    b: Float[Array, " n"]
    c: Float[Array, " n"]
    activation: Callable = eqx.field(static=True)
    slopes: tuple[float, float] = eqx.field(static=True)
    tol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        hidden_size: int,
        *,
        scale: float = 0.25,
        leak: float = 1.0,
        activation: Callable = jnp.tanh,
        slopes=(0.0, 1.0),
        tol: float = 1e-8,
        max_steps: int = 2000,
        key: PRNGKeyArray,
        dtype=None,
    ):
        if not leak > 0 or not math.isfinite(leak):
            raise ValueError(
                f"FiringRateNetwork needs a positive, finite leak rate c; got leak={leak}."
            )
        in_size = check_count(in_size, "FiringRateNetwork(in_size)")
        hidden_size = check_count(hidden_size, "FiringRateNetwork(hidden_size)")
        check_positive(scale, "FiringRateNetwork(scale)", allow_zero=True)
        check_positive(tol, "FiringRateNetwork(tol)")
        max_steps = check_count(max_steps, "FiringRateNetwork(max_steps)")
        self.slopes = check_slopes(activation, slopes, "FiringRateNetwork")
        dtype = jnp.result_type(float) if dtype is None else dtype
        kA, kB, kb = jax.random.split(key, 3)
        n = hidden_size
        self.A = scale * jax.random.normal(kA, (n, n), dtype) / math.sqrt(n)
        self.B = jax.random.normal(kB, (n, in_size), dtype) / math.sqrt(in_size)
        self.b = 0.1 * jax.random.normal(kb, (n,), dtype)
        self.c = jnp.full((n,), leak, dtype)
        self.activation = activation
        self.tol = float(tol)
        self.max_steps = int(max_steps)

    def vector_field(self, x: Float[Array, " n"], u: Float[Array, " m"]) -> Float[Array, " n"]:
        """$f(x, u) = -Cx + \\Phi(Ax + Bu + b)$."""
        check_shape(x, "x (the FiringRateNetwork state)", self.b.shape)
        check_shape(u, "u (the FiringRateNetwork input)", (self.B.shape[1],))
        return -self.c * x + self.activation(self.A @ x + self.B @ u + self.b)

    def rate(self, p=jnp.inf, weight=None) -> Float[Array, ""]:
        """Exact contraction rate over the slope box, $-\\max_{d}\\mu_p(-C + \\operatorname{diag}(d)A)$."""
        lo, hi = self.slopes
        return contraction.firing_rate_rate(
            self.A, C=jnp.diag(self.c), dmin=lo, dmax=hi, p=p, weight=weight
        )

    def lipschitz(self, p=jnp.inf, weight=None) -> Float[Array, ""]:
        """Upper bound $\\max_i c_i + d_{\\max}\\|A\\|_p$ on the Lipschitz constant of $f(\\cdot, u)$."""
        return jnp.max(self.c) + self.slopes[1] * norms.induced_norm(self.A, p, weight)

    def equilibrium(self, u: Float[Array, " m"], x0=None, *, p=jnp.inf, solver=None, adjoint=None):
        """Equilibrium $f(x^*, u) = 0$ by the averaged (forward-Euler) iteration.

        The step $h$ and factor $\\rho$ come from `contraction.averaged_step(rate, lipschitz, p)`
        in the unweighted ℓp norm; `stats["error_bound"]` is the solver's certified bound on
        $\\|x - x^\\star\\|_p$ from $\\rho$ (infinite when the rate is not positive: no certificate).

        **Returns:** a `contractax.Solution`.
        """
        from .. import solvers

        r = jax.lax.stop_gradient(self.rate(p))
        lip = jax.lax.stop_gradient(self.lipschitz(p))
        h, rho = contraction.averaged_step(jnp.maximum(r, 1e-6 * lip), lip, p=p)
        # without a positive rate there is no certificate: plain Euler step 1/ℓ, rho = 1
        h = jax.lax.stop_gradient(jnp.where(r > 0, h, 1.0 / lip))
        rho = jax.lax.stop_gradient(jnp.where(r > 0, jnp.minimum(rho, 1.0), 1.0))
        x0 = jnp.zeros_like(self.b) if x0 is None else x0

        def g(x, args):
            net, u, h = args
            return x + h * net.vector_field(x, u)

        solver = solvers.Picard() if solver is None else solver
        return solvers.fixed_point(
            g,
            x0,
            (self, u, h),
            solver=solver,
            tol=self.tol,
            max_steps=self.max_steps,
            norm=p,
            contraction=rho,
            adjoint=adjoint,
        )
