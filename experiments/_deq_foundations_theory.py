"""Compute functions of `experiments.deq_foundations` on matrix statements of Hieu 2022 (seed
004): the determinant bound of eq. 2.8 and the norm identity of eq. 2.6 (§2.3.1), Lemma 2.3.2 on
monotone linear operators (§2.3.2), and the closed-form Kronecker / commutation-matrix Jacobians
of the monotone-DEQ equilibrium, Lemmas 3.2.1–3.2.3 and App. C.0.2 (§3.2.3).

Every function returns plain data; the claims are judged in `experiments.deq_foundations`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from contractax.models import MonotoneDEQ, monotone_parametrisation
from contractax.solvers import Picard, fixed_point

# ----------------------------------------------------------------------------- eq 2.6 / 2.8


def _random_jacobians(rng, count, d):
    """(kind, J) with ρ(J) < 1: symmetric (normal), Gaussian and strongly non-normal (upper
    triangular with a large strictly-upper part), each rescaled to a random ρ ∈ (0, 1)."""
    out = []
    for i in range(count):
        kind = ("normal", "gaussian", "non-normal")[i % 3]
        G = rng.standard_normal((d, d))
        if kind == "normal":
            J = 0.5 * (G + G.T)
        elif kind == "gaussian":
            J = G
        else:
            J = np.diag(rng.uniform(-1, 1, d)) + 3.0 * np.triu(G, 1)
        J = J * rng.uniform(0.05, 0.98) / np.max(np.abs(np.linalg.eigvals(J)))
        out.append((kind, J))
    return out


def det_bound(rng, count=300, d=6):
    """eq. 2.8: |det(I − J)| against (1 − ρ(J))^d on random J with ρ < 1; the printed steps
    ‖J‖₂ = ρ(J) (eq. 2.6) and σ_min(I − J) = 1 − ρ(J); the correct steps σ_min(I − J) ≥ 1 − ‖J‖₂
    and |det(I − J)| = Π|1 − λ_i| ≥ (1 − ρ)^d; a 2×2 counterexample; and J with ρ ≥ 1."""
    rows = {
        k: dict(ratio=[], norm_over_rho=[], smin_gap=[], smin_norm_gap=[])
        for k in ("normal", "gaussian", "non-normal")
    }
    for kind, J in _random_jacobians(rng, count, d):
        lam = np.linalg.eigvals(J)
        rho = np.max(np.abs(lam))
        M = np.eye(d) - J
        sv = np.linalg.svd(M, compute_uv=False)
        norm = sv_norm = np.linalg.norm(J, 2)
        r = rows[kind]
        r["ratio"].append(abs(np.linalg.det(M)) / (1 - rho) ** d)
        r["norm_over_rho"].append(sv_norm / rho)
        r["smin_gap"].append(sv[-1] - (1 - rho))  # printed: = 0 (or ≥ 0 for the product step)
        r["smin_norm_gap"].append(sv[-1] - (1 - norm))  # correct: ≥ 0
    rows = {k: {q: np.asarray(v) for q, v in r.items()} for k, r in rows.items()}
    a = 4.0
    J2 = np.array([[0.5, a], [0.0, 0.5]])
    M2 = np.eye(2) - J2
    ce = dict(
        J=J2.tolist(),
        rho=0.5,
        norm=float(np.linalg.norm(J2, 2)),
        smin=float(np.linalg.svd(M2, compute_uv=False)[-1]),
        det=float(abs(np.linalg.det(M2))),
        bound=0.5**2,
    )
    J3 = np.diag([1.0, 3.0])  # ρ = 3 > 1: |det(I − J)| = 0 < (1 − 3)² = 4
    beyond = dict(rho=3.0, det=float(abs(np.linalg.det(np.eye(2) - J3))), bound=4.0)
    return dict(rows=rows, counterexample=ce, beyond=beyond, count=count, d=d)


# ----------------------------------------------------------------------------- Lemma 2.3.2


def _monotonicity_quotients(M, P):
    """⟨F(x) − F(y), x − y⟩ / ‖x − y‖² for F(x) = Mx + h on the pairs P (shape (k, 2, n)); h
    cancels but is kept so that F is affine as in the lemma."""
    h = jnp.ones(M.shape[0])
    F = lambda v: M @ v + h  # noqa: E731
    d = P[:, 0] - P[:, 1]
    num = jnp.sum((jax.vmap(F)(P[:, 0]) - jax.vmap(F)(P[:, 1])) * d, axis=1)
    return num / jnp.sum(d * d, axis=1)


def monotone_linear(rng, n=5, draws=40, pairs=4000, m=0.3):
    """Lemma 2.3.2 by brute force on sampled pairs, both directions: F(x) = Mx + h with
    sym(M) ⪰ 0 (boundary λ_min = 0), sym(M) with a negative eigenvalue, sym(M) ⪰ mI (λ_min = m),
    λ_min = m − 0.05 (not m-strongly monotone), M + Mᵀ ⪰ mI as printed (λ_min(sym M) = m/2), and
    the monotone-DEQ operator I − W with W = monotone_parametrisation(A, B, m)."""
    quot = jax.jit(_monotonicity_quotients)
    cases = {
        "sym ⪰ 0 (λmin = 0)": 0.0,
        "sym with λmin = −0.1": -0.1,
        f"sym ⪰ {m}I (λmin = {m})": m,
        f"λmin(sym) = {m - 0.05:.2f}": m - 0.05,
        f"M + Mᵀ ⪰ {m}I (λmin(sym) = {m / 2})": m / 2,
    }
    out = {}
    for name, lam in cases.items():
        mins, eig_gap, below0, belowm = [], [], 0, 0
        for _ in range(draws):
            G, K = rng.standard_normal((2, n, n))
            S = G @ G.T / n
            S = S - (np.linalg.eigvalsh(S)[0] - lam) * np.eye(n)  # λ_min(S) = lam exactly
            M = jnp.asarray(S + (K - K.T))  # skew part: free, monotonicity ignores it
            P = jnp.asarray(rng.standard_normal((pairs, 2, n)))
            v = np.linalg.eigh(S)[1][:, 0]  # the pair along the bottom eigenvector
            P = jnp.concatenate([P, jnp.asarray(np.stack([v, -v])[None])])
            q = np.asarray(quot(M, P))
            mins.append(float(q.min()))
            eig_gap.append(float(q.min() - lam))
            below0 += int(np.any(q < -1e-12))
            belowm += int(np.any(q < m - 1e-12))
        out[name] = dict(
            lam=lam,
            min_quotient=min(mins),
            max_eig_gap=max(eig_gap),
            min_eig_gap=min(eig_gap),
            draws_below_0=below0,
            draws_below_m=belowm,
        )
    mon = []
    for _ in range(draws):
        A, B = jnp.asarray(rng.standard_normal((2, n, n)))
        W = monotone_parametrisation(A, B, m)
        P = jnp.asarray(rng.standard_normal((pairs, 2, n)))
        mon.append(float(np.min(np.asarray(quot(jnp.eye(n) - W, P)))))
    return dict(cases=out, mondeq_min=min(mon), m=m, n=n, draws=draws, pairs=pairs)


# ----------------------------------------------------------------------------- Lemmas 3.2.1–3.2.3


def commutation(n):
    """The commutation matrix K⁽ⁿ⁾: K vec(A) = vec(Aᵀ) for n×n A (vec stacks columns)."""
    K = np.zeros((n * n, n * n))
    for i in range(n):
        for j in range(n):
            K[i * n + j, j * n + i] = 1.0
    return K


def vec(A):
    """Column-stacking vec, as in the thesis's rule vec[ABC] = (Cᵀ ⊗ A) vec[B]."""
    return A.T.reshape(-1)


