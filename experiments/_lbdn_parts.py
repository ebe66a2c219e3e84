"""Parts of `lbdn_robustness`: training the three kinds of certified classifiers on digits, the ℓ2
PGD attack, the ℓ2 certificates of each, and the empirical Lipschitz ratios.

**Certificates in ℓ2** (threat model ‖δ‖₂ ≤ ε, pixels in [0, 1]). A logit margin m = z_y − max_{j≠y} z_j
drops by at most max_j |Δz_y − Δz_j| under a perturbation, so:

- LBDN, ‖Δz‖₂ ≤ γ‖δ‖₂: |Δz_y − Δz_j| ≤ √2‖Δz‖₂ ≤ √2γε, certified if m > √2γε;
- MonotoneDEQ, ‖Δz‖₂ ≤ L₂‖δ‖₂ with L₂ = ‖C‖₂‖U‖₂/m: certified if m > √2L₂ε;
- ImplicitNetwork, ‖Δz‖∞ ≤ L∞‖δ‖∞ ≤ L∞‖δ‖₂ (the library's ℓ∞ bound): certified if m > 2L∞ε.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import contractax as cx


def to64(model):
    """The model in float64; equilibrium models rebuilt with tight solves (tol 1e-11), so that
    their outputs, and the Lipschitz ratios measured on them, carry no solver error."""
    cast = jax.tree.map(lambda v: v.astype(jnp.float64) if eqx.is_inexact_array(v) else v, model)
    if isinstance(model, cx.models.ImplicitNetwork):
        n, m = model.B.shape
        fresh = cx.models.ImplicitNetwork(m, n, model.C.shape[0], gamma=model.gamma,
                                          tol=1e-11, max_steps=5000, key=jax.random.PRNGKey(0),
                                          dtype=jnp.float64)  # fmt: skip
        leaves = lambda t: (t.T, t.d, t.B, t.b, t.C, t.c)
    elif isinstance(model, cx.models.MonotoneDEQ):
        n, m = model.U.shape
        fresh = cx.models.MonotoneDEQ(m, n, model.C.shape[0], m=model.m, tol=1e-11,
                                      max_steps=5000, key=jax.random.PRNGKey(0),
                                      dtype=jnp.float64)  # fmt: skip
        leaves = lambda t: (t.A, t.B, t.U, t.b, t.C, t.c)
    else:
        return cast
    return eqx.tree_at(leaves, fresh, leaves(cast))


# ----------------------------------------------------------------------------- models


def train_model(kind, data, cfg, key, gamma=None, lam=0.0):
    """Train one classifier (float32, cross-entropy, Adam); returns (model, loss history)."""
    dt = jnp.float32
    if kind == "LBDN":
        net = cx.models.LBDN(cfg["lbdn_sizes"], gamma, key=key, dtype=dt)
        loss = cx.train.cross_entropy
    elif kind == "ImplicitNetwork":
        net = cx.models.ImplicitNetwork(
            64, cfg["width"], 10, gamma=0.5, key=key, dtype=dt, tol=1e-4
        )

        def loss(m, batch):
            return cx.train.cross_entropy(m, batch) + lam * m.lipschitz_bound()
    else:
        net = cx.models.MonotoneDEQ(64, cfg["width"], 10, m=0.5, scale=0.3, key=key, dtype=dt,
                                    tol=1e-4, max_steps=300)  # fmt: skip
        loss = cx.train.cross_entropy
    net, hist = cx.train.train(
        net,
        data.x_train.astype(np.float32),
        data.y_train,
        optimizer=optax.adam(cfg["lr"]),
        loss_fn=loss,
        epochs=cfg["epochs"],
        batch_size=64,
        key=jax.random.fold_in(key, 1),
        progress=None if cfg.get("progress") else False,  # full mode: the environment decides
    )
    return net, np.asarray(hist.loss)


def lipschitz_l2_margin_factor(kind, net64):
    """The factor κ of the certificate m > κε (see the module docstring), in float64."""
    if kind == "LBDN":
        return math.sqrt(2.0) * net64.gamma
    if kind == "ImplicitNetwork":
        return 2.0 * float(net64.lipschitz_bound())
    return math.sqrt(2.0) * float(net64.lipschitz_bound(2))


def bound(kind, net64):
    """(norm, Lipschitz bound) of the model's own certificate: ℓ2 for LBDN/monDEQ, ℓ∞ for the INN."""
    if kind == "LBDN":
        return 2, net64.gamma
    if kind == "ImplicitNetwork":
        return math.inf, float(net64.lipschitz_bound())
    return 2, float(net64.lipschitz_bound(2))


# ----------------------------------------------------------------------------- attacks


def _project(v, x0, eps):
    """Onto the ℓ2 ball of radius eps about x0, then the box [0, 1] (clipping moves every
    coordinate towards x0's, which lies in the box, so the result stays in the ball)."""
    d = v - x0
    n = jnp.linalg.norm(d)
    d = jnp.where(n > eps, d * eps / jnp.where(n > 0, n, 1.0), d)
    return jnp.clip(x0 + d, 0.0, 1.0)


