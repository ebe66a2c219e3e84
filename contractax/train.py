"""Training and robustness evaluation in plain optax: a jitted minibatch loop, ℓ∞ PGD
attacks, and certified radii from an input–output Lipschitz bound.

A model is any callable equinox module mapping one input `u` of shape `(d,)` to logits of
shape `(k,)`; batches are handled with `jax.vmap`. A loss is `loss_fn(model, batch)` with
`batch = (x, y)` a minibatch, returning a scalar: the `(params, args)` convention of `gd`,
`landscape` and `rnn`, so one loss serves training, gradient-descent dynamics and loss
surfaces (e.g. `landscape.surface(cross_entropy, model, d1, d2, args=(x, y))`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, Int

from ._batching import map_rows
from ._checks import check_count, check_positive
from ._progress import progress as show_progress
from .data import batches
from .solvers import RESULTS


def cross_entropy(
    model: Callable, batch: tuple[Float[ArrayLike, "N d"], Int[ArrayLike, " N"]]
) -> Array:
    """Mean softmax cross-entropy of `model` (vmapped over the batch) on integer labels.

    $$\\mathcal L = \\frac1N\\sum_i -\\log \\operatorname{softmax}(f(x_i))_{y_i}$$

    **Arguments:** `model` (one input → logits) and `batch = (x, y)`, `x` of shape `(N, d)`,
    `y` of shape `(N,)` — the `loss(params, args)` convention of the library.

    **Returns:** a scalar.

    **Example:** `cross_entropy(model, (x, y))`; `train(model, x, y, loss_fn=cross_entropy)`.
    """
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise ValueError(
            "`cross_entropy(model, batch)` takes the batch as one pair `(x, y)` (the library's "
            f"`loss(params, args)` convention); got {type(batch).__name__}."
        )
    x, y = batch
    logits = jax.vmap(model)(x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def predict(model: Callable, x, batch_size: int = 512) -> Array:
    """Logits of `model` on `x` of shape `(N, d)`, `batch_size` rows at a time.

    One compiled program per (model structure, N, batch_size): calling it again on new
    weights or data of the same shape does not retrace.
    """
    batch_size = check_count(batch_size, "`batch_size`")
    x = jnp.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"`x` must be a non-empty batch (N, ...), got shape {x.shape}.")
    return _predict(model, x, batch_size)


@eqx.filter_jit
def _predict(model, x, batch_size):
    return map_rows(model, x, chunk_size=batch_size)


def accuracy(model: Callable, x, y, batch_size: int = 512) -> float:
    """Fraction of `x` whose arg-max logit equals the label `y`."""
    return float(jnp.mean(jnp.argmax(predict(model, x, batch_size), -1) == jnp.asarray(y)))


class History(eqx.Module):
    """Per-epoch training record.

    **Fields:**

    - `loss`: mean minibatch loss over the steps that were applied (NaN if none was).
    - `evals`: the values of `eval_fn(model)` after each epoch.
    - `forward_converged`: fraction of the epoch's examples whose forward equilibrium solve
      was `successful` (from `model.solve(x)` when the model has one; NaN otherwise —
      not measured).
    - `backward_converged`: fraction of the epoch's examples in minibatches whose gradient
      was finite. A failed backward (adjoint) solve gives NaN derivatives (contractax never
      returns a finite wrong one), and NaN in one example makes the batch gradient NaN, so
      this is a per-batch count reported per example.
    - `skipped`: number of steps skipped because the loss or a gradient was non-finite
      (parameters and optimizer state are left unchanged by such a step).
    - `opt_state`: the optimizer state after the last step (pass it back as `opt_state=` to
      resume training).
    """

    loss: np.ndarray
    evals: list
    forward_converged: np.ndarray
    backward_converged: np.ndarray
    skipped: np.ndarray
    opt_state: Any


def train(
    model: eqx.Module,
    x,
    y,
    *,
    optimizer: optax.GradientTransformation,
    loss_fn: Callable = cross_entropy,
    epochs: int = 10,
    batch_size: int = 64,
    key,
    eval_fn: Callable | None = None,
    opt_state: Any = None,
    progress: bool | None = None,
) -> tuple[eqx.Module, History]:
    """Train an equinox model with optax on minibatches; one compiled step for every batch.

    Each epoch draws a fresh permutation from `key` (the last incomplete batch is dropped)
    and applies `optimizer` to the gradient of `loss_fn(model, (x_batch, y_batch))` with
    respect to the model's inexact-array leaves (`eqx.filter_value_and_grad`). Fields marked
    static (hyperparameters, activations) are not trained. A step whose loss or gradient is
    not finite (e.g. an equilibrium model with `throw=False` whose solve failed on an example
    of the batch) is skipped and counted; see `History`. The step is compiled once per
    (model structure, optimizer, loss_fn, batch shape): a second `train` call with the same
    objects does not recompile.

    **Arguments:**

    - `model`: an `eqx.Module`.
    - `x`, `y`: training inputs `(N, d)` and labels `(N,)` (NumPy or JAX arrays).
    - `optimizer`: any `optax.GradientTransformation`, e.g. `optax.adam(1e-3)`.
    - `loss_fn`: `loss_fn(model, (xb, yb)) -> scalar` (the `(params, args)` convention of
      `gd` and `landscape`); defaults to `cross_entropy`. A
      regulariser such as `λ · model.lipschitz_bound()` is simply added inside it.
    - `epochs`, `batch_size`, `key`: schedule and randomness.
    - `eval_fn`: optional `eval_fn(model) -> Any`, called after each epoch (kept in history).
    - `opt_state`: optional optimizer state to resume from (default `optimizer.init`).
    - `progress`: show a progress bar (`True`/`False`; `None` lets the environment decide:
      on in a terminal, off in CI logs; tqdm, an optional extra).

    **Returns:** `(trained_model, History)`; `History.opt_state` is the final optimizer state.

    ```python
    model, hist = cx.train.train(model, data.x_train, data.y_train,
                                 optimizer=optax.adam(1e-3), epochs=5, key=key)
    hist.loss, hist.forward_converged, hist.skipped
    ```

    Source: seed 001 (§Training INNs: min Σ L(ŷ, Cx + c) + λ Lip).
    """
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    epochs = check_count(epochs, "`epochs`", minimum=0)
    if x.shape[:1] != y.shape[:1]:
        raise ValueError(
            f"`x` and `y` must have the same number of examples; got x {x.shape}, y {y.shape}."
        )
    # `batch_size` is checked by `data.batches`, the one place that draws the minibatches
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt_state = optimizer.init(params) if opt_state is None else opt_state
    track = callable(getattr(model, "solve", None))

    # the library's one progress display: tqdm when installed and shown (off in CI logs)
    bar = show_progress(range(epochs), total=epochs, desc="train", show=progress)
    hist = {k: [] for k in ("loss", "fwd", "bwd", "skipped")}
    evals = []
    for _ in bar:
        key, sub = jax.random.split(key)
        idx = batches(sub, len(x), batch_size)
        rows = []
        for i in range(idx.shape[0]):
            params, opt_state, row = _train_step(
                params, static, opt_state, x[idx[i]], y[idx[i]], optimizer, loss_fn, track
            )
            rows.append(row)
        loss, applied, fwd = (np.asarray(jnp.stack(r)) for r in zip(*rows))
        hist["loss"].append(float(loss[applied].mean()) if applied.any() else float("nan"))
        hist["fwd"].append(float(fwd.mean()) if track else float("nan"))
        hist["bwd"].append(float(applied.mean()))
        hist["skipped"].append(int((~applied).sum()))
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{hist['loss'][-1]:.4f}", skipped=hist["skipped"][-1])
        if eval_fn is not None:
            evals.append(eval_fn(eqx.combine(params, static)))
    history = History(
        np.asarray(hist["loss"]),
        evals,
        np.asarray(hist["fwd"]),
        np.asarray(hist["bwd"]),
        np.asarray(hist["skipped"], dtype=np.int64),
        opt_state,
    )
    return eqx.combine(params, static), history


@eqx.filter_jit
def _train_step(params, static, opt_state, xb, yb, optimizer, loss_fn, track):
    def f(p):
        return loss_fn(eqx.combine(p, static), (xb, yb))

    loss, grads = jax.value_and_grad(f)(params)
    finite = jnp.isfinite(loss) & jnp.all(
        jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree_util.tree_leaves(grads)] or [True])
    )
    updates, new_state = optimizer.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(finite, a, b), new, old)
    params, opt_state = keep(new_params, params), keep(new_state, opt_state)
    if track:
        model = eqx.combine(jax.lax.stop_gradient(params), static)
        sols = jax.vmap(model.solve)(xb)
        fwd = jnp.mean(sols.result == RESULTS.successful)
    else:
        fwd = jnp.asarray(jnp.nan)
    return params, opt_state, (loss, finite, fwd)


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(path, model: eqx.Module, opt_state: Any = None, *, step: int = 0) -> None:
    """Save a model and (optionally) its optimizer state to one file.

    The arrays are written with `eqx.tree_serialise_leaves` (NumPy format, leaf by leaf); the
    structure is *not* stored, so loading needs a model of the same structure (e.g. built by
    the same constructor) — the equinox convention, which keeps activations and other static
    fields in code rather than in pickles.

    **Arguments:** `path` (a file name), `model`, `opt_state` (e.g. `History.opt_state`),
    `step` (an integer stored with them, e.g. the epoch).

    ```python
    cx.train.save_checkpoint("ckpt.eqx", model, hist.opt_state, step=10)
    model, opt_state, step = cx.train.load_checkpoint("ckpt.eqx", like_model, like_state)
    ```
    """
    step = check_count(step, "`step`", minimum=0)
    eqx.tree_serialise_leaves(path, (jnp.asarray(step), model, opt_state))


def load_checkpoint(path, model_like: eqx.Module, opt_state_like: Any = None):
    """Load what `save_checkpoint` wrote into models of the same structure.

    **Arguments:** `path`; `model_like`, a model of the saved structure (its values are
    replaced); `opt_state_like`, e.g. `optimizer.init(eqx.filter(model_like,
    eqx.is_inexact_array))`, or None when no optimizer state was saved.

    **Returns:** `(model, opt_state, step)`. A file of another structure raises a
    `ValueError` naming the path.
    """
    like = (jnp.asarray(0), model_like, opt_state_like)
    try:
        step, model, opt_state = eqx.tree_deserialise_leaves(path, like)
    except Exception as e:  # equinox raises assorted errors on a mismatch
        raise ValueError(
            f"{path} does not hold a checkpoint of this model / optimizer-state structure "
            f"({type(e).__name__}: {e}); build `model_like` and `opt_state_like` as when saving."
        ) from e
    return model, opt_state, int(step)


# --------------------------------------------------------------------------- robustness


def pgd_attack(
    model: Callable,
    u: Float[Array, " d"],
    label,
    eps,
    *,
    steps: int = 20,
    step_size=None,
    lower: float | None = 0.0,
    upper: float | None = 1.0,
    key=None,
) -> Float[Array, " d"]:
    """ℓ∞ projected gradient ascent on the cross-entropy of one example.

    $$u_{k+1} = \\Pi_{\\|u - u_0\\|_\\infty \\le \\varepsilon,\\ [\\text{lower},\\text{upper}]}
    \\big(u_k + s\\,\\operatorname{sign}\\nabla_u \\mathcal L(f(u_k), y)\\big)$$

    (Madry et al. 2018). Without a `key` the attack starts at `u`; with a `key` at a uniform
    random point of the ε-box. Works under `jit` and `vmap` (`eps` may be traced).

    **Arguments:**

    - `model`: one input → logits. `u`: the clean input `(d,)`. `label`: its integer label.
    - `eps`: radius of the ℓ∞ ball. `steps`, `step_size` (default `2.5 ε / steps`).
    - `lower`, `upper`: box constraints of valid inputs (`None` to disable).
    - `key`: optional random start.

    **Returns:** the adversarial input `(d,)`, within ε of `u` in ℓ∞.
    """
    eps = jnp.asarray(eps, u.dtype)
    s = 2.5 * eps / steps if step_size is None else jnp.asarray(step_size, u.dtype)

    def project(v):
        v = jnp.clip(v, u - eps, u + eps)
        if lower is not None or upper is not None:
            v = jnp.clip(v, lower, upper)
        return v

    def loss(v):
        return optax.softmax_cross_entropy_with_integer_labels(model(v), label)

    v0 = u if key is None else project(u + jax.random.uniform(key, u.shape, u.dtype, -eps, eps))

    def body(_, v):
        return project(v + s * jnp.sign(jax.grad(loss)(v)))

    return jax.lax.fori_loop(0, steps, body, v0)


def pgd_accuracy(
    model: Callable,
    x,
    y,
    eps_values,
    *,
    steps: int = 20,
    batch_size: int = 256,
    lower: float | None = 0.0,
    upper: float | None = 1.0,
) -> np.ndarray:
    """Accuracy under the ℓ∞ PGD attack for each ε in `eps_values` (an empirical upper
    bound on the robust accuracy).

    **Returns:** a NumPy array with one accuracy per ε.
    """

    steps = check_count(steps, "`steps`", minimum=0)
    batch_size = check_count(batch_size, "`batch_size`")
    x, y = jnp.asarray(x), jnp.asarray(y)
    out = []
    for eps in np.atleast_1d(np.asarray(eps_values, dtype=float)):
        check_positive(float(eps), "each ε in `eps_values`", allow_zero=True)
        hits = _pgd_correct(model, x, y, jnp.asarray(eps, x.dtype), steps, lower, upper, batch_size)
        out.append(float(jnp.mean(hits)))
    return np.asarray(out)


@eqx.filter_jit
def _pgd_correct(model, x, y, eps, steps, lower, upper, batch_size):
    def one(row):
        u, lab = row
        adv = pgd_attack(model, u, lab, eps, steps=steps, lower=lower, upper=upper)
        return jnp.argmax(model(adv), -1) == lab

    return map_rows(one, (x, y), chunk_size=batch_size)


def logit_margin(logits: Float[ArrayLike, "*batch k"], labels) -> Array:
    """$z_y - \\max_{j \\ne y} z_j$: positive exactly when the prediction is correct."""
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    true = jnp.take_along_axis(logits, labels[..., None], -1)[..., 0]
    others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1], dtype=bool), -jnp.inf, logits)
    return true - jnp.max(others, -1)


def certified_radius(logits: Float[ArrayLike, "*batch k"], labels, lipschitz) -> Array:
    """Certified ℓ∞ radius from an ℓ∞→ℓ∞ Lipschitz bound and the logit margin.

    If $\\|y(u') - y(u)\\|_\\infty \\le L\\|u' - u\\|_\\infty$, every logit moves by at most
    $L\\varepsilon$, so the margin drops by at most $2L\\varepsilon$ and the prediction cannot
    change for $\\varepsilon < \\text{margin} / (2L)$. Misclassified points get radius 0.

    **Arguments:** `logits` `(..., k)`, integer `labels` `(...)`, `lipschitz` L > 0.

    **Returns:** radii of shape `(...)`.

    Source: seed 001 (§Robustness of INNs; Jafarpour et al. 2021, certified robustness).
    """
    margin = logit_margin(logits, labels)
    return jnp.maximum(margin, 0.0) / (2.0 * jnp.asarray(lipschitz))


def certified_accuracy(logits, labels, lipschitz, eps_values) -> np.ndarray:
    """Fraction of points whose certified radius exceeds each ε in `eps_values`."""
    r = certified_radius(logits, labels, lipschitz)
    return np.asarray([float(jnp.mean(r > e)) for e in eps_values])


def robustness_report(
    model: Callable, x, y, eps_values, *, lipschitz=None, pgd_steps: int = 20, **pgd_kwargs: Any
) -> dict:
    """Clean accuracy, PGD accuracy at each ε and (when `lipschitz` is given, or the model has
    `lipschitz_bound()`) certified accuracy at each ε.

    Certified accuracy ≤ true robust accuracy ≤ PGD accuracy for every ε.

    **Returns:** a dict with `clean`, `eps`, `pgd`, `certified`, `lipschitz`.
    """
    logits = predict(model, jnp.asarray(x))
    clean = float(jnp.mean(jnp.argmax(logits, -1) == jnp.asarray(y)))
    if lipschitz is None and hasattr(model, "lipschitz_bound"):
        lipschitz = model.lipschitz_bound()
    report = {
        "clean": clean,
        "eps": np.asarray(eps_values),
        "pgd": pgd_accuracy(model, x, y, eps_values, steps=pgd_steps, **pgd_kwargs),
    }
    if lipschitz is not None:
        report["certified"] = certified_accuracy(logits, y, lipschitz, eps_values)
        report["lipschitz"] = float(lipschitz)
    return report
