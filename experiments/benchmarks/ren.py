"""The cost of a guarantee: REN and LBDN forward + gradient against unconstrained networks.

- One step of a `ContractingREN` (m = 8 inputs, n = 32 states, q = 64 neurons, p = 8 outputs),
  batch 256, against an unconstrained recurrent step x⁺ = tanh(Ax + Bu + b), y = Cx of the same
  state and output sizes.
  The REN rebuilds its explicit matrices from the direct parametrisation (the H matrix,
  one LU of E, the metric M) on every call and solves its equilibrium layer with
  `cx.fixed_point` (Picard, q steps), so the ratio is the price of contraction by construction.
- An `LBDN((64, 128, 128, 10), γ = 2)` against `eqx.nn.MLP` of the same widths, batch 256.

Reported: median wall time (after compiling) of the jitted loss and of its gradient, and the
ratios constrained / unconstrained. No published timings of the reference implementations
(RobustNeuralNetworks.jl, the Flax port) are compared here.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from contractax.models import LBDN, ContractingREN
from experiments.benchmarks._common import timeit

M, N, Q, P = 8, 32, 64, 8
BATCH = 256


class _RNNStep(eqx.Module):
    A: jax.Array
    B: jax.Array
    b: jax.Array
    C: jax.Array

    def __init__(self, key):
        k = jax.random.split(key, 3)
        self.A = jax.random.normal(k[0], (N, N)) / jnp.sqrt(N)
        self.B = jax.random.normal(k[1], (N, M)) / jnp.sqrt(M)
        self.b = jnp.zeros(N)
        self.C = jax.random.normal(k[2], (P, N)) / jnp.sqrt(N)

    def __call__(self, x, u):
        x_next = jnp.tanh(self.A @ x + self.B @ u + self.b)
        return x_next, self.C @ x


def _time(model, loss, inputs, repeats):
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def f(p):
        return loss(eqx.combine(p, static), *inputs)

    fwd = jax.jit(f)
    grad = jax.jit(jax.grad(f))
    return {
        "forward": timeit(lambda: fwd(params), repeats),
        "grad": timeit(lambda: grad(params), repeats),
    }


def _step_loss(model, x, u):
    xn, y = jax.vmap(model)(x, u)
    return jnp.mean(xn**2) + jnp.mean(y**2)


def _mlp_loss(model, x):
    return jnp.mean(jax.vmap(model)(x) ** 2)


def run(quick: bool = True) -> dict:
    repeats = 5 if quick else 20
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (BATCH, N))
    u = jax.random.normal(jax.random.fold_in(key, 1), (BATCH, M))
    ren = ContractingREN(M, N, Q, P, key=key)
    rnn = _RNNStep(key)
    rows = {
        "ContractingREN step": _time(ren, _step_loss, (x, u), repeats),
        "unconstrained tanh RNN step": _time(rnn, _step_loss, (x, u), repeats),
    }
    xi = jax.random.normal(key, (BATCH, 64))
    lbdn = LBDN((64, 128, 128, 10), gamma=2.0, key=key)
    mlp = eqx.nn.MLP(64, 10, 128, 2, key=key)
    rows["LBDN 64-128-128-10"] = _time(lbdn, _mlp_loss, (xi,), repeats)
    rows["eqx.nn.MLP 64-128-128-10"] = _time(mlp, _mlp_loss, (xi,), repeats)
    med = {k: {m: v[m]["median_s"] for m in ("forward", "grad")} for k, v in rows.items()}
    ratios = {
        "REN / RNN forward": med["ContractingREN step"]["forward"]
        / med["unconstrained tanh RNN step"]["forward"],
        "REN / RNN grad": med["ContractingREN step"]["grad"]
        / med["unconstrained tanh RNN step"]["grad"],
        "LBDN / MLP forward": med["LBDN 64-128-128-10"]["forward"]
        / med["eqx.nn.MLP 64-128-128-10"]["forward"],
        "LBDN / MLP grad": med["LBDN 64-128-128-10"]["grad"]
        / med["eqx.nn.MLP 64-128-128-10"]["grad"],
    }
    return {
        "config": {"m": M, "n": N, "q": Q, "p": P, "batch": BATCH, "dtype": str(x.dtype)},
        "median_s": med,
        "ratios": ratios,
        "rows": rows,
    }
