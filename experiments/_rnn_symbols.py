"""Widely-separated-symbols part of the seed-002 reproduction (used by `rnn_memory`): compute.

LSTM (hidden 50) + linear layer trained with Adam (clip 0.25, batch 100) from several starts
(seed Fig. 3), orbit diagrams under constant inputs along θ(s) = sθ_init + (1−s)θ_final
(Fig. 5, 8, 9), and the cost along the same line (Fig. 4). The functions here return plain data
(NumPy arrays, dicts, the trained networks); `_rnn_symbols_claims` judges and draws them.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import contractax as cx
from contractax.data import widely_separated_symbols
from experiments._cache import cached

QUICK = dict(
    length=40,
    windows=((3, 7), (15, 19)),
    n_train=500,
    n_val=500,
    lr=1e-2,
    epochs=50,
    seeds=4,
    hidden=50,
    batch=100,
    decay_epochs=(30,),
)
FULL = dict(  # the seed's sizes (App. A.2)
    length=150,
    windows=((10, 19), (40, 49)),
    n_train=1000,
    n_val=1000,
    lr=1e-3,
    epochs=2500,
    seeds=4,
    hidden=50,
    batch=100,
    decay_epochs=(500, 1000, 2000),
)
SYMBOLS = ("p", "q", "a")  # the constant inputs of the orbit diagrams (one-hot 0, 1, 2)


class _Net(eqx.Module):
    """LSTM (PyTorch conventions) followed by a linear layer on the last hidden state."""

    cell: cx.models.LSTMCell
    out: eqx.nn.Linear

    def __init__(self, hidden, key):
        k1, k2 = jax.random.split(key)
        self.cell = cx.models.LSTMCell(6, hidden, key=k1, dtype=jnp.float32)
        self.out = eqx.nn.Linear(hidden, 4, key=k2, dtype=jnp.float32)

    def __call__(self, u):
        z = jnp.zeros(self.cell.hidden_size, jnp.float32)
        (h, _), _ = jax.lax.scan(lambda st, ut: (self.cell(ut, st), None), (z, z), u)
        return self.out(h)


def _loss(net, u, y):
    logits = jax.vmap(net)(u)
    return (
        optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
        jnp.mean(logits.argmax(-1) == y),
    )


def _trainer(cfg, data):
    """One compiled epoch (shared by all starts) and a function training from a seed."""
    u, y, uv, yv = data
    n = u.shape[0]
    spe = n // cfg["batch"]
    sched = optax.piecewise_constant_schedule(
        cfg["lr"], {e * spe: 0.1 for e in cfg["decay_epochs"]}
    )
    opt = optax.chain(optax.clip_by_global_norm(0.25), optax.adam(sched, b1=0.9, b2=0.999))

    @eqx.filter_jit
    def epoch(net, st, key):
        perm = jax.random.permutation(key, n)[: spe * cfg["batch"]].reshape(spe, -1)

        def body(carry, idx):
            net, st = carry
            (_, acc), g = eqx.filter_value_and_grad(_loss, has_aux=True)(net, u[idx], y[idx])
            upd, st = opt.update(g, st, eqx.filter(net, eqx.is_array))
            return (eqx.apply_updates(net, upd), st), acc

        (net, st), acc = jax.lax.scan(body, (net, st), perm)
        return net, st, acc.mean(), _loss(net, uv, yv)[1]

    def train(seed):
        net0 = _Net(cfg["hidden"], jax.random.key(1000 + seed))
        net, st = net0, opt.init(eqx.filter(net0, eqx.is_array))
        hist = []
        for e in range(cfg["epochs"]):
            net, st, tr, va = epoch(net, st, jax.random.key(10_000 * seed + e))
            hist.append((float(tr), float(va)))
        return net0, net, np.array(hist)

    return train


def _interp(net_a, net_b, s):
    """θ(s) = s θ_a + (1 − s) θ_b on the array leaves."""
    pa, static = eqx.partition(net_a, eqx.is_array)
    pb = eqx.filter(net_b, eqx.is_array)

    def mix(a, b):
        w = jnp.asarray(s, a.dtype)
        return w * a + (1 - w) * b

    return eqx.combine(jax.tree_util.tree_map(mix, pa, pb), static)


def dataset(cfg: dict) -> tuple:
    """(u_train, y_train, u_val, y_val) of the task (keys 11 and 12)."""
    mk = lambda k, n: widely_separated_symbols(
        jax.random.key(k), n, cfg["length"], cfg["windows"], dtype=jnp.float32
    )
    return (*mk(11, cfg["n_train"]), *mk(12, cfg["n_val"]))


def train_starts(quick: bool) -> dict:
    """Train from every start (each cached); pick the best and the worst on validation.

    Returns `cfg`, `data`, `runs` (a list of `(net_init, net_final, history)` with history the
    per-epoch (train, val) accuracy), `finals` (last-epoch accuracies) and `good`/`bad` (the
    starts with the highest and the lowest final validation accuracy).
    """
    cfg = dict(QUICK if quick else FULL)
    data = dataset(cfg)
    train = _trainer(cfg, data)
    mode = "quick" if quick else "full"
    runs = [
        cached(f"rnn_memory/symbols_{mode}_start{sd}", lambda sd=sd: train(sd))
        for sd in range(cfg["seeds"])
    ]
    finals = [(float(h[-1, 0]), float(h[-1, 1])) for _, _, h in runs]
    val = np.array([v for _, v in finals])
    return dict(
        cfg=cfg,
        data=data,
        runs=runs,
        finals=finals,
        good=int(np.argmax(val)),
        bad=int(np.argmin(val)),
        mode=mode,
    )


def orbit_outputs(t: dict) -> dict:
    """Fig. 5/8/9: the first output on orbit diagrams under each constant input along θ(s).

    `out[f"{run}/{symbol}"]` has shape (S, M, T): s grid × 8 random starts × the kept steps.
    """
    quick = t["mode"] == "quick"
    n_s, steps, burn = (60, 400, 300) if quick else (200, 1000, 900)
    key = f"rnn_memory/symbols_{t['mode']}_orbits_{t['good']}_{t['bad']}_{n_s}_{steps}"
    return cached(key, lambda: _orbit_outputs(t, n_s, steps, burn))


def _orbit_outputs(t, n_s, steps, burn) -> dict:
    hid = t["cfg"]["hidden"]
    s_grid = jnp.linspace(0.0, 1.0, n_s, dtype=jnp.float32)
    x0s = _starts(hid)
    step = _state_step

    @eqx.filter_jit
    def first_output(net0, net1, u):
        """First network output on the orbit diagram, shape (S, M, T); compiled once."""
        d = cx.rnn.orbit_diagram(
            step,
            lambda s: (_interp(net0, net1, s), u),
            s_grid,
            x0s,
            steps,
            burn,
            observe=lambda x: x[:hid],
        )
        out = lambda s: _interp(net0, net1, s).out
        return jax.vmap(
            lambda s, hs: jnp.einsum("mth,h->mt", hs, out(s).weight[0]) + out(s).bias[0]
        )(s_grid, d.points)

    out = dict(s=np.asarray(s_grid), steps=steps, burn=burn, hidden=hid)
    for lab in ("good", "bad"):
        net0, net1, _ = t["runs"][t[lab]]
        for sym, name in enumerate(SYMBOLS):
            u = jnp.zeros(6, jnp.float32).at[sym].set(1.0)
            out[f"{lab}/{name}"] = np.asarray(first_output(net0, net1, u))
    return out


def _starts(hid: int):
    """The 8 initial states (h, c) of the orbit diagrams, uniform in [-1, 1] (key 5)."""
    return jax.random.uniform(jax.random.key(5), (8, 2 * hid), jnp.float32, -1.0, 1.0)


def _state_step(x, args):
    """One LSTM step on the stacked state x = (h, c) under a constant input: args = (net, u)."""
    net, u = args
    hid = net.cell.hidden_size
    h, c = net.cell(u, (x[:hid], x[hid:]))
    return jnp.concatenate([h, c])


def final_lyapunov(t: dict) -> dict:
    """λ₁ of the trained networks (θ_final) under each constant input, from the 8 starts.

    `out[f"{run}/{symbol}"]` has shape (8,): nats per step, after a burn-in.
    """
    steps, burn = (2000, 500) if t["mode"] == "quick" else (10_000, 1000)
    key = f"rnn_memory/symbols_{t['mode']}_lyapunov_{t['good']}_{t['bad']}_{steps}"
    return cached(key, lambda: _final_lyapunov(t, steps, burn))


def _final_lyapunov(t, steps, burn) -> dict:
    x0s = _starts(t["cfg"]["hidden"])
    lam = eqx.filter_jit(
        lambda net, u: jax.vmap(
            lambda x0: cx.rnn.lyapunov_spectrum(_state_step, x0, (net, u), steps, burn, k=1)[0]
        )(x0s)
    )
    out = dict(steps=steps, burn=burn)
    for lab in ("good", "bad"):
        net = t["runs"][t[lab]][1]
        for sym, name in enumerate(SYMBOLS):
            out[f"{lab}/{name}"] = np.asarray(lam(net, jnp.zeros(6, jnp.float32).at[sym].set(1.0)))
    return out


def cost_lines(t: dict) -> dict:
    """Fig. 4: the cross-entropy on training and validation data along θ(s), 200 values of s.

    `out[f"{run}/{split}"]` is the curve (split "train" or "validation") on `k` sequences.
    """
    k = 200 if t["mode"] == "quick" else t["cfg"]["n_train"]
    key = f"rnn_memory/symbols_{t['mode']}_cost_lines_{t['good']}_{t['bad']}_{k}"
    return cached(key, lambda: _cost_lines(t, k))


def _cost_lines(t, k) -> dict:
    s_line = jnp.linspace(0.0, 1.0, 200, dtype=jnp.float32)
    line = eqx.filter_jit(
        lambda net0, net1, uu, yy: jax.vmap(lambda s: _loss(_interp(net0, net1, s), uu, yy)[0])(
            s_line
        )
    )
    u, y, uv, yv = t["data"]
    out = dict(s=np.asarray(s_line), k=k)
    for lab in ("good", "bad"):
        net0, net1, _ = t["runs"][t[lab]]
        for (uu, yy), nm in (((u[:k], y[:k]), "train"), ((uv[:k], yv[:k]), "validation")):
            out[f"{lab}/{nm}"] = np.asarray(line(net0, net1, uu, yy))
    return out
