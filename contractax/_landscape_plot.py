"""Private: matplotlib figures for loss landscapes (contour, 3-D surface, trajectory overlay).
Re-exported from `contractax.landscape`."""

from __future__ import annotations

from typing import Any

import numpy as np


def _axes(ax: Any, projection: str | None = None):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig = plt.figure(figsize=(5, 4.2))
    return fig, fig.add_subplot(111, projection=projection)


def contour_plot(
    alphas,
    betas,
    values,
    *,
    ax: Any = None,
    levels: Any = 20,
    log: bool = False,
    title: str | None = None,
    trajectory: Any = None,
):
    """Contour plot of a surface from `surface` (α on the x axis, β on the y axis).

    **Arguments:** the grids and `values` of shape `(A, B)`; `ax` (new figure if None);
    `levels` (count or values); `log` plots $\\log_{10}$ of the values; `trajectory`: optional
    `(T, 2)` coordinates (e.g. `PCADirections.coords`) drawn on top.

    **Returns:** the matplotlib Figure.

    Source: seed 004 Fig. 4.4 (contours around minimisers).
    """
    a, b, z = np.asarray(alphas), np.asarray(betas), np.asarray(values)
    if log:
        z = np.log10(np.maximum(z, 1e-12))
    fig, ax = _axes(ax)
    cs = ax.contour(a, b, z.T, levels=levels, cmap="viridis", linewidths=0.8)
    ax.clabel(cs, inline=True, fontsize=6, fmt="%.2g")
    ax.plot([0.0], [0.0], "r*", ms=8)
    if trajectory is not None:
        tr = np.asarray(trajectory)
        ax.plot(tr[:, 0], tr[:, 1], "k.-", ms=3, lw=0.8)
    ax.set_xlabel("α (direction 1)")
    ax.set_ylabel("β (direction 2)")
    if title:
        ax.set_title(title)
    return fig


def surface_plot(alphas, betas, values, *, ax: Any = None, title: str | None = None):
    """3-D surface plot of `values` of shape `(A, B)` over the α–β grid.

    **Returns:** the matplotlib Figure. Source: seed 004 Fig. 3.1/4.5.
    """
    a, b = np.meshgrid(np.asarray(alphas), np.asarray(betas), indexing="ij")
    fig, ax = _axes(ax, projection="3d")
    ax.plot_surface(a, b, np.asarray(values), cmap="viridis", linewidth=0, antialiased=True)
    ax.set_xlabel("α")
    ax.set_ylabel("β")
    ax.set_zlabel("loss")
    if title:
        ax.set_title(title)
    return fig


def trajectory_plot(coords, *, labels: Any = None, ax: Any = None, title: str | None = None):
    """Trajectories projected on a plane: `coords` of shape `(T, 2)` or `(K, T, 2)` (K curves,
    coloured by `labels` of shape `(K,)` when given), start marked by a dot.

    **Returns:** the matplotlib Figure. Source: seed 004 Fig. 4.2–4.3 (PCA of solver paths).
    """
    import matplotlib.pyplot as plt

    c = np.asarray(coords)
    if c.ndim == 2:
        c = c[None]
    fig, ax = _axes(ax)
    cmap = plt.get_cmap("tab10")
    for k in range(c.shape[0]):
        col = cmap(int(labels[k]) % 10) if labels is not None else cmap(k % 10)
        ax.plot(c[k, :, 0], c[k, :, 1], "-", color=col, lw=0.7, alpha=0.8)
        ax.plot(c[k, 0, 0], c[k, 0, 1], "o", color=col, ms=2)
        ax.plot(c[k, -1, 0], c[k, -1, 1], "x", color=col, ms=3)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    if title:
        ax.set_title(title)
    return fig
