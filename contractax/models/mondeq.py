"""Monotone deep equilibrium network z = ReLU(Wz + Ux + b), W = (1 − m)I − AᵀA + B − Bᵀ
(Winston & Kolter 2020; seed 004 §2.3.2 and §3.2)."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


def monotone_parametrisation(
    A: Float[Array, "n n"], B: Float[Array, "n n"], m
) -> Float[Array, "n n"]:
    """$W = (1 - m)I - A^\\top A + B - B^\\top$, so that $I - W \\succeq mI$ for every $A, B$.

    Indeed $\\tfrac12\\big((I - W) + (I - W)^\\top\\big) = mI + A^\\top A \\succeq mI$; the
    skew part $B - B^\\top$ does not enter the symmetric part (seed 004, Proposition 1).

    **Arguments:** `A`, `B` `(n, n)`; the monotonicity parameter `m` > 0.

    **Returns:** `W` `(n, n)`.
    """
    n = A.shape[-1]
    return (1.0 - m) * jnp.eye(n, dtype=A.dtype) - A.T @ A + B - B.T


class MonotoneDEQ(eqx.Module):
    """Fully connected monotone DEQ with ReLU: $z^\\star = \\operatorname{ReLU}(Wz^\\star + Ux + b)$,
    $y = Cz^\\star + c$, $W = (1 - m)I - A^\\top A + B - B^\\top$.

    ReLU is the proximal operator of the indicator of the non-negative orthant, so the
    fixed point is the zero of $F + G$ with $F(z) = (I - W)z - (Ux + b)$ strongly monotone
    ($I - W \\succeq mI$) and $G$ the normal cone: the equilibrium exists and is unique for
    every parameter value, and is found by forward–backward splitting
    $z \\leftarrow \\operatorname{ReLU}(z - \\alpha((I - W)z - Ux - b))$ (converges for
    $\\alpha < 2m/L^2$, $L = \\|I - W\\|_2$), Peaceman–Rachford (any $\\alpha > 0$) or any
    generic fixed-point solver. The map $x \\mapsto z^\\star$ is $\\|U\\|_2/m$-Lipschitz in ℓ2
    (Pabbaraju et al. 2021), hence $y$ is $\\|C\\|_2\\|U\\|_2/m$-Lipschitz.

    **Arguments (constructor):** `in_size`, `hidden_size`, `out_size`; `m` > 0; `tol`,
    `max_steps` of the solve; `key`.

    ```python
    net = cx.models.MonotoneDEQ(64, 100, 10, m=0.1, key=key)
    net.W; net.lipschitz_bound(); net(x)
    ```

    Source: seed 004 (§2.3.2 Monotone DEQ, Proposition 1; §3.2.1 Definition 3.2.1; §3.2.2).
    """

    A: Float[Array, "n n"]
    B: Float[Array, "n n"]
    U: Float[Array, "n d"]
    b: Float[Array, " n"]
    C: Float[Array, "q n"]
    c: Float[Array, " q"]
    m: float = eqx.field(static=True)
    tol: float | None = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        hidden_size: int,
        out_size: int,
        *,
        m: float = 0.1,
        scale: float = 0.5,
        tol: float | None = None,
        max_steps: int = 500,
        key: PRNGKeyArray,
        dtype=None,
    ):
        m = float(m)
        if not (0.0 < m <= 1.0):
            raise ValueError(
                f"MonotoneDEQ needs a strong-monotonicity parameter 0 < m <= 1 (I - W ⪰ mI); "
                f"got m={m}."
            )
        dtype = jnp.result_type(float) if dtype is None else dtype
        kA, kB, kU, kb, kC = jax.random.split(key, 5)
        n = hidden_size
        self.A = scale * jax.random.normal(kA, (n, n), dtype) / math.sqrt(n)
        self.B = scale * jax.random.normal(kB, (n, n), dtype) / math.sqrt(n)
        lim = 1.0 / math.sqrt(in_size)
        self.U = jax.random.uniform(kU, (n, in_size), dtype, -lim, lim)
        self.b = jax.random.uniform(kb, (n,), dtype, -lim, lim)
        lim_c = 1.0 / math.sqrt(n)
        self.C = jax.random.uniform(kC, (out_size, n), dtype, -lim_c, lim_c)
        self.c = jnp.zeros((out_size,), dtype)
        self.m = m
        self.tol = None if tol is None else float(tol)
        self.max_steps = int(max_steps)

    @property
    def W(self) -> Float[Array, "n n"]:
        """$W = (1 - m)I - A^\\top A + B - B^\\top$."""
        return monotone_parametrisation(self.A, self.B, self.m)

    def operator_norm(self) -> Float[Array, ""]:
        """$L = \\|I - W\\|_2$, the Lipschitz constant of $F(z) = (I - W)z - Ux - b$."""
        n = self.A.shape[0]
        return jnp.linalg.norm(jnp.eye(n, dtype=self.A.dtype) - self.W, ord=2)

    def fb_step_size(self) -> Float[Array, ""]:
        """The forward–backward step $\\alpha = m / L^2$ (mid-point of the range $(0, 2m/L^2)$)."""
        return self.m / self.operator_norm() ** 2

    def fb_factor(self, alpha=None) -> Float[Array, ""]:
        """Contraction factor $\\sqrt{1 - 2\\alpha m + \\alpha^2 L^2}$ of the forward–backward map
        in ℓ2 (seed 004, Proposition 3)."""
        a = self.fb_step_size() if alpha is None else alpha
        L = self.operator_norm()
        return jnp.sqrt(jnp.maximum(1.0 - 2.0 * a * self.m + a**2 * L**2, 0.0))

    def lipschitz_bound(self, p=2) -> Float[Array, ""]:
        """Input–output Lipschitz bound: $\\|C\\|_2\\|U\\|_2/m$ in ℓ2 (`p=2`); for `p=jnp.inf` the
        ℓ∞→ℓ∞ bound $\\sqrt{d}\\,\\|C\\|_2\\|U\\|_2/m$ that follows from norm equivalence."""
        l2 = jnp.linalg.norm(self.C, ord=2) * jnp.linalg.norm(self.U, ord=2) / self.m
        if p == 2:
            return l2
        if p == jnp.inf or p == math.inf:
            return math.sqrt(self.U.shape[1]) * l2
        raise ValueError(f"MonotoneDEQ.lipschitz_bound supports p=2 or p=jnp.inf; got p={p!r}.")

    def fb_map(
        self, z: Float[Array, " n"], x: Float[Array, " d"], alpha=None
    ) -> Float[Array, " n"]:
        """One forward–backward step $\\operatorname{ReLU}(z - \\alpha((I - W)z - Ux - b))$."""
        a = self.fb_step_size() if alpha is None else alpha
        return jax.nn.relu(z - a * (z - self.W @ z - self.U @ x - self.b))

    def equilibrium(self, x: Float[Array, " d"], z0=None, *, solver=None, adjoint=None):
        """Solve $z = \\operatorname{ReLU}(Wz + Ux + b)$.

        `solver=None` (Anderson) or any generic solver (`cx.Picard()`, ...) is applied to the
        forward–backward map at $\\alpha = m/L^2$, and `stats["error_bound"]` certifies
        $\\|z - z^\\star\\|_2$ from its factor; the splitting solvers
        `cx.solvers.ForwardBackward(alpha)` and `cx.solvers.PeacemanRachford(alpha)` go through
        `contractax.solvers.monotone_solve`.

        **Returns:** a `contractax.Solution`.
        """
        from .. import solvers

        z0 = jnp.zeros_like(self.b) if z0 is None else z0
        kw = {} if adjoint is None else {"adjoint": adjoint}
        if solver is None or isinstance(solver, solvers.AbstractSolver):
            # a generic solver on the forward-backward map z -> ReLU(z - α((I - W)z - Ux - b)),
            # whose factor ρ in ℓ2 certifies ‖z - z*‖₂ ≤ ‖T(z) - z‖₂ / (1 - ρ)
            alpha = jax.lax.stop_gradient(self.fb_step_size())
            rho = jax.lax.stop_gradient(self.fb_factor(alpha))
            solver = solvers.Anderson() if solver is None else solver
            return solvers.fixed_point(
                _fb,
                z0,
                (self.W, self.U @ x + self.b, alpha),
                solver=solver,
                tol=self.tol,
                max_steps=self.max_steps,
                contraction=rho,
                norm=2,
                **kw,
            )
        return solvers.monotone_solve(
            self.W,
            self.U @ x + self.b,
            _relu_prox,
            z0,
            solver=solver,
            tol=self.tol,
            max_steps=self.max_steps,
            **kw,
        )

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " q"]:
        """Output $y = Cz^\\star + c$ for one input `x`."""
        return self.C @ self.equilibrium(x).value + self.c


def _relu_prox(v, alpha):
    # ReLU is the proximal operator of the indicator of the non-negative orthant, for every α
    return jax.nn.relu(v)


def _fb(z, args):
    W, inj, alpha = args
    return jax.nn.relu(z - alpha * (z - W @ z - inj))
