"""Several processes: two JAX processes on this host (coordinator on 127.0.0.1, gloo CPU
collectives, two virtual CPU devices each, so four devices in all) run the same `sweep.grid`,
sharded `ntk.empirical_ntk` and `landscape.surface` / `line` calls, and the results, gathered to
each host, equal the same computation in this one process. Inputs that differ between the
processes raise instead of mixing; `devices=jax.local_devices()` gives process-local sweeps.
The worker is `tests/_multihost_worker.py`; the recipe is in docs/sweeps.md."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from contractax import _batching
from tests import _multihost_worker as worker

ROOT = Path(__file__).resolve().parent.parent
NUM_PROCESSES = 2
TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp_path):
    """Start the processes, wait for all of them (killing every one on a failure or timeout),
    and return their saved results."""
    port = _free_port()
    flags = "--xla_force_host_platform_device_count=2 --xla_cpu_multi_thread_eigen=false"
    flags += " intra_op_parallelism_threads=1"  # as tests/conftest.py: the cores are shared
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
    procs, logs = [], []
    try:
        for pid in range(NUM_PROCESSES):
            log = open(tmp_path / f"process{pid}.log", "w+")
            logs.append(log)
            cmd = [sys.executable, "-m", "tests._multihost_worker", str(port), str(NUM_PROCESSES)]
            cmd += [str(pid), str(tmp_path / f"process{pid}.npz")]
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log))
        deadline = time.monotonic() + TIMEOUT_S
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        tails = []
        for pid, log in enumerate(logs):
            log.seek(0)
            tails.append(f"--- process {pid} (exit {procs[pid].returncode}):\n{log.read()[-3000:]}")
            log.close()
    codes = [p.returncode for p in procs]
    assert codes == [0] * NUM_PROCESSES, "\n".join(tails)
    return [dict(np.load(tmp_path / f"process{pid}.npz")) for pid in range(NUM_PROCESSES)]


@pytest.mark.slow
def test_two_processes_equal_one_process(tmp_path):
    results = _launch(tmp_path)
    ref = {k: np.asarray(v) for k, v in worker.compute().items()}
    local_ref = [np.asarray(_local_grid(pid)) for pid in range(NUM_PROCESSES)]
    for pid, res in enumerate(results):
        assert int(res["process_index"]) == pid
        assert int(res["process_count"]) == NUM_PROCESSES
        assert int(res["device_count"]) == 2 * NUM_PROCESSES
        assert int(res["local_device_count"]) == 2
        for name, want in ref.items():
            got = res[name]
            assert got.shape == want.shape, name
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, err_msg=name)
            # one computation over the devices of both processes, not a copy per process
            assert int(res[f"{name}_devices"]) == 2 * NUM_PROCESSES, name
            assert not bool(res[f"{name}_addressable"]), name
        assert float(np.abs(ref["ntk_jac"]).max()) > 1e-2 and float(np.ptp(ref["surface"])) > 1e-2
        # a sweep on this process's devices: its own values, its own result
        assert int(res["local_devices"]) == 2
        np.testing.assert_allclose(res["local_rate"], local_ref[pid], rtol=1e-12, atol=1e-13)
        # per-process inputs to one computation over all devices: a clear error, no mixed result
        assert "`axes['s']` differ between the 2 processes" in str(res["error_grid"])
        assert "`x1` differ between the 2 processes" in str(res["error_ntk"])
        assert "`args` differ between the 2 processes" in str(res["error_surface"])
        assert "center" not in str(res["error_surface"])  # the shared inputs are not named
    for name, want in ref.items():
        diff = max(float(np.abs(res[name] - want).max()) for res in results)
        print(f"max |two processes - one process| of {name}: {diff:.3g}")


def _local_grid(pid):
    from contractax import sweep

    return sweep.grid(worker.rate, worker.axes(shift=float(pid)), chunk_size=2)["rate"]


def test_fingerprints_tell_inputs_apart():
    # the digest `check_same_on_processes` compares across processes (a no-op in one process)
    a, b = np.arange(6.0), np.arange(6.0)
    same = _batching.fingerprints({"a": a, "b": {"w": b, "f": np.sin}})
    assert same.shape == (2, 4) and (same[0] == same[1]).all()
    for other in (a + 1e-15, a.reshape(2, 3), a.astype(np.float32), [a, a]):
        assert not (_batching.fingerprints({"x": other})[0] == same[0]).all()
    keys = [_batching.fingerprints({"k": jax.random.key(i)}) for i in (0, 0, 1)]  # typed keys
    assert (keys[0] == keys[1]).all() and not (keys[0] == keys[2]).all()
    seen = []
    jax.jit(lambda x: seen.append(_batching.fingerprints({"x": x})) or x)(a)
    assert seen == [None]  # under jit: tracers, nothing to read on the host
    _batching.check_same_on_processes({"a": a})  # one process: nothing to compare
