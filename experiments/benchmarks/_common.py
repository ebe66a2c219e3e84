"""Timing helpers shared by the benchmarks: compile once, then the median of repeats."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax


def block(x: Any) -> Any:
    return jax.tree_util.tree_map(
        lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, x
    )


def timeit(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> dict:
    """Median wall time of `fn()` (outputs blocked on), after `warmup` calls (compilation)."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        block(fn())
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        block(fn())
        times.append(time.perf_counter() - t)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "first_call_s": first,
        "repeats": repeats,
    }


def compiled_memory(jitted: Any, *args: Any) -> dict:
    """XLA's memory analysis of a jitted function at `args` (bytes), where available."""
    try:
        m = jitted.lower(*args).compile().memory_analysis()
        return {
            "temp_bytes": int(m.temp_size_in_bytes),
            "argument_bytes": int(m.argument_size_in_bytes),
            "output_bytes": int(m.output_size_in_bytes),
        }
    except Exception as e:  # pragma: no cover - backend-dependent
        return {"error": repr(e)}


def machine() -> dict:
    import numpy as np

    devs = jax.devices()
    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "backend": jax.default_backend(),
        "devices": [d.device_kind for d in devs],
        "cpu": platform.processor() or platform.machine(),
    }
