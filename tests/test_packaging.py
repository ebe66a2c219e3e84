"""Packaging: a light core, a wheel that installs into a clean venv, and the README example there.

The fast tests check the metadata and that `import contractax` loads none of the optional
extras (matplotlib, scikit-learn, tqdm). The slow test builds the wheel, installs it with the
core dependencies only into a fresh virtual environment (pip uses whatever index the machine
is configured with), and runs the README's example there: `pytest -m slow tests/test_packaging.py`.
"""

from __future__ import annotations

import json
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

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = pathlib.Path(__file__).parents[1]
CORE = {"jax", "equinox", "optax", "diffrax", "optimistix", "jaxtyping"}
OPTIONAL = ("matplotlib", "sklearn", "tqdm")

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

# Loaded in a fresh interpreter: which optional packages did `import contractax` pull in?
MODULES = """
import json, sys, time
t = time.perf_counter()
import contractax
print(json.dumps({"seconds": time.perf_counter() - t, "file": contractax.__file__,
                  "loaded": [m for m in %r if m in sys.modules]}))
""" % (OPTIONAL,)  # noqa: UP031

BASELINE = """
import json, time
t = time.perf_counter()
import jax, equinox
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def _run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()


def _version():
    return _pyproject()["project"]["version"]


def test_core_dependencies_are_light_and_extras_name_the_rest():
    project = _pyproject()["project"]
    assert {_name(r) for r in project["dependencies"]} == CORE
    extras = project["optional-dependencies"]
    assert {_name(r) for r in extras["plot"]} == {"matplotlib"}
    assert {_name(r) for r in extras["data"]} == {"scikit-learn"}
    assert {_name(r) for r in extras["progress"]} == {"tqdm"}
    assert extras["experiments"] == ["contractax[plot,data,progress]"]
    for name in ("test", "bench", "docs", "dev", "all"):
        assert extras[name], f"extra [{name}] is empty"
    # The Makefile's venv installs every extra that the tests, benchmarks and docs need.
    assert '-e ".[test,bench,docs,dev]"' in (ROOT / "Makefile").read_text()


def test_license_file_is_apache_2():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert _pyproject()["project"]["license"] == {"text": "Apache-2.0"}


def test_readme_install_section_is_true():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    for line in ("pip install .", 'pip install ".[experiments]"', "make wheel", "git+<GIT_URL>"):
        assert line in section, f"README Install section lacks {line!r}"
    assert "pip install contractax\n" not in readme  # no index serves it
    assert re.search(r"^wheel:", (ROOT / "Makefile").read_text(), flags=re.M)


def test_import_contractax_loads_no_optional_extra():
    """In a fresh interpreter, `import contractax` imports neither matplotlib, scikit-learn nor
    tqdm. The import time is printed next to `import jax, equinox` (no timing assertion)."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    got = json.loads(_run([sys.executable, "-c", MODULES], cwd=ROOT, env=env).strip())
    assert pathlib.Path(got["file"]).parent == ROOT / "contractax"
    assert got["loaded"] == [], f"import contractax loaded {got['loaded']}"
    base = json.loads(_run([sys.executable, "-c", BASELINE], cwd=ROOT, env=env).strip())
    print(
        f"import contractax {got['seconds']:.2f} s; import jax, equinox {base['seconds']:.2f} s "
        f"(ratio {got['seconds'] / base['seconds']:.2f})"
    )


def _readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks
    return "\n".join(blocks)


@pytest.mark.slow
def test_wheel_installs_with_core_dependencies_only_and_runs_the_readme(tmp_path):
    dist = tmp_path / "dist"
    # 1. The sdist, then the wheel from the unpacked sdist (`python -m build`, no isolation:
    #    hatchling is in the dev extra), so both must be complete.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist)], cwd=ROOT)
    (sdist,) = dist.glob("contractax-*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    for needed in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "contractax/__init__.py",
    ):
        assert needed in members, f"{needed} missing from the sdist"
    (wheel,) = dist.glob("contractax-*.whl")
    assert wheel.name.startswith(f"contractax-{_version()}-py3-none-any")
    names = zipfile.ZipFile(wheel).namelist()
    assert "contractax/__init__.py" in names and "contractax/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "experiments/", "docs/")) for n in names)

    # 2. A clean venv (no system site-packages) with the wheel and its core dependencies.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], env=env, cwd=tmp_path)
    frozen = _run([str(py), "-m", "pip", "freeze"], env=env, cwd=tmp_path).lower()
    for extra in ("matplotlib", "scikit-learn", "tqdm"):
        assert f"{extra}==" not in frozen, f"{extra} installed with the core"

    # 3. Outside the source tree, so only the installed package is importable.
    got = json.loads(_run([str(py), "-c", MODULES], env=env, cwd=tmp_path).strip())
    assert str(env_dir) in got["file"] and got["loaded"] == []
    out = _run([str(py), "-c", EXAMPLE], env=env, cwd=tmp_path)
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert lines["version"].startswith(_version())
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
    # The README's example, as written, with the core only.
    assert _run([str(py), "-c", _readme_example()], env=env, cwd=tmp_path).strip()
