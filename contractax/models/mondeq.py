"""Monotone deep equilibrium network z = ReLU(Wz + Ux + b), W = (1 − m)I − AᵀA + B − Bᵀ
(Winston & Kolter 2020; Hieu 2022 (thesis), §2.3.2 and §3.2), and the converse of the
parametrisation: every W with I − W ⪰ mI has that form."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._failure import on_failure


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


def monotone_parameters(
    W: Float[Array, "..."], m
) -> tuple[Float[Array, "n n"], Float[Array, "n n"]]:
    """The converse of `monotone_parametrisation`: $A, B$ with $W = (1 - m)I - A^\\top A + B - B^\\top$
    for any $W$ with $I - W \\succeq mI$ (symmetric part).

    With $S = \\tfrac12((I - W) + (I - W)^\\top) \\succeq mI$ and $K = \\tfrac12((I - W) - (I - W)^\\top)$:
    $A = (S - mI)^{1/2}$ (symmetric square root) and $B = -K/2$, since then
    $A^\\top A = S - mI$ and $B - B^\\top = -K$. So the parametrisation loses nothing: every
    strongly monotone $W$ is reached (the ⇒ direction of Prop. 1).

    **Arguments:** `W` `(n, n)`; `m` > 0. A `W` whose symmetric part violates
    $I - W \\succeq mI$ (beyond round-off) raises through `eqx.error_if` (under jit too).

    **Returns:** `(A, B)`, each `(n, n)`.

    ```python
    A, B = cx.models.monotone_parameters(W, m)
    cx.models.monotone_parametrisation(A, B, m)  # == W
    ```

    Source: Hieu 2022 (thesis), §2.3.2, Prop. 1; Winston & Kolter 2020, §3.
    """
    W = jnp.asarray(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"`W` must be a square matrix; got shape {W.shape}.")
    n = W.shape[0]
    eye = jnp.eye(n, dtype=W.dtype)
    M = eye - W
    S, K = 0.5 * (M + M.T), 0.5 * (M - M.T)
    lam, V = jnp.linalg.eigh(S - m * eye)
    tol = 100 * jnp.finfo(W.dtype).eps * (1 + jnp.max(jnp.abs(lam)))
    lam = eqx.error_if(
        lam,
        jnp.min(lam) < -tol,
        "monotone_parameters: the symmetric part of I - W is not ⪰ m·I; decrease `m` or pass a "
        "strongly monotone W.",
    )
    A = (V * jnp.sqrt(jnp.maximum(lam, 0.0))[None, :]) @ V.T
    return A, -0.5 * K


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

    **The thesis's model** (Hieu 2022, §3.2.1, Def. 3.2.1): `use_bias=False` and
    `out_size="scalar"` give $z^\\star = \\operatorname{ReLU}(Wz^\\star + Ux)$ and the scalar readout
    $f(\\theta, x) = u^\\top z^\\star$ (then `C` is the vector $u$ of shape `(n,)`, and `b`, `c` are
    `None`), the network whose NTK and GD convergence §3.3 analyses.

    **Failed solves:** `model.solve(x)` returns the raw `contractax.Solution`. `model(x)`
    solves and, when the solve did not succeed, raises through `eqx.error_if` with the
    `RESULTS` message (`throw=True`, the default: an unconverged equilibrium is never an
    output) or returns NaN outputs (`throw=False`, per example under `vmap`).

    **Arguments (constructor):** `in_size`, `hidden_size`; `out_size` (an int, or `"scalar"`);
    `m` in (0, 1]; `scale` of A and B; `use_bias`; `tol`, `max_steps` of the solve; `throw`;
    `key`; `dtype`.

    ```python
    net = cx.models.MonotoneDEQ(64, 100, 10, m=0.1, key=key)
    net.W; net.lipschitz_bound(); net(x); net.solve(x).stats["num_steps"]
    thesis = cx.models.MonotoneDEQ(64, 100, "scalar", use_bias=False, m=0.5, key=key)
    ```

    Source: Winston & Kolter 2020, §3; Hieu 2022 (thesis), §2.3.2 (Prop. 1), §3.2.1
    (Def. 3.2.1), §3.2.2 (Prop. 3).
    """

    A: Float[Array, "n n"]
    B: Float[Array, "n n"]
    U: Float[Array, "n d"]
    b: Float[Array, " n"] | None
    C: Float[Array, "q n"] | Float[Array, " n"]
    c: Float[Array, " q"] | None
    m: float = eqx.field(static=True)
    tol: float | None = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    throw: bool = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        hidden_size: int,
        out_size: int | str,
        *,
        m: float = 0.1,
        scale: float = 0.5,
        use_bias: bool = True,
        tol: float | None = None,
        max_steps: int = 500,
        throw: bool = True,
        key: PRNGKeyArray,
        dtype=None,
    ):
        m = float(m)
        if not (0.0 < m <= 1.0):
            raise ValueError(
                f"MonotoneDEQ needs a strong-monotonicity parameter 0 < m <= 1 (I - W ⪰ mI); "
                f"got m={m}."
            )
        if out_size != "scalar" and (
            isinstance(out_size, bool) or not isinstance(out_size, int) or out_size < 1
        ):
            raise ValueError(
                f"`out_size` must be a positive integer or 'scalar'; got {out_size!r}."
            )
        dtype = jnp.result_type(float) if dtype is None else dtype
        kA, kB, kU, kb, kC = jax.random.split(key, 5)
        n = hidden_size
        self.A = scale * jax.random.normal(kA, (n, n), dtype) / math.sqrt(n)
        self.B = scale * jax.random.normal(kB, (n, n), dtype) / math.sqrt(n)
        lim = 1.0 / math.sqrt(in_size)
        self.U = jax.random.uniform(kU, (n, in_size), dtype, -lim, lim)
        self.b = jax.random.uniform(kb, (n,), dtype, -lim, lim) if use_bias else None
        lim_c = 1.0 / math.sqrt(n)
        c_shape = (n,) if out_size == "scalar" else (out_size, n)
        self.C = jax.random.uniform(kC, c_shape, dtype, -lim_c, lim_c)
        c_out = () if out_size == "scalar" else (out_size,)
        self.c = jnp.zeros(c_out, dtype) if use_bias else None
        self.m = m
        self.tol = None if tol is None else float(tol)
        self.max_steps = int(max_steps)
        self.throw = bool(throw)

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
        in ℓ2 (Hieu 2022, §3.2.2, Prop. 3)."""
        return self._fb_step_and_factor(alpha)[1]

    def _fb_step_and_factor(self, alpha=None):
        """(α, ρ) from one evaluation of $L = \|I - W\|_2$ (an SVD; 0.49 s at n = 800)."""
        L = self.operator_norm()
        a = self.m / L**2 if alpha is None else alpha
        return a, jnp.sqrt(jnp.maximum(1.0 - 2.0 * a * self.m + a**2 * L**2, 0.0))

    def lipschitz_bound(self, p=2) -> Float[Array, ""]:
        """Input–output Lipschitz bound: $\\|C\\|_2\\|U\\|_2/m$ in ℓ2 (`p=2`); for `p=jnp.inf` the
        ℓ∞→ℓ∞ bound $\\sqrt{d}\\,\\|C\\|_2\\|U\\|_2/m$ that follows from norm equivalence."""
        c2 = jnp.linalg.norm(self.C, ord=2) if self.C.ndim == 2 else jnp.linalg.norm(self.C)
        l2 = c2 * jnp.linalg.norm(self.U, ord=2) / self.m
        if p == 2:
            return l2
        if p == jnp.inf or p == math.inf:
            return math.sqrt(self.U.shape[1]) * l2
        raise ValueError(f"MonotoneDEQ.lipschitz_bound supports p=2 or p=jnp.inf; got p={p!r}.")

    def _injection(self, x):
        d = self.U.shape[1]
        if jnp.shape(x) != (d,):
            raise ValueError(
                f"MonotoneDEQ takes one input `x` of shape ({d},); got shape {jnp.shape(x)} "
                "(use jax.vmap(model) for a batch)."
            )
        inj = self.U @ x
        return inj if self.b is None else inj + self.b

    def fb_map(
        self, z: Float[Array, " n"], x: Float[Array, "..."], alpha=None
    ) -> Float[Array, " n"]:
        """One forward–backward step $\\operatorname{ReLU}(z - \\alpha((I - W)z - Ux - b))$."""
        a = self.fb_step_size() if alpha is None else alpha
        return jax.nn.relu(z - a * (z - self.W @ z - self._injection(x)))

    def solve(self, x: Float[Array, "..."], z0=None, *, solver=None, adjoint=None):
        """Solve $z = \\operatorname{ReLU}(Wz + Ux + b)$ and return the `contractax.Solution`.

        `solver=None` (Anderson) or any generic solver (`cx.Picard()`, ...) is applied to the
        forward–backward map at $\\alpha = m/L^2$, and `stats["error_bound"]` certifies
        $\\|z - z^\\star\\|_2$ from its factor; the splitting solvers
        `cx.solvers.ForwardBackward(alpha)` and `cx.solvers.PeacemanRachford(alpha)` go through
        `contractax.solvers.monotone_solve`. Never raises on a failed solve: read `result`.
        """
        from .. import solvers

        inj = self._injection(x)
        n = self.A.shape[0]
        z0 = jnp.zeros(n, inj.dtype) if z0 is None else z0
        if solver is None or isinstance(solver, solvers.AbstractSolver):
            # a generic solver on the forward-backward map z -> ReLU(z - α((I - W)z - Ux - b)),
            # whose factor ρ in ℓ2 certifies ‖z - z*‖₂ ≤ ‖T(z) - z‖₂ / (1 - ρ)
            alpha, rho = jax.lax.stop_gradient(self._fb_step_and_factor())
            solver = solvers.Anderson() if solver is None else solver
            return solvers.fixed_point(
                _fb,
                z0,
                (self.W, inj, alpha),
                solver=solver,
                tol=self.tol,
                max_steps=self.max_steps,
                contraction=rho,
                norm=2,
                throw=False,
                adjoint=adjoint,
            )
        return solvers.monotone_solve(
            self.W,
            inj,
            _relu_prox,
            z0,
            solver=solver,
            tol=self.tol,
            max_steps=self.max_steps,
            throw=False,
            adjoint=adjoint,
        )

    equilibrium = solve  # the former name

    def features(self, x: Float[Array, "..."], *, solver=None, adjoint=None) -> Float[Array, " n"]:
        """The equilibrium $z^\\star(x)$, with the model's failure convention (see the class)."""
        sol = self.solve(x, solver=solver, adjoint=adjoint)
        return on_failure(sol, sol.value, self.throw)

    def __call__(self, x: Float[Array, "..."], *, solver=None, adjoint=None):
        """Output $y = Cz^\\star + c$ (a scalar $u^\\top z^\\star$ for `out_size="scalar"`) for one
        input `x` of shape `(in_size,)`."""
        sol = self.solve(x, solver=solver, adjoint=adjoint)
        y = self.C @ sol.value
        y = y if self.c is None else y + self.c
        return on_failure(sol, y, self.throw)


def _relu_prox(v, alpha):
    # ReLU is the proximal operator of the indicator of the non-negative orthant, for every α
    return jax.nn.relu(v)


def _fb(z, args):
    W, inj, alpha = args
    return jax.nn.relu(z - alpha * (z - W @ z - inj))
