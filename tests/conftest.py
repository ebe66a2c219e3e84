"""Shared test configuration: float64, strict rank promotion, tolerance helpers."""

import os

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

settings.register_profile(
    "contractax",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.load_profile("contractax")

TOLS = {jnp.float64: dict(rtol=1e-10, atol=1e-12), jnp.float32: dict(rtol=1e-5, atol=1e-6)}


def tols(dtype, scale: float = 1.0) -> dict:
    """Per-dtype tolerances, optionally loosened by `scale`."""
    t = TOLS[jnp.dtype(dtype).type]
    return {k: v * scale for k, v in t.items()}


def tree_allclose(a, b, rtol=1e-10, atol=1e-12) -> bool:
    """True when two pytrees have the same structure and all leaves are close."""
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    if ta != tb:
        return False
    return all(
        np.allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol) for x, y in zip(la, lb)
    )


def assert_tree_allclose(a, b, rtol=1e-10, atol=1e-12):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb, f"tree structures differ: {ta} vs {tb}"
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)


@pytest.fixture
def getkey():
    """A fresh key on each call, deterministic per test."""
    state = {"k": jax.random.PRNGKey(1234)}

    def _next():
        state["k"], sub = jax.random.split(state["k"])
        return sub

    return _next


@pytest.fixture
def no_typecheck():
    """Turn off jaxtyping's run-time checks, to test the library's own error messages."""
    import jaxtyping

    jaxtyping.config.update("jaxtyping_disable", True)
    yield
    jaxtyping.config.update("jaxtyping_disable", False)


@pytest.fixture
def compiles():
    """A list that grows by one for every XLA backend compilation while the test runs."""
    from jax import monitoring

    events = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(duration)

    monitoring.register_event_duration_secs_listener(listener)
    yield events
    monitoring.unregister_event_duration_listener(listener)
