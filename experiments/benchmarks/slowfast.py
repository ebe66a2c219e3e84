"""Slow–fast learning system over a sweep of 64 timescales: one vmapped diffrax program vs SciPy.

Problem: Flynn's Example 1 (seed 000 eq. 7.2, 2.7), n = 10 nodes, m = 3 inputs, state
(x, y, w) of size 50, logistic σ, ‖v‖_F = 2; 64 values of τ log-spaced from the recipe's
sufficient bound τ_b to 100 τ_b; integrated from a common start to t1.

Peers in the same run, same tolerances (rtol = 1e-6, atol = 1e-8), float64:

* contractax: `jit(vmap(simulate))` (Tsit5 and Kvaerno5, PID controller), monitors off,
  `slowfast.sweep_tau` (sorted τ in buckets of 8, compiled once by the library itself), and
  the eager `simulate` for one τ: first call (compile) and a second call with a new τ (must
  reuse the program);
* `scipy.integrate.solve_ivp` with BDF and LSODA (and RK45, the explicit counterpart), one
  call per τ in a Python loop, with a hand-written NumPy right-hand side.

Reports median wall times, the ratio SciPy / contractax and the largest difference of the
final weights between the two.
"""

from __future__ import annotations

import time

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from scipy.integrate import solve_ivp

from contractax import slowfast as sf

from ._common import block, timeit

RTOL, ATOL = 1e-6, 1e-8


def _problem(n=10, m=3):
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
    v = jax.random.normal(k1, (n, n)) * (1 - jnp.eye(n))
    v = 2.0 * v / jnp.linalg.norm(v)
    rho = jax.random.normal(k2, (m,))
    rho = rho / jnp.linalg.norm(rho)
    target = jax.random.uniform(k3, (n,), minval=0.2, maxval=0.8)
    w0 = 0.3 * jax.random.normal(k4, (n, m))
    return v, rho, target, w0


def _numpy_rhs(v, rho, target, n, m, tau):
    """Eq. 2.7 for Example 1 in NumPy: D_x f = −I + diag(σ')v, D_w f[i,(i,k)] = σ'_i ρ_k."""

    def rhs(t, z):
        x, y, w = z[:n], z[n : 2 * n], z[2 * n :].reshape(n, m)
        s = 1.0 / (1.0 + np.exp(-(v @ x + w @ rho)))
        ds = s * (1 - s)
        dx = (-x + s) / tau
        dy = (-y + (y * ds) @ v - (x - target)) / tau
        dw = np.outer(y * ds, rho)
        return np.concatenate([dx, dy, dw.ravel()])

    return rhs


def run(quick: bool = True) -> dict:
    with jax.enable_x64(True):
        return _run(quick)


def _run(quick):
    n, m = 10, 3
    t1 = 10.0 if quick else 50.0
    v, rho, target, w0 = _problem(n, m)
    ex = sf.FixedFeedbackNetwork(v)
    args = (rho, target)
    tau_b = float(sf.timescale(ex.bounds(rho), alpha=0.25).tau)
    taus = tau_b * jnp.logspace(0, 2, 64)
    x0, y0 = jnp.full((n,), 0.5), jnp.zeros(n)

    ctrl = diffrax.PIDController(rtol=RTOL, atol=ATOL, pcoeff=0.3, icoeff=0.4)
    newton = optx.Newton(rtol=RTOL * 1e-2, atol=ATOL * 1e-2)
    solvers = {"tsit5": diffrax.Tsit5(), "kvaerno5": diffrax.Kvaerno5(root_finder=newton)}
    kw = dict(stepsize_controller=ctrl, saveat=diffrax.SaveAt(t1=True), monitor=False)

    def batched(solver):
        return jax.jit(
            jax.vmap(
                lambda tau: sf.simulate(ex, x0, y0, w0, args, tau, t1, solver=solver, **kw).w[-1]
            )
        )

    out = {
        "problem": f"Example 1, n={n}, m={m}, state size {2 * n + n * m}, t1={t1}",
        "num_tau": 64,
        "tau_range": [tau_b, 100 * tau_b],
        "rtol": RTOL,
        "atol": ATOL,
        "dtype": "float64",
        "results": {},
    }
    finals = {}
    for name, solver in (
        ("contractax_tsit5_vmap", "tsit5"),
        ("contractax_kvaerno5_vmap", "kvaerno5"),
    ):
        fn = batched(solvers[solver])
        t = timeit(lambda fn=fn: fn(taus), repeats=1 if (quick and solver == "kvaerno5") else 5)
        finals[name] = np.asarray(fn(taus))
        out["results"][name] = {"median_s": t["median_s"], "compile_and_first_s": t["first_call_s"]}
    sweep = lambda ts: sf.sweep_tau(ex, x0, y0, w0, args, ts, t1, bucket_size=8, **kw).w[:, -1]
    t = timeit(lambda: sweep(taus), repeats=5)
    out["results"]["contractax_tsit5_sweep_tau_buckets8"] = {
        "median_s": t["median_s"],
        "compile_and_first_s": t["first_call_s"],
    }

    eager = {}
    for i, tau in enumerate((tau_b, 2.0 * tau_b, 3.0 * tau_b)):
        t0 = time.perf_counter()
        block(sf.simulate(ex, x0, y0, w0, args, tau, t1, **kw))
        eager[f"call_{i + 1}_s"] = time.perf_counter() - t0
    out["results"]["contractax_tsit5_eager_simulate_one_tau"] = eager | {
        "median_s": min(eager["call_2_s"], eager["call_3_s"]),
        "note": "call 1 compiles; calls 2-3 use new tau values and must reuse the program",
    }

    z0 = np.concatenate([np.asarray(x0), np.asarray(y0), np.asarray(w0).ravel()])
    vn, rn, tn = (np.asarray(a) for a in (v, rho, target))
    for method in ("BDF", "LSODA", "RK45"):
        ws = []

        def loop(method=method, ws=ws):
            ws.clear()
            for tau in np.asarray(taus):
                sol = solve_ivp(
                    _numpy_rhs(vn, rn, tn, n, m, tau),
                    (0.0, t1),
                    z0,
                    method=method,
                    rtol=RTOL,
                    atol=ATOL,
                )
                ws.append(sol.y[2 * n :, -1].reshape(n, m))
            return None

        t0 = time.perf_counter()
        loop()
        elapsed = time.perf_counter() - t0
        reps = [elapsed]
        for _ in range(2):
            t0 = time.perf_counter()
            loop()
            reps.append(time.perf_counter() - t0)
        finals[f"scipy_{method}_loop"] = np.stack(ws)
        out["results"][f"scipy_{method}_loop"] = {"median_s": float(np.median(reps))}
    ref = finals["contractax_tsit5_vmap"]
    for name, arr in finals.items():
        if name not in out["results"]:
            continue
        out["results"][name]["max_abs_diff_final_w_vs_tsit5"] = float(np.max(np.abs(arr - ref)))
    batch = [k for k in out["results"] if k.startswith("contr") and "eager" not in k]
    best_cx = min(out["results"][k]["median_s"] for k in batch)
    for method in ("BDF", "LSODA", "RK45"):
        out[f"speedup_vs_scipy_{method}"] = (
            out["results"][f"scipy_{method}_loop"]["median_s"] / best_cx
        )
    out["note"] = (
        "speedup = SciPy loop time / fastest contractax program (excluding compile); "
        "compile time is reported separately."
    )
    return out
