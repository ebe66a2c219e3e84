"""Compute functions of `experiments.deq_foundations` on networks and solvers: a feed-forward net
as one DEQ layer (§2.1.1) and as a weight-tied input-injected net of the same depth (App. B,
Thm B.0.1), solver-state memory of Broyden and Anderson (§2.1.2), and the float32 error of the
unrolled against the implicit gradient (§2.1.3) (Hieu 2022, seed 004).

Every function returns plain data (floats, lists, NumPy arrays); the claims are judged in
`experiments.deq_foundations`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import contractax as cx
from contractax.models import DEQ, repeat
from experiments.benchmarks._common import compiled_memory

ACTS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "identity": lambda v: v}

# ----------------------------------------------------------------------------- nets as DEQs


def random_net(rng, d_in, widths, acts, skips=()):
    """A random feed-forward net h_i = σ_i(Σ_{j<i} W_ij h_j + b_i), h_0 = x, as NumPy weights.

    `skips` lists extra edges (j, i) beside the chain edges (i − 1, i): "any connectivity"."""
    sizes = [d_in, *widths]
    edges = [(i - 1, i) for i in range(1, len(sizes))] + list(skips)
    W = {(j, i): rng.standard_normal((sizes[i], sizes[j])) / np.sqrt(sizes[j]) for j, i in edges}
    b = [rng.standard_normal(w) for w in widths]
    return dict(sizes=sizes, W=W, b=b, acts=list(acts))


def net_forward(net, x):
    """All layer outputs [h_1, …, h_L] of the feed-forward net at one input x (the reference)."""
    h = [x]
    for i in range(1, len(net["sizes"])):
        pre = net["b"][i - 1] + sum(W @ h[j] for (j, k), W in net["W"].items() if k == i)
        h.append(ACTS[net["acts"][i - 1]](pre))
    return h[1:]


class BlockCell(eqx.Module):
    """f(z, x) = σ(A z + B x + b) on the stacked state z = [h_1; …; h_L], with σ acting blockwise
    (layer i's non-linearity on block i): Bai et al. 2019's single-layer form of a deep net."""

    A: jax.Array
    B: jax.Array
    b: jax.Array
    widths: tuple[int, ...] = eqx.field(static=True)
    acts: tuple[str, ...] = eqx.field(static=True)

    def __call__(self, z, x):
        pre = self.A @ z + self.B @ x + self.b
        cuts = np.cumsum((0,) + self.widths)
        return jnp.concatenate(
            [ACTS[a](pre[lo:hi]) for a, lo, hi in zip(self.acts, cuts[:-1], cuts[1:])]
        )


def block_cell(net):
    """The DEQ / weight-tied cell of `net`: A strictly block lower triangular (W_ij in block
    (i, j)), B the weights from the input, b the stacked biases."""
    sizes, widths = net["sizes"], net["sizes"][1:]
    cuts = np.cumsum([0] + widths)
    A = np.zeros((cuts[-1], cuts[-1]))
    B = np.zeros((cuts[-1], sizes[0]))
    for (j, i), W in net["W"].items():
        rows = slice(cuts[i - 1], cuts[i])
        if j == 0:
            B[rows] = W
        else:
            A[rows, cuts[j - 1] : cuts[j]] = W
    return BlockCell(
        jnp.asarray(A), jnp.asarray(B), jnp.concatenate(net["b"]), tuple(widths), tuple(net["acts"])
    )


def expressiveness(rng, d_in=5, widths=(6, 7, 5, 4), batch=16, solvers=("Picard", "Anderson")):
    """004 §2.1.1: the DEQ of the block cell reproduces the net (Anderson and Picard), Picard
    reaches z* in exactly L steps from 0, the fixed point is unique (other starts), and the DEQ
    has exactly the net's non-zero parameters."""
    acts = ("tanh", "relu", "tanh", "identity")[: len(widths)]
    net = random_net(rng, d_in, widths, acts, skips=[(0, 2), (1, 3)])
    cell = block_cell(net)
    L, N = len(widths), int(sum(widths))
    X = rng.standard_normal((batch, d_in))
    ref = np.stack([np.concatenate(net_forward(net, x)) for x in X])
    out, steps = {}, {}
    for name in solvers:
        solver = {"Anderson": cx.Anderson(), "Picard": cx.Picard()}[name]
        layer = DEQ(cell, solver, z_shape=(N,), tol=1e-13, max_steps=100)
        sols = jax.jit(jax.vmap(layer.solve))(jnp.asarray(X))
        out[name] = float(np.max(np.abs(np.asarray(sols.value) - ref)))
        steps[name] = np.asarray(sols.stats["num_steps"]).tolist()

    def iterates(x, z0):
        return jax.lax.scan(lambda z, _: (cell(z, x),) * 2, z0, None, length=L + 1)[1]

    zs = np.asarray(jax.jit(jax.vmap(iterates, (0, None)))(jnp.asarray(X), jnp.zeros(N)))
    dist = np.max(np.abs(zs - ref[:, None, :]), axis=(0, 2))  # ‖z_k − z*‖∞, k = 1 … L + 1
    starts = 3.0 * rng.standard_normal((8, N))
    far = jax.jit(jax.vmap(lambda z0: iterates(jnp.asarray(X[0]), z0)[L - 1]))(jnp.asarray(starts))
    nonzero = int(sum(W.size for W in net["W"].values()) + sum(b.size for b in net["b"]))
    return dict(
        L=L,
        widths=list(widths),
        acts=list(acts),
        err=out,
        num_steps=steps,
        dist=dist.tolist(),
        unique_err=float(np.max(np.abs(np.asarray(far) - ref[0]))),
        residual=float(np.max(np.abs(np.asarray(jax.vmap(cell)(jnp.asarray(ref), X)) - ref))),
        net_params=nonzero,
        deq_nonzero=int(np.count_nonzero(cell.A) + np.count_nonzero(cell.B) + cell.b.size),
        deq_dense=int(cell.A.size + cell.B.size + cell.b.size),
        batch=batch,
    )


def weight_tied(rng, d_in=5, widths=(6, 7, 5, 4), batch=16):
    """App. B Thm B.0.1: the chain net z^{[i+1]} = σ^{[i]}(W^{[i]} z^{[i]} + b^{[i]}) equals the
    weight-tied, input-injected net z̃^{[i+1]} = σ(W_z z̃^{[i]} + W_x x + b̃) of the same depth L
    (`cx.models.repeat` of the block cell, z̃^{[0]} = 0): after L steps every block is the layer."""
    acts = ("tanh", "relu", "tanh", "identity")[: len(widths)]
    net = random_net(rng, d_in, widths, acts)
    cell = block_cell(net)
    L, N = len(widths), int(sum(widths))
    X = jnp.asarray(rng.standard_normal((batch, d_in)))
    ref = np.stack([np.concatenate(net_forward(net, np.asarray(x))) for x in X])
    cuts = np.cumsum([0] + list(widths))
    run = jax.jit(
        jax.vmap(lambda x, k: repeat(cell, x, k, jnp.zeros(N)), (0, None)), static_argnums=1
    )
    at_l = np.asarray(run(X, L))
    short = np.asarray(run(X, L - 1))
    blocks = [
        float(np.max(np.abs(at_l[:, lo:hi] - ref[:, lo:hi]))) for lo, hi in zip(cuts[:-1], cuts[1:])
    ]
    return dict(
        L=L,
        widths=list(widths),
        acts=list(acts),
        block_err=blocks,
        output_err=blocks[-1],
        short_output_err=float(np.max(np.abs(short[:, cuts[-2] :] - ref[:, cuts[-2] :]))),
        scale=float(np.max(np.abs(ref[:, cuts[-2] :]))),
        tied_params=int(cell.A.size + cell.B.size + cell.b.size),
        batch=batch,
    )


# ----------------------------------------------------------------------------- solver memory


def solver_memory(n, iterations, temp_iterations, temp_solvers=None):
    """004 §2.1.2: bytes of the solver state (from `init`) and XLA temp bytes of the compiled
    forward solve at `max_steps = K`, for the full Broyden of Bai et al. (every update kept:
    `Broyden(memory=K)`), the library's limited-memory `Broyden()` (16 updates, restart) and
    `Anderson()` (history 5). The compiled temp bytes are measured at `temp_iterations` only
    (each is one XLA compile), for the solvers named in `temp_solvers` (default: all)."""
    Q = jnp.linalg.qr(jax.random.normal(jax.random.PRNGKey(30), (n, n)))[0]
    x = 0.3 * jax.random.normal(jax.random.PRNGKey(31), (n,))
    f = lambda z, a: jnp.tanh(0.9 * a[0] @ z + a[1])  # noqa: E731
    makers = {
        "Broyden, all updates (thesis)": lambda k: cx.Broyden(memory=k),
        "Broyden(16) (contractax)": lambda k: cx.Broyden(),
        "Anderson(5)": lambda k: cx.Anderson(),
    }
    state, temp = {}, {}
    for name, make in makers.items():
        state[name], temp[name] = [], []
        for k in iterations:
            s = make(k)
            shapes = jax.eval_shape(s.init, x, x)
            state[name].append(int(sum(a.size * a.dtype.itemsize for a in jax.tree.leaves(shapes))))
            if k not in temp_iterations or (temp_solvers is not None and name not in temp_solvers):
                continue
            solve = jax.jit(
                lambda a, s=s, k=k: cx.fixed_point(f, jnp.zeros(n), a, solver=s, max_steps=k).value
            )
            temp[name].append(compiled_memory(solve, (Q, x)).get("temp_bytes", -1))
    return dict(
        n=n,
        iterations=list(iterations),
        temp_iterations=list(temp_iterations),
        state_bytes=state,
        temp_bytes=temp,
        itemsize=int(x.dtype.itemsize),
    )


# ----------------------------------------------------------------------------- unrolled error


def _problem(kind, rho, n, dtype):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(40), 3)
    if kind == "normal":
        W = rho * jnp.linalg.qr(jax.random.normal(k1, (n, n)))[0]
    else:  # ρ(W) = rho on the diagonal, ‖W‖₂ ≫ 1 from a strictly upper-triangular part
        T = jnp.triu(jax.random.normal(k1, (n, n)), 1) / jnp.sqrt(n)
        W = rho * jnp.eye(n) + 2.0 * T
    x = 0.1 * jax.random.normal(k2, (n,))
    c = jax.random.normal(k3, (n,)) / jnp.sqrt(n)
    return W.astype(dtype), x.astype(dtype), c.astype(dtype)


