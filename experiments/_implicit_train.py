"""Training and evaluation parts of `experiments.implicit_robustness`: ℓ∞-contracting implicit
networks over a (γ, λ) grid and a monotone DEQ of the same size, on MNIST when its files are
present (full mode) or sklearn digits. Each function returns plain data (floats, NumPy arrays)
plus, where later parts need them, the trained model's float64 parameters as NumPy arrays, so
that `experiments._cache.cached` can keep one finished model per file."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import contractax as cx
from contractax._progress import progress


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
    """max over all pairs i < j of ‖y_i − y_j‖ / ‖u_i − u_j‖ (blocked to bound memory: each
    block holds about 2·10⁷ differences); `show` as in `contractax._progress.progress`."""
    best = 0.0
    blk = max(1, int(2e7 // (len(u) * u.shape[1])))
    for i in progress(range(0, len(u), blk), desc="test pairs", show=show):
        dy = np.linalg.norm(y[i : i + blk, None, :] - y[None, :, :], ord=ord, axis=-1)
        du = np.linalg.norm(u[i : i + blk, None, :] - u[None, :, :], ord=ord, axis=-1)
        mask = du > 0
        best = max(best, float((dy[mask] / du[mask]).max()))
    return best


def _train_inn(data, lam, gamma, epochs, key, mu_log, bar=False):
    d = data.x_train.shape[1]
    net = cx.models.ImplicitNetwork(d, 100, 10, gamma=gamma, key=key, dtype=jnp.float32, tol=1e-4)

    def loss(m, batch):
        return cx.train.cross_entropy(m, batch) + lam * m.lipschitz_bound()

    def on_epoch(m):
        mu_log.append(mu64(m.T, m.d, gamma)[0])

    on_epoch(net)
    net, hist = cx.train.train(
        net,
        data.x_train.astype(np.float32),
        data.y_train,
        optimizer=optax.adam(3e-3),
        loss_fn=loss,
        epochs=epochs,
        batch_size=64,
        key=jax.random.fold_in(key, 1),
        eval_fn=on_epoch,
        progress=bar,
    )
    return net, hist


def evaluate(net, data, eps, n_pgd, pgd_steps, lipschitz):
    """PGD accuracy on the first n_pgd test images; clean and certified accuracy on all."""
    x32 = data.x_test.astype(np.float32)
    rep = cx.train.robustness_report(
        net, x32[:n_pgd], data.y_test[:n_pgd], eps, lipschitz=lipschitz, pgd_steps=pgd_steps
    )
    logits = np.asarray(cx.train.predict(net, jnp.asarray(data.x_test)))  # float64 logits
    return dict(
        pgd=np.asarray(rep["pgd"]),
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


def train_one(data, gamma, lam, cfg, key):
    """One ImplicitNetwork at (γ, λ): μ log per epoch, Lipschitz bound, robustness, and the
    largest ‖y_i − y_j‖∞/‖u_i − u_j‖∞ over all pairs of the first `n_pairs` test images
    (float64, tight solves). `key` is the same for every (γ, λ): one initialisation."""
    bar = None if cfg["progress"] else False  # full mode: the environment decides (tty → tqdm)
    mu_log = []
    net, hist = _train_inn(data, lam, gamma, cfg["epochs"], key, mu_log, bar)
    net64 = to64(net)
    lip = float(net64.lipschitz_bound())
    rep = evaluate(net, data, cfg["eps"], cfg["n_pgd"], cfg["pgd_steps"], lip)
    sols = eqx.filter_jit(
        jax.vmap(lambda u, net64=net64: net64.equilibrium(u, tol=1e-11, max_steps=3000))
    )(jnp.asarray(data.x_test))
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
        loss=list(hist.loss),
        params=inn_params(net64),
        x_star=np.asarray(sols.value[:8]),  # the first 8 equilibria (motivations check)
    )


def train_monotone(data, cfg):
    """MonotoneDEQ(64, 100, 10, m = 0.5): the monotonicity margin per epoch, robustness, and
    the test-pair ratios against its ℓ2 and ℓ∞ Lipschitz bounds."""
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
    margin = []

    def on_epoch(m):
        W = cx.models.monotone_parametrisation(
            jnp.asarray(m.A, jnp.float64), jnp.asarray(m.B, jnp.float64), m.m
        )
        S = np.eye(100) - np.asarray(W)
        margin.append(float(np.linalg.eigvalsh(0.5 * (S + S.T)).min()) - m.m)

    on_epoch(mon)
    mon, hist = cx.train.train(
        mon,
        data.x_train.astype(np.float32),
        data.y_train,
        optimizer=optax.adam(3e-3),
        epochs=cfg["epochs"],
        batch_size=64,
        key=jax.random.PRNGKey(4),
        eval_fn=on_epoch,
        progress=None if cfg["progress"] else False,
    )
    mon64 = to64(mon)
    lip_inf = float(mon64.lipschitz_bound(jnp.inf))
    rep = evaluate(mon, data, cfg["eps"], cfg["n_pgd"], cfg["pgd_steps"], lip_inf)
    k = cfg["n_pairs"]
    y = np.asarray(jax.jit(jax.vmap(mon64))(jnp.asarray(data.x_test[:k])))
    u = data.x_test[:k]
    return dict(
        margin=margin,
        rep=rep,
        lip_inf=lip_inf,
        ratio2=pair_ratio(y, u, 2) / float(mon64.lipschitz_bound(2)),
        ratio_inf=pair_ratio(y, u) / lip_inf,
        inputs=data.x_train.shape[1],
        loss=list(hist.loss),
    )
