"""Call-site cost: eager calls, as a notebook makes them, contractax vs optimistix.

Issue 13 measured `cx.fixed_point(f, z0, W)` called eagerly at 550–590 ms per call (a trace
and compile every time) against 0.3–0.8 ms for `optx.fixed_point`. Here the same problem —
z = tanh(W z + b), n = 64, W = 0.5 Q with Q orthogonal, float32 — is called eagerly again and
again (the map defined once), for the forward solve and its `jax.grad`, and `train.predict` /
`train.pgd_accuracy` are called twice on a small model. Reported: the first call (compile) and
the median of the later calls, per library, and their ratio.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import contractax as cx
from experiments.benchmarks._common import timeit

N = 64


def _problem():
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    q, _ = jnp.linalg.qr(jax.random.normal(k1, (N, N)))
    return {"W": 0.5 * q, "b": jax.random.normal(k2, (N,))}


def f(z, a):
    return jnp.tanh(a["W"] @ z + a["b"])


def _cx_forward(a, solver):
    return cx.fixed_point(f, jnp.zeros(N), a, solver=solver, tol=1e-5).value


def _cx_grad(a, solver):
    return jax.grad(lambda a: _cx_forward(a, solver).sum())(a)


def _optx():
    try:
        import optimistix as optx
    except ImportError:  # pragma: no cover - the [bench] extra
        return None
    solver = optx.FixedPointIteration(rtol=1e-5, atol=1e-5)

    def forward(a):
        return optx.fixed_point(f, solver, jnp.zeros(N), a, max_steps=256).value

    def grad(a):
        return jax.grad(lambda a: forward(a).sum())(a)

    return forward, grad


def run(quick: bool = True) -> dict:
    repeats = 5 if quick else 20
    a = _problem()
    out: dict = {"problem": f"z = tanh(Wz + b), n = {N}, W = 0.5 Q, float32, eager calls"}
    rows = {}
    for name, solver in (("Picard", cx.Picard()), ("Anderson", cx.Anderson())):
        rows[f"contractax {name} forward"] = timeit(lambda: _cx_forward(a, solver), repeats)
        rows[f"contractax {name} grad"] = timeit(lambda: _cx_grad(a, solver), repeats)
    peer = _optx()
    if peer is not None:
        rows["optimistix FixedPointIteration forward"] = timeit(lambda: peer[0](a), repeats)
        rows["optimistix FixedPointIteration grad"] = timeit(lambda: peer[1](a), repeats)
    out["eager"] = rows
    if peer is not None:
        out["ratio_vs_optimistix"] = {
            "Picard forward": rows["contractax Picard forward"]["median_s"]
            / rows["optimistix FixedPointIteration forward"]["median_s"],
            "Picard grad": rows["contractax Picard grad"]["median_s"]
            / rows["optimistix FixedPointIteration grad"]["median_s"],
        }
    # train.predict / pgd_accuracy on a small implicit network: a second call must not retrace
    net = cx.models.ImplicitNetwork(16, 32, 4, key=jax.random.PRNGKey(1), throw=False)
    x = jax.random.uniform(jax.random.PRNGKey(2), (64, 16))
    y = jnp.arange(64) % 4
    out["train"] = {
        "predict": timeit(lambda: cx.train.predict(net, x, batch_size=32), repeats),
        "pgd_accuracy": timeit(lambda: cx.train.pgd_accuracy(net, x, y, [0.05], steps=5), 2),
    }
    out["summary"] = {
        k: {"first_s": v["first_call_s"], "later_median_s": v["median_s"]}
        for k, v in {**rows, **out["train"]}.items()
    }
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    jax.config.update("jax_enable_x64", False)
    print(json.dumps(run(), indent=2, default=float))
