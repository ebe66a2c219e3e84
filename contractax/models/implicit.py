"""Implicit neural network x = Φ(Ax + Bu + b), y = Cx + c, well posed by construction through
the weighted μ∞ parametrisation of seed 001 (Jafarpour, Davydov, Proskurnikov, Bullo 2021)."""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .. import norms
from .._checks import check_count, check_positive, check_shape
from ._activation import check_slopes
from ._failure import on_failure


def mu_infinity_parametrisation(
    T: Float[Array, "n n"], d: Float[Array, " n"], gamma
) -> Float[Array, "n n"]:
    """The matrix $A = \\gamma I + D T D^{-1} - \\operatorname{diag}(|T|\\mathbb 1)$, $D = \\operatorname{diag}(e^{d})$.

    For every real $T$ and $d$, $\\mu_{\\infty,\\eta}(A) \\le \\gamma$ with $\\eta = e^{d}$ in
    Bullo's convention $\\|x\\|_{\\infty,\\eta} = \\max_i |x_i|/\\eta_i$: the similarity
    $D^{-1} A D = \\gamma I + T - \\operatorname{diag}(|T|\\mathbb 1)$ has row sums
    $a_{ii} + \\sum_{j\\ne i}|a_{ij}| = \\gamma + t_{ii} - |t_{ii}| \\le \\gamma$.
    With $d = 0$ this is the slide's $A = T - \\operatorname{diag}(|T|\\mathbb 1) + \\gamma I$.
    (The released NEMON code writes $D^{-1} T D$ with the reciprocal weight convention.)

    **Arguments:** `T` `(n, n)`, log-weights `d` `(n,)`, `gamma` (a number).

    **Returns:** `A` `(n, n)`.

    Source: seed 001 (§Training INNs, parametrisation of the μ∞ constraint).
    """
    eta = jnp.exp(d)
    n = T.shape[-1]
    return (
        gamma * jnp.eye(n, dtype=T.dtype)
        + (eta[:, None] * T / eta[None, :])
        - jnp.diag(jnp.sum(jnp.abs(T), axis=-1))
    )


