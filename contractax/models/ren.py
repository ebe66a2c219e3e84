r"""Recurrent equilibrium networks (RENs): contracting and Lipschitz (ℓ2-gain) by construction.

A REN (Revay, Wang & Manchester 2023, §III, eq. (2)–(4)) is the implicit state-space model

$$\begin{bmatrix} E x_{t+1}\\ \Lambda v_t\\ y_t\end{bmatrix} =
\begin{bmatrix} F & B_1 & B_2\\ C_1 & D_{11} & D_{12}\\ C_2 & D_{21} & D_{22}\end{bmatrix}
\begin{bmatrix} x_t\\ w_t\\ u_t\end{bmatrix} + \begin{bmatrix} b_x\\ b_v\\ b_y\end{bmatrix},
\qquad w_t = \sigma(v_t),$$

with σ elementwise and slope-restricted in [0, 1] (ReLU, tanh). Its *direct parametrisation*
builds $(E, F, B_1, C_1, \Lambda, D_{11}, P)$ from a free square matrix $X$ through
$H = X^\top X + \varepsilon I \succ 0$ (see `_ren_param.split_h`), so that for **every** value of the
free parameters

$$\begin{bmatrix} E + E^\top - P/\bar\alpha^2 & -C_1^\top & F^\top\\ -C_1 & 2\Lambda - D_{11} - D_{11}^\top & B_1^\top\\
F & B_1 & P\end{bmatrix} \succ 0. \tag{contraction LMI}$$

*Why it contracts.* Increments of two solutions obey $E\Delta x^+ = F\Delta x + B_1\Delta w$ and
$\Delta w_i(\Delta v_i - \Delta w_i) \ge 0$ (slopes in [0, 1]), so $2\Delta w^\top\Lambda(\Delta v - \Delta w) \ge 0$.
Take the Schur complement of $P$, use $E + E^\top - P/\bar\alpha^2 \preceq \bar\alpha^2 E^\top P^{-1}E$ (from
$(E - P/\bar\alpha^2)^\top(P/\bar\alpha^2)^{-1}(E - P/\bar\alpha^2) \succeq 0$) and multiply by $(\Delta x, \Delta w)$:
$V(\Delta x^+) < \bar\alpha^2 V(\Delta x) - 2\Delta w^\top\Lambda(\Delta v - \Delta w) \le \bar\alpha^2 V(\Delta x)$ with
$V(\Delta x) = \Delta x^\top M\Delta x$, $M = E^\top P^{-1}E$. So the state map contracts in
$\|\cdot\|_{2,M}$ at rate ≤ ᾱ; `contraction_metric()` returns M and the certified rate ρ ≤ ᾱ
(< 1 also for ᾱ = 1, through the ε margin). The (2,2) block $2\Lambda - D_{11} - D_{11}^\top \succ 0$
makes the equilibrium layer well posed; here $D_{11}$ is strictly lower triangular, so
$w = \sigma(\Lambda^{-1}(C_1x + D_{11}w + D_{12}u + b_v))$ is even solvable by forward substitution.

The equilibrium layer is solved with `contractax.fixed_point` (Picard: the layer map's Jacobian
is strictly lower triangular, so the iteration is exact after `hidden_size` steps), with
implicit-function-theorem derivatives in forward and reverse mode.

**Failed solves** (the contractax model convention): `model.solve(x, u)` returns the raw
`contractax.Solution` of the equilibrium layer; `model(x, u)` solves with `throw=False` and then,
per the static field `throw` (default True), raises the `RESULTS` message through `eqx.error_if`
or (throw=False) returns NaN `x_next` and `y` for the failed examples (per example under vmap).

**Precision.** The constructed matrices satisfy the LMI exactly only when their products are
computed in full precision; every product uses `precision` (default `Precision.HIGHEST`), without
which float32 on TPU (bfloat16 passes) and on Ampere+ GPUs (TF32) violates the guarantees.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .. import solvers
from .._checks import check_count, check_in_interval, check_positive, check_shape
from ._activation import check_slopes
from ._failure import on_failure
from ._ren_param import HIGHEST, guaranteed_rate, mm, solve, split_h

__all__ = ["ContractingREN", "LipschitzREN", "RENExplicit"]


class RENExplicit(eqx.Module):
    r"""The explicit form $x^+ = Ax + B_1w + B_2u + b_x$, $w = \sigma(D_{11}w + C_1x + D_{12}u + b_v)$,
    $y = C_2x + D_{21}w + D_{22}u + b_y$ of a REN ($A = E^{-1}F$, …, $D_{11} = \Lambda^{-1}D_{11}$ strictly
    lower triangular), computed once by `REN.explicit()` and reused over a rollout; `M` is the
    contraction metric and `rate` the certified rate."""

    A: Array
    B1: Array
    B2: Array
    C1: Array
    D11: Array
    D12: Array
    C2: Array
    D21: Array
    D22: Array
    bx: Array
    bv: Array
    by: Array
    M: Array
    rate: Array


class _Layer(eqx.Module):
    """The equilibrium-layer map w ↦ σ(D₁₁w + c); a Module of static fields, so equal
    configurations hash equal (one compiled solve per configuration)."""

    activation: Callable = eqx.field(static=True)
    precision: jax.lax.Precision = eqx.field(static=True)

    def __call__(self, w, args):
        D11, c = args
        return self.activation(mm(D11, w, self.precision) + c)


class _REN(eqx.Module):
    X: Float[Array, "N N"]
    Y: Float[Array, "n n"]
    B2: Float[Array, "n m"]
    D12: Float[Array, "q m"]
    C2: Float[Array, "p n"]
    D21: Float[Array, "p q"]
    D22: Float[Array, "p m"]
    bx: Float[Array, " n"]
    bv: Float[Array, " q"]
    by: Float[Array, " p"]
    sizes: tuple[int, int, int, int] = eqx.field(static=True)
    rate: float = eqx.field(static=True)
    eps: float = eqx.field(static=True)
    activation: Callable = eqx.field(static=True)
    tol: float | None = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    throw: bool = eqx.field(static=True)
    precision: jax.lax.Precision = eqx.field(static=True)

    def _init(self, name, input_size, state_size, hidden_size, output_size, rate, eps,
              activation, slopes, tol, max_steps, throw, precision, scale, key, dtype):  # fmt: skip
        m, n = (
            check_count(input_size, "input_size", minimum=0),
            check_count(state_size, "state_size"),
        )
        q, p = check_count(hidden_size, "hidden_size"), check_count(output_size, "output_size")
        check_in_interval(rate, "rate", 0.0, 1.0, closed="right")
        check_positive(eps, "eps")
        check_slopes(activation, slopes, name)
        dtype = jnp.result_type(float) if dtype is None else dtype
        N = 2 * n + q
        k = jax.random.split(key, 8)
        self.X = scale * jax.random.normal(k[0], (N, N), dtype) / math.sqrt(N)
        self.Y = jax.random.normal(k[1], (n, n), dtype) / math.sqrt(n)
        self.B2 = jax.random.normal(k[2], (n, m), dtype) / math.sqrt(max(m, 1))
        self.D12 = jax.random.normal(k[3], (q, m), dtype) / math.sqrt(max(m, 1))
        self.C2 = jax.random.normal(k[4], (p, n), dtype) / math.sqrt(n)
        self.D21 = jax.random.normal(k[5], (p, q), dtype) / math.sqrt(q)
        self.D22 = jnp.zeros((p, m), dtype)
        self.bx = jnp.zeros((n,), dtype)
        self.bv = 0.1 * jax.random.normal(k[6], (q,), dtype)
        self.by = jnp.zeros((p,), dtype)
        self.sizes = (m, n, q, p)
        self.rate, self.eps = float(rate), float(eps)
        self.activation = activation
        self.tol = None if tol is None else float(tol)
        self.max_steps = 2 * q + 8 if max_steps is None else check_count(max_steps, "max_steps")
        self.throw = bool(throw)
        self.precision = precision

    # ------------------------------------------------------------------ parametrisation
    def _output_d22(self) -> Array:
        return self.D22

    def _gamma_term(self) -> Array:
        """Added to XᵀX + εI (zero for the contracting REN)."""
        return jnp.zeros_like(self.X)

    def H(self) -> Float[Array, "N N"]:
        """$H = X^\\top X + \\varepsilon I\\,(+\\,\\Gamma)$, positive definite for every X."""
        N = self.X.shape[0]
        return (
            mm(self.X.T, self.X, self.precision)
            + self.eps * jnp.eye(N, dtype=self.X.dtype)
            + self._gamma_term()
        )

    def implicit(self) -> dict:
        """The implicit matrices E, F, B1, C1, Λ (vector), D11, P read off H (`split_h`)."""
        _, n, q, _ = self.sizes
        return split_h(self.H(), n, q, self.Y, self.rate)

    def explicit(self) -> RENExplicit:
        """The explicit model (one LU of E per call): reuse it over a rollout (`simulate`)."""
        _, n, q, _ = self.sizes
        H = self.H()
        imp = split_h(H, n, q, self.Y, self.rate)
        E, lam = imp["E"], imp["Lam"]
        EinvFB = solve(E, jnp.concatenate([imp["F"], imp["B1"], self.B2, self.bx[:, None]], 1))
        A, B1, B2, bx = jnp.split(EinvFB, [n, n + q, n + q + self.B2.shape[1]], axis=1)
        M = mm(E.T, solve(imp["P"], E), self.precision)
        M = 0.5 * (M + M.T)
        return RENExplicit(
            A=A, B1=B1, B2=B2, C1=imp["C1"] / lam[:, None], D11=imp["D11"] / lam[:, None],
            D12=self.D12 / lam[:, None], C2=self.C2, D21=self.D21, D22=self._output_d22(),
            bx=bx[:, 0], bv=self.bv / lam, by=self.by, M=M,
            rate=guaranteed_rate(H, n, q, M, self.rate),
        )  # fmt: skip

    def contraction_metric(self) -> tuple[Float[Array, "n n"], Float[Array, ""]]:
        """`(M, rho)`: the metric $M = E^\\top P^{-1}E$ (SPD) and a certified rate ρ ≤ ᾱ < 1… with
        $\\|\\partial x^+/\\partial x\\|_{2,M} \\le \\rho$ and $\\|x_t - x'_t\\|_{2,M} \\le \\rho^t\\|x_0 - x'_0\\|_{2,M}$
        for equal inputs. Use `cx.norms.induced_norm(J, 2, M)` to check it."""
        e = self.explicit()
        return e.M, e.rate

    # ------------------------------------------------------------------ evaluation
    def _check(self, x, u):
        m, n, _, _ = self.sizes
        return check_shape(x, "x (the REN state)", (n,)), check_shape(u, "u (the REN input)", (m,))

    def _solve(self, e: RENExplicit, x, u, w0=None, solver=None, adjoint=None):
        c = mm(e.C1, x, self.precision) + mm(e.D12, u, self.precision) + e.bv
        w0 = jnp.zeros_like(c) if w0 is None else w0
        return solvers.fixed_point(
            _Layer(self.activation, self.precision), w0, (e.D11, c),
            solver=solvers.Picard() if solver is None else solver,
            # ∂w/∂w = diag(σ')D₁₁ is nilpotent (D₁₁ strictly lower triangular): Picard solves
            # the linear backward system exactly in q steps, as it does the forward one
            adjoint=solvers.ImplicitAdjoint(solver="forward") if adjoint is None else adjoint,
            tol=self.tol, max_steps=self.max_steps, norm=jnp.inf, throw=False,
        )  # fmt: skip

    def solve(self, x: Float[Array, " n"], u: Float[Array, " m"], w0=None, *, solver=None,
              adjoint=None) -> solvers.Solution:  # fmt: skip
        """The raw solve of the equilibrium layer $w = \\sigma(D_{11}w + C_1x + D_{12}u + b_v)$
        (explicit form) by `contractax.fixed_point`; `value` is w."""
        x, u = self._check(x, u)
        return self._solve(self.explicit(), x, u, w0, solver, adjoint)

    def explicit_equilibrium(self, x: Float[Array, " n"], u: Float[Array, " m"]) -> Array:
        """The same w by forward substitution, $w_i = \\sigma(\\sum_{j<i}(D_{11})_{ij}w_j + c_i)$
        (possible because D₁₁ is strictly lower triangular): a reference for tests."""
        x, u = self._check(x, u)
        e = self.explicit()
        c = mm(e.C1, x, self.precision) + mm(e.D12, u, self.precision) + e.bv

        def body(i, w):
            return w.at[i].set(
                self.activation(jnp.dot(e.D11[i], w, precision=self.precision) + c[i])
            )

        return jax.lax.fori_loop(0, c.shape[0], body, jnp.zeros_like(c))

    def _apply(self, e: RENExplicit, x, u):
        sol = self._solve(e, x, u)
        w, prec = sol.value, self.precision
        x_next = mm(e.A, x, prec) + mm(e.B1, w, prec) + mm(e.B2, u, prec) + e.bx
        y = mm(e.C2, x, prec) + mm(e.D21, w, prec) + mm(e.D22, u, prec) + e.by
        return on_failure(sol, (x_next, y), self.throw)

    def __call__(self, x: Float[Array, " n"], u: Float[Array, " m"]):
        """One step: `(x_next, y)` for state `x` `(n,)` and input `u` `(m,)`; vmap for a batch."""
        x, u = self._check(x, u)
        return self._apply(self.explicit(), x, u)

    def simulate(self, x0: Float[Array, " n"], us: Float[Array, "T m"]):
        """Roll out from `x0` over inputs `us` `(T, m)` with `lax.scan` (the explicit matrices
        computed once). **Returns** `(xs, ys)`: states `(T+1, n)` (xs[0] = x0) and outputs `(T, p)`."""
        m, n, _, _ = self.sizes
        x0 = check_shape(x0, "x0 (the REN state)", (n,))
        us = check_shape(us, "us (the REN inputs)", (None, m))
        return _rollout(self, x0, us)


@eqx.filter_jit
def _rollout(model: _REN, x0, us):
    """`simulate`'s compiled body (module level: repeated eager calls reuse one program)."""
    e = model.explicit()

    def step(x, u):
        x_next, y = model._apply(e, x, u)
        return x_next, (x_next, y)

    _, (xs, ys) = jax.lax.scan(step, x0, us)
    return jnp.concatenate([x0[None], xs]), ys


