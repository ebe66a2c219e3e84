"""Parts of `ren_sysid`: the true system and its contraction certificate, the data, the two models
(a `ContractingREN` and an unconstrained LSTM), their training on simulation error, and the
contraction checks of the learned models. Compute functions return plain data (NumPy).

**The true system** is a chain of two unit masses, wall–spring₁–m₁–spring₂–m₂, each mass damped
to ground, the force u acting on m₁ and the position of m₂ measured (with noise):

    q̇ = v,   v̇ = −K(q) − C(v) + e₁u,
    spring force φ(d) = k d + a tanh(d)      (slope in [k, k + a]),
    damper force ψ(v) = c v + b tanh(v)      (slope in [c, c + b]),

sampled every `TS` seconds with `SUB` explicit-Euler sub-steps of h = TS/SUB. *Why it contracts.*
The Jacobian of one Euler sub-step is I + hJ(s), affine in the four slopes s ∈ box
[k, k+a]² × [c, c+b]²; an induced norm is convex, so its maximum over the box is attained at one
of the 16 vertices. If ‖I + hJ(s_v)‖_{2,P} ≤ ρ_h < 1 at every vertex, every sub-step, hence every
sample step (a product of `SUB` of them), contracts in ‖·‖_{2,P} at rate ρ_h^SUB for every state
and input. P is found by minimising the worst vertex norm (a few hundred Adam steps on a Cholesky
factor); the certificate is the exact vertex evaluation with `cx.norms.induced_norm`, whatever
way P was found.
"""

from __future__ import annotations

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import contractax as cx

# physical parameters: spring slope in [K, K + A], damper slope in [C, C + B]
K, A, C, B = 1.0, 1.0, 1.0, 0.5
TS, SUB = 0.25, 10  # sample time, Euler sub-steps per sample
WASHOUT = 20  # samples dropped from losses and errors (both models start at x = 0)


# ----------------------------------------------------------------------------- true system


def _vector_field(z, u):
    q1, q2, v1, v2 = z
    phi = lambda d: K * d + A * jnp.tanh(d)
    psi = lambda v: C * v + B * jnp.tanh(v)
    f1 = phi(q1) - phi(q2 - q1)  # spring₁ pulls m₁ to the wall, spring₂ to m₂
    f2 = phi(q2 - q1)
    return jnp.stack([v1, v2, -f1 - psi(v1) + u, -f2 - psi(v2)])


def true_step(z, u):
    """One sample step (SUB Euler sub-steps) of the mass chain; returns (z_next, y = q₂)."""
    h = TS / SUB
    z = jax.lax.fori_loop(0, SUB, lambda _, z_: z_ + h * _vector_field(z_, u), z)
    return z, z[1]


def _vertex_jacobians():
    """I + hJ(s) at the 16 vertices of the slope box (s₁, s₂ springs; r₁, r₂ dampers)."""
    h, mats = TS / SUB, []
    e1, d = np.array([1.0, 0.0]), np.array([-1.0, 1.0])
    for s1, s2, r1, r2 in itertools.product((K, K + A), (K, K + A), (C, C + B), (C, C + B)):
        stiff = s1 * np.outer(e1, e1) + s2 * np.outer(d, d)
        J = np.block([[np.zeros((2, 2)), np.eye(2)], [-stiff, -np.diag([r1, r2])]])
        mats.append(np.eye(4) + h * J)
    return np.stack(mats)


def certify_true_system(steps=1500):
    """A metric P and the certified per-sample rate ρ = (max_v ‖I + hJ_v‖_{2,P})^SUB."""
    V = jnp.asarray(_vertex_jacobians())

    def metric(L):  # P = R Rᵀ + 1e-6 I, R lower triangular
        R = jnp.tril(L)
        return R @ R.T + 1e-6 * jnp.eye(4)

    def worst(L):
        return jnp.max(cx.norms.induced_norm(V, 2, metric(L)))

    opt = optax.adam(1e-2)

    @jax.jit
    def search(L):
        def body(_, c):
            g = jax.grad(worst)(c[0])
            upd, st = opt.update(g, c[1], c[0])
            return optax.apply_updates(c[0], upd), st

        return jax.lax.fori_loop(0, steps, body, (L, opt.init(L)))[0]

    P = np.asarray(metric(search(jnp.eye(4))))
    P = P / np.linalg.eigvalsh(P).max()
    # the certificate: exact vertex norms in the found metric (float64)
    per_sub = float(jnp.max(cx.norms.induced_norm(V, 2, jnp.asarray(P))))
    return dict(P=P, rate_sub=per_sub, rate=per_sub**SUB, vertices=len(V),
                cond_P=float(np.linalg.cond(P)))  # fmt: skip