class ImplicitNetwork(eqx.Module):
    """Implicit (equilibrium) network $x = \\Phi(Ax + Bu + b)$, $y = Cx + c$ with $\\mu_{\\infty,\\eta}(A) \\le \\gamma < 1$.

    `A` is never stored: it is built from the free parameters `T`, `d` by
    `mu_infinity_parametrisation`, so any values of the array leaves (set by training or
    `eqx.tree_at`) give a well-posed network. With activation slopes in $[0, 1]$:

    - the fixed point exists, is unique, and the averaged iteration
      $x_{k+1} = (1-\\alpha)x_k + \\alpha\\Phi(Ax_k + Bu + b)$ with
      $\\alpha^* = 1/(1 - \\min_i (a_{ii})_-)$ is a contraction in $\\|\\cdot\\|_{\\infty,\\eta}$ with
      factor $1 - (1-\\mu_{\\infty,\\eta}(A)_+)/(1-\\min_i (a_{ii})_-)$;
    - the input–output map is Lipschitz from $\\ell_\\infty$ to $\\ell_\\infty$ with constant
      $\\|D^{-1}B\\|_\\infty \\|CD\\|_\\infty / (1 - \\mu_{\\infty,\\eta}(A)_+)$, $D = \\operatorname{diag}(\\eta)$
      (with $\\eta = \\mathbb 1$: $\\|B\\|_\\infty\\|C\\|_\\infty/(1-\\mu_\\infty(A)_+)$).

    **Arguments (constructor):**

    - `in_size`, `hidden_size`, `out_size`: dimensions of u, x, y.
    - `gamma`: the bound on $\\mu_{\\infty,\\eta}(A)$; must be < 1 (else `ValueError`).
    - `activation`: elementwise, weakly increasing, slope ≤ 1 (default ReLU). `slopes`: its
      declared slope bounds $[d_{\\min}, d_{\\max}] \\subseteq [0, 1]$, checked on a grid.
    - `weighted`: if False, the weights $d$ are kept at 0 (plain ℓ∞, as on the slides)
      and receive no gradient.
    - `tol`, `max_steps`: fixed-point tolerance and iteration cap. `key`: PRNG key.
    - `throw`: what `net(u)` does when the solve fails: raise the `RESULTS` message (`True`,
      the default) or return NaN outputs (and NaN derivatives) for that example (`False`).
      `net.solve(u)` returns the full `contractax.Solution` and never raises.

    ```python
    net = cx.models.ImplicitNetwork(64, 100, 10, gamma=0.5, key=jax.random.PRNGKey(0))
    logits = net(u)                          # one input; jax.vmap(net)(U) for a batch
    net.mu(), net.lipschitz_bound(), net.contraction_factor()
    ```

    Source: seed 001 (§Well-posedness and robustness of ℓ∞-contracting INNs; §Training INNs).
    """

    T: Float[Array, "n n"]
    d: Float[Array, " n"]
    B: Float[Array, "n m"]
    b: Float[Array, " n"]
    C: Float[Array, "q n"]
    c: Float[Array, " q"]
    gamma: float = eqx.field(static=True)
    activation: Callable = eqx.field(static=True)
    slopes: tuple[float, float] = eqx.field(static=True)
    weighted: bool = eqx.field(static=True)
    tol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    throw: bool = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        hidden_size: int,
        out_size: int,
        *,
        gamma: float = 0.5,
        activation: Callable = jax.nn.relu,
        slopes=(0.0, 1.0),
        weighted: bool = True,
        tol: float = 1e-6,
        max_steps: int = 300,
        throw: bool = True,
        key: PRNGKeyArray,
        dtype=None,
    ):
        gamma = float(gamma)
        if not gamma < 1.0 or math.isnan(gamma):
            raise ValueError(
                f"ImplicitNetwork needs gamma < 1 for the fixed point to be well posed "
                f"(μ∞(A) ≤ γ < 1 makes x = Φ(Ax + Bu + b) a contraction); got gamma={gamma}."
            )
        self.slopes = check_slopes(activation, slopes, "ImplicitNetwork")
        dtype = jnp.result_type(float) if dtype is None else dtype
        in_size = check_count(in_size, "ImplicitNetwork(in_size)")
        hidden_size = check_count(hidden_size, "ImplicitNetwork(hidden_size)")
        out_size = check_count(out_size, "ImplicitNetwork(out_size)")
        kT, kB, kb, kC = jax.random.split(key, 4)
        n = hidden_size
        self.T = jax.random.normal(kT, (n, n), dtype) / n
        self.d = jnp.zeros((n,), dtype)
        lim_b = 1.0 / math.sqrt(in_size)
        self.B = jax.random.uniform(kB, (n, in_size), dtype, -lim_b, lim_b)
        self.b = jax.random.uniform(kb, (n,), dtype, -lim_b, lim_b)
        lim_c = 1.0 / math.sqrt(n)
        self.C = jax.random.uniform(kC, (out_size, n), dtype, -lim_c, lim_c)
        self.c = jnp.zeros((out_size,), dtype)
        self.gamma = gamma
        self.activation = activation
        self.weighted = bool(weighted)
        self.tol = float(tol)
        self.max_steps = check_count(max_steps, "ImplicitNetwork(max_steps)")
        check_positive(tol, "ImplicitNetwork(tol)")
        self.throw = bool(throw)

    # ------------------------------------------------------------------ structure
    @property
    def eta(self) -> Float[Array, " n"]:
        """Weights $\\eta = e^{d}$ of the norm $\\|x\\|_{\\infty,\\eta} = \\max_i |x_i|/\\eta_i$."""
        d = self.d if self.weighted else jax.lax.stop_gradient(jnp.zeros_like(self.d))
        return jnp.exp(d)

    @property
    def A(self) -> Float[Array, "n n"]:
        """The synaptic matrix $A$, with $\\mu_{\\infty,\\eta}(A) \\le \\gamma$ by construction."""
        return mu_infinity_parametrisation(self.T, jnp.log(self.eta), self.gamma)

    def mu(self) -> Float[Array, ""]:
        """$\\mu_{\\infty,\\eta}(A)$ computed from `A` by `contractax.norms.lognorm`; at most γ up to
        rounding (≈ 1e-7 in float32, 1e-16 in float64). NaN/inf weights raise (name `A`)."""
        return norms.lognorm(self.A, jnp.inf, self.eta)

    def _rho(self) -> Float[Array, ""]:
        """`contraction_factor()` without the NaN check: NaN weights give a NaN factor, so that a
        solve with `throw=False` returns NaN outputs instead of raising from `lognorm`."""
        mu = norms._lognorm_unchecked(self.A, jnp.inf, self.eta)
        return 1.0 - (1.0 - jnp.maximum(mu, 0.0)) * self.step_size()

    def step_size(self) -> Float[Array, ""]:
        """Optimal averaged-iteration step $\\alpha^* = 1/(1 - \\min_i \\min(a_{ii}, 0))$."""
        return 1.0 / (1.0 - jnp.minimum(jnp.min(jnp.diag(self.A)), 0.0))

    def contraction_factor(self) -> Float[Array, ""]:
        """Factor $1 - (1 - \\mu_{\\infty,\\eta}(A)_+)/(1 - \\min_i (a_{ii})_-)$ of the averaged
        iteration at $\\alpha^*$, in $\\|\\cdot\\|_{\\infty,\\eta}$ (seed 001)."""
        return 1.0 - (1.0 - jnp.maximum(self.mu(), 0.0)) * self.step_size()

    def lipschitz_bound(self) -> Float[Array, ""]:
        """ℓ∞→ℓ∞ Lipschitz bound of $u \\mapsto y$:
        $\\|D^{-1}B\\|_\\infty\\|CD\\|_\\infty / (1-\\mu_{\\infty,\\eta}(A)_+)$, $D = \\operatorname{diag}(\\eta)$.

        Differentiable, so `λ · lipschitz_bound()` can regularise training (seed 001,
        §Training INNs)."""
        eta = self.eta
        nB = jnp.max(jnp.sum(jnp.abs(self.B), axis=-1) / eta)
        nC = jnp.max(jnp.sum(jnp.abs(self.C) * eta[None, :], axis=-1))
        return nB * nC / (1.0 - jnp.maximum(self.mu(), 0.0))

    # ------------------------------------------------------------------ evaluation
    def averaged_map(self, x: Float[Array, " n"], u: Float[Array, " m"]) -> Float[Array, " n"]:
        """One averaged iteration $(1-\\alpha^*)x + \\alpha^*\\Phi(Ax + Bu + b)$."""
        a = self.step_size()
        return (1.0 - a) * x + a * self.activation(self.A @ x + self.B @ u + self.b)

    def equilibrium(
        self, u: Float[Array, " m"], x0=None, *, solver=None, adjoint=None, tol=None, max_steps=None
    ):
        """Solve $x = \\Phi(Ax + Bu + b)$ by the averaged iteration (default: Picard on the
        averaged map at $\\alpha^*$, implicit adjoint).

        **Arguments:** `u` `(m,)`; optional start `x0`; optional `solver`/`adjoint` from
        `contractax` (e.g. `cx.Anderson()`); `tol`, `max_steps` override the model's.

        **Returns:** a `contractax.Solution`; `value` is $x^*$, `stats["error_bound"]` a
        certified bound on $\\|x_k - x^*\\|_{\\infty}$ from the contraction factor:
        $\\max_i\\eta_i\\,\\|g(x_k) - x_k\\|_{\\infty,\\eta}/(1-\\rho)$.
        """
        from .. import solvers

        u = check_shape(u, "u (the ImplicitNetwork input)", (self.B.shape[1],))
        A = self.A
        alpha = jax.lax.stop_gradient(self.step_size())
        inj = self.B @ u + self.b
        x0 = jnp.zeros_like(self.b) if x0 is None else x0
        rho = jax.lax.stop_gradient(self._rho())
        solver = solvers.Picard() if solver is None else solver
        # The stopping test uses the plain ℓ∞ norm; the certificate below uses the weighted one,
        # in which the averaged map contracts with factor rho.
        sol = solvers.fixed_point(
            _averaged,
            x0,
            (A, inj, alpha, self.activation),
            solver=solver,
            tol=self.tol if tol is None else tol,
            max_steps=self.max_steps if max_steps is None else max_steps,
            norm=jnp.inf,
            adjoint=adjoint,
        )
        x = jax.lax.stop_gradient(sol.value)
        eta = jax.lax.stop_gradient(self.eta)
        resid = jnp.max(
            jnp.abs(_averaged(x, (*jax.lax.stop_gradient((A, inj, alpha)), self.activation)) - x)
            / eta
        )
        bound = jnp.max(eta) * resid / (1.0 - rho)
        return eqx.tree_at(lambda s: s.stats, sol, dict(sol.stats) | {"error_bound": bound})

    solve = equilibrium  # the name every implicit model uses

    def __call__(self, u: Float[Array, " m"]) -> Float[Array, " q"]:
        """Output $y = Cx^* + c$ for one input `u` `(m,)`; a failed solve raises the `RESULTS`
        message (`throw=True`, the default) or gives NaN outputs for that example."""
        sol = self.equilibrium(u)
        return on_failure(sol, self.C @ sol.value + self.c, self.throw)


def _averaged(x, args):
    A, inj, alpha, act = args
    return (1.0 - alpha) * x + alpha * act(A @ x + inj)