def _unrolled_grads(W, x, c, ks, kmax):
    """∂(cᵀz_K)/∂W by backpropagation through K Picard steps z ← tanh(Wz + x) from 0, for every
    K in `ks` (one masked scan of `kmax` steps, vmapped over K)."""

    def one(k):
        def loss(W):
            body = lambda z, i: (jnp.where(i < k, jnp.tanh(W @ z + x), z), None)  # noqa: E731
            return c @ jax.lax.scan(body, jnp.zeros_like(x), jnp.arange(kmax))[0]

        return jax.grad(loss)(W)

    return jax.vmap(one)(ks)


def _implicit_grad(W, x, c, tol):
    """The implicit gradient (seed 004 eq. 2.4) from `cx.fixed_point` (Picard, ImplicitAdjoint)."""
    f = lambda z, a: jnp.tanh(a[0] @ z + a[1])  # noqa: E731
    loss = lambda W: (  # noqa: E731
        c
        @ cx.fixed_point(
            f,
            jnp.zeros_like(x),
            (W, x),
            solver=cx.Picard(),
            tol=tol,
            max_steps=20000,
            throw=True,
        ).value
    )
    return jax.grad(loss)(W)


def unrolled_error(cases, ks, n=32):
    """004 §2.1.3: relative error of the float32 unrolled gradient against a float64 reference
    (the implicit gradient at tol 1e-13), split into truncation (float64 unrolled − reference) and
    round-off (float32 − float64 unrolled at the same K), and the float32 implicit gradient's
    error, as K grows."""
    ks = np.asarray(ks)
    kmax = int(ks.max())
    run = jax.jit(_unrolled_grads, static_argnums=4)
    out = []
    for kind, rho in cases:
        W64, x64, c64 = _problem(kind, rho, n, jnp.float64)
        W32, x32, c32 = _problem(kind, rho, n, jnp.float32)
        ref = np.asarray(jax.jit(_implicit_grad, static_argnums=3)(W64, x64, c64, 1e-13))
        g64 = np.asarray(run(W64, x64, c64, jnp.asarray(ks), kmax))
        g32 = np.asarray(run(W32, x32, c32, jnp.asarray(ks), kmax), np.float64)
        imp = np.asarray(jax.jit(_implicit_grad, static_argnums=3)(W32, x32, c32, 1e-6), np.float64)
        nr = np.linalg.norm(ref)
        rel = lambda g: np.linalg.norm(g.reshape(len(ks), -1) - ref.reshape(1, -1), axis=1) / nr  # noqa: E731
        out.append(
            dict(
                kind=kind,
                rho=rho,
                norm=float(np.linalg.norm(np.asarray(W64), 2)),
                total=rel(g32),
                truncation=rel(g64),
                roundoff=np.linalg.norm((g32 - g64).reshape(len(ks), -1), axis=1) / nr,
                implicit32=float(np.linalg.norm(imp - ref) / nr),
            )
        )
    return dict(cases=out, ks=ks, n=n)
