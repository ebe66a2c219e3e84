"""The wheel builds, installs into a clean virtual environment, and a 10-line example runs there.

Slow (a fresh venv downloads or copies jax, jaxlib, equinox, optax, diffrax, matplotlib and
scikit-learn): run with `pytest -m slow tests/test_packaging.py`.
"""

from __future__ import annotations

import math
import os
import pathlib
import re
import subprocess
import sys
import tarfile
import venv
import zipfile

import pytest

ROOT = pathlib.Path(__file__).parents[1]

EXAMPLE = """
import jax, jax.numpy as jnp
import contractax as cx
print("version", cx.__version__, "from", cx.__file__)
A = jnp.array([[-1.0, 0.5], [0.2, -2.0]])
print("mu_inf", float(cx.norms.lognorm(A, p=jnp.inf)))          # max row: -1 + 0.5
print("rate", float(cx.contraction.firing_rate_rate(0.5 * jnp.eye(3))))
f = lambda z, a: jnp.tanh(a["W"] @ z + a["x"])
args = {"W": 0.5 * jnp.eye(3), "x": jnp.ones(3)}
sol = cx.fixed_point(f, jnp.zeros(3), args)
print("ok", bool(sol.result == cx.RESULTS.successful), float(jnp.max(jnp.abs(f(sol.value, args) - sol.value))))
print("grad", float(jax.grad(lambda x: cx.fixed_point(f, jnp.zeros(3), {**args, "x": x}).value.sum())(args["x"])[0]))
"""


def _run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def _version():
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, flags=re.M).group(1)


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_clean_venv(tmp_path):
    dist = tmp_path / "dist"
    # 1. `python -m build` (no isolation: hatchling is in the dev venv) makes the sdist, then
    #    the wheel from the unpacked sdist, so both must be complete.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist)], cwd=ROOT)
    sdists = list(dist.glob("contractax-*.tar.gz"))
    assert len(sdists) == 1
    with tarfile.open(sdists[0]) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "contractax/__init__.py"):
        assert needed in members, f"{needed} missing from the sdist"
    wheels = list(dist.glob("contractax-*.whl"))
    assert len(wheels) == 1
    wheel = wheels[0]
    assert wheel.name.startswith(f"contractax-{_version()}-py3-none-any")
    names = zipfile.ZipFile(wheel).namelist()
    assert "contractax/__init__.py" in names
    assert "contractax/py.typed" in names
    assert not any(n.startswith(("tests/", "experiments/", "docs/")) for n in names)

    # 2. A clean venv (no system site-packages), the wheel and its dependencies.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], env=env, cwd=tmp_path)

    # 3. The example, run outside the source tree so only the installed package is importable.
    out = _run([str(py), "-c", EXAMPLE], env=env, cwd=tmp_path)
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert lines["version"].startswith(_version())
    assert str(env_dir) in lines["version"] and str(ROOT / "contractax") not in lines["version"]
    assert float(lines["mu_inf"]) == pytest.approx(-0.5)
    assert float(lines["rate"]) == pytest.approx(0.5)
    ok, residual = lines["ok"].split()
    assert ok == "True" and float(residual) < 1e-4
    # z* = tanh(z*/2 + 1) componentwise; dz*/dx_0 summed = s / (1 - s/2), s = 1 - z*^2
    z = 0.0
    for _ in range(200):
        z = math.tanh(0.5 * z + 1.0)
    s = 1.0 - z * z
    assert float(lines["grad"]) == pytest.approx(s / (1.0 - 0.5 * s), rel=1e-4)
