"""One process of the two-process test in `tests/test_multihost.py`; `compute` is also the
one-process reference that test runs in its own process.

`python -m tests._multihost_worker PORT NUM_PROCESSES PROCESS_ID OUT.npz`, with
`XLA_FLAGS=--xla_force_host_platform_device_count=2`, joins the coordinator on 127.0.0.1:PORT
(process 0 starts it), runs `compute()` over the devices of all processes, gathers every result
to this host and saves it to OUT.npz, with the number of devices each result spans, a sweep on
this process's devices only, and the errors raised for inputs that differ between processes.
"""

from __future__ import annotations

import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

A0 = np.array([[0.2, -0.7, 0.1], [0.5, 0.0, -0.3], [0.1, 0.4, -0.2]])


def rate(s, dmax):
    import contractax as cx

    return {"rate": cx.contraction.firing_rate_rate(s * A0, dmax=dmax), "s2": jnp.stack([s, dmax])}


def apply(p, x):
    return p(x)


def loss(p, args):
    x, y = args
    return jnp.mean((jax.vmap(p)(x) - y) ** 2)


def axes(shift: float = 0.0) -> dict:
    return {"s": jnp.linspace(0.1, 3.0, 13) + shift, "dmax": jnp.linspace(0.2, 1.0, 3)}


def compute() -> dict:
    """A config-grid sweep, three empirical NTKs and a loss surface and line, on the devices
    `jax.devices()` lists. Batch sizes: 13·3 grid points, 7 and 8 examples, 9·5 surface points,
    so that some are and some are not multiples of the device count."""
    import contractax as cx

    g = cx.sweep.grid(rate, axes(), chunk_size=2)
    model = eqx.nn.MLP(3, 2, 8, 2, key=jax.random.PRNGKey(0))
    x7 = jax.random.normal(jax.random.PRNGKey(1), (7, 3))
    x8 = jax.random.normal(jax.random.PRNGKey(2), (8, 3))
    y8 = jnp.sin(x8[:, :2])
    d1 = cx.landscape.random_direction(jax.random.PRNGKey(3), model)
    d2 = cx.landscape.random_direction(jax.random.PRNGKey(4), model)
    ab = jnp.linspace(-1.0, 1.0, 9)
    far = jax.tree_util.tree_map(lambda a, d: a + d, eqx.filter(model, eqx.is_array), d1)
    return {
        "grid_rate": g["rate"],
        "grid_s2": g["s2"],
        # whole batch, Jacobian contraction; 8 examples: split over 4 devices
        "ntk_jac": cx.ntk.empirical_ntk(apply, model, x8, trace_axes=(), method="jacobian"),
        # blocks of 3 (rounded to 4) examples, NTK-vector products, two batches
        "ntk_vp": cx.ntk.empirical_ntk(apply, model, x7, x8, chunk_size=3, method="ntk_vp"),
        "ntk_diag": cx.ntk.empirical_ntk(apply, model, x7, batch_diagonal=True, chunk_size=3),
        "surface": cx.landscape.surface(
            loss, model, d1, d2, ab, ab[:5], args=(x8, y8), chunk_size=4
        ),
        "surface_auto": cx.landscape.surface(loss, model, d1, d2, ab, ab, args=(x8, y8)),
        "line": cx.landscape.line(loss, model, far, ab, args=(x8, y8), chunk_size=3),
    }


def _to_host(a):
    from jax.experimental import multihost_utils

    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return np.asarray(a)


def _error(fn) -> str:
    try:
        fn()
    except ValueError as e:
        return str(e)
    return ""


def main(argv):
    port, nproc, pid, path = int(argv[0]), int(argv[1]), int(argv[2]), argv[3]
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        f"127.0.0.1:{port}", num_processes=nproc, process_id=pid, initialization_timeout=60
    )
    import contractax as cx

    res = {
        "process_index": jax.process_index(),
        "process_count": jax.process_count(),
        "device_count": jax.device_count(),
        "local_device_count": jax.local_device_count(),
    }
    for name, out in compute().items():
        res[name] = _to_host(out)
        res[f"{name}_devices"] = len(out.sharding.device_set)
        res[f"{name}_addressable"] = out.is_fully_addressable

    # Each process its own sweep (its own values) on its own devices: process-local results.
    local = cx.sweep.grid(rate, axes(shift=float(pid)), chunk_size=2, devices=jax.local_devices())
    res["local_rate"] = np.asarray(local["rate"])
    res["local_devices"] = len(local["rate"].sharding.device_set)

    # Inputs that differ between processes, in one computation over all devices: errors.
    model = eqx.nn.MLP(3, 2, 8, 2, key=jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(10 + pid), (8, 3))  # a per-process key
    d = cx.landscape.random_direction(jax.random.PRNGKey(3), model)
    ab = jnp.linspace(-1.0, 1.0, 4)
    res["error_grid"] = _error(lambda: cx.sweep.grid(rate, axes(shift=float(pid))))
    res["error_ntk"] = _error(lambda: cx.ntk.empirical_ntk(apply, model, x))
    res["error_surface"] = _error(
        lambda: cx.landscape.surface(loss, model, d, d, ab, ab, args=(x, x[:, :2]))
    )
    np.savez(path, **res)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
