"""Figures: loss-landscape contours and surfaces, and trajectories projected on a plane.

matplotlib is an optional dependency (`pip install contractax[plot]`); it is imported inside
each function, so `import contractax` never imports it. Every function draws into `ax` when
given, or into a new figure with a constrained layout (labels are not clipped when saved), and
returns the matplotlib `Figure`.

Source: seed 004 Figs. 3.1 and 4.2–4.5 (Hieu 2022 (thesis), §3.1, §4.1–4.2); Li et al. 2018 §4.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["contour_plot", "surface_plot", "trajectory_plot"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "contractax.plot needs matplotlib, an optional dependency: "
            "`pip install contractax[plot]` (or `pip install matplotlib`)."
        ) from e
    return plt


def _axes(ax: Any, projection: str | None = None, figsize=(5.2, 4.4)):
    plt = _pyplot()
    if ax is not None:
        return ax.figure, ax
    fig = plt.figure(figsize=figsize, layout="constrained")
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
    """Contour plot of a surface from `contractax.landscape.surface` (α on the x axis, β on y).

    **Arguments:** the 1-D grids `alphas` `(A,)`, `betas` `(B,)` and `values` `(A, B)`; `ax`
    (a new figure if None); `levels` (a count or the values); `log` plots $\\log_{10}$ of the
    values; `trajectory`: optional `(T, 2)` coordinates (e.g. `PCADirections.coords`) on top.

    **Returns:** the matplotlib Figure.

    ```python
    fig = cx.plot.contour_plot(g, g, Z, levels=np.linspace(0, 5, 21))
    ```

    Source: seed 004 Fig. 4.4 (contours around minimisers); Li et al. 2018 Fig. 5.
    """
    a, b, z = np.asarray(alphas), np.asarray(betas), np.asarray(values)
    if z.shape != (a.shape[0], b.shape[0]):
        raise ValueError(
            f"`values` must have shape (len(alphas), len(betas)) = {(a.shape[0], b.shape[0])}; "
            f"got {z.shape}."
        )
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
    """3-D surface plot of `values` `(A, B)` over the α–β grid.

    **Returns:** the matplotlib Figure.

    ```python
    fig = cx.plot.surface_plot(g, g, np.minimum(Z, 8))
    ```

    Source: seed 004 Figs. 3.1 and 4.5 (3-D loss surfaces); Li et al. 2018 Fig. 1.
    """
    a, b = np.meshgrid(np.asarray(alphas), np.asarray(betas), indexing="ij")
    fig, ax = _axes(ax, projection="3d", figsize=(5.6, 4.8))
    ax.plot_surface(a, b, np.asarray(values), cmap="viridis", linewidth=0, antialiased=True)
    ax.set_xlabel("α")
    ax.set_ylabel("β")
    ax.set_zlabel("loss")
    if title:
        ax.set_title(title)
    return fig


def trajectory_plot(coords, *, labels: Any = None, ax: Any = None, title: str | None = None):
    """Trajectories projected on a plane: `coords` `(T, 2)` or `(K, T, 2)` (K curves, coloured
    by integer `labels` `(K,)` when given); each start marked by a dot, each end by a cross.

    **Returns:** the matplotlib Figure.

    ```python
    pca = cx.landscape.pca_directions(checkpoints)
    fig = cx.plot.trajectory_plot(pca.coords)
    ```

    Source: seed 004 Figs. 4.2–4.3 (PCA of the solver's iterates); Li et al. 2018 §7.
    """
    plt = _pyplot()
    c = np.asarray(coords)
    if c.ndim == 2:
        c = c[None]
    if c.ndim != 3 or c.shape[-1] != 2:
        raise ValueError(f"`coords` must have shape (T, 2) or (K, T, 2); got {np.shape(coords)}.")
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