_ARGS = """
    **Arguments (constructor):**

    - `input_size`, `state_size`, `hidden_size`, `output_size`: m (0 allowed), n, q, p.
    - `rate`: ᾱ ∈ (0, 1], the designed contraction rate (default 1: strict, certified rate from ε).
    - `eps`: the margin ε > 0 of $H = X^\\top X + \\varepsilon I$.
    - `activation`, `slopes`: elementwise σ with slopes in [0, 1] (default ReLU; checked on a grid).
    - `tol`, `max_steps`: the equilibrium solve (default `max_steps = 2·hidden_size + 8`; the
      Picard iteration is exact after `hidden_size` steps).
    - `throw`: failed solves raise (True) or give NaN outputs (False).
    - `precision`: matmul precision of every constrained product (default `HIGHEST`).
    - `scale`: initial size of X. `key`, `dtype`.
"""


class ContractingREN(_REN):
    __doc__ = (
        r"""Contracting recurrent equilibrium network $(x, u) \mapsto (x^+, y)$: contracting for every
    parameter value, in the metric $M = E^\top P^{-1}E$ at rate ≤ ᾱ (module docstring for the proof).

    Free parameters: $X \in \mathbb R^{(2n+q)\times(2n+q)}$, $Y \in \mathbb R^{n\times n}$ (skew part of E),
    $B_2, D_{12}, C_2, D_{21}, D_{22}$ and the biases; $H = X^\top X + \varepsilon I$ is split as in
    `split_h`: $P = H_{33}$, $F = H_{31}$, $B_1 = H_{32}$, $C_1 = -H_{21}$,
    $E = \frac12(H_{11} + P/\bar\alpha^2 + Y - Y^\top)$, $\Lambda = \frac12\operatorname{diag}H_{22}$,
    $D_{11} = -\operatorname{tril}(H_{22}, -1)$.
"""
        + _ARGS
        + r"""
    ```python
    ren = cx.models.ContractingREN(1, 4, 16, 1, key=jax.random.key(0))
    x1, y = ren(jnp.zeros(4), jnp.ones(1))
    M, rho = ren.contraction_metric()
    xs, ys = ren.simulate(jnp.zeros(4), us)          # us: (T, 1)
    ```

    Source: Revay, Wang & Manchester 2023 (IEEE TAC), §III (eq. 2–4), §IV Thm 1, §V-A (eq. 27–29).
    """
    )

    def __init__(self, input_size: int, state_size: int, hidden_size: int, output_size: int,
                 *, rate: float = 1.0, eps: float = 1e-3, activation: Callable = jax.nn.relu,
                 slopes=(0.0, 1.0), tol: float | None = None, max_steps: int | None = None,
                 throw: bool = True, precision=HIGHEST, scale: float = 1.0,
                 key: PRNGKeyArray, dtype=None):  # fmt: skip
        self._init("ContractingREN", input_size, state_size, hidden_size, output_size, rate, eps,
                   activation, slopes, tol, max_steps, throw, precision, scale, key, dtype)  # fmt: skip


