"""Training and evaluation parts of `experiments.implicit_robustness`: ℓ∞-contracting implicit
networks over a (γ, λ) grid and a monotone DEQ of the same size, on MNIST when its files are
present (full mode) or sklearn digits. Each function returns plain data (floats, NumPy arrays)
plus, where later parts need them, the trained model's float64 parameters as NumPy arrays, so
that `experiments._cache.cached` can keep one finished model per file."""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import contractax as cx
from contractax._progress import progress
from experiments._cache import cached_loop, train_in_chunks

MAX_STEPS = 5000  # fixed-point iteration cap in training (see `_train_inn`)


def load_data(quick):
    """(Split, description): MNIST from `CONTRACTAX_DATA` in full mode when present (the seed's
    data set), else the sklearn digits with the fixed split seed 0."""
    if not quick:
        try:
            mnist = cx.data.load_mnist()
        except ValueError:
            mnist = None
        if mnist is not None:
            n, m = len(mnist.x_train), len(mnist.x_test)
            return mnist, dict(name="mnist", text=f"MNIST ({n} train / {m} test, 28×28)")
    digits = cx.data.load_digits_split(seed=0)
    n, m = len(digits.x_train), len(digits.x_test)
    return digits, dict(name="digits", text=f"sklearn digits ({n} train / {m} test, 8×8)")


def to64(model):
    return jax.tree.map(lambda v: v.astype(jnp.float64) if eqx.is_inexact_array(v) else v, model)


def mu64(T, d, gamma):
    """μ_{∞,η}(A) of the A the parameters define, evaluated in float64 NumPy (row formula)."""
    T, eta = np.asarray(T, np.float64), np.exp(np.asarray(d, np.float64))
    A = gamma * np.eye(len(eta)) + eta[:, None] * T / eta[None, :] - np.diag(np.abs(T).sum(1))
    off = np.abs(A) * eta[None, :] / eta[:, None]
    return float(np.max(np.diag(A) + off.sum(1) - np.diag(off))), A, eta


