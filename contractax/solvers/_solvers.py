"""Fixed-point iterations as immutable configuration modules.

Each solver acts on a flat vector z with the current value fz = f(z) and returns the next
iterate; the driver in `_fixed_point.py` evaluates f once per step. Sources: seed 001
(Picard and averaged / Krasnosel'skii–Mann iteration), seed 004 §2.1.2 (Anderson, Broyden).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import count, nonnegative, real_in

Vec = Float[Array, " n"]


def _spd_solve(H, b):
    """Solve H x = b for a small SPD matrix by an unrolled Cholesky factorisation.

    Plain elementwise ops (no LAPACK call), so XLA fuses them and `vmap` over a batch of
    problems stays cheap; m is the (static) Anderson history.
    """
    m = H.shape[0]
    L = [[None] * m for _ in range(m)]
    for j in range(m):
        s = H[j, j] - sum(L[j][k] * L[j][k] for k in range(j))
        L[j][j] = jnp.sqrt(jnp.maximum(s, jnp.finfo(H.dtype).tiny))
        for i in range(j + 1, m):
            L[i][j] = (H[i, j] - sum(L[i][k] * L[j][k] for k in range(j))) / L[j][j]
    y = [None] * m
    for i in range(m):
        y[i] = (b[i] - sum(L[i][k] * y[k] for k in range(i))) / L[i][i]
    x = [None] * m
    for i in reversed(range(m)):
        x[i] = (y[i] - sum(L[k][i] * x[k] for k in range(i + 1, m))) / L[i][i]
    return jnp.stack(x)


class AndersonState(NamedTuple):
    """The last m values f_i, residuals g_i = f_i − x_i, their Gram matrix, and the count."""

    f: Float[Array, "m n"]
    g: Float[Array, "m n"]
    gram: Float[Array, "m m"]
    count: Array


class BroydenState(NamedTuple):
    """The rank-one terms B = −I + Σ u_i v_iᵀ, their count, and the previous z and g."""

    u: Float[Array, "m n"]
    v: Float[Array, "m n"]
    count: Array
    z_prev: Vec
    g_prev: Vec
    has_prev: Array


class AbstractSolver(eqx.Module):
    """A fixed-point iteration z_{k+1} = step(z_k, f(z_k), state, args)."""

    def init(self, z: Vec, fz: Vec, args: Any = None) -> Any:
        return None

    def step(self, z: Vec, fz: Vec, state: Any, args: Any = None) -> tuple[Vec, Any]:
        raise NotImplementedError


class Picard(AbstractSolver):
    """Picard (Banach) iteration $z_{k+1} = f(z_k)$.

    Converges linearly with factor ρ = Lip(f) when f is a contraction (Banach's theorem).

    **Example:** `cx.fixed_point(f, z0, args, solver=cx.Picard())`.

    Source: seed 001 §"On fixed point algorithms and Banach contractions".
    """

    def step(self, z, fz, state, args=None):
        return fz, state


class Relaxed(AbstractSolver):
    """Averaged (damped, Krasnosel'skii–Mann) iteration $z_{k+1} = (1-α) z_k + α f(z_k)$.

    For a map with one-sided Lipschitz constant below 1 some α ∈ (0, 1) makes the averaged
    map a contraction even when f itself is not one (seed 001, infinitesimal contraction
    theorem); `cx.contraction.averaged_step` gives the optimal α.

    **Arguments:**

    - `alpha`: the step α ∈ (0, 1]; α = 1 is Picard.

    Source: seed 001 §"On fixed point algorithms and Banach contractions".
    """

    alpha: float = eqx.field(default=0.5, converter=real_in("Relaxed(alpha)", 0.0, 1.0, "right"))

    def step(self, z, fz, state, args=None):
        return z + self.alpha * (fz - z), state


class Anderson(AbstractSolver):
    """Anderson acceleration (type II, safeguarded).

    With the last m iterates $x_i$, values $f_i = f(x_i)$ and residuals $g_i = f_i - x_i$,
    $$α = \\arg\\min_{\\mathbf 1^⊤α = 1} α^⊤(G G^⊤ + λ I)α,\\qquad
    z_{k+1} = \\sum_i α_i\\,(β f_i + (1-β) x_i).$$
    The Gram matrix is updated one row per step (O(mn)), the ridge λ is relative to its
    largest diagonal entry, and a non-finite or wildly extrapolating solution (Σ|α| > 10⁴)
    falls back to the relaxed step β f + (1 − β) z and restarts the history, so the
    iteration never produces NaN from the least-squares solve.

    **Arguments:**

    - `history`: memory m (number of stored pairs).
    - `mixing`: β ∈ (0, 1].
    - `ridge`: relative Tikhonov regularisation λ of the Gram system.
    - `mixing_frequency`: extrapolate on every k-th step only; the steps in between are the
      relaxed step β f + (1 − β) z, and the history is updated on every step (jaxopt's
      option). k = 1 (default) extrapolates on every step. Measured
      (`python -m experiments.benchmarks anderson_mixing`, float32, tol 1e-5): on a linear
      contraction with eigenvalues in [−0.9, 0.99] k = 3 needs 69 evaluations on average
      against 146 for k = 1; on a tanh DEQ layer and on x = cos x + θ it changes little or
      costs (19.4 → 18.6 and 10 → 11 at k = 3).

    Source: seed 004 §2.1.2 (Anderson 1965; Walker & Ni 2011).
    """

    history: int = eqx.field(default=5, converter=count("Anderson(history)"))
    mixing: float = eqx.field(default=1.0, converter=real_in("Anderson(mixing)", 0.0, 1.0, "right"))
    ridge: float = eqx.field(default=1e-6, converter=nonnegative("Anderson(ridge)"))
    mixing_frequency: int = eqx.field(default=1, converter=count("Anderson(mixing_frequency)"))

    def init(self, z, fz, args=None):
        m, n = self.history, z.shape[0]
        return AndersonState(
            f=jnp.zeros((m, n), z.dtype),
            g=jnp.zeros((m, n), z.dtype),
            gram=jnp.zeros((m, m), z.dtype),
            count=jnp.array(0, jnp.int32),
        )

    def step(self, z, fz, state, args=None):
        m, beta = self.history, self.mixing
        count = state.count
        slot = count % m
        g = fz - z
        # one-hot selects instead of scatters: cheap under vmap, where `slot` is batched
        hot = jnp.arange(m) == slot
        f = jnp.where(hot[:, None], fz[None, :], state.f)
        G = jnp.where(hot[:, None], g[None, :], state.g)
        filled = jnp.arange(m) < jnp.minimum(count + 1, m)
        row = jnp.where(filled, G @ g, 0.0)
        gram = jnp.where(hot[:, None], row[None, :], state.gram)
        gram = jnp.where(hot[None, :], row[:, None], gram)
        gm = jnp.where(filled[:, None] & filled[None, :], gram, 0.0)
        scale = jnp.max(jnp.diagonal(gm))
        tiny = jnp.finfo(z.dtype).tiny
        diag = jnp.where(filled, self.ridge * scale + tiny, 1.0)
        a = _spd_solve(gm + jnp.diag(diag), filled.astype(z.dtype))
        alpha = a / jnp.sum(a)
        ok = jnp.all(jnp.isfinite(alpha)) & (jnp.sum(jnp.abs(alpha)) < 1e4)
        alpha = jnp.where(ok, alpha, 0.0)
        mixed = alpha @ f  # sum_i alpha_i (beta f_i + (1 - beta) x_i), x_i = f_i - g_i
        fallback = fz
        if beta != 1.0:
            mixed = mixed - (1.0 - beta) * (alpha @ G)
            fallback = z + beta * g
        z_new = jnp.where(ok, mixed, fallback)
        if self.mixing_frequency > 1:  # a plain (relaxed) step between extrapolations
            z_new = jnp.where(count % self.mixing_frequency == 0, z_new, fallback)
        new = AndersonState(f=f, g=G, gram=gram, count=jnp.where(ok, count + 1, 0))
        return z_new, new


class Broyden(AbstractSolver):
    """Limited-memory ("good") Broyden method on g(z) = f(z) − z.

    The inverse Jacobian estimate $B ≈ (∂g/∂z)^{-1}$ starts at $-I$ and is updated by
    $$B_+ = B + \\frac{(Δz - BΔg)\\,Δz^⊤B}{Δz^⊤ B Δg},\\qquad z_{k+1} = z_k - B g(z_k),$$
    stored as m rank-one terms. When the memory is full it restarts from −I, so memory does
    not grow with `max_steps` (unlike the DEQ implementation of Bai et al. 2019).
    Degenerate updates are skipped and a non-finite step falls back to Picard.

    **Arguments:**

    - `memory`: number of rank-one updates kept before a restart.

    Source: seed 004 §2.1.2 (Broyden 1965).
    """

    memory: int = eqx.field(default=16, converter=count("Broyden(memory)"))

    def init(self, z, fz, args=None):
        m, n = self.memory, z.shape[0]
        return BroydenState(
            u=jnp.zeros((m, n), z.dtype),
            v=jnp.zeros((m, n), z.dtype),
            count=jnp.array(0, jnp.int32),
            z_prev=z,
            g_prev=fz - z,
            has_prev=jnp.array(False),
        )

    def step(self, z, fz, state, args=None):
        m = self.memory
        u, v, count = state.u, state.v, state.count
        g = fz - z
        dz = z - state.z_prev
        dg = g - state.g_prev
        live = jnp.arange(m) < count  # terms beyond `count` are ignored
        bdg = -dg + jnp.where(live, v @ dg, 0.0) @ u
        btdz = -dz + jnp.where(live, u @ dz, 0.0) @ v
        denom = jnp.vdot(dz, bdg)
        eps = jnp.finfo(z.dtype).eps
        valid = (
            state.has_prev
            & (jnp.abs(denom) > eps * jnp.linalg.norm(dz) * jnp.linalg.norm(bdg))
            & jnp.isfinite(denom)
        )
        # a full memory restarts from B = -I: the new term goes to slot 0
        count = jnp.where(valid & (count >= m), 0, count)
        slot = jnp.minimum(count, m - 1)
        u_new = (dz - bdg) / jnp.where(valid, denom, 1.0)
        hot = (jnp.arange(m) == slot) & valid  # one-hot select: no scatter under vmap
        u = jnp.where(hot[:, None], u_new[None, :], u)
        v = jnp.where(hot[:, None], btdz[None, :], v)
        count = jnp.where(valid, count + 1, count)
        live = jnp.arange(m) < count
        z_new = z + g - jnp.where(live, v @ g, 0.0) @ u  # z - B g
        ok = jnp.all(jnp.isfinite(z_new))
        z_new = jnp.where(ok, z_new, fz)
        count = jnp.where(ok, count, 0)
        new = BroydenState(u=u, v=v, count=count, z_prev=z, g_prev=g, has_prev=jnp.array(True))
        return z_new, new
