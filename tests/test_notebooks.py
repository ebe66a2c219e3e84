"""The Colab notebooks in docs/notebooks/ are clean, self-contained, and run top to bottom.

Each notebook is executed in a fresh Jupyter kernel (nbclient, kernel "python3", which
jupyter_client starts with this interpreter, `sys.executable`); any cell error fails the test.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupyter_client = pytest.importorskip("jupyter_client")

ROOT = pathlib.Path(__file__).parents[1]
NB_DIR = ROOT / "docs" / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
EXPECTED = [
    "01_contraction_firing_rate.ipynb",
    "02_implicit_robustness.ipynb",
    "03_gd_step_size_bifurcations.ipynb",
]
CELL_TIMEOUT = 300  # seconds per cell, generous for a loaded 2-core machine

# Anything that points into a particular machine's file system.
LOCAL_PATH = re.compile(r"""["'](?:/work|/home|/Users|/tmp|/root|[A-Za-z]:\\)|\.\./|open\(""")


def _read(path):
    return nbformat.read(path, as_version=4)


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_colab_ready(path):
    raw = json.loads(path.read_text())
    assert raw["nbformat"] == 4
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and any(c.cell_type == "markdown" for c in nb.cells)
    for cell in code:
        assert cell.outputs == [], "notebooks are stored without outputs"
        assert cell.execution_count is None
        assert not LOCAL_PATH.search(cell.source), f"local path in:\n{cell.source}"
    # The first code cell installs contractax only when it is missing (Colab).
    first = code[0].source
    assert 'find_spec("contractax") is None' in first
    # ... and the same way as the README's "Install" section (the git-URL line).
    assert re.search(
        r'^\s+%pip install -q "contractax\[experiments\] @ git\+\{GIT_URL\}"\s*$', first, flags=re.M
    )
    readme = (ROOT / "README.md").read_text()
    assert 'pip install "contractax[experiments] @ git+<GIT_URL>"' in readme
    # The rest of the notebook never installs anything else.
    assert not any("pip install" in c.source for c in code[1:])


def test_kernel_runs_this_interpreter():
    """nbclient's "python3" kernel must be the interpreter running the tests (the .venv)."""
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    lines = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            lines.append(msg["content"]["text"])

    try:
        reply = kc.execute_interactive(
            "import sys, contractax; print(sys.executable)", timeout=120, output_hook=hook
        )
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok"
    assert os.path.realpath("".join(lines).strip()) == os.path.realpath(sys.executable)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path):
    nb = _read(path)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # run outside the repository
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert images, "each notebook draws at least one figure"
