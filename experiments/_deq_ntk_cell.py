"""Seed 004 §4: the residual cell of eq. 4.1 (dense, `cx.models.DenseResidualCell`) — init
scale and solver trajectories (§4.1, Figs 4.1–4.3) and filter-normalised loss landscapes of the
DEQ against weight-tied repeat-6/11/18 networks (§4.2, Fig. 4.4), on sklearn digits.

Compute functions return plain data, judge functions `Claim`s naming the CLAIMS.md items, draw
functions figures (see `experiments.deq_ntk`)."""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import contractax as cx
from contractax.models import DenseResidualCell, repeat
from experiments._report import Claim

SRC = "004"
F32 = jnp.float32
H = 32


def _claim(section, statement, expected, measured, passed, method, items=()):
    return Claim(f"{SRC} {section}", statement, expected, measured, passed, method, items=items)


def init(key, d, std, h=H):
    """Input injection U and readout (V, c) at the usual 1/√fan-in scale; the cell's W1, W2 ~
    N(0, std²) (in the seed's model only the DEQ block's weights get the small init). Group norm
    with one group and no affine parameters."""
    k = jax.random.split(key, 4)
    cell = DenseResidualCell(h, h, init_std=std, affine=False, key=k[1], dtype=F32)
    w1 = std * jax.random.normal(k[1], (h, h), F32)
    w2 = std * jax.random.normal(k[2], (h, h), F32)
    return {
        "U": jax.random.normal(k[0], (h, d), F32) / float(np.sqrt(d)),
        "V": jax.random.normal(k[3], (10, h), F32) / float(np.sqrt(h)),
        "W": eqx.tree_at(lambda c: (c.W1, c.W2), cell, (w1, w2)),
        "c": jnp.zeros((10,), F32),
    }


def _cell(z, a):
    cell, inj = a
    return cell(z, inj)


def anderson_path(p, x, steps):
    """The Anderson iterates z^[0..steps) from z = 0 (the solver's own step) and the relative
    residuals ‖f(z) − z‖/‖f(z)‖ (eq. 4.2)."""
    solver = cx.Anderson(history=5)
    a = (p["W"], p["U"] @ x)
    z0 = jnp.zeros(H, F32)
    state = solver.init(z0, _cell(z0, a), None)

    def body(carry, _):
        z, st = carry
        fz = _cell(z, a)
        res = jnp.linalg.norm(fz - z) / jnp.linalg.norm(fz)
        zn, st = solver.step(z, fz, st, None)
        return (zn, st), (z, res)

    _, (zs, res) = jax.lax.scan(body, (z0, state), None, length=steps)
    return zs, res


def deq_logits(p, x, tol=1e-3, max_steps=100):
    sol = cx.fixed_point(
        _cell,
        jnp.zeros(H, F32),
        (p["W"], p["U"] @ x),
        solver=cx.Anderson(history=5),
        adjoint=cx.ImplicitAdjoint(tol=1e-2, max_steps=200),
        tol=tol,
        max_steps=max_steps,
    )
    return p["V"] @ sol.value + p["c"]


def tied_logits(p, x, k):
    return p["V"] @ repeat(p["W"], p["U"] @ x, k) + p["c"]


def _ce(logits_fn, p, xs, ys):
    logits = jax.vmap(lambda xi: logits_fn(p, xi))(xs)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, ys))


