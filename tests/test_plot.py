"""Tests for contractax.plot: every figure is returned, the library does not import matplotlib
on `import contractax`, a missing matplotlib gives an ImportError naming the extra, and the
contour plot's y-label is inside the saved image."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from contractax import plot  # noqa: E402


def test_plots_return_figures_and_check_shapes():
    import matplotlib.pyplot as plt

    g = np.linspace(-1, 1, 6)
    z = np.add.outer(g**2, g**2)
    for fig in (
        plot.contour_plot(g, g, z, trajectory=np.zeros((3, 2)), title="t", log=True),
        plot.surface_plot(g, g, z),
        plot.trajectory_plot(np.zeros((2, 4, 2)), labels=[0, 1]),
        plot.trajectory_plot(np.zeros((4, 2))),
    ):
        assert isinstance(fig, matplotlib.figure.Figure)
        plt.close(fig)
    with pytest.raises(ValueError, match="values"):
        plot.contour_plot(g, g, z[:, :3])
    with pytest.raises(ValueError, match="coords"):
        plot.trajectory_plot(np.zeros((4, 3)))


def test_contour_ylabel_not_clipped_when_saved(tmp_path):
    # Issue 16.5: the y-label's bounding box lies inside the saved figure.
    import matplotlib.pyplot as plt

    g = np.linspace(-1, 1, 11)
    fig = plot.contour_plot(g, g, np.add.outer(g**2, 4 * g**2), title="surface")
    fig.savefig(tmp_path / "c.png", dpi=80)
    renderer = fig.canvas.get_renderer()
    box = fig.axes[0].yaxis.label.get_window_extent(renderer)
    width, height = fig.canvas.get_width_height()
    assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height
    plt.close(fig)


def test_import_contractax_does_not_import_matplotlib_and_error_names_extra():
    code = (
        "import sys; import contractax, contractax.landscape, contractax.plot;"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported';"
        "sys.modules['matplotlib'] = None; sys.modules['matplotlib.pyplot'] = None\n"
        "try:\n    contractax.plot.contour_plot([0, 1], [0, 1], [[0, 1], [1, 2]])\n"
        "except ImportError as e:\n    assert 'contractax[plot]' in str(e), e; print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]
