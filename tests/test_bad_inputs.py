"""A tour of bad inputs over the public functions of norms, contraction, gd, rnn, entropy, ntk,
landscape, data, slowfast and the models (implicit, DEQ, LSTM/GRU cells, firing-rate,
two-layer, deep linear).

Each case is a thunk (the call, in plain form or under jit/vmap/grad) and the outcome a user
who trusts the numbers may accept:

- ``ERROR``: a ValueError/TypeError at trace time or an `eqx.error_if` runtime error whose
  message names the argument (one of `names`, case-insensitive);
- ``CODE``: an explicit result code (`check(out)` is true);
- ``NAN``: NaN where NaN is the documented answer (e.g. `throw=False` models).

`outcome(case)` classifies what actually happens as one of ``clear`` (an error naming the
argument), ``code``, ``nan``, ``silent`` (a normal-looking, wrong or unflagged NaN result) or
``obscure`` (an error that does not name the argument, or an internal exception type); each
test asserts the acceptable class. `python -m tests.test_bad_inputs` prints the counts by
module.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx

jax.config.update("jax_enable_x64", True)

ERROR, CODE, NAN = "clear", "code", "nan"


class Case(NamedTuple):
    module: str
    id: str
    thunk: Callable[[], Any]
    expect: str
    names: tuple[str, ...] = ()
    check: Callable[[Any], bool] | None = None
    slow: bool = False  # compiles a large program (> 5 s): only under `-m slow`


def outcome(case: Case) -> tuple[str, str]:
    """(class, detail) of what `case.thunk()` does."""
    try:
        out = jax.block_until_ready(case.thunk())
    except (
        ValueError,
        TypeError,
        OSError,
        eqx.EquinoxRuntimeError,
        jax.errors.JaxRuntimeError,
    ) as e:
        msg = str(e)
        if isinstance(e, jax.errors.JaxRuntimeError) and "EquinoxRuntimeError" not in msg:
            return "obscure", f"{type(e).__name__}: {msg[:300]}"  # an XLA error, not error_if
        # under plain `jax.jit` an `eqx.error_if` message arrives inside a JaxRuntimeError
        if any(n.lower() in msg.lower() for n in case.names):
            return "clear", f"{type(e).__name__}: {msg[:160]}"
        return "obscure", f"{type(e).__name__}: {msg[:300]}"
    except Exception as e:  # noqa: BLE001 - anything else is an internal error
        return "obscure", f"{type(e).__name__}: {str(e)[:300]}"
    if case.expect == CODE and case.check is not None and case.check(out):
        return "code", ""
    leaves = [np.asarray(a) for a in jax.tree_util.tree_leaves(out) if eqx.is_array(a)]
    if case.expect == NAN and leaves and all(np.all(np.isnan(a)) for a in leaves):
        return "nan", ""
    return "silent", repr(out)[:200]


# ------------------------------------------------------------------------------------ helpers


def jit(f):
    return eqx.filter_jit(f)


def grad_of(f):
    return jax.grad(lambda x: jnp.sum(f(x)))


A = jnp.array([[-1.0, 0.5, 0.0], [0.2, -2.0, 0.3], [0.0, 0.1, -1.5]])
NAN_A = A.at[1, 2].set(jnp.nan)
INF_A = A.at[0, 0].set(jnp.inf)
ETA = jnp.ones(3)
NOT_SPD = jnp.diag(jnp.array([1.0, -1.0, 1.0]))
NOT_SYM = jnp.eye(3).at[0, 1].set(0.5)
KEY = jax.random.PRNGKey(0)


def quad(x, args=None):
    return 0.5 * jnp.sum(x**2)


CASES: list[Case] = []


def add(module, id, thunk, expect=ERROR, names=(), check=None, slow=False):
    if isinstance(names, str):
        names = (names,)
    CASES.append(Case(module, id, thunk, expect, tuple(names), check, slow))


# ------------------------------------------------------------------------------------- norms
N = cx.norms
for fn_name in ("lognorm", "induced_norm"):
    fn = getattr(N, fn_name)
    m = f"norms.{fn_name}"
    add(m, "p=3", lambda fn=fn: fn(A, 3), names="p")
    add(m, "p=True", lambda fn=fn: fn(A, True), names="p")
    add(m, "p='inf'", lambda fn=fn: fn(A, "inf"), names="p")
    add(m, "p=0", lambda fn=fn: fn(A, 0), names="p")
    add(m, "nonsquare", lambda fn=fn: fn(jnp.ones((2, 3))), names="square")
    add(m, "vector", lambda fn=fn: fn(jnp.ones(3)), names="square")
    add(m, "empty", lambda fn=fn: fn(jnp.zeros((0, 0))), names="empty")
    add(m, "nan", lambda fn=fn: fn(NAN_A), names="nan")
    add(m, "inf/jit", lambda fn=fn: jit(fn)(INF_A), names="nan or inf")
    add(m, "nan/vmap", lambda fn=fn: jax.vmap(fn)(jnp.stack([A, NAN_A])), names="nan")
    add(m, "nan/grad", lambda fn=fn: grad_of(fn)(NAN_A), names="nan")
    add(m, "complex", lambda fn=fn: fn(A + 1j * A), names=("complex", "real"))
    add(m, "matrix weight p=inf", lambda fn=fn: fn(A, jnp.inf, jnp.eye(3)), names="weight")
    add(m, "vector weight p=2", lambda fn=fn: fn(A, 2, ETA), names="weight")
    add(m, "eta length", lambda fn=fn: fn(A, 1, jnp.ones(4)), names="weight")
    add(m, "negative eta", lambda fn=fn: fn(A, 1, -ETA), names="eta")
    add(m, "eta inf/jit", lambda fn=fn: jit(fn)(A, 1, ETA.at[0].set(jnp.inf)), names="eta")
    add(m, "P not SPD", lambda fn=fn: fn(A, 2, NOT_SPD), names="positive definite")
    add(m, "P not symmetric", lambda fn=fn: fn(A, 2, NOT_SYM), names="symmetric")
    add(m, "P nan", lambda fn=fn: fn(A, 2, jnp.eye(3).at[0, 0].set(jnp.nan)), names="weight")
    add(m, "p traced", lambda fn=fn: jax.jit(lambda p: fn(A, p))(2.0), names="p")
    add(
        m,
        "float16 keeps dtype",
        lambda fn=fn: fn(A.astype(jnp.float16)),
        CODE,
        check=lambda o: o.dtype == jnp.float16 and bool(jnp.isfinite(o)),
    )

m = "norms.vector_norm"
add(m, "scalar x", lambda: N.vector_norm(1.0), names="x")
add(m, "p=3", lambda: N.vector_norm(ETA, 3), names="p")
add(m, "nan x", lambda: N.vector_norm(ETA.at[0].set(jnp.nan)), names="x")
add(m, "nan x/vmap", lambda: jax.vmap(N.vector_norm)(jnp.stack([ETA, ETA * jnp.nan])), names="x")
add(m, "weight length", lambda: N.vector_norm(ETA, 1, jnp.ones(2)), names="weight")
add(m, "complex x", lambda: N.vector_norm(ETA + 1j), names=("complex", "real"))
add(m, "empty x", lambda: N.vector_norm(jnp.zeros(0)), names=("empty", "x"))

m = "norms.lognorm_by_definition"
add(m, "h=0", lambda: N.lognorm_by_definition(A, 2, h=0.0), names="h")
add(m, "h<0", lambda: N.lognorm_by_definition(A, 2, h=-1e-7), names="h")
add(m, "nan", lambda: N.lognorm_by_definition(NAN_A), names="nan")

m = "norms.dual"
add(m, "p=3", lambda: N.dual(3), names="p")
add(m, "P vector", lambda: N.dual(2, ETA), names="weight")
add(m, "P not SPD", lambda: N.dual(2, NOT_SPD), names="weight")
add(m, "eta negative", lambda: N.dual(jnp.inf, -ETA), names="eta")
add(m, "eta matrix p=1", lambda: N.dual(1, jnp.eye(3)), names="weight")

m = "norms.max_lognorm_over_slopes"
mls = N.max_lognorm_over_slopes
add(m, "dmin>dmax", lambda: mls(A, 1.0, 0.0), names="slope")
add(m, "dmin nan", lambda: mls(A, jnp.nan, 1.0), names="slope")
add(m, "dmax traced inf/jit", lambda: jax.jit(lambda d: mls(A, 0.0, d))(jnp.inf), names="slope")
add(m, "side", lambda: mls(A, 0.0, 1.0, side="up"), names="side")
add(m, "C shape", lambda: mls(A, 0.0, 1.0, C=jnp.ones(2)), names="C")
add(m, "C matrix shape", lambda: mls(A, 0.0, 1.0, C=jnp.ones((2, 2))), names="C")
add(m, "C nan", lambda: mls(A, 0.0, 1.0, C=jnp.nan), names="C")
add(m, "p=2 n=13", lambda: mls(jnp.eye(13), 0.0, 1.0, p=2), names="n")
add(m, "p=3", lambda: mls(A, 0.0, 1.0, p=3), names="p")
add(
    m,
    "nan A/vmap",
    lambda: jax.vmap(lambda M: mls(M, 0.0, 1.0))(jnp.stack([A, NAN_A])),
    names="nan",
)
add(m, "weight p=1 right", lambda: mls(A, 0.0, 1.0, p=1, weight=-ETA, side="left"), names="eta")

m = "norms.metzler_majorant"
add(m, "nonsquare", lambda: N.metzler_majorant(jnp.ones((2, 3))), names="square")
add(m, "nan", lambda: N.metzler_majorant(NAN_A), names="nan")

m = "norms.spectral_abscissa"
add(m, "nonsquare", lambda: N.spectral_abscissa(jnp.ones((2, 3))), names="square")
add(m, "nan", lambda: N.spectral_abscissa(NAN_A), names="nan")
add(m, "complex", lambda: N.spectral_abscissa(A + 1j), names=("complex", "real"))

m = "norms.optimal_weight"
add(m, "not Metzler", lambda: N.optimal_weight(-jnp.ones((3, 3))), names="Metzler")
add(m, "not Metzler/jit", lambda: jit(N.optimal_weight)(-jnp.ones((3, 3))), names="Metzler")
add(m, "nan", lambda: N.optimal_weight(NAN_A), names="nan")
add(m, "p=3", lambda: N.optimal_weight(jnp.abs(A), 3), names="p")
add(m, "nonsquare", lambda: N.optimal_weight(jnp.ones((2, 3))), names="square")

# ------------------------------------------------------------------------------- contraction
C_ = cx.contraction
for fn_name in ("firing_rate_rate", "hopfield_rate"):
    fn = getattr(C_, fn_name)
    m = f"contraction.{fn_name}"
    add(m, "nan A", lambda fn=fn: fn(NAN_A), names="nan")
    add(m, "nonsquare", lambda fn=fn: fn(jnp.ones((2, 3))), names="square")
    add(m, "dmin nan", lambda fn=fn: fn(A, dmin=jnp.nan), names="slope")
    add(m, "dmin>dmax", lambda fn=fn: fn(A, dmin=2.0, dmax=1.0), names="slope")
    add(m, "p=3", lambda fn=fn: fn(A, p=3), names="p")
    add(m, "matrix weight p=inf", lambda fn=fn: fn(A, weight=jnp.eye(3)), names="weight")
    add(m, "C vector length", lambda fn=fn: fn(A, C=jnp.ones(2)), names="C")
    add(m, "C inf", lambda fn=fn: fn(A, C=jnp.inf), names="C")
    add(m, "nan/vmap", lambda fn=fn: jax.vmap(fn)(jnp.stack([A, NAN_A])), names="nan")
    add(m, "nan/grad", lambda fn=fn: grad_of(fn)(NAN_A), names="nan")

m = "contraction.optimal_rate"
add(m, "p=2", lambda: C_.optimal_rate(A, p=2), names="p")
add(m, "model", lambda: C_.optimal_rate(A, model="lstm"), names="model")
add(m, "C not diagonal", lambda: C_.optimal_rate(A, C=jnp.ones((3, 3))), names="diagonal")
add(m, "nan A", lambda: C_.optimal_rate(NAN_A), names="nan")
add(m, "dmin>dmax", lambda: C_.optimal_rate(A, dmin=1.0, dmax=0.5), names="slope")
add(m, "C length", lambda: C_.optimal_rate(A, C=jnp.ones(2)), names="C")

m = "contraction.sampled_rate"
field = lambda x, a: -x  # noqa: E731
add(m, "xs vector", lambda: C_.sampled_rate(field, jnp.ones(3)), names="xs")
add(m, "xs nan", lambda: C_.sampled_rate(field, jnp.ones((2, 3)).at[0, 0].set(jnp.nan)), names="xs")
add(m, "xs empty", lambda: C_.sampled_rate(field, jnp.ones((0, 3))), names=("xs", "empty"))
add(m, "f not square", lambda: C_.sampled_rate(lambda x, a: x[:2], jnp.ones((2, 3))), names="f")
add(m, "p=3", lambda: C_.sampled_rate(field, jnp.ones((2, 3)), p=3), names="p")

m = "contraction.averaged_step"
add(m, "rate<0", lambda: C_.averaged_step(-1.0, 2.0), names="rate")
add(m, "rate=0", lambda: C_.averaged_step(0.0, 2.0), names="rate")
add(m, "rate nan", lambda: C_.averaged_step(jnp.nan, 2.0), names="rate")
add(m, "lip<rate", lambda: C_.averaged_step(1.0, 0.5), names="lipschitz")
add(m, "lip nan", lambda: C_.averaged_step(1.0, jnp.nan), names="lipschitz")
add(m, "rate<0/jit", lambda: jax.jit(C_.averaged_step)(-1.0, 2.0), names="rate")
add(m, "p=3", lambda: C_.averaged_step(1.0, 2.0, 3), names="p")

m = "contraction.averaged_step_factor"
add(m, "alpha<0", lambda: C_.averaged_step_factor(-0.1, 1.0, 2.0), names="alpha")
add(m, "alpha nan", lambda: C_.averaged_step_factor(jnp.nan, 1.0, 2.0), names="alpha")
add(m, "lip<0", lambda: C_.averaged_step_factor(0.1, 1.0, -2.0), names="lipschitz")
add(m, "rate nan", lambda: C_.averaged_step_factor(0.1, jnp.nan, 2.0), names="rate")
add(m, "p=3", lambda: C_.averaged_step_factor(0.1, 1.0, 2.0, 3), names="p")

m = "contraction.interconnection_rate"
ir = C_.interconnection_rate
add(m, "negative gains", lambda: ir(jnp.ones(2), -jnp.ones((2, 2))), names="gains")
add(m, "shape mismatch", lambda: ir(jnp.ones(3), jnp.ones((2, 2))), names="gains")
add(m, "nan rates", lambda: ir(jnp.array([1.0, jnp.nan]), jnp.zeros((2, 2))), names="rates")
add(m, "nan gains", lambda: ir(jnp.ones(2), jnp.zeros((2, 2)).at[0, 1].set(jnp.nan)), names="gains")
add(m, "scalar rates", lambda: ir(1.0, jnp.zeros((1, 1))), names="rates")

m = "contraction.equilibrium_shift_bound"
esb = C_.equilibrium_shift_bound
add(m, "lip_x=1", lambda: esb(1.0, 1.0, 1.0), names="lip")
add(m, "lip_x nan", lambda: esb(1.0, jnp.nan, 1.0), names="lip_x")
add(m, "lip_u<0", lambda: esb(-1.0, 0.5, 1.0), names="lip_u")
add(m, "du<0", lambda: esb(1.0, 0.5, -1.0), names="du")
add(m, "lip_x<0", lambda: esb(1.0, -0.5, 1.0), names="lip_x")

m = "contraction.one_sided_shift_bound"
osb = C_.one_sided_shift_bound
add(m, "oslip=1", lambda: osb(1.0, 1.0, 1.0), names="oslip")
add(m, "oslip nan", lambda: osb(jnp.nan, 1.0, 1.0), names="oslip_x")
add(m, "lip_u<0", lambda: osb(0.5, -1.0, 1.0), names="lip_u")
add(m, "du<0", lambda: osb(0.5, 1.0, -1.0), names="du")
add(m, "disturbance<0", lambda: osb(0.5, 1.0, 1.0, -1.0), names="disturbance")

# ---------------------------------------------------------------------------------------- gd
G = cx.gd
X0 = jnp.ones(3)
add("gd.run", "lr=0", lambda: G.run(quad, X0, 0.0, 5), names="lr")
add("gd.run", "lr<0", lambda: G.run(quad, X0, -0.1, 5), names="lr")
add("gd.run", "lr nan", lambda: G.run(quad, X0, jnp.nan, 5), names="lr")
add("gd.run", "lr inf", lambda: G.run(quad, X0, jnp.inf, 5), names="lr")
add(
    "gd.run", "lr<0/jit", lambda: jax.jit(lambda lr: G.run(quad, X0, lr, 5).final)(-0.1), names="lr"
)
add(
    "gd.run",
    "lr<0/vmap",
    lambda: jax.vmap(lambda lr: G.run(quad, X0, lr, 5).final)(jnp.array([0.1, -0.1])),
    names="lr",
)
add("gd.run", "lr vector", lambda: G.run(quad, X0, jnp.ones(2), 5), names="lr")
add("gd.run", "steps<0", lambda: G.run(quad, X0, 0.1, -1), names="steps")
add("gd.run", "steps float", lambda: G.run(quad, X0, 0.1, 2.5), names="steps")
add("gd.run", "every=0", lambda: G.run(quad, X0, 0.1, 4, every=0), names="every")
add("gd.run", "burn_in>steps", lambda: G.run(quad, X0, 0.1, 4, burn_in=5), names="burn_in")
add("gd.run", "every not dividing", lambda: G.run(quad, X0, 0.1, 5, every=2), names="every")
add("gd.run", "loss not callable", lambda: G.run(3.0, X0, 0.1, 5), names="loss_fn")
add("gd.run", "int params0", lambda: G.run(quad, jnp.ones(3, int), 0.1, 5), names="params0")
add("gd.run", "nan params0", lambda: G.run(quad, X0.at[0].set(jnp.nan), 0.1, 5), names="params0")
add("gd.run", "vector loss", lambda: G.run(lambda x: x**2, X0, 0.1, 5), names="loss_fn")
add(
    "gd.run",
    "np.int64 steps",
    lambda: G.run(quad, X0, 0.1, np.int64(3)),
    CODE,
    check=lambda t: t.values.shape == (3, 3),
)

tail2 = jnp.tile(jnp.array([0.1, -0.1]), 50)
add("gd.classify", "max_period=0", lambda: G.classify(tail2, max_period=0), names="max_period")
add("gd.classify", "window=1", lambda: G.classify(tail2, window=1), names=("window", "samples"))
add("gd.classify", "rtol<0", lambda: G.classify(tail2, rtol=-1.0), names="rtol")
add("gd.classify", "atol nan", lambda: G.classify(tail2, atol=jnp.nan), names="atol")
add("gd.classify", "diverge_at=0", lambda: G.classify(tail2, diverge_at=0.0), names="diverge_at")
add("gd.classify", "too short", lambda: G.classify(tail2[:5]), names=("samples", "max_period"))
add(
    "gd.classify",
    "nan traj",
    lambda: G.classify(tail2 * jnp.nan),
    CODE,
    check=lambda o: int(o.code) == 3,
)
add("gd.classify", "empty", lambda: G.classify(jnp.zeros((0,))), names=("trajectory", "samples"))
add(
    "gd.classify",
    "window traced/jit",
    lambda: jax.jit(lambda w: G.classify(tail2, window=w))(10),
    names="window",
)

add("gd.hvp", "v shape", lambda: G.hvp(quad, X0, jnp.ones(2)), names="v")
add("gd.hvp", "v structure", lambda: G.hvp(quad, X0, (X0, X0)), names="v")
add("gd.hvp", "vector loss", lambda: G.hvp(lambda x: x**2, X0, X0), names="loss_fn")
add("gd.sharpness", "num_iters=0", lambda: G.sharpness(quad, X0, num_iters=0), names="num_iters")
add("gd.sharpness", "int params", lambda: G.sharpness(quad, jnp.ones(3, int)), names="params")
add("gd.sharpness", "vector loss", lambda: G.sharpness(lambda x: x**2, X0), names="loss_fn")
add("gd.lyapunov_radius", "lr vector", lambda: G.lyapunov_radius(quad, X0, jnp.ones(2)), names="lr")
add("gd.lyapunov_radius", "lr<0", lambda: G.lyapunov_radius(quad, X0, -0.1), names="lr")
add("gd.lyapunov_radius", "lr nan", lambda: G.lyapunov_radius(quad, X0, jnp.nan), names="lr")
add(
    "gd.lyapunov_radius",
    "num_iters=-1",
    lambda: G.lyapunov_radius(quad, X0, 0.1, num_iters=-1),
    names="num_iters",
)

m = "gd.deep_linear_step_bound"
add(m, "empty list", lambda: G.deep_linear_step_bound([]), names="weights")
add(
    m,
    "no chain",
    lambda: G.deep_linear_step_bound([jnp.ones((2, 3)), jnp.ones((2, 3))]),
    names="weights",
)
add(m, "vector weight", lambda: G.deep_linear_step_bound([jnp.ones(3)]), names="weights")
add(m, "nan weight", lambda: G.deep_linear_step_bound([jnp.eye(2) * jnp.nan]), names="weights")
add(
    m,
    "complex weight",
    lambda: G.deep_linear_step_bound([jnp.eye(2) + 1j]),
    names=("complex", "real"),
)
m = "gd.deep_linear_global_bound"
add(m, "L=0", lambda: G.deep_linear_global_bound(jnp.eye(2), 0), names="L")
add(m, "L float", lambda: G.deep_linear_global_bound(jnp.eye(2), 2.5), names="L")
add(m, "R vector", lambda: G.deep_linear_global_bound(jnp.ones(2), 2), names="R")
add(m, "R nan", lambda: G.deep_linear_global_bound(jnp.eye(2) * jnp.nan, 2), names="R")
m = "gd.converged_spectral_bound"
add(m, "delta<0", lambda: G.converged_spectral_bound(-0.25, 2), names="delta")
add(m, "delta=0", lambda: G.converged_spectral_bound(0.0, 2), names="delta")
add(m, "delta nan", lambda: G.converged_spectral_bound(jnp.nan, 2), names="delta")
add(m, "L=0", lambda: G.converged_spectral_bound(0.25, 0), names="L")
m = "gd.identity_init_bound"
add(m, "nonsquare", lambda: G.identity_init_bound(jnp.ones((2, 3)), 2), names="R")
add(m, "L=-1", lambda: G.identity_init_bound(jnp.eye(2), -1), names="L")
add(m, "R nan", lambda: G.identity_init_bound(jnp.eye(2) * jnp.nan, 2), names="R")
m = "gd.identity_init_rate"
add(m, "lam<0", lambda: G.identity_init_rate(-1.0, 2, 0.1), names="lam")
add(m, "lam nan", lambda: G.identity_init_rate(jnp.nan, 2, 0.1), names="lam")
add(m, "delta<0", lambda: G.identity_init_rate(2.0, 2, -0.1), names="delta")
add(m, "L=0", lambda: G.identity_init_rate(2.0, 0, 0.1), names="L")
m = "gd.relu_step_bound"
add(m, "N mismatch", lambda: G.relu_step_bound(jnp.ones((3, 1)), jnp.ones((2, 1))), names="xs")
add(m, "vector xs", lambda: G.relu_step_bound(jnp.ones(3), jnp.ones((3, 1))), names="xs")
add(
    m, "nan xs", lambda: G.relu_step_bound(jnp.ones((3, 1)) * jnp.nan, jnp.ones((3, 1))), names="xs"
)
add(
    m, "empty", lambda: G.relu_step_bound(jnp.ones((0, 1)), jnp.ones((0, 1))), names=("xs", "empty")
)

# --------------------------------------------------------------------------------------- rnn
R = cx.rnn
tanh_step = lambda x, a: jnp.tanh(a * x)  # noqa: E731
x2 = jnp.array([0.3, -0.2])
add("rnn.unroll", "steps<0", lambda: R.unroll(tanh_step, x2, 1.0, -1), names="steps")
add("rnn.unroll", "steps missing", lambda: R.unroll(tanh_step, x2, 1.0), names="steps")
add("rnn.unroll", "steps float", lambda: R.unroll(tanh_step, x2, 1.0, 2.5), names="steps")
add(
    "rnn.unroll",
    "wrong step output",
    lambda: R.unroll(lambda x, a: x[:1], x2, 1.0, 3),
    names="step",
)
add(
    "rnn.unroll",
    "inputs ragged",
    lambda: R.unroll(lambda x, a, u: x + u, x2, 1.0, inputs=(jnp.ones((3, 2)), jnp.ones((4, 2)))),
    names="inputs",
)
add(
    "rnn.unroll",
    "steps vs inputs",
    lambda: R.unroll(lambda x, a, u: x + u, x2, 1.0, 5, inputs=jnp.ones((3, 2))),
    names="steps",
)
add(
    "rnn.unroll",
    "steps traced/jit",
    lambda: jax.jit(lambda s: R.unroll(tanh_step, x2, 1.0, s))(3),
    names="steps",
)

od = R.orbit_diagram
pofs = lambda s: s  # noqa: E731
add(
    "rnn.orbit_diagram",
    "steps=0",
    lambda: od(tanh_step, pofs, jnp.ones(2), x2, 0, 0),
    names="steps",
)
add(
    "rnn.orbit_diagram",
    "burn_in>=steps",
    lambda: od(tanh_step, pofs, jnp.ones(2), x2, 4, 4),
    names="burn_in",
)
add(
    "rnn.orbit_diagram",
    "s_grid 2-D",
    lambda: od(tanh_step, pofs, jnp.ones((2, 2)), x2, 4, 1),
    names="s_grid",
)
add(
    "rnn.orbit_diagram",
    "s_grid empty",
    lambda: od(tanh_step, pofs, jnp.ones(0), x2, 4, 1),
    names="s_grid",
)
add(
    "rnn.orbit_diagram",
    "chunk_size=0",
    lambda: od(tanh_step, pofs, jnp.ones(2), x2, 4, 1, chunk_size=0),
    names="chunk_size",
)

ls = R.loss_slice
add(
    "rnn.loss_slice",
    "direction shape",
    lambda: ls(quad, None, X0, [jnp.ones(2)], [jnp.ones(3)]),
    names="directions",
)
add(
    "rnn.loss_slice",
    "grids count",
    lambda: ls(quad, None, X0, [X0], [jnp.ones(3), jnp.ones(3)]),
    names=("grids", "directions"),
)
add(
    "rnn.loss_slice",
    "grid 2-D",
    lambda: ls(quad, None, X0, [X0], [jnp.ones((2, 2))]),
    names="grids",
)
add(
    "rnn.loss_slice",
    "three directions",
    lambda: ls(quad, None, X0, [X0] * 3, [jnp.ones(2)] * 3),
    names="directions",
)
add(
    "rnn.loss_slice",
    "chunk_size=0",
    lambda: ls(quad, None, X0, [X0], [jnp.ones(3)], chunk_size=0),
    names="chunk_size",
)

lsp = R.lyapunov_spectrum
add("rnn.lyapunov_spectrum", "k=0", lambda: lsp(tanh_step, x2, 1.0, 5, k=0), names="k")
add("rnn.lyapunov_spectrum", "k>n", lambda: lsp(tanh_step, x2, 1.0, 5, k=3), names="k")
add("rnn.lyapunov_spectrum", "steps=0", lambda: lsp(tanh_step, x2, 1.0, 0), names="steps")
add(
    "rnn.lyapunov_spectrum",
    "x0 matrix",
    lambda: lsp(tanh_step, jnp.ones((2, 2)), 1.0, 5),
    names="x0",
)
add(
    "rnn.lyapunov_spectrum",
    "burn_in<0",
    lambda: lsp(tanh_step, x2, 1.0, 5, burn_in=-1),
    names="burn_in",
)
add(
    "rnn.lyapunov_spectrum",
    "wrong step output",
    lambda: lsp(lambda x, a: x[:1], x2, 1.0, 5),
    names="step",
)

lvl = R.lipschitz_vs_length
losses = lambda th, a: jnp.stack([jnp.sum(th**2), jnp.sum(th**4)])  # noqa: E731
add(
    "rnn.lipschitz_vs_length",
    "radius=0",
    lambda: lvl(losses, x2, None, KEY, radius=0.0),
    names="radius",
)
add(
    "rnn.lipschitz_vs_length",
    "radius nan",
    lambda: lvl(losses, x2, None, KEY, radius=jnp.nan),
    names="radius",
)
add(
    "rnn.lipschitz_vs_length",
    "num_samples=0",
    lambda: lvl(losses, x2, None, KEY, num_samples=0),
    names="num_samples",
)
add(
    "rnn.lipschitz_vs_length",
    "theta0 matrix",
    lambda: lvl(losses, jnp.ones((2, 2)), None, KEY),
    names="theta0",
)
add(
    "rnn.growth_rate",
    "length mismatch",
    lambda: R.growth_rate(jnp.arange(1, 4), jnp.ones(2)),
    names=("lengths", "values"),
)
add(
    "rnn.growth_rate",
    "one point",
    lambda: R.growth_rate(jnp.ones(1), jnp.ones(1)),
    names=("lengths", "values", "two"),
)
add(
    "rnn.growth_rate",
    "nonpositive values",
    lambda: R.growth_rate(jnp.arange(1.0, 4.0), jnp.array([1.0, 0.0, 2.0])),
    names="values",
)
add("rnn.entropy_bound", "xs vector", lambda: R.entropy_bound(tanh_step, x2, 1.0), names="xs")
add(
    "rnn.entropy_bound",
    "wrong step output",
    lambda: R.entropy_bound(lambda x, a: x[:1], jnp.ones((3, 2)), 1.0),
    names="step",
)
fs = R.forward_sensitivities
step_th = lambda x, th: jnp.tanh(th * x)  # noqa: E731
add("rnn.forward_sensitivities", "steps<0", lambda: fs(step_th, x2, x2, -1), names="steps")
add(
    "rnn.forward_sensitivities",
    "theta matrix",
    lambda: fs(step_th, x2, jnp.ones((2, 2)), 3),
    names="theta",
)
add("rnn.forward_sensitivities", "x0 scalar", lambda: fs(step_th, 1.0, x2, 3), names="x0")
add("rnn.local_minima", "2-D", lambda: R.local_minima(jnp.ones((2, 2))), names="values")
add("rnn.local_minima", "tol<0", lambda: R.local_minima(jnp.ones(3), tol=-1.0), names="tol")
add("rnn.local_minima", "tol nan", lambda: R.local_minima(jnp.ones(3), tol=jnp.nan), names="tol")
add(
    "rnn.count_local_minima",
    "mask shape",
    lambda: R.count_local_minima(jnp.ones(4), mask=jnp.ones(3, bool)),
    names="mask",
)
add("rnn.count_local_minima", "2-D", lambda: R.count_local_minima(jnp.ones((2, 2))), names="values")

# ----------------------------------------------------------------------------------- entropy
E_ = cx.entropy
S = jax.random.normal(KEY, (20, 2))
add(
    "entropy.differential_entropy",
    "vector",
    lambda: E_.differential_entropy(S[:, 0]),
    names="samples",
)
add("entropy.differential_entropy", "k=0", lambda: E_.differential_entropy(S, k=0), names="k")
add("entropy.differential_entropy", "k>=N", lambda: E_.differential_entropy(S, k=20), names="k")
add(
    "entropy.differential_entropy",
    "method",
    lambda: E_.differential_entropy(S, method="kde"),
    names="method",
)
add(
    "entropy.differential_entropy",
    "nan",
    lambda: E_.differential_entropy(S.at[0, 0].set(jnp.nan)),
    names="samples",
)
add(
    "entropy.differential_entropy",
    "nan/jit",
    lambda: jit(E_.differential_entropy)(S.at[0, 0].set(jnp.nan)),
    names="samples",
)
add(
    "entropy.differential_entropy",
    "empty",
    lambda: E_.differential_entropy(jnp.ones((0, 2))),
    names="samples",
)
# documented: duplicate samples make the kNN estimate -inf
add(
    "entropy.differential_entropy",
    "duplicates -> -inf (documented)",
    lambda: E_.differential_entropy(jnp.ones((20, 2))),
    CODE,
    check=lambda o: bool(o == -jnp.inf),
)
add(
    "entropy.differential_entropy",
    "gaussian N=1",
    lambda: E_.differential_entropy(jnp.ones((1, 2)), method="gaussian"),
    names="samples",
)
add(
    "entropy.ensemble_entropy",
    "steps=0",
    lambda: E_.ensemble_entropy(tanh_step, S, 1.0, 0),
    names="steps",
)
add(
    "entropy.ensemble_entropy",
    "wrong step output",
    lambda: E_.ensemble_entropy(lambda x, a: x[:1], S, 1.0, 2),
    names="step",
)
add(
    "entropy.ensemble_entropy",
    "k=0",
    lambda: E_.ensemble_entropy(tanh_step, S, 1.0, 2, k=0),
    names="k",
)

# --------------------------------------------------------------------------------------- ntk
K = cx.ntk
W = {"w": jnp.ones((3, 2)) * 0.3}
apply = lambda p, x: jnp.tanh(p["w"] @ x)  # noqa: E731
XS = jnp.ones((4, 2))
add(
    "ntk.empirical_ntk",
    "ignores params",
    lambda: K.empirical_ntk(lambda p, x: jnp.tanh(x), W, XS),
    names="apply_fn",
)
add(
    "ntk.empirical_ntk",
    "empty batch",
    lambda: K.empirical_ntk(apply, W, jnp.ones((0, 2))),
    names="x1",
)
add(
    "ntk.empirical_ntk",
    "method",
    lambda: K.empirical_ntk(apply, W, XS, method="fast"),
    names="method",
)
add("ntk.empirical_ntk", "trace", lambda: K.empirical_ntk(apply, W, XS, trace="max"), names="trace")
add(
    "ntk.empirical_ntk",
    "chunk_size=0",
    lambda: K.empirical_ntk(apply, W, XS, chunk_size=0),
    names="chunk_size",
)
add(
    "ntk.empirical_ntk",
    "x2 features",
    lambda: K.empirical_ntk(apply, W, XS, jnp.ones((4, 3))),
    names="x2",
)
add(
    "ntk.empirical_ntk",
    "int params",
    lambda: K.empirical_ntk(apply, {"w": jnp.ones((3, 2), int)}, XS),
    names="params",
)
add(
    "ntk.empirical_ntk",
    "trace_axes out of range",
    lambda: K.empirical_ntk(apply, W, XS, trace_axes=(3,)),
    names="trace_axes",
)
add("ntk.empirical_ntk", "scalar x1", lambda: K.empirical_ntk(apply, W, jnp.ones(())), names="x1")
add(
    "ntk.empirical_ntk",
    "nan params",
    lambda: K.empirical_ntk(apply, {"w": W["w"].at[0, 0].set(jnp.nan)}, XS),
    names="params",
)
add("ntk.ntk_vp", "v shape", lambda: K.ntk_vp(apply, W, XS, jnp.ones((4, 2))), names="v")
add(
    "ntk.ntk_vp",
    "ignores params",
    lambda: K.ntk_vp(lambda p, x: x, W, XS, jnp.ones((4, 2))),
    names="apply_fn",
)
add("ntk.min_eigenvalue", "nonsquare", lambda: K.min_eigenvalue(jnp.ones((2, 3))), names="kernel")
add("ntk.min_eigenvalue", "nan", lambda: K.min_eigenvalue(jnp.eye(2) * jnp.nan), names="kernel")
add("ntk.min_eigenvalue", "empty", lambda: K.min_eigenvalue(jnp.ones((0, 0))), names="kernel")
# documented: the kernel is symmetrised, (K + Kᵀ)/2 = [[1, 2.5], [2.5, 1]] has λ_min = -1.5
add(
    "ntk.min_eigenvalue",
    "nonsymmetric is symmetrised",
    lambda: K.min_eigenvalue(jnp.array([[1.0, 5.0], [0.0, 1.0]])),
    CODE,
    check=lambda o: bool(jnp.isclose(o, -1.5)),
)
add(
    "ntk.min_eigenvalue_lanczos",
    "num_iters=0",
    lambda: K.min_eigenvalue_lanczos(apply, W, XS, key=KEY, num_iters=0),
    names="num_iters",
)
add(
    "ntk.min_eigenvalue_lanczos",
    "num_iters too big",
    lambda: K.min_eigenvalue_lanczos(apply, W, XS, key=KEY, num_iters=100),
    names="num_iters",
)
lin = K.linearize(apply, W)
add(
    "ntk.linearize",
    "wrong shape params",
    lambda: lin({"w": jnp.ones((2, 2))}, XS[0]),
    names="new_params",
)
add("ntk.linearize", "wrong structure", lambda: lin([jnp.ones((3, 2))], XS[0]), names="new_params")
add("ntk.linearize", "not callable", lambda: K.linearize(3.0, W), names="apply_fn")

# --------------------------------------------------------------------------------- landscape
L_ = cx.landscape
P = {"w": jnp.ones((3, 2)), "b": jnp.zeros(3)}
D1 = {"w": jnp.ones((3, 2)), "b": jnp.zeros(3)}
lossP = lambda p, a=None: jnp.sum(p["w"] ** 2) + jnp.sum(p["b"] ** 2)  # noqa: E731
add(
    "landscape.random_direction",
    "normalize",
    lambda: L_.random_direction(KEY, P, normalize="x"),
    names="normalize",
)
add(
    "landscape.random_direction",
    "ignore",
    lambda: L_.random_direction(KEY, P, ignore="x"),
    names="ignore",
)
add(
    "landscape.random_direction",
    "no float leaves",
    lambda: L_.random_direction(KEY, {"n": 3}),
    names="params",
)
add(
    "landscape.normalize_direction",
    "shape",
    lambda: L_.normalize_direction({"w": jnp.ones(2), "b": jnp.zeros(3)}, P),
    names="direction",
)
add(
    "landscape.normalize_direction",
    "structure",
    lambda: L_.normalize_direction([jnp.ones(3)], P),
    names="direction",
)
add(
    "landscape.normalize_direction",
    "nan",
    lambda: L_.normalize_direction({"w": jnp.ones((3, 2)) * jnp.nan, "b": jnp.zeros(3)}, P),
    names="direction",
)
add(
    "landscape.orthogonalize",
    "zero d1",
    lambda: L_.orthogonalize({"w": jnp.zeros((3, 2))}, {"w": jnp.ones((3, 2))}),
    names="d1",
)
add(
    "landscape.orthogonalize",
    "zero d1/jit",
    lambda: jit(L_.orthogonalize)({"w": jnp.zeros((3, 2))}, {"w": jnp.ones((3, 2))}),
    names="d1",
)
add(
    "landscape.orthogonalize",
    "shape",
    lambda: L_.orthogonalize(D1, {"w": jnp.ones(2), "b": jnp.zeros(3)}),
    names="d2",
)
add(
    "landscape.orthogonalize",
    "nan d1",
    lambda: L_.orthogonalize({"w": jnp.ones(2) * jnp.nan}, {"w": jnp.ones(2)}),
    names="d1",
)
add(
    "landscape.pca_directions",
    "T=1",
    lambda: L_.pca_directions(jnp.ones((1, 3))),
    names="trajectory",
)
add(
    "landscape.pca_directions",
    "center shape",
    lambda: L_.pca_directions(jnp.ones((4, 3)), center=jnp.ones(2)),
    names="center",
)
add(
    "landscape.pca_directions",
    "nan",
    lambda: L_.pca_directions(jnp.ones((4, 3)).at[0, 0].set(jnp.nan)),
    names="trajectory",
)
add(
    "landscape.pca_directions",
    "constant",
    lambda: L_.pca_directions(jnp.ones((4, 3))),
    names="trajectory",
)
add(
    "landscape.line",
    "b shape",
    lambda: L_.line(lossP, P, {"w": jnp.ones(2), "b": jnp.zeros(3)}, jnp.ones(3)),
    names="b",
)
add("landscape.line", "s 2-D", lambda: L_.line(lossP, P, D1, jnp.ones((2, 2))), names="s")
add(
    "landscape.line",
    "chunk_size=0",
    lambda: L_.line(lossP, P, D1, jnp.ones(3), chunk_size=0),
    names="chunk_size",
)
add("landscape.line", "s nan", lambda: L_.line(lossP, P, D1, jnp.array([0.0, jnp.nan])), names="s")
add(
    "landscape.surface",
    "d1 shape",
    lambda: L_.surface(
        lossP, P, {"w": jnp.ones(2), "b": jnp.zeros(3)}, D1, jnp.ones(2), jnp.ones(2)
    ),
    names="d1",
)
add(
    "landscape.surface",
    "alphas 2-D",
    lambda: L_.surface(lossP, P, D1, D1, jnp.ones((2, 2)), jnp.ones(2)),
    names="alphas",
)
add(
    "landscape.surface",
    "chunk_size=-1",
    lambda: L_.surface(lossP, P, D1, D1, jnp.ones(2), jnp.ones(2), chunk_size=-1),
    names="chunk_size",
)
add(
    "landscape.surface",
    "empty betas",
    lambda: L_.surface(lossP, P, D1, D1, jnp.ones(2), jnp.ones(0)),
    names="betas",
)
add(
    "landscape.basin_area",
    "values shape",
    lambda: L_.basin_area(jnp.ones(2), jnp.ones(3), jnp.ones((3, 2)), 1.0),
    names="values",
)
add(
    "landscape.basin_area",
    "level nan",
    lambda: L_.basin_area(jnp.arange(2.0), jnp.arange(3.0), jnp.ones((2, 3)), jnp.nan),
    names="level",
)
add(
    "landscape.basin_area",
    "alphas 2-D",
    lambda: L_.basin_area(jnp.ones((2, 1)), jnp.ones(3), jnp.ones((2, 3)), 1.0),
    names="alphas",
)
add(
    "landscape.sharpness_at_radius",
    "radius=0",
    lambda: L_.sharpness_at_radius(lossP, P, KEY, 0.0),
    names="radius",
)
add(
    "landscape.sharpness_at_radius",
    "radius<0",
    lambda: L_.sharpness_at_radius(lossP, P, KEY, -1.0),
    names="radius",
)
add(
    "landscape.sharpness_at_radius",
    "num_directions=0",
    lambda: L_.sharpness_at_radius(lossP, P, KEY, 0.1, num_directions=0),
    names="num_directions",
)

# -------------------------------------------------------------------------------------- data
Dt = cx.data
add("data.batches", "batch_size=0", lambda: Dt.batches(KEY, 10, 0), names="batch_size")
add("data.batches", "batch_size>n", lambda: Dt.batches(KEY, 10, 11), names="batch_size")
add("data.batches", "n=0", lambda: Dt.batches(KEY, 0, 1), names="n")
add(
    "data.batches",
    "np.int64",
    lambda: Dt.batches(KEY, np.int64(10), np.int64(5)),
    CODE,
    check=lambda o: o.shape == (2, 5),
)
add(
    "data.load_digits_split",
    "test_fraction=0",
    lambda: Dt.load_digits_split(test_fraction=0.0),
    names="test_fraction",
)
add(
    "data.load_digits_split",
    "test_fraction nan",
    lambda: Dt.load_digits_split(test_fraction=math.nan),
    names="test_fraction",
)
add("data.bptt_batches", "bptt=0", lambda: Dt.bptt_batches(np.arange(100), 2, 0), names="bptt")
add(
    "data.bptt_batches",
    "batch_size=0",
    lambda: Dt.bptt_batches(np.arange(100), 0, 5),
    names="batch_size",
)
add(
    "data.bptt_batches",
    "too short",
    lambda: Dt.bptt_batches(np.arange(3), 2, 5),
    names=("tokens", "bptt"),
)
add("data.widely_separated_symbols", "n=0", lambda: Dt.widely_separated_symbols(KEY, 0), names="n")
add(
    "data.widely_separated_symbols",
    "window outside",
    lambda: Dt.widely_separated_symbols(KEY, 2, length=20, windows=((10, 25),)),
    names="window",
)
add(
    "data.widely_separated_symbols",
    "overlap",
    lambda: Dt.widely_separated_symbols(KEY, 2, windows=((10, 19), (15, 30))),
    names="window",
)
add(
    "data.widely_separated_symbols",
    "n_symbols=0",
    lambda: Dt.widely_separated_symbols(KEY, 2, n_symbols=0),
    names="n_symbols",
)


def _idx_file(raw: bytes):
    def thunk():
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x-idx1-ubyte")
            with open(path, "wb") as f:
                f.write(raw)
            return Dt.read_idx(path)

    return thunk


add("data.read_idx", "bad magic", _idx_file(b"\x01\x02\x03\x04" + b"\0" * 8), names="idx")
add("data.read_idx", "truncated header", _idx_file(b"\x00\x00\x08\x01\x00"), names="idx")
add(
    "data.read_idx",
    "truncated data",
    _idx_file(b"\x00\x00\x08\x01\x00\x00\x00\x0a" + b"\0" * 3),
    names="idx",
)
add(
    "data.read_idx",
    "overflowing dims",
    _idx_file(b"\x00\x00\x08\x03" + b"\x7f\xff\xff\xff" * 3 + b"\0" * 8),
    names="idx",
)
add(
    "data.read_idx",
    "missing file",
    lambda: Dt.read_idx("/nonexistent/x-idx1-ubyte"),
    names="nonexistent",
)
add(
    "data.load_mnist",
    "missing dir",
    lambda: Dt.load_mnist("/nonexistent/mnist"),
    names="nonexistent",
)

# ---------------------------------------------------------------------------------- slowfast
SF = cx.slowfast
sysl = SF.LearningSystem(lambda x, w, a: -x + jnp.tanh(w @ x + a), lambda x, a: 0.5 * jnp.sum(x**2))
x3, w3 = jnp.zeros(3), 0.1 * jnp.eye(3)
add(
    "slowfast.LearningSystem",
    "p=3",
    lambda: SF.LearningSystem(sysl.forward, sysl.loss, p=3),
    names="p",
)
add(
    "slowfast.LearningSystem",
    "not callable",
    lambda: SF.LearningSystem(1.0, sysl.loss),
    names="forward",
)
add(
    "slowfast.activation_bounds",
    "unknown",
    lambda: SF.activation_bounds("gelu"),
    names="activation",
)
add("slowfast.joint_norm", "p=3", lambda: SF.joint_norm(x3, x3, 3), names="p")
add("slowfast.joint_norm", "p1<0", lambda: SF.joint_norm(x3, x3, 2, -1.0), names="p1")
add("slowfast.joint_norm", "ux matrix", lambda: SF.joint_norm(jnp.ones((2, 2)), x3), names="ux")
add("slowfast.FixedPointSettings", "step=0", lambda: SF.FixedPointSettings(step=0.0), names="step")
add("slowfast.FixedPointSettings", "tol<0", lambda: SF.FixedPointSettings(tol=-1.0), names="tol")
add(
    "slowfast.FixedPointSettings",
    "max_steps=0",
    lambda: SF.FixedPointSettings(max_steps=0),
    names="max_steps",
)
sim = SF.simulate
add("slowfast.simulate", "tau=0", lambda: sim(sysl, x3, x3, w3, 0.0, 0.0, 1.0), names="tau")
add("slowfast.simulate", "t1<t0", lambda: sim(sysl, x3, x3, w3, 0.0, 1.0, -1.0), names="t1")
add(
    "slowfast.simulate",
    "y0 shape",
    lambda: sim(sysl, x3, jnp.zeros(2), w3, 0.0, 1.0, 1.0),
    names="y",
)
add(
    "slowfast.simulate",
    "max_steps=0",
    lambda: sim(sysl, x3, x3, w3, 0.0, 1.0, 1.0, max_steps=0),
    names="max_steps",
)
add(
    "slowfast.simulate",
    "dt0<0",
    lambda: sim(sysl, x3, x3, w3, 0.0, 1.0, 1.0, dt0=-0.1),
    names="dt0",
)
add(
    "slowfast.simulate",
    "nan w0 -> nonfinite code",
    lambda: sim(sysl, x3, x3, w3 * jnp.nan, 0.0, 1.0, 1.0, max_steps=200, monitor=False),
    CODE,
    check=lambda t: t.result != SF.RESULTS.max_steps_reached and t.result != SF.RESULTS.successful,
)
add(
    "slowfast.simulate",
    "nan x0 -> nonfinite code",
    lambda: sim(sysl, x3.at[0].set(jnp.nan), x3, w3, 0.0, 1.0, 1.0, max_steps=200, monitor=False),
    CODE,
    check=lambda t: t.result != SF.RESULTS.max_steps_reached and t.result != SF.RESULTS.successful,
)
add(
    "slowfast.simulate",
    "wrong f output",
    lambda: sim(SF.LearningSystem(lambda x, w, a: x[:2], sysl.loss), x3, x3, w3, 0.0, 1.0, 1.0),
    names="f",
)
add(
    "slowfast.sweep_tau",
    "taus<0",
    lambda: SF.sweep_tau(sysl, x3, x3, w3, 0.0, jnp.array([-1.0]), 1.0),
    names="taus",
)
add(
    "slowfast.sweep_tau",
    "bucket_size=0",
    lambda: SF.sweep_tau(sysl, x3, x3, w3, 0.0, jnp.ones(2), 1.0, bucket_size=0),
    names="bucket_size",
)
add(
    "slowfast.sweep_tau",
    "taus 2-D",
    lambda: SF.sweep_tau(sysl, x3, x3, w3, 0.0, jnp.ones((2, 2)), 1.0),
    names="taus",
)
add(
    "slowfast.FixedFeedbackNetwork",
    "v nonsquare",
    lambda: SF.FixedFeedbackNetwork(jnp.ones((2, 3))),
    names="v",
)
add(
    "slowfast.FixedFeedbackNetwork",
    "activation",
    lambda: SF.FixedFeedbackNetwork(jnp.eye(2), "gelu"),
    names="activation",
)
add(
    "slowfast.fixed_feedback_bounds",
    "rho matrix",
    lambda: SF.fixed_feedback_bounds(jnp.eye(2), jnp.ones((2, 2))),
    names="rho",
)
add(
    "slowfast.fixed_feedback_bounds",
    "v nan",
    lambda: SF.fixed_feedback_bounds(jnp.eye(2) * jnp.nan, jnp.ones(2)),
    names="v",
)
add(
    "slowfast.ReservoirReadoutNetwork",
    "n1=0",
    lambda: SF.ReservoirReadoutNetwork(jnp.eye(2), 0),
    names="n1",
)
add(
    "slowfast.ReservoirReadoutNetwork",
    "v nonsquare",
    lambda: SF.ReservoirReadoutNetwork(jnp.ones((2, 3)), 1),
    names="v",
)
add(
    "slowfast.BoundedWeightNetwork",
    "mask shape",
    lambda: SF.BoundedWeightNetwork(jnp.ones(2), jnp.ones((3, 3)), 1),
    names="mask",
)
add(
    "slowfast.BoundedWeightNetwork",
    "norm",
    lambda: SF.BoundedWeightNetwork(jnp.ones(2), jnp.ones((2, 2)), 1, "l3"),
    names="norm",
)
DB = SF.DerivativeBounds
good_db = dict(
    L_x_f=1.0, L_xx_f=1.0, L_w_f=1.0, L_ww_f=1.0, L_xw_f=1.0, L_x_g=1.0, L_xx_g=1.0, beta_x=0.5
)
add("slowfast.timescale", "alpha=0", lambda: SF.timescale(DB(**good_db), alpha=0.0), names="alpha")
add(
    "slowfast.timescale",
    "alpha nan",
    lambda: SF.timescale(DB(**good_db), alpha=jnp.nan),
    names="alpha",
)
add("slowfast.timescale", "p1<0", lambda: SF.timescale(DB(**good_db), p1=-1.0), names="p1")
add(
    "slowfast.timescale",
    "beta_x<0",
    lambda: SF.timescale(DB(**(good_db | {"beta_x": -1.0}))),
    names="beta_x",
)
add(
    "slowfast.timescale",
    "L_x_f nan",
    lambda: SF.timescale(DB(**(good_db | {"L_x_f": jnp.nan}))),
    names="L_x_f",
)
add(
    "slowfast.timescale",
    "L_w_f<0",
    lambda: SF.timescale(DB(**(good_db | {"L_w_f": -1.0}))),
    names="L_w_f",
)
add("slowfast.timescale", "k<1", lambda: SF.timescale(DB(**(good_db | {"k": 0.5}))), names="k")
add("slowfast.gradient_flow", "t1<0", lambda: SF.gradient_flow(sysl, w3, 0.0, x3, -1.0), names="t1")
add(
    "slowfast.objective",
    "x0 matrix",
    lambda: SF.objective(sysl, w3, 0.0, jnp.ones((2, 2))),
    names="x0",
)
add(
    "slowfast.vector_field",
    "y shape",
    lambda: SF.vector_field(sysl, x3, jnp.zeros(2), w3, 0.0),
    names="y",
)

# ------------------------------------------------------------------------------------ models
M_ = cx.models
inet = M_.ImplicitNetwork(2, 4, 1, key=KEY)
inet_nan = eqx.tree_at(
    lambda n: n.T, M_.ImplicitNetwork(2, 4, 1, key=KEY, throw=False), jnp.full((4, 4), jnp.nan)
)
inet_nan_throw = eqx.tree_at(lambda n: n.T, inet, jnp.full((4, 4), jnp.nan))
u2 = jnp.array([0.5, -0.5])
m = "models.ImplicitNetwork"
add(m, "gamma=1", lambda: M_.ImplicitNetwork(2, 4, 1, gamma=1.0, key=KEY), names="gamma")
add(m, "gamma nan", lambda: M_.ImplicitNetwork(2, 4, 1, gamma=math.nan, key=KEY), names="gamma")
add(m, "max_steps=0", lambda: M_.ImplicitNetwork(2, 4, 1, max_steps=0, key=KEY), names="max_steps")
add(m, "tol=0", lambda: M_.ImplicitNetwork(2, 4, 1, tol=0.0, key=KEY), names="tol")
add(m, "hidden_size=0", lambda: M_.ImplicitNetwork(2, 0, 1, key=KEY), names="hidden_size")
add(m, "in_size=-1", lambda: M_.ImplicitNetwork(-1, 4, 1, key=KEY), names="in_size")
add(m, "slopes", lambda: M_.ImplicitNetwork(2, 4, 1, slopes=(0.0, 2.0), key=KEY), names="slope")
add(m, "u shape", lambda: inet(jnp.ones(3)), names="u")
add(m, "u matrix/vmap-less", lambda: inet(jnp.ones((2, 2))), names="u")
add(
    m,
    "u nan throw",
    lambda: inet(u2.at[0].set(jnp.nan)),
    names=("u", "nan", "non-finite", "nonfinite"),
)
add(m, "nan weights throw=False", lambda: inet_nan(u2), NAN)
add(m, "nan weights throw=False/jit", lambda: jit(inet_nan)(u2), NAN)
add(m, "nan weights throw=False/vmap", lambda: jax.vmap(inet_nan)(jnp.stack([u2, u2])), NAN)
add(
    m,
    "nan weights throw=False/grad",
    lambda: jax.grad(lambda n: jnp.sum(n(u2)))(inet_nan).B,
    NAN,
    slow=True,
)
add(
    m,
    "nan weights throw=True",
    lambda: inet_nan_throw(u2),
    names=("nan", "non-finite", "nonfinite"),
)
add(
    m,
    "solve nan weights never raises",
    lambda: inet_nan.solve(u2),
    CODE,
    check=lambda s: s.result != cx.RESULTS.successful,
)
inet1 = M_.ImplicitNetwork(2, 4, 1, key=KEY, max_steps=1, throw=False)
add(m, "max_steps=1 throw=False", lambda: inet1(u2), NAN)
add(
    m,
    "max_steps=1 throw=True",
    lambda: M_.ImplicitNetwork(2, 4, 1, key=KEY, max_steps=1)(u2),
    names=("max_steps", "steps"),
)

cell_div = lambda z, x: 3 * z + x  # noqa: E731
m = "models.DEQ"
add(m, "cell not callable", lambda: M_.DEQ(3.0), names="cell")
add(m, "max_steps=0", lambda: M_.DEQ(cell_div, z_shape=(2,), max_steps=0), names="max_steps")
add(m, "max_steps float", lambda: M_.DEQ(cell_div, z_shape=(2,), max_steps=2.5), names="max_steps")
add(m, "tol<0", lambda: M_.DEQ(cell_div, z_shape=(2,), tol=-1.0), names="tol")
add(m, "z_shape negative", lambda: M_.DEQ(cell_div, z_shape=(-2,)), names="z_shape")
add(m, "no z0", lambda: M_.DEQ(cell_div)(jnp.ones(2)), names="z0")
# z = 3z + x has the fixed point -x/2, which Anderson finds; Picard diverges from it
add(
    m,
    "diverging throw",
    lambda: M_.DEQ(cell_div, cx.Picard(), z_shape=(2,), max_steps=20)(jnp.ones(2)),
    names=("diverg", "steps", "non-finite", "nonfinite"),
)
add(
    m,
    "diverging throw=False",
    lambda: M_.DEQ(cell_div, cx.Picard(), z_shape=(2,), max_steps=20, throw=False)(jnp.ones(2)),
    NAN,
)
add(
    m,
    "Anderson finds the repelling fixed point",
    lambda: M_.DEQ(cell_div, z_shape=(2,))(jnp.ones(2)),
    CODE,
    check=lambda z: bool(jnp.allclose(z, -0.5)),
)
add(
    m,
    "cell wrong output",
    lambda: M_.DEQ(lambda z, x: z[:1], z_shape=(2,))(jnp.ones(2)),
    names="cell",
)
add(
    m,
    "z0 shape vs z_shape",
    lambda: M_.DEQ(lambda z, x: 0.5 * z + x, z_shape=(2,))(jnp.ones(3)),
    names=("z", "x"),
)

m = "models.LSTMCell"
lstm = M_.LSTMCell(2, 3, key=KEY)
h3 = (jnp.zeros(3), jnp.zeros(3))
add(m, "input shape", lambda: lstm(jnp.ones(3), h3), names="input")
add(m, "state not pair", lambda: lstm(jnp.ones(2), jnp.zeros(3)), names="state")
add(m, "h shape", lambda: lstm(jnp.ones(2), (jnp.zeros(2), jnp.zeros(3))), names="h")
add(m, "hidden_size=0", lambda: M_.LSTMCell(2, 0, key=KEY), names="hidden_size")
add(m, "input batch", lambda: lstm(jnp.ones((4, 2)), h3), names="input")
gru = M_.GRUCell(2, 3, key=KEY)
add("models.GRUCell", "h shape", lambda: gru(jnp.ones(2), jnp.zeros(4)), names="h")
add("models.GRUCell", "input shape", lambda: gru(jnp.ones(5), jnp.zeros(3)), names="input")
add("models.GRUCell", "input_size=-1", lambda: M_.GRUCell(-1, 3, key=KEY), names="input_size")
rnnc = M_.TanhRNNCell(2, 3, key=KEY)
add("models.TanhRNNCell", "h shape", lambda: rnnc(jnp.ones(2), jnp.zeros((3, 1))), names="h")
add("models.TanhRNNCell", "input shape", lambda: rnnc(jnp.ones(1), jnp.zeros(3)), names="input")
step_c, th_c, x_c = M_.chaotic_lstm()
add("models.chaotic_lstm", "x shape", lambda: step_c(jnp.ones(3), th_c), names="x")
add("models.chaotic_lstm", "theta shape", lambda: step_c(x_c, jnp.ones(15)), names="theta")

m = "models.FiringRateNetwork"
frn = M_.FiringRateNetwork(2, 3, key=KEY)
add(m, "leak=0", lambda: M_.FiringRateNetwork(2, 3, leak=0.0, key=KEY), names="leak")
add(m, "leak nan", lambda: M_.FiringRateNetwork(2, 3, leak=math.nan, key=KEY), names="leak")
add(m, "tol=0", lambda: M_.FiringRateNetwork(2, 3, tol=0.0, key=KEY), names="tol")
add(m, "max_steps=0", lambda: M_.FiringRateNetwork(2, 3, max_steps=0, key=KEY), names="max_steps")
add(m, "scale<0", lambda: M_.FiringRateNetwork(2, 3, scale=-1.0, key=KEY), names="scale")
add(m, "hidden_size=0", lambda: M_.FiringRateNetwork(2, 0, key=KEY), names="hidden_size")
add(m, "u shape", lambda: frn.equilibrium(jnp.ones(3)), names="u")
add(m, "vector_field x shape", lambda: frn.vector_field(jnp.ones(2), jnp.ones(2)), names="x")
add(m, "rate p=3", lambda: frn.rate(p=3), names="p")
add(
    m,
    "u nan -> code",
    lambda: frn.equilibrium(jnp.array([jnp.nan, 0.0])),
    CODE,
    check=lambda s: s.result != cx.RESULTS.successful,
)

m = "models.TwoLayerReLU"
tl = M_.TwoLayerReLU(2, 3, 1, key=KEY)
add(m, "in_size=0", lambda: M_.TwoLayerReLU(0, 3, 1, key=KEY), names="in_size")
add(m, "x shape", lambda: tl(jnp.ones(3)), names="x")
add(m, "x batch", lambda: tl(jnp.ones((4, 2))), names="x")
add(
    "models.two_layer_loss",
    "N mismatch",
    lambda: M_.two_layer_loss(tl, (jnp.ones((4, 2)), jnp.ones((3, 1)))),
    names="data",
)
add(
    "models.two_layer_loss",
    "feature mismatch",
    lambda: M_.two_layer_loss(tl, (jnp.ones((4, 3)), jnp.ones((4, 1)))),
    names="data",
)
add(
    "models.two_layer_loss",
    "not a pair",
    lambda: M_.two_layer_loss(tl, jnp.ones((4, 2))),
    names="data",
)

m = "models.DeepLinear"
dl = M_.DeepLinear([2, 2, 2])
add(m, "sizes one", lambda: M_.DeepLinear([3]), names="sizes")
add(m, "sizes zero", lambda: M_.DeepLinear([3, 0]), names="sizes")
add(m, "init", lambda: M_.DeepLinear([2, 2], init="xavier"), names="init")
add(m, "identity unequal", lambda: M_.DeepLinear([2, 3]), names="identity")
add(m, "random without key", lambda: M_.DeepLinear([2, 3], init="normal"), names="key")
add(
    m,
    "weights no chain",
    lambda: M_.DeepLinear(weights=[jnp.ones((2, 3)), jnp.ones((2, 3))]),
    names="weights",
)
add(m, "x shape", lambda: dl(jnp.ones(3)), names="x")
add(m, "rescale length", lambda: dl.rescale([1.0]), names="alphas")
# valid: the network {α_j W_j} (a different function unless ∏α = 1)
add(
    m,
    "rescale by zero is the zero network",
    lambda: dl.rescale([0.0, 1.0]),
    CODE,
    check=lambda n: bool(jnp.all(n.product() == 0)),
)
add(m, "scale nan", lambda: M_.DeepLinear([2, 2], scale=math.nan), names="scale")
add(
    "models.deep_linear_loss",
    "R shape",
    lambda: M_.deep_linear_loss(dl, jnp.ones((3, 3))),
    names="R",
)
add(
    "models.deep_linear_loss",
    "R nan",
    lambda: M_.deep_linear_loss(dl, jnp.eye(2) * jnp.nan),
    names="R",
)


# -------------------------------------------------------------------------------------- tests
def _ids():
    seen = Counter()
    out = []
    for c in CASES:
        key = f"{c.module}:{c.id}"
        seen[key] += 1
        out.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return out


@pytest.mark.usefixtures("no_typecheck")  # the library's own messages, as users see them
@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.slow) if c.slow else c for c in CASES],
    ids=_ids(),
)
def test_bad_input(case):
    kind, detail = outcome(case)
    assert kind == case.expect, f"{case.module} {case.id}: {kind} ({detail})"


def tally(cases=CASES):
    """Counts of outcome classes by module (the first dotted component) and the failures."""
    by_module: dict[str, Counter] = {}
    bad = []
    for c in cases:
        kind, detail = outcome(c)
        top = c.module.split(".")[0]
        by_module.setdefault(top, Counter())[kind] += 1
        if kind != c.expect:
            bad.append((c.module, c.id, kind, detail))
    return by_module, bad


if __name__ == "__main__":  # pragma: no cover - the measurement in the report
    jax.config.update("jax_numpy_rank_promotion", "raise")
    by_module, bad = tally()
    kinds = ("clear", "code", "nan", "silent", "obscure")
    total = Counter()
    print(f"{'module':16s}" + "".join(f"{k:>9s}" for k in kinds))
    for mod, cnt in sorted(by_module.items()):
        total.update(cnt)
        print(f"{mod:16s}" + "".join(f"{cnt[k]:9d}" for k in kinds))
    print(f"{'total':16s}" + "".join(f"{total[k]:9d}" for k in kinds), sum(total.values()))
    for b in bad:
        print(" | ".join(b))