class LipschitzREN(_REN):
    __doc__ = (
        r"""REN with incremental ℓ2 gain ≤ γ for every parameter value: for equal initial states,
    $\|y - y'\|_{\ell_2[0,T]} \le \gamma\|u - u'\|_{\ell_2[0,T]}$ (in general
    $\sum_t\|\Delta y_t\|^2 \le \gamma^2\sum_t\|\Delta u_t\|^2 + \gamma V(\Delta x_0)$); it is also contracting.

    The (Q, S, R) = (−I/γ, 0, γI) case of the robust REN. The dissipation inequality
    $V(\Delta x^+) - V(\Delta x) \le \gamma\|\Delta u\|^2 - \|\Delta y\|^2/\gamma$ follows, as for the
    contracting REN, from the LMI in $(\Delta x, \Delta w, P\text{-slot}, \Delta u)$
    $$\begin{bmatrix} H & G\\ G^\top & \gamma I\end{bmatrix} - \tfrac1\gamma c\,c^\top \succ 0,\quad
    c = \begin{bmatrix}C_2^\top\\ D_{21}^\top\\ 0\\ D_{22}^\top\end{bmatrix},\quad
    G_0 = \begin{bmatrix}0\\ -D_{12}\\ B_2\end{bmatrix},$$
    whose Schur complement in the u block is positive exactly when
    $H = X^\top X + \varepsilon I + \Gamma$ with
    $\Gamma = \tfrac1\gamma C_w^\top C_w + G R^{-1}G^\top$, $C_w = [C_2\ D_{21}\ 0]$,
    $G = G_0 - \tfrac1\gamma C_w^\top D_{22}$, $R = \gamma I - D_{22}^\top D_{22}/\gamma \succ 0$.
    So $B_2, D_{12}, C_2, D_{21}$ stay free and $D_{22} = \gamma Z/\sqrt{1 + \|Z\|_F^2}$ (‖D₂₂‖₂ < γ);
    H is then split as for `ContractingREN`.
"""
        + _ARGS
        + r"""    - `gamma`: the ℓ2-gain bound γ > 0.

    ```python
    ren = cx.models.LipschitzREN(2, 4, 16, 1, gamma=2.0, key=jax.random.key(0))
    xs, ys = ren.simulate(jnp.zeros(4), us)
    ```

    Source: Revay, Wang & Manchester 2023 (IEEE TAC), §IV Thm 2 (robust REN, (Q, S, R)), §V-B.
    """
    )

    gamma: float = eqx.field(static=True)

    def __init__(self, input_size: int, state_size: int, hidden_size: int, output_size: int,
                 *, gamma: float, rate: float = 1.0, eps: float = 1e-3,
                 activation: Callable = jax.nn.relu, slopes=(0.0, 1.0), tol: float | None = None,
                 max_steps: int | None = None, throw: bool = True, precision=HIGHEST,
                 scale: float = 1.0, key: PRNGKeyArray, dtype=None):  # fmt: skip
        self.gamma = float(check_positive(gamma, "gamma"))
        self._init("LipschitzREN", input_size, state_size, hidden_size, output_size, rate, eps,
                   activation, slopes, tol, max_steps, throw, precision, scale, key, dtype)  # fmt: skip

    def _output_d22(self) -> Array:
        return self.gamma * self.D22 / jnp.sqrt(1.0 + jnp.sum(self.D22**2))

    def _gamma_term(self) -> Array:
        m, n, q, p = self.sizes
        g, prec = self.gamma, self.precision
        D22 = self._output_d22()
        Cw = jnp.concatenate([self.C2, self.D21, jnp.zeros((p, n), self.X.dtype)], axis=1)
        G0 = jnp.concatenate([jnp.zeros((n, m), self.X.dtype), -self.D12, self.B2], axis=0)
        G = G0 - mm(Cw.T, D22, prec) / g
        R = g * jnp.eye(m, dtype=self.X.dtype) - mm(D22.T, D22, prec) / g
        return mm(Cw.T, Cw, prec) / g + mm(G, solve(R, G.T), prec)

    def lipschitz_bound(self) -> float:
        """γ, the guaranteed incremental ℓ2 gain."""
        return self.gamma