def pair_ratio(y, u, ord=np.inf, show: bool | None = False):
    """max over all pairs i ≠ j of ‖y_i − y_j‖ / ‖u_i − u_j‖ (pairs with u_i = u_j skipped), in
    float64, by one compiled block of rows against all rows (the last block padded with row 0,
    whose pairs are already counted); `show` as in `contractax._progress.progress`."""
    y, u = jnp.asarray(y, jnp.float64), jnp.asarray(u, jnp.float64)
    blk = min(len(u), max(1, int(2e7 // (len(u) * u.shape[1]))))
    best = 0.0
    for i in progress(range(0, len(u), blk), desc="test pairs", show=show):
        rows = jnp.minimum(jnp.arange(i, i + blk), len(u) - 1)
        rows = jnp.where(jnp.arange(i, i + blk) < len(u), rows, 0)
        best = max(best, float(_block_ratio(y[rows], u[rows], y, u, float(ord))))
    return best


@functools.partial(jax.jit, static_argnames="ord")
def _block_ratio(yb, ub, y, u, ord):
    dy = jnp.linalg.norm(yb[:, None, :] - y[None], ord=ord, axis=-1)
    du = jnp.linalg.norm(ub[:, None, :] - u[None], ord=ord, axis=-1)
    ok = du > 0
    return jnp.max(jnp.where(ok, dy / jnp.where(ok, du, 1.0), 0.0))


ADAM = optax.adam(3e-3)  # one optimiser object for every model: the training step compiles once


class PenalisedLoss(eqx.Module):
    """Cross-entropy + λ·(the model's Lipschitz bound), λ an array (traced under jit), so every λ
    of the grid shares one compiled training step."""

    lam: jax.Array

    def __call__(self, model, batch):
        return cx.train.cross_entropy(model, batch) + self.lam * model.lipschitz_bound()


def _train_inn(data, lam, gamma, epochs, key, mu_log, bar=False, ckpt=None, chunk=None):
    d = data.x_train.shape[1]
    # The averaged iteration's factor 1 − (1 − γ)/(1 + max_i (a_ii)₋) nears 1 as training makes
    # the diagonal of A negative: at γ = 0.9 the default 300 steps ran out in full mode
    # (γ = 0.9, λ = 0.1). A converged solve stops at tol, so a high cap changes no result.
    net = cx.models.ImplicitNetwork(
        d, 100, 10, gamma=gamma, key=key, dtype=jnp.float32, tol=1e-4, max_steps=MAX_STEPS
    )
    mu_log.append(mu64(net.T, net.d, gamma)[0])
    net, losses, evals = train_in_chunks(
        ckpt,
        net,
        data.x_train.astype(np.float32),
        data.y_train,
        optimizer=ADAM,
        loss_fn=PenalisedLoss(jnp.asarray(lam, jnp.float32)),
        epochs=epochs,
        chunk_epochs=chunk or epochs,
        batch_size=64,
        rng=jax.random.fold_in(key, 1),
        eval_fn=lambda m: mu64(m.T, m.d, gamma)[0],
        progress=bar,
    )
    mu_log.extend(evals)
    return net, losses


@eqx.filter_jit
def _lipschitz(model, *p):
    return model.lipschitz_bound(*p)


@eqx.filter_jit
def _equilibria(net64, u):
    return jax.vmap(lambda x: net64.equilibrium(x, tol=1e-11, max_steps=3000))(u)


@eqx.filter_jit
def _outputs(model, u):
    return jax.vmap(model)(u)


def evaluate(net, data, eps, n_pgd, pgd_steps, lipschitz, ckpt=None):
    """PGD accuracy on the first n_pgd test images (one checkpointed chunk per ε under
    `ckpt`.pgd); clean and certified accuracy on all."""
    x32 = jnp.asarray(data.x_test[:n_pgd].astype(np.float32))
    y = jnp.asarray(data.y_test[:n_pgd])

    def one_eps(state, i):
        acc = cx.train.pgd_accuracy(net, x32, y, [eps[i]], steps=pgd_steps)
        return state, float(acc[0])

    _, pgd = cached_loop(ckpt and f"{ckpt}.pgd", tuple, one_eps, len(eps))
    logits = np.asarray(cx.train.predict(net, jnp.asarray(data.x_test)))  # float64 logits
    return dict(
        pgd=np.asarray(pgd),
        certified_full=np.asarray(cx.train.certified_accuracy(logits, data.y_test, lipschitz, eps)),
        clean_full=float(np.mean(logits.argmax(-1) == data.y_test)),
    )


def inn_params(net64):
    """Float64 NumPy arrays of an ImplicitNetwork: A, B, b, C, c, η, γ."""
    return dict(
        A=np.asarray(net64.A),
        B=np.asarray(net64.B),
        b=np.asarray(net64.b),
        C=np.asarray(net64.C),
        c=np.asarray(net64.c),
        eta=np.asarray(net64.eta),
        gamma=float(net64.gamma),
    )


def train_one(data, gamma, lam, cfg, key, ckpt=None):
    """One ImplicitNetwork at (γ, λ): μ log per epoch, Lipschitz bound, robustness, and the
    largest ‖y_i − y_j‖∞/‖u_i − u_j‖∞ over all pairs of the first `n_pairs` test images
    (float64, tight solves). `key` is the same for every (γ, λ): one initialisation. With a
    cache key `ckpt`, training is checkpointed every `cfg["chunk_epochs"]` epochs and PGD per ε
    (`experiments._cache.cached_loop`)."""
    bar = None if cfg["progress"] else False  # full mode: the environment decides (tty → tqdm)
    mu_log = []
    net, losses = _train_inn(data, lam, gamma, cfg["epochs"], key, mu_log, bar,
                             ckpt and f"{ckpt}.train", cfg.get("chunk_epochs"))  # fmt: skip
    net64 = to64(net)
    lip = float(_lipschitz(net64))
    rep = evaluate(net, data, cfg["eps"], cfg["n_pgd"], cfg["pgd_steps"], lip, ckpt)
    sols = _equilibria(net64, jnp.asarray(data.x_test))
    y64 = np.asarray(sols.value @ net64.C.T + net64.c[None, :])
    k = cfg["n_pairs"]
    return dict(
        gamma=gamma,
        lam=lam,
        mu_log=mu_log,
        lip=lip,
        rep=rep,
        ratio=pair_ratio(y64[:k], data.x_test[:k], show=bar),
        pairs_of=len(data.x_test[:k]),
        mean_steps=float(np.mean(np.asarray(sols.stats["num_steps"]))),
        loss=losses,
        params=inn_params(net64),
        x_star=np.asarray(sols.value[:8]),  # the first 8 equilibria (motivations check)
    )


def train_monotone(data, cfg, ckpt=None):
    """MonotoneDEQ(64, 100, 10, m = 0.5): the monotonicity margin per epoch, robustness, and
    the test-pair ratios against its ℓ2 and ℓ∞ Lipschitz bounds. With a cache key `ckpt`,
    training is checkpointed every `cfg["mon_chunk_epochs"]` epochs and PGD per ε."""
    mon = cx.models.MonotoneDEQ(
        data.x_train.shape[1],
        100,
        10,
        m=0.5,
        scale=0.3,
        key=jax.random.PRNGKey(3),
        dtype=jnp.float32,
        tol=1e-4,
        max_steps=300,
    )
    margin = [_margin(mon)]
    epochs = cfg.get("mon_epochs", cfg["epochs"])
    mon, losses, evals = train_in_chunks(
        ckpt and f"{ckpt}.train",
        mon,
        data.x_train.astype(np.float32),
        data.y_train,
        optimizer=ADAM,
        epochs=epochs,
        chunk_epochs=cfg.get("mon_chunk_epochs") or epochs,
        batch_size=64,
        rng=jax.random.PRNGKey(4),
        eval_fn=_margin,
        progress=None if cfg["progress"] else False,
    )
    margin += evals
    mon64 = to64(mon)
    lip_inf = float(_lipschitz(mon64, jnp.inf))
    rep = evaluate(mon, data, cfg["eps"], cfg["n_pgd"], cfg["pgd_steps"], lip_inf, ckpt)
    k = cfg["n_pairs"]
    y = np.asarray(_outputs(mon64, jnp.asarray(data.x_test[:k])))
    u = data.x_test[:k]
    return dict(
        margin=margin,
        rep=rep,
        lip_inf=lip_inf,
        ratio2=pair_ratio(y, u, 2) / float(_lipschitz(mon64, 2)),
        ratio_inf=pair_ratio(y, u) / lip_inf,
        inputs=data.x_train.shape[1],
        loss=losses,
        epochs=epochs,
    )


def _margin(m):
    """min eig sym(I − W) − m of a MonotoneDEQ, in float64 NumPy."""
    W = cx.models.monotone_parametrisation(
        jnp.asarray(m.A, jnp.float64), jnp.asarray(m.B, jnp.float64), m.m
    )
    S = np.eye(len(W)) - np.asarray(W)
    return float(np.linalg.eigvalsh(0.5 * (S + S.T)).min()) - m.m