def _train(logits_fn, p, xs, ys, steps, lr, save_at, per_example=False):
    """Adam + cosine decay, full batch, one compiled scan; also returns the iterate after
    `save_at` steps, the losses and the counts of skipped steps and dropped examples.

    `per_example=True` (the DEQ): the gradient is the mean over the examples whose own
    gradient is finite. An example whose equilibrium solve does not converge has NaN derivatives
    (cx.fixed_point's convention); in a plain full-batch mean it would make the whole step
    non-finite, and since a skipped step leaves the parameters unchanged, every later step too."""
    opt = optax.apply_if_finite(
        optax.chain(
            optax.clip_by_global_norm(1.0), optax.adam(optax.cosine_decay_schedule(lr, steps))
        ),
        max_consecutive_errors=steps,
    )
    one = lambda q, x, y: _ce(logits_fn, q, x[None], y[None])

    def value_and_grad(q):
        if not per_example:
            return jax.value_and_grad(lambda q: _ce(logits_fn, q, xs, ys))(q), 0
        vals, gs = jax.vmap(jax.value_and_grad(one), in_axes=(None, 0, 0))(q, xs, ys)
        leaves = jax.tree_util.tree_leaves(gs)
        ok = jnp.isfinite(vals) & jnp.all(
            jnp.stack([jnp.all(jnp.isfinite(a.reshape(len(vals), -1)), 1) for a in leaves]), 0
        )
        k = jnp.maximum(jnp.sum(ok), 1)
        mean = lambda a: jnp.sum(jnp.where(ok.reshape((-1,) + (1,) * (a.ndim - 1)), a, 0), 0) / k
        return (jnp.sum(jnp.where(ok, vals, 0)) / k, jax.tree_util.tree_map(mean, gs)), jnp.sum(~ok)

    def body(carry, i):
        q, st, saved = carry
        saved = jax.tree_util.tree_map(lambda a, b: jnp.where(i == save_at, a, b), q, saved)
        (val, g), dropped = value_and_grad(q)
        upd, st = opt.update(g, st, q)
        return (optax.apply_updates(q, upd), st, saved), (val, dropped)

    def go(p):
        return jax.lax.scan(body, (p, opt.init(p), p), jnp.arange(steps))

    (p, st, saved), (vals, dropped) = eqx.filter_jit(go)(p)
    return p, saved, vals, int(st.total_notfinite), int(jnp.sum(dropped))


def _pca(zs):
    """PCA (centred) of all iterates of all inputs: zs (B, T, h) -> (B, T, 2), explained var."""
    b, t, h = zs.shape
    flat = zs.reshape(b * t, h)
    pca = cx.landscape.pca_directions(flat, center=jnp.mean(flat, axis=0))
    return np.asarray(pca.coords).reshape(b, t, 2), np.asarray(pca.explained_variance)


def _separation(coords, labels):
    """Between-class over within-class variance of the final iterates' PCA coordinates."""
    final = coords[:, -1]
    mu = final.mean(0)
    cls = [final[labels == k] for k in np.unique(labels)]
    between = sum(len(c) * np.sum((c.mean(0) - mu) ** 2) for c in cls)
    within = sum(np.sum((c - c.mean(0)) ** 2) for c in cls)
    return float(between / within)


# ----------------------------------------------------------------------------- compute


def landscape_data(quick):
    """§4.1–4.2's data and its name: CIFAR-10 (flattened to 3072 inputs; the first 384 quick /
    10 000 full training images and the first 1 000 / all 10 000 test images) when
    `cx.data.load_cifar10` finds the python batches under CONTRACTAX_DATA, else the sklearn
    digits (the seed: MNIST for §4.1, CIFAR-10 for §4.2). Never downloads."""
    import os  # noqa: PLC0415

    if os.environ.get("CONTRACTAX_DATA"):
        try:
            c = cx.data.load_cifar10(dtype=np.float32, flatten=True)
        except ValueError as e:
            if "no CIFAR-10" not in str(e) and "No CIFAR-10" not in str(e):
                raise  # files present but broken: say so instead of falling back silently
        else:
            ntr, nte = (384, 1000) if quick else (10_000, 10_000)
            split = cx.data.Split(
                c.x_train[:ntr], c.y_train[:ntr], c.x_test[:nte], c.y_test[:nte], 10
            )
            return split, "CIFAR-10"
    return cx.data.load_digits_split(seed=0, dtype=np.float32), "digits"