def pgd_l2(model, x, y, eps, steps):
    """ℓ2 PGD on the cross-entropy: normalised-gradient steps of 2.5ε/steps, projected."""
    s = 2.5 * eps / steps

    def loss(v):
        return optax.softmax_cross_entropy_with_integer_labels(model(v), y)

    def body(_, v):
        g = jax.grad(loss)(v)
        gn = jnp.linalg.norm(g)
        return _project(v + s * g / jnp.where(gn > 0, gn, 1.0), x, eps)

    return jax.lax.fori_loop(0, steps, body, x)


@eqx.filter_jit
def _attack(model, xs, ys, eps, steps):
    adv = jax.vmap(lambda x, y: pgd_l2(model, x, y, eps, steps))(xs, ys)
    return adv, jax.vmap(model)(adv)


def evaluate(kind, net, data, cfg):
    """Clean / ℓ2-PGD / certified accuracy at each ε on the first `n_eval` test images; PGD pairs
    for the Lipschitz check. Logits and certificates in float64; the attack on the float32 model
    (as trained), its adversarial inputs re-evaluated in float64."""
    n = cfg["n_eval"]
    x32 = jnp.asarray(data.x_test[:n], jnp.float32)
    y = jnp.asarray(data.y_test[:n])
    net64 = to64(net)
    f64 = eqx.filter_jit(jax.vmap(net64))
    x64 = jnp.asarray(data.x_test[:n])
    logits = np.asarray(f64(x64))
    margin = np.asarray(cx.train.logit_margin(logits, y))
    kappa = lipschitz_l2_margin_factor(kind, net64)
    clean = float(np.mean(margin > 0))
    pgd, cert, pairs = [], [], []
    for eps in cfg["eps"]:
        adv, _ = _attack(net, x32, y, jnp.asarray(eps, jnp.float32), cfg["pgd_steps"])
        adv64 = jnp.asarray(adv, jnp.float64)
        # the float32 attack's point, projected again in float64 so it is exactly admissible
        adv64 = jax.vmap(lambda v, x0: _project(v, x0, eps))(adv64, x64)
        adv_logits = np.asarray(f64(adv64))
        pgd.append(float(np.mean(adv_logits.argmax(-1) == np.asarray(y))))
        cert.append(float(np.mean(margin > kappa * eps)))
        pairs.append((np.asarray(adv64), adv_logits))
    return dict(clean=clean, pgd=np.asarray(pgd), certified=np.asarray(cert), kappa=kappa,
                logits=logits, pairs=pairs, x=np.asarray(x64))  # fmt: skip


def _ratio(dz, dx, p):
    num = np.linalg.norm(dz, ord=p, axis=-1)
    den = np.linalg.norm(dx, ord=p, axis=-1)
    ok = den > 1e-9
    return float(np.max(num[ok] / den[ok]))


def pgd_pair_ratio(kind, net, ev):
    """max over the PGD pairs (x, x_adv) of ‖f(x_adv) − f(x)‖ / ‖x_adv − x‖ in the bound's norm."""
    p, _ = bound(kind, to64(net))
    return max(_ratio(z - ev["logits"], a - ev["x"], p) for a, z in ev["pairs"])


def ratio_ascent(kind, net, x, key, steps, lr=0.02):
    """Maximise log‖f(a) − f(b)‖ − log‖a − b‖ over pairs (a, b) started at test images and small
    perturbations of them (gradient ascent, float64): an adversarial Lipschitz estimate."""
    net64 = to64(net)
    p, _ = bound(kind, net64)
    a0 = jnp.asarray(x)
    b0 = a0 + 0.05 * jax.random.normal(key, a0.shape, a0.dtype)

    def log_ratio(a, b):
        dz, dx = net64(a) - net64(b), a - b
        if p == 2:
            return 0.5 * jnp.log(jnp.sum(dz**2)) - 0.5 * jnp.log(jnp.sum(dx**2))
        # smooth max for ℓ∞ (a lower bound on the ratio's numerator, so still a valid ratio below)
        return jax.nn.logsumexp(50 * jnp.abs(dz)) / 50 - jax.nn.logsumexp(50 * jnp.abs(dx)) / 50

    opt = optax.adam(lr)

    @eqx.filter_jit
    def climb(a, b):
        def one(a, b):
            st = opt.init((a, b))

            def body(_, c):
                (a_, b_), st_ = c
                g = jax.grad(lambda ab: -log_ratio(*ab))((a_, b_))
                upd, st_ = opt.update(g, st_, (a_, b_))
                return optax.apply_updates((a_, b_), upd), st_

            return jax.lax.fori_loop(0, steps, body, ((a, b), st))[0]

        a, b = jax.vmap(one)(a, b)
        return a, b, jax.vmap(net64)(a), jax.vmap(net64)(b)

    a, b, za, zb = climb(a0, b0)
    return _ratio(np.asarray(za - zb), np.asarray(a - b), p)