def _jac_to_vec(J, n_in_rows, n_in_cols):
    """A jax.jacobian of Zᵀ (N, n) w.r.t. an (r, c) matrix as ∂vec(Z)/∂vec(·), (nN, rc)."""
    N, n = J.shape[:2]
    return np.swapaxes(np.asarray(J), 2, 3).reshape(N * n, n_in_rows * n_in_cols)


def mondeq_jacobians(n, N, d, m=0.5, seed=50, with_w=True):
    """Lemmas 3.2.1–3.2.3 and Lemma C.0.2 against autodiff of `cx.models.MonotoneDEQ` (the
    thesis's model: no bias, scalar readout u): max relative errors of each closed form.
    `with_w=False` skips the autodiff reference of ∂vec Z/∂vec W (one compile less)."""
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    model = MonotoneDEQ(d, n, "scalar", m=m, use_bias=False, tol=1e-13, max_steps=4000, key=k1)
    model = eqx.tree_at(lambda t: t.U, model, 2.0 * model.U)
    X = jax.random.normal(k2, (d, N))  # columns are the inputs, as in the thesis
    y = jax.random.normal(k3, (N,))
    A, B, U, u, W = model.A, model.B, model.U, model.C, model.W

    def Zt(mod):  # Zᵀ, (N, n): row i is z*(x_i)
        return jax.vmap(lambda x: mod.features(x, solver=Picard()))(X.T)

    Z = jax.jit(Zt)(model).T
    # the closed forms in NumPy (float64): Z, X and the parameters as arrays
    An, Bn, Un, un, Wn, Zn, Xn = (np.asarray(v) for v in (A, B, U, u, W, Z, X))
    pre = Wn @ Zn + Un @ Xn
    D = np.diag(vec((pre > 0).astype(Zn.dtype)))
    In, IN, Kn = np.eye(n), np.eye(N), commutation(n)
    Q = np.eye(n * N) - D @ np.kron(IN, Wn)
    PA = -(np.eye(n * n) + Kn) @ np.kron(In, An.T)
    PB = np.eye(n * n) - Kn
    ZI, XI = np.kron(Zn.T, In), np.kron(Xn.T, In)
    closed = {
        "dg/dZ": Q,
        "dg/dA": -D @ ZI @ PA,
        "dg/dB": -D @ ZI @ PB,
        "dg/dU": -D @ XI,
        "dZ/dW": np.linalg.solve(Q, D @ ZI),
        "dZ/dA": np.linalg.solve(Q, D @ ZI @ PA),
        "dZ/dB": np.linalg.solve(Q, D @ ZI @ PB),
        "dZ/dU": np.linalg.solve(Q, D @ XI),
    }

    # autodiff, one compiled function: g(Z; θ) = Z − ReLU(WZ + UX) directly (Lemma 3.2.1), z*(θ)
    # through the implicit adjoint of the library's solve (Lemma 3.2.2), L(θ) = ½‖Zᵀu − y‖²
    # (Lemma 3.2.3), and a central difference of z*(A) along one random direction E
    alpha = float(model.fb_step_size())
    E = jax.random.normal(jax.random.PRNGKey(seed + 1), (n, n))
    h = 1e-6

    def g(Zm, A_, B_, U_):
        W_ = monotone_parametrisation(A_, B_, m)
        return (Zm - jax.nn.relu(W_ @ Zm + U_ @ X)).T  # (N, n), so rows follow vec(Z)

    def zt(A_, B_, U_):
        mod = eqx.tree_at(lambda t: (t.A, t.B, t.U), model, (A_, B_, U_))
        return Zt(mod)

    def z_of_W(W_):  # W free: the forward–backward fixed point (same equilibrium), α fixed
        f = lambda z, a: jax.nn.relu(z - alpha * (z - a[0] @ z - a[1]))  # noqa: E731
        solve = lambda x: fixed_point(
            f, jnp.zeros(n), (W_, U @ x), solver=Picard(), tol=1e-13, max_steps=4000
        )  # noqa: E731
        return jax.vmap(lambda x: solve(x).value)(X.T)

    def loss(Zt_, u_):  # L as a function of the equilibria: ∂L/∂θ by the chain rule below
        return 0.5 * jnp.sum((Zt_ @ u_ - y) ** 2)

    zt_jit = jax.jit(zt)
    jg = jax.jit(jax.jacobian(g, argnums=(0, 1, 2, 3)))(Z, A, B, U)
    jz = jax.jit(jax.jacfwd(zt, argnums=(0, 1, 2)))(A, B, U)
    jw = jax.jit(jax.jacfwd(z_of_W))(W) if with_w else None
    dl_dzt, dl_du = jax.grad(loss, argnums=(0, 1))(Z.T, u)
    grads = [jnp.tensordot(dl_dzt, j, axes=2) for j in jz] + [dl_du]
    fd = (zt_jit(A + h * E, B, U) - zt_jit(A - h * E, B, U)).reshape(-1) / (2 * h)
    auto = {
        "dg/dZ": _jac_to_vec(jg[0], n, N),
        "dg/dA": _jac_to_vec(jg[1], n, n),
        "dg/dB": _jac_to_vec(jg[2], n, n),
        "dg/dU": _jac_to_vec(jg[3], n, d),
        "dZ/dA": _jac_to_vec(jz[0], n, n),
        "dZ/dB": _jac_to_vec(jz[1], n, n),
        "dZ/dU": _jac_to_vec(jz[2], n, d),
    }
    if with_w:
        auto["dZ/dW"] = _jac_to_vec(jw, n, n)
    rel = lambda a, b: float(np.max(np.abs(a - b)) / np.max(np.abs(b)))  # noqa: E731
    errors = {k: rel(v, auto[k]) for k, v in closed.items() if k in auto}
    r = Zn.T @ un - np.asarray(y)
    grads = [np.asarray(v) for v in grads]
    fd, E = np.asarray(fd), np.asarray(E)
    for ro, name in ((np.kron(IN, un[None, :]), "col"), (np.kron(un[None, :], IN), "printed")):
        row = r @ ro
        for i, p in enumerate(("A", "B", "U")):
            key = f"dL/d{p} ({'(uᵀ⊗I_N), printed' if name == 'printed' else '(I_N⊗uᵀ)'})"
            errors[key] = rel(row @ closed[f"dZ/d{p}"], vec(grads[i]))
    errors["dL/du"] = rel(Zn @ r, grads[3])  # (ŷ − y)ᵀZᵀ as a column

    # App. C.0.2 as printed: every sign flipped (P_A without the minus), [I_m ⊗ Z] for [Zᵀ ⊗ I_n]
    c02 = {}
    c02["dZ/dA, C.0.2 signs"] = rel(np.linalg.solve(Q, D @ ZI @ (-PA)), auto["dZ/dA"])
    c02["dZ/dB, C.0.2 signs"] = rel(-closed["dZ/dB"], auto["dZ/dB"])
    c02["dZ/dU, C.0.2 signs"] = rel(-closed["dZ/dU"], auto["dZ/dU"])
    if n == N:  # [I_m ⊗ Z] has the shape of ∂/∂vec(W) only for m = N = n
        IZ = np.kron(np.eye(N), Zn)
        c02["dZ/dA, C.0.2 as printed"] = rel(np.linalg.solve(Q, D @ IZ @ (-PA)), auto["dZ/dA"])
        c02["dZ/dB, C.0.2 as printed"] = rel(-np.linalg.solve(Q, D @ IZ @ PB), auto["dZ/dB"])
    fd_err = rel(auto["dZ/dA"] @ vec(E), fd)
    return dict(
        n=n,
        N=N,
        d=d,
        m=m,
        errors=errors,
        c02=c02,
        fd_err=fd_err,
        active=float(np.mean(pre > 0)),
        min_gap=float(np.min(np.abs(pre))),
    )
