"""sweep.grid: shapes, chunking without divisibility, and identical results on 4 devices."""

import json
import os
import subprocess
import sys
import textwrap

import jax.numpy as jnp
import numpy as np
import pytest

from contractax import contraction, sweep


def test_grid_shapes_and_values():
    out = sweep.grid(
        lambda a, b: {"prod": a * b, "pair": jnp.stack([a, b])},
        {"a": jnp.arange(3.0), "b": jnp.arange(5.0)},
        chunk_size=4,  # 15 points: not divisible
    )
    assert out["prod"].shape == (3, 5) and out["pair"].shape == (3, 5, 2)
    np.testing.assert_allclose(out["prod"], np.outer(np.arange(3.0), np.arange(5.0)))
    np.testing.assert_allclose(out["pair"][2, 4], [2.0, 4.0])


def test_grid_of_rates_matches_loop():
    scales = jnp.linspace(0.1, 2.0, 7)
    ps = jnp.array([0.0, 1.0])
    A = jnp.array([[0.2, -0.7, 0.1], [0.5, 0.0, -0.3], [0.1, 0.4, -0.2]])
    out = sweep.grid(
        lambda s, q: contraction.firing_rate_rate(s * A) + q, {"s": scales, "q": ps}, chunk_size=3
    )
    want = np.array([[contraction.firing_rate_rate(s * A) + q for q in ps] for s in scales])
    np.testing.assert_allclose(out, want, rtol=1e-12)


def test_bad_axes():
    with pytest.raises(ValueError, match="1-D"):
        sweep.grid(lambda a: a, {"a": jnp.ones((2, 2))})
    with pytest.raises(ValueError, match="non-empty mapping"):
        sweep.grid(lambda a: a, {})


SCRIPT = textwrap.dedent(
    """
    import json, jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    from contractax import contraction, sweep
    A = jnp.array([[0.2, -0.7, 0.1], [0.5, 0.0, -0.3], [0.1, 0.4, -0.2]])
    out = sweep.grid(lambda s, d: contraction.firing_rate_rate(s * A, dmax=d),
                     {"s": jnp.linspace(0.1, 3.0, 11), "d": jnp.linspace(0.2, 1.0, 3)}, chunk_size=2)
    print(json.dumps({"n": len(jax.devices()), "out": out.tolist()}))
    """
)


def _run(ndev):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={ndev}")
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_sharded_equals_single_device():
    one, four = _run(1), _run(4)
    assert one["n"] == 1 and four["n"] == 4
    np.testing.assert_allclose(np.array(four["out"]), np.array(one["out"]), rtol=1e-14)
