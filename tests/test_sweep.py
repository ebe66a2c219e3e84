"""sweep.grid and the batching engine: shapes, chunking without divisibility (identical to a
plain vmap), compile once, bad chunk sizes, and identical results on 4 devices."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from contractax import _batching, contraction, sweep


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


def _row_fn(row):
    # non-trivial per-row work (a short scan) with a pytree output
    def body(c, _):
        return jnp.tanh(row["w"] @ c + row["b"]), None

    z = jax.lax.scan(body, jnp.ones(3), None, length=5)[0]
    return {"z": z, "n": jnp.sum(z**2)}


def test_padding_and_chunks_equal_plain_vmap():
    # 7 rows: chunks of 1, 2, 3, 7 and 10 (none divides 7 except 1 and 7)
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    rows = {"w": jax.random.normal(k1, (7, 3, 3)), "b": jax.random.normal(k2, (7, 3))}
    want = jax.vmap(_row_fn)(rows)
    for chunk in (None, 1, 2, 3, 7, 10, np.int64(3)):
        got = _batching.map_rows(_row_fn, rows, chunk_size=chunk)
        assert got["z"].shape == (7, 3) and got["n"].shape == (7,)
        np.testing.assert_allclose(got["z"], want["z"], rtol=1e-14, atol=1e-15)
        got = _batching.chunked_vmap(_row_fn, rows, chunk)
        np.testing.assert_allclose(got["n"], want["n"], rtol=1e-14, atol=1e-15)
    got = jax.jit(lambda r: sweep.flat_map(_row_fn, r, chunk_size=4))(rows)
    np.testing.assert_allclose(got["z"], want["z"], rtol=1e-14, atol=1e-15)
    # padding repeats row 0 and is dropped again
    x = jnp.arange(5.0)
    split, n = _batching.pad_and_split(x, 2)
    np.testing.assert_array_equal(split, [[0.0, 1.0], [2.0, 3.0], [4.0, 0.0]])
    np.testing.assert_array_equal(_batching.merge(split, n), x)


def test_grid_compiles_once():
    traces = []

    def fn(a, b):
        traces.append(1)
        return a * b + jnp.sin(a)

    axes = {"a": jnp.linspace(0.0, 1.0, 6), "b": jnp.arange(4.0)}
    first = sweep.grid(fn, axes, chunk_size=5)
    n = len(traces)
    second = sweep.grid(fn, {"a": axes["a"] + 1.0, "b": axes["b"]}, chunk_size=5)
    assert len(traces) == n  # new values, same shapes: no new trace
    np.testing.assert_allclose(second[0], np.arange(4.0) * 1.0 + np.sin(1.0), rtol=1e-14)
    assert first.shape == second.shape == (6, 4)
    sweep.flat_map(lambda r: r * 2, jnp.arange(3.0))


def test_bad_chunk_sizes_name_the_argument(no_typecheck):
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="chunk_size"):
            sweep.grid(lambda a: a, {"a": jnp.arange(3.0)}, chunk_size=bad)
        with pytest.raises(ValueError, match="chunk_size"):
            sweep.flat_map(lambda r: r, jnp.arange(3.0), chunk_size=bad)
    with pytest.raises(ValueError, match="leading"):
        sweep.flat_map(lambda r: r, {"a": jnp.arange(3.0), "b": jnp.arange(4.0)})
    with pytest.raises(ValueError, match="callable"):
        sweep.grid(3, {"a": jnp.arange(3.0)})


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
    # the engine itself on 7 rows (not a multiple of 4), and the rnn orbit diagram on it
    from contractax import _batching, rnn
    rows = jnp.linspace(-1.0, 1.0, 7)
    f = lambda r: jnp.stack([jnp.sin(3 * r), r ** 3])
    eng = [_batching.map_rows(f, rows, chunk_size=c).tolist() for c in (None, 1, 3)]
    eng.append(jax.jit(lambda x: _batching.chunked_vmap(f, x, 3))(rows).tolist())
    orb = rnn.orbit_diagram(lambda x, a: a * x * (1 - x), lambda s: s, jnp.linspace(2.8, 3.9, 7),
                            jnp.array([0.3, 0.6]), 40, 30, chunk_size=1).points
    print(json.dumps({"n": len(jax.devices()), "out": out.tolist(), "eng": eng,
                      "orb": orb.tolist()}))
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
    np.testing.assert_allclose(np.array(four["eng"]), np.array(one["eng"]), rtol=1e-14)
    np.testing.assert_allclose(np.array(four["orb"]), np.array(one["orb"]), rtol=1e-12)
    rows = np.linspace(-1.0, 1.0, 7)
    want = np.stack([np.sin(3 * rows), rows**3], 1)
    np.testing.assert_allclose(four["eng"][0], want, rtol=1e-14, atol=1e-15)