def landscapes(quick, data, name="digits", part=None):
    """Train the DEQ and repeat-6/11/18 from the same small init, then 2-D filter-normalised
    surfaces, sharpness at radius 0.5 and test accuracy; `name` names the data in the rows.
    Each model is one part: `part(model_name, compute)` (default: just `compute()`) lets the
    caller cache it, so a full run resumes after the last finished model."""
    part = (lambda key, compute: compute()) if part is None else part
    ntrain = 384 if quick else len(data.x_train)
    steps, lr = (200, 1e-3) if quick else (1500, 1e-3)
    grid = 21 if quick else 51
    neval = 192 if quick else 1024
    xs, ys = jnp.asarray(data.x_train[:ntrain], F32), jnp.asarray(data.y_train[:ntrain])
    xe, ye = xs[:neval], ys[:neval]
    xt, yt = jnp.asarray(data.x_test, F32), jnp.asarray(data.y_test)
    p0 = init(jax.random.PRNGKey(11), xs.shape[1], 0.01)
    models = {"DEQ": deq_logits} | {
        f"repeat-{k}": (lambda p, x, k=k: tied_logits(p, x, k)) for k in (6, 11, 18)
    }
    alphas = jnp.linspace(-1.0, 1.0, grid, dtype=F32)
    kd1, kd2, ksh = jax.random.split(jax.random.PRNGKey(2022), 3)
    out = {"alphas": np.asarray(alphas), "grid": grid, "neval": neval, "steps": steps}
    out["ntrain"], out["data"] = ntrain, name

    def one(name, fn):
        t0 = time.perf_counter()
        p, third, vals, skipped, dropped = _train(
            fn, p0, xs, ys, steps, lr, steps // 3, per_example=name == "DEQ"
        )
        d1 = cx.landscape.random_direction(kd1, p)
        d2 = cx.landscape.random_direction(kd2, p)
        loss = lambda q, args, fn=fn: _ce(fn, q, *args)

        @eqx.filter_jit
        def evaluate(p, d1, d2, loss=loss, fn=fn):
            z = cx.landscape.surface(loss, p, d1, d2, alphas, alphas, args=(xe, ye), chunk_size=64)
            fl = cx.landscape.sharpness_at_radius(
                loss, p, ksh, 0.5, args=(xe, ye), num_directions=8
            )
            acc = jnp.mean(jnp.argmax(jax.vmap(lambda xi: fn(p, xi))(xt), 1) == yt)
            return z, fl, acc

        z, fl, acc = evaluate(p, d1, d2)
        z = np.asarray(z)
        entry = {
            "train_loss": float(vals[-1]),
            "skipped_nonfinite_steps": skipped,
            "dropped_example_gradients": dropped,
            "test_acc": float(acc),
            "center_loss": float(z[grid // 2, grid // 2]),
            "basin_area_0.5": float(cx.landscape.basin_area(alphas, alphas, z, 0.5)),
            "sharpness_r0.5_mean": float(fl.mean_increase),
            "sharpness_r0.5_max": float(fl.max_increase),
            "seconds": time.perf_counter() - t0,
            "surface": z,
        }
        if name == "DEQ":
            entry["stages"] = [
                ("init", p0),
                (f"after {steps // 3} steps", third),
                (f"after {steps} steps", p),
            ]
        return entry

    for model, fn in models.items():
        out[model] = part(model, lambda model=model, fn=fn: one(model, fn))
    out["stages"] = out["DEQ"].pop("stages")
    return out


def paths(quick, data, stages, steps=30, name="digits"):
    """§4.1: Anderson paths of test digits for W ~ N(0, 1) and N(0, 0.01), and under the DEQ's
    training stages."""
    nb = 48 if quick else 200
    xs = jnp.asarray(data.x_test[:nb], F32)
    labels = np.asarray(data.y_test[:nb])
    run = eqx.filter_jit(jax.vmap(lambda p, x: anderson_path(p, x, steps), in_axes=(None, 0)))
    out = {"labels": labels, "nb": nb, "steps": steps, "init": {}, "stages": [], "data": name}
    for std in (1.0, 0.01):
        zs, res = run(init(jax.random.PRNGKey(7), xs.shape[1], std), xs)
        res, zs = np.asarray(res), np.asarray(zs)
        coords, ev = _pca(zs)
        step = np.linalg.norm(np.diff(zs, axis=1), axis=2)  # (B, T-1)
        out["init"][std] = {
            "residuals": res,
            "coords": coords,
            "ev": float(ev.sum()),
            "final_residual_median": float(np.median(res[:, -1])),
            "path_after_first_step_ratio": float(np.median(step[:, 1:].sum(1) / step[:, 0])),
        }
    for name, p in stages:
        zs, res = run(p, xs)
        coords, ev = _pca(np.asarray(zs))
        res = np.asarray(res)
        reach = np.where((res <= 1e-3).any(1), (res <= 1e-3).argmax(1), steps)
        out["stages"].append(
            {
                "name": name,
                "coords": coords,
                "ev": float(ev.sum()),
                "steps_to_1e-3": float(np.mean(reach)),
                "separation": _separation(coords, labels),
            }
        )
    return out


# ----------------------------------------------------------------------------- judge


def judge_paths(p):
    big, small = p["init"][1.0], p["init"][0.01]
    st = p["stages"]
    sep = [s["separation"] for s in st]
    return [
        _claim(
            "§4.1.1 Fig. 4.1",
            "Small N(0, 0.01) initial weights give faster fixed-point convergence than N(0, 1)",
            "median relative residual after 30 Anderson steps lower with N(0, 0.01)",
            f"N(0,1): {big['final_residual_median']:.2e}; N(0,0.01): "
            f"{small['final_residual_median']:.2e}",
            small["final_residual_median"] < big["final_residual_median"],
            f"dense residual cell of eq. 4.1 (cx.models.DenseResidualCell, h = {H}, group norm "
            f"with one group, no affine), {p['nb']} test images ({p.get('data', 'digits')}; the seed: MNIST); W1, W2 drawn with std 1 or std "
            "0.01 (PyTorch's normal_(0, 0.01) in the DEQ tutorial code the seed's model comes "
            "from; 'N(0, 0.01)' in the text)",
            ("004-34", "004-33"),
        ),
        _claim(
            "§4.1.1 Fig. 4.2",
            "With small init z^[i] stays steady after the first step; with N(0,1) it wanders",
            "median (path length after step 1)/(first step) smaller with N(0, 0.01)",
            f"N(0,1): {big['path_after_first_step_ratio']:.3g}; N(0,0.01): "
            f"{small['path_after_first_step_ratio']:.3g}",
            small["path_after_first_step_ratio"] < big["path_after_first_step_ratio"],
            "path lengths of the Anderson iterates in ℝ^h",
            ("004-35", "004-33"),
        ),
        _claim(
            "§4.1.2 Fig. 4.3",
            "The forward dynamics become more complex during training (as Bai et al. 2021 "
            "observe) and the classes move to separate regions",
            "mean Anderson steps to relative residual 1e-3 larger after training than at init; "
            "class separation of the equilibria larger after training",
            ", ".join(f"{s['name']}: {s['steps_to_1e-3']:.1f} steps" for s in st)
            + "; separation (between/within-class variance in the PCA plane): "
            + ", ".join(f"{v:.3g}" for v in sep),
            st[-1]["steps_to_1e-3"] > st[0]["steps_to_1e-3"] and sep[-1] > sep[0],
            f"trajectories of test images ({p.get('data', 'digits')}) under the DEQ of the "
            "landscape part, coloured by class",
            ("004-36", "004-33"),
        ),
    ]


def judge_landscapes(o):
    names = ("DEQ", "repeat-6", "repeat-11", "repeat-18")
    area = {k: o[k]["basin_area_0.5"] for k in names}
    deq = o["DEQ"]
    return [
        _claim(
            "§4.2.1 Fig. 4.4",
            "The small-loss neighbourhood of the minimiser expands with the number of repetitions",
            "basin area (fraction of [−1,1]² with loss ≤ L* + 0.5) grows from repeat-6 to 11 to 18",
            ", ".join(f"{k}: {v:.3f}" for k, v in area.items() if k != "DEQ"),
            area["repeat-6"] < area["repeat-11"] < area["repeat-18"],
            f"filter-normalised directions (ignore biases), {o['grid']}×{o['grid']} grid, loss "
            f"on {o['neval']} training images ({o.get('data', 'digits')}; the seed: CIFAR-10)",
            ("004-39", "004-38"),
        ),
        _claim(
            "§4.2.1, §3.1",
            "The DEQ minimum is at least as flat as the weight-tied networks' (suggesting DEQ "
            "training is favourable)",
            "the DEQ trained (test accuracy ≥ 0.8), its basin area ≥ every repeat-k's and its "
            "mean loss rise at radius 0.5 ≤ every repeat-k's",
            ", ".join(
                f"{k}: area {o[k]['basin_area_0.5']:.3f}, rise {o[k]['sharpness_r0.5_mean']:.3f}, "
                f"train loss {o[k]['train_loss']:.3g}, test acc {o[k]['test_acc']:.3f}"
                for k in names
            ),
            deq["test_acc"] >= 0.8
            and all(area["DEQ"] >= a for a in area.values())
            and all(deq["sharpness_r0.5_mean"] <= o[k]["sharpness_r0.5_mean"] for k in names),
            "rise = mean over 8 random filter-normalised directions of L(θ*+0.5d) − L(θ*). "
            "The DEQ's gradient is the mean over the examples whose implicit gradient is "
            f"finite: {deq['dropped_example_gradients']} of {o['steps']}×{o['ntrain']} example-"
            "gradients were dropped (equilibrium or backward solve not converged), "
            f"{deq['skipped_nonfinite_steps']} steps skipped; the flatness comparison is between "
            "minimisers of different depth.",
            ("004-40", "004-38"),
        ),
    ]


# ----------------------------------------------------------------------------- draw


def draw_init_scale(p):
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    for col, std in enumerate((1.0, 0.01)):
        r = p["init"][std]
        for row in r["residuals"]:
            axes[0, col].semilogy(row, color="C0", alpha=0.2, lw=0.7)
        axes[0, col].semilogy(np.median(r["residuals"], axis=0), "k", lw=2, label="median")
        axes[0, col].set(
            title=f"residual, W ~ N(0, {std:g}²)",
            xlabel="Anderson step",
            ylabel="‖f(z)−z‖/‖f(z)‖",
        )
        axes[0, col].legend(fontsize=7)
        cx.plot.trajectory_plot(
            r["coords"],
            labels=p["labels"],
            ax=axes[1, col],
            title=f"PCA of z^[i], W ~ N(0, {std:g}²) (EV {r['ev']:.2f})",
        )
    fig.tight_layout()
    return fig


def draw_stages(p):
    st = p["stages"]
    fig, axes = plt.subplots(1, len(st), figsize=(4.2 * len(st), 3.8))
    for ax, s in zip(axes, st):
        cx.plot.trajectory_plot(
            s["coords"], labels=p["labels"], ax=ax, title=f"{s['name']} (EV {s['ev']:.2f})"
        )
    fig.tight_layout()
    return fig


def draw_landscapes(o):
    names = ("DEQ", "repeat-6", "repeat-11", "repeat-18")
    a = o["alphas"]
    fig, axes = plt.subplots(1, 4, figsize=(17, 4))
    for ax, name in zip(axes, names):
        cx.plot.contour_plot(
            a,
            a,
            o[name]["surface"],
            ax=ax,
            levels=np.linspace(0, 5, 21),
            title=f"{name}: basin {o[name]['basin_area_0.5']:.2f}",
        )
    fig.tight_layout()
    surf = cx.plot.surface_plot(a, a, np.minimum(o["DEQ"]["surface"], 8), title="DEQ loss surface")
    return {"landscapes_contour": fig, "landscape_deq_3d": surf}