def simulate_true(us):
    """us (N, T) → noise-free outputs (N, T), from rest."""
    roll = lambda u: jax.lax.scan(lambda z, ut: true_step(z, ut), jnp.zeros(4), u)[1]
    return np.asarray(jax.jit(jax.vmap(roll))(jnp.asarray(us, jnp.float64)))


def inputs(rng, n, T, hold=8, amp=3.0):
    """Piecewise-constant random forces: a uniform level in [−amp, amp] every `hold` samples."""
    levels = rng.uniform(-amp, amp, (n, -(-T // hold)))
    return np.repeat(levels, hold, axis=1)[:, :T]


def make_data(seed, n_train, t_train, n_test, t_test, noise=0.05):
    """Train (noisy outputs) and test (noise-free, longer, independent inputs) sequences.
    Output noise std = `noise` × std of the clean training output."""
    rng = np.random.default_rng(seed)
    u_tr, u_te = inputs(rng, n_train, t_train), inputs(rng, n_test, t_test)
    y_tr, y_te = simulate_true(u_tr), simulate_true(u_te)
    sigma = noise * y_tr.std()
    y_tr_noisy = y_tr + sigma * rng.standard_normal(y_tr.shape)
    return dict(u_train=u_tr, y_train=y_tr_noisy, y_train_clean=y_tr, u_test=u_te, y_test=y_te,
                noise_std=sigma, u_scale=float(u_tr.std()), y_scale=float(y_tr_noisy.std()))  # fmt: skip


# ----------------------------------------------------------------------------- models


class LSTMModel(eqx.Module):
    """Unconstrained baseline: an LSTM cell with a linear readout y = W h + b; state (h, c)."""

    cell: cx.models.LSTMCell
    readout: eqx.nn.Linear

    def __init__(self, hidden, *, key, dtype):
        k1, k2 = jax.random.split(key)
        self.cell = cx.models.LSTMCell(1, hidden, key=k1, dtype=dtype)
        self.readout = eqx.nn.Linear(hidden, 1, key=k2, dtype=dtype)

    @property
    def state_size(self):
        return 2 * self.cell.hidden_size

    def step(self, x, u):
        """Flat state x = (h, c) ∈ R^{2H}: (x_next, y)."""
        H = self.cell.hidden_size
        h, c = self.cell(u, (x[:H], x[H:]))
        return jnp.concatenate([h, c]), self.readout(h)

    def simulate(self, x0, us):
        _, ys = jax.lax.scan(lambda x, u: self.step(x, u), x0, us)
        return ys


def n_params(model):
    return int(sum(a.size for a in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))))


def state_size(model):
    return model.state_size if isinstance(model, LSTMModel) else model.sizes[1]


def _rollouts(model, x0s, us):
    """States (N, T+1, n) and outputs (N, T, 1) of either model over inputs us (N, T, 1)."""
    if isinstance(model, LSTMModel):

        def roll(x0, u):
            xs, ys = jax.lax.scan(lambda x, ut: (lambda s: (s[0], s))(model.step(x, ut)), x0, u)[1]
            return jnp.concatenate([x0[None], xs]), ys

        return jax.vmap(roll)(x0s, us)
    return jax.vmap(model.simulate)(x0s, us)  # the REN's rollout: explicit matrices once


rollouts = eqx.filter_jit(_rollouts)


def _sim(model, us):
    """us (N, T, 1) → ys (N, T, 1) from the zero state."""
    return _rollouts(model, jnp.zeros((us.shape[0], state_size(model)), us.dtype), us)[1]


def _loss(model, us, ys):
    return jnp.mean((_sim(model, us)[:, WASHOUT:] - ys[:, WASHOUT:]) ** 2)


@eqx.filter_jit
def _train_step(model, state, us, ys, opt):
    loss, g = eqx.filter_value_and_grad(_loss)(model, us, ys)
    upd, state = opt.update(g, state, eqx.filter(model, eqx.is_inexact_array))
    return eqx.apply_updates(model, upd), state, loss


def train(model, data, *, steps, lr, batch, seed, dtype):
    """Adam on the simulation error of normalised outputs over minibatches of whole sequences."""
    us = jnp.asarray(data["u_train"][..., None] / data["u_scale"], dtype)
    ys = jnp.asarray(data["y_train"][..., None] / data["y_scale"], dtype)
    opt = optax.chain(
        optax.clip_by_global_norm(10.0), optax.adam(optax.cosine_decay_schedule(lr, steps))
    )
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        idx = rng.choice(len(us), size=min(batch, len(us)), replace=False)
        model, state, loss = _train_step(model, state, us[idx], ys[idx], opt)
        losses.append(float(loss))
    return model, np.asarray(losses)


def nrmse(model, data, dtype):
    """Test NRMSE ‖ŷ − y‖₂/‖y − ȳ‖₂ against the noise-free test outputs (after the washout)."""
    us = jnp.asarray(data["u_test"][..., None] / data["u_scale"], dtype)
    pred = np.asarray(rollouts(model, _zeros(model, us), us)[1])[..., 0] * data["y_scale"]
    y = data["y_test"]
    err = pred[:, WASHOUT:] - y[:, WASHOUT:]
    return float(np.sqrt(np.mean(err**2)) / y[:, WASHOUT:].std()), pred


# ----------------------------------------------------------------------------- contraction checks


def to64(model):
    return jax.tree.map(lambda v: v.astype(jnp.float64) if eqx.is_inexact_array(v) else v, model)


def _zeros(model, us):
    return jnp.zeros((us.shape[0], state_size(model)), us.dtype)


def _visited(model, data, dtype, count, key):
    """`count` (state, input) pairs: half are states visited along the test trajectories (with
    the input applied there), half random states around them, 3× as spread out."""
    us = jnp.asarray(data["u_test"][..., None] / data["u_scale"], dtype)
    xs = rollouts(model, _zeros(model, us), us)[0][:, :-1]
    n = xs.shape[-1]
    xs, uf = xs.reshape(-1, n), us.reshape(-1, 1)
    k1, k2, k3 = jax.random.split(key, 3)
    pick = jax.random.choice(k1, xs.shape[0], (count // 2,), replace=False)
    scale = (3.0 * jnp.std(xs, axis=0) + 1e-3)[None, :]
    centre = jnp.mean(xs, 0)[None, :]
    x_rand = centre + scale * jax.random.normal(k2, (count - count // 2, n), dtype)
    u_rand = uf[jax.random.choice(k3, uf.shape[0], (count - count // 2,))]
    return jnp.concatenate([xs[pick], x_rand]), jnp.concatenate([uf[pick], u_rand])


def ren_certificate(ren, data, count, key):
    """‖∂x⁺/∂x‖_{2,M} at `count` sampled (x, u) in float64 and in the model's float32, vs ρ."""
    out = {}
    for name, mdl, dt in (("float32", ren, jnp.float32), ("float64", to64(ren), jnp.float64)):
        xs, us = _visited(mdl, data, dt, count, key)
        norms_, M, rho = _metric_norms(mdl, xs, us)
        out[name] = dict(max_norm=float(jnp.max(norms_)), rate=float(rho),
                         min_eig_M=float(jnp.linalg.eigvalsh(M.astype(jnp.float64)).min()),
                         norms=np.asarray(norms_))  # fmt: skip
    return out


@eqx.filter_jit
def _metric_norms(model, xs, us):
    J = jax.vmap(jax.jacfwd(lambda x, u: model(x, u)[0]))(xs, us)
    M, rho = model.contraction_metric()
    return cx.norms.induced_norm(J, 2, M), M, rho


def lstm_jacobian_norms(lstm, data, count, key):
    """Empirical check: ‖∂x⁺/∂x‖₂ (identity metric) and the spectral radius of ∂x⁺/∂x at sampled
    (x, u) of the float64 model, split into visited (first half) and random states. A spectral
    radius > 1 rules out contraction in every constant metric at that state (‖J‖ ≥ ρ(J))."""
    mdl = to64(lstm)
    xs, us = _visited(mdl, data, jnp.float64, count, key)
    J = jax.jit(jax.vmap(jax.jacfwd(lambda x, u: mdl.step(x, u)[0])))(xs, us)
    norms_ = np.asarray(cx.norms.induced_norm(J, 2))
    radius = np.asarray(jnp.max(jnp.abs(jnp.linalg.eigvals(J)), axis=-1))
    h = count // 2
    return dict(max_norm_visited=float(norms_[:h].max()), max_norm_random=float(norms_[h:].max()),
                frac_above_1=float(np.mean(norms_ > 1)),
                max_radius_visited=float(radius[:h].max()),
                max_radius_random=float(radius[h:].max()), norms=norms_)  # fmt: skip


def divergence(model, data, pairs, key):
    """Two trajectories from different random initial states under the same test input:
    distances ‖x_t − x'_t‖ (in M for the REN, in ℓ2 for the LSTM) over time, float64.
    Returns the distance ratios d_t/d_0 (pairs, T+1) and, for the REN, the bound ρᵗ."""
    mdl = to64(model)
    us = jnp.asarray(data["u_test"][..., None] / data["u_scale"], jnp.float64)
    us = us[jnp.arange(pairs) % us.shape[0]]
    lstm = isinstance(mdl, LSTMModel)
    k1, k2 = jax.random.split(key)
    if lstm:  # h, c uniform in (−1, 1)
        n, W = mdl.state_size, None
        x0 = jax.random.uniform(k1, (pairs, n), jnp.float64, -1.0, 1.0)
        x1 = jax.random.uniform(k2, (pairs, n), jnp.float64, -1.0, 1.0)
    else:
        n = mdl.sizes[1]
        W, rho = _metric(mdl)
        x0 = 3.0 * jax.random.normal(k1, (pairs, n), jnp.float64)
        x1 = 3.0 * jax.random.normal(k2, (pairs, n), jnp.float64)
    d = np.asarray(_pair_distances(mdl, x0, x1, us, W))
    ratio = d / d[:, :1]
    res = dict(ratio=ratio, final=float(ratio[:, -1].max()))
    if not lstm:
        res["bound"] = float(rho) ** np.arange(ratio.shape[1])
        res["excess"] = float(np.max(ratio[:, 1:] / res["bound"][None, 1:]))
        res["rate"] = float(rho)
    return res


@eqx.filter_jit
def _metric(model):
    return model.contraction_metric()


@eqx.filter_jit
def _pair_distances(model, x0, x1, us, W):
    return cx.norms.vector_norm(_rollouts(model, x0, us)[0] - _rollouts(model, x1, us)[0], 2, W)


def true_divergence(cert, data, pairs, seed):
    """The true system from two random initial states, same test input: max_t of
    ‖Δz_t‖_P / (ρᵗ‖Δz_0‖_P) (≤ 1 if the certificate holds)."""
    rng = np.random.default_rng(seed)
    us = jnp.asarray(data["u_test"][np.arange(pairs) % len(data["u_test"])])
    z0, z1 = (jnp.asarray(2.0 * rng.standard_normal((pairs, 4))) for _ in range(2))

    def roll(z, u):
        zs = jax.lax.scan(lambda z_, ut: (true_step(z_, ut)[0],) * 2, z, u)[1]
        return jnp.concatenate([z[None], zs])

    zs = jax.jit(jax.vmap(roll))
    d = np.asarray(cx.norms.vector_norm(zs(z0, us) - zs(z1, us), 2, jnp.asarray(cert["P"])))
    ratio = d / d[:, :1]
    bound = cert["rate"] ** np.arange(ratio.shape[1])
    return dict(ratio=ratio, bound=bound, excess=float(np.max(ratio[:, 1:] / bound[None, 1:])))


def make_models(cfg, key, dtype):
    k1, k2 = jax.random.split(key)
    ren = cx.models.ContractingREN(1, cfg["nx"], cfg["nv"], 1, key=k1, dtype=dtype)
    lstm = LSTMModel(cfg["lstm_hidden"], key=k2, dtype=dtype)
    return ren, lstm
