"""Tests for contractax.ntk: kernels against J Jᵀ from jax.jacrev, the two methods against each
other, trace/diagonal semantics, chunking without divisibility, Lanczos, linearisation, and the
NTK through an implicit (fixed-point) layer against the network unrolled to convergence."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from contractax import ntk

from .conftest import assert_tree_allclose


def _mlp(key, d=3, o=2, width=6):
    return eqx.nn.MLP(d, o, width, 2, activation=jnp.tanh, key=key)


def _apply(p, x):
    return p(x)


def _jac_rows(model, xs):
    """Brute force: the (N, O, P) stack of flattened per-example Jacobians."""
    dyn, st = eqx.partition(model, eqx.is_inexact_array)
    jac = jax.jit(jax.vmap(jax.jacrev(lambda p, x: eqx.combine(p, st)(x)), (None, 0)))(dyn, xs)
    leaves = jax.tree_util.tree_leaves(jac)
    return jnp.concatenate([a.reshape(a.shape[0], a.shape[1], -1) for a in leaves], -1)


@pytest.fixture(scope="module")
def problem():
    k = jax.random.split(jax.random.PRNGKey(0), 3)
    model = _mlp(k[0])
    x1 = jax.random.normal(k[1], (5, 3))
    x2 = jax.random.normal(k[2], (4, 3))
    j1, j2 = _jac_rows(model, x1), _jac_rows(model, x2)
    full = jnp.einsum("iop,jqp->ijoq", j1, j2)
    return model, x1, x2, full


@pytest.mark.parametrize("method", ["jacobian", "ntk_vp"])
def test_kernel_equals_jjt_with_trace_and_diagonal(problem, method):
    model, x1, x2, full = problem
    k_full = ntk.empirical_ntk(_apply, model, x1, x2, method=method, trace_axes=())
    k_tr = ntk.empirical_ntk(_apply, model, x1, x2, method=method)
    k_dg = ntk.empirical_ntk(
        _apply, model, x1, x2, method=method, trace_axes=(), diagonal_axes=(0,)
    )
    assert k_full.shape == (5, 4, 2, 2) and k_tr.shape == (5, 4) and k_dg.shape == (5, 4, 2)
    assert_tree_allclose(k_full, full, rtol=1e-10, atol=1e-12)
    # neural-tangents' convention: a traced kernel is divided by the size of the traced axes
    assert_tree_allclose(k_tr, jnp.einsum("ijoo->ij", full) / 2, rtol=1e-10, atol=1e-12)
    k_sum = ntk.empirical_ntk(_apply, model, x1, x2, method=method, trace="sum")
    assert_tree_allclose(k_sum, jnp.einsum("ijoo->ij", full), rtol=1e-10, atol=1e-12)
    assert_tree_allclose(k_dg, jnp.einsum("ijoo->ijo", full), rtol=1e-10, atol=1e-12)


def test_chunking_without_divisibility_and_methods_agree(problem):
    model, x1, x2, full = problem
    # 5 and 4 rows in chunks of 3: both batches need padding.
    a = ntk.empirical_ntk(_apply, model, x1, x2, method="jacobian", chunk_size=3, trace_axes=())
    b = ntk.empirical_ntk(_apply, model, x1, x2, method="ntk_vp", chunk_size=3, trace_axes=())
    assert_tree_allclose(a, full, rtol=1e-10, atol=1e-12)
    assert_tree_allclose(b, full, rtol=1e-10, atol=1e-12)


def test_symmetric_psd_and_jit_vmap(problem):
    model, x1, _, _ = problem
    k = eqx.filter_jit(lambda m, x: ntk.empirical_ntk(_apply, m, x, method="auto"))(model, x1)
    np.testing.assert_allclose(k, k.T, rtol=1e-12, atol=1e-12)
    assert float(jnp.linalg.eigvalsh(k)[0]) > -1e-10
    # vmap over a stack of input batches equals the per-batch kernels.
    xs = jnp.stack([x1, 2.0 * x1])
    kv = jax.vmap(lambda x: ntk.empirical_ntk(_apply, model, x))(xs)
    assert_tree_allclose(kv[1], ntk.empirical_ntk(_apply, model, 2.0 * x1), rtol=1e-10, atol=1e-12)


def test_scalar_output_and_kernel_grad_by_finite_differences():
    # f(θ, x) = θ·φ(x) is linear in θ: K = Φ Φᵀ exactly, independent of θ.
    phi = jnp.array([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0], [3.0, 0.0, 1.0]])
    apply_fn = lambda p, x: jnp.dot(p["w"], x)
    k = ntk.empirical_ntk(apply_fn, {"w": jnp.ones(3)}, phi, trace_axes=())
    assert_tree_allclose(k, phi @ phi.T)
    # Scalar outputs: the default trace_axes=(-1,) means "no axis"; the kernel is (N, N).
    assert_tree_allclose(ntk.empirical_ntk(apply_fn, {"w": jnp.ones(3)}, phi), phi @ phi.T)
    # d/ds of tr K for f = sin(s·w·x): compare with a central difference.
    g = lambda s: jnp.trace(
        ntk.empirical_ntk(lambda p, x: jnp.sin(s * jnp.dot(p, x)), jnp.ones(3), phi, trace_axes=())
    )
    h = 1e-6
    np.testing.assert_allclose(jax.grad(g)(0.3), (g(0.3 + h) - g(0.3 - h)) / (2 * h), rtol=1e-6)


def test_ntk_vp_min_eigenvalue_and_lanczos(problem):
    model, x1, _, _ = problem
    k4 = ntk.empirical_ntk(_apply, model, x1, trace_axes=())
    kmat = jnp.transpose(k4, (0, 2, 1, 3)).reshape(10, 10)
    v = jax.random.normal(jax.random.PRNGKey(5), (5, 2))
    assert_tree_allclose(ntk.ntk_vp(_apply, model, x1, v), (kmat @ v.reshape(-1)).reshape(5, 2))
    lam = ntk.min_eigenvalue(k4)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(np.asarray(kmat))[0], rtol=1e-10)
    lanczos = eqx.filter_jit(ntk.min_eigenvalue_lanczos)
    lan = lanczos(_apply, model, x1, key=jax.random.PRNGKey(1))
    np.testing.assert_allclose(lan, lam, rtol=1e-7, atol=1e-10)
    # Fewer iterations: a Ritz value, never below λ_min.
    few = lanczos(_apply, model, x1, key=jax.random.PRNGKey(1), num_iters=4)
    assert float(few) >= float(lam) - 1e-10


def test_lanczos_breakdown_gives_no_spurious_eigenvalue():
    # A rank-2 PSD operator on R^6 from a starting vector that spans an invariant subspace soon.
    from contractax._lanczos import lanczos_eigenvalues

    a = jnp.diag(jnp.array([3.0, 3.0, 3.0, 5.0, 5.0, 1.0]))
    run = jax.jit(lambda k: lanczos_eigenvalues(lambda v: a @ v, 6, 6, k, jnp.float64))
    ritz = run(jax.random.PRNGKey(0))
    np.testing.assert_allclose(np.sort(ritz), [1.0, 3.0, 3.0, 3.0, 5.0, 5.0], atol=1e-8)


def test_linearize_checks_new_params(problem):
    model, x1, _, _ = problem
    f_lin = ntk.linearize(_apply, model)
    bad = eqx.tree_at(lambda m: m.layers[0].bias, model, jnp.ones((1, 6)))
    with pytest.raises(ValueError, match="new_params") as e:
        f_lin(bad, x1[0])
    assert "(1, 6)" in str(e.value) and "(6,)" in str(e.value)
    with pytest.raises(ValueError, match="new_params"):
        f_lin({"w": jnp.ones(3)}, x1[0])


def test_linearize_matches_taylor(problem):
    model, x1, _, _ = problem
    f_lin = ntk.linearize(_apply, model)
    assert_tree_allclose(f_lin(model, x1[0]), model(x1[0]))
    dyn, st = eqx.partition(model, eqx.is_inexact_array)
    delta = jax.tree_util.tree_map(lambda a: 1e-4 * jnp.ones_like(a), dyn)
    moved = eqx.combine(jax.tree_util.tree_map(jnp.add, dyn, delta), st)
    # f(θ+δ) − f_lin(θ+δ) = O(‖δ‖²), and f_lin is exactly affine.
    err = jnp.abs(moved(x1[0]) - f_lin(moved, x1[0])).max()
    assert float(err) < 1e-5
    moved2 = eqx.combine(jax.tree_util.tree_map(lambda a, d: a + 2 * d, dyn, delta), st)
    lin_step = f_lin(moved2, x1[0]) - f_lin(moved, x1[0])
    assert_tree_allclose(lin_step, f_lin(moved, x1[0]) - f_lin(model, x1[0]), rtol=1e-8, atol=1e-13)


def test_bad_inputs_raise(problem):
    model, x1, x2, _ = problem
    with pytest.raises(ValueError, match="method"):
        ntk.empirical_ntk(_apply, model, x1, method="fast")
    with pytest.raises(ValueError, match="trace_axes"):
        ntk.empirical_ntk(_apply, model, x1, trace_axes=(3,))
    with pytest.raises(ValueError, match="both traced and diagonal"):
        ntk.empirical_ntk(_apply, model, x1, trace_axes=(0,), diagonal_axes=(0,))
    with pytest.raises(ValueError, match="chunk_size"):
        ntk.empirical_ntk(_apply, model, x1, chunk_size=0)
    with pytest.raises(ValueError, match="trace"):
        ntk.empirical_ntk(_apply, model, x1, trace="max")
    with pytest.raises(ValueError, match="batched output shape"):
        ntk.ntk_vp(_apply, model, x1, jnp.ones((5, 3)))
    with pytest.raises(ValueError, match="`x2`"):
        ntk.ntk_vp(_apply, model, x1, jnp.ones((5, 2)), x2=x2)  # v lives on x2: (4, 2)
    with pytest.raises(ValueError, match="`x1` is an empty batch"):
        ntk.empirical_ntk(_apply, model, x1[:0])
    with pytest.raises(ValueError, match="`x2` is an empty batch"):
        ntk.empirical_ntk(_apply, model, x1, x2[:0])
    with pytest.raises(ValueError, match="same number of examples"):
        ntk.empirical_ntk(_apply, model, x1, x2, batch_diagonal=True)
    with pytest.raises(ValueError, match="num_iters"):
        ntk.min_eigenvalue_lanczos(_apply, model, x1, key=jax.random.PRNGKey(0), num_iters=0)
    # The docstring's old example closed over the model: an identically zero kernel, refused.
    for fn in (ntk.empirical_ntk, lambda f, m, x: ntk.ntk_vp(f, m, x, jnp.ones((5, 2)))):
        with pytest.raises(ValueError, match="does not depend on any floating-point leaf"):
            fn(lambda p, x: model(x), model, x1)
    # Through stop_gradient the dependence is still in the jaxpr, so it is not refused (the
    # check never rejects a network that uses params); a partly-used params is fine too.
    k = ntk.empirical_ntk(lambda p, x: p[0](x), (model, {"unused": jnp.ones(3)}), x1)
    assert float(jnp.abs(k).max()) > 0
    # np.int64 counts are accepted.
    assert ntk.empirical_ntk(_apply, model, x1, chunk_size=np.int64(2)).shape == (5, 5)
    with pytest.raises(ValueError, match="square|kernel"):
        ntk.min_eigenvalue(jnp.ones((3, 4, 2)))
    assert hasattr(cx, "ntk")


def test_pytree_outputs_two_batch_vp_and_batch_diagonal():
    # A network with parallel outputs {"logits": (3,), "energy": ()}; every kernel against the
    # dense Jacobians from jax.jacrev.
    k = jax.random.split(jax.random.PRNGKey(7), 4)
    p = {"w": jax.random.normal(k[0], (4, 3)), "v": jax.random.normal(k[1], (3, 4))}

    def fn(p, x):
        h = jnp.tanh(p["w"] @ x)
        return {"logits": p["v"] @ h, "energy": jnp.sum(h**2)}

    x1, x2 = jax.random.normal(k[2], (5, 3)), jax.random.normal(k[3], (3, 3))
    flat = lambda q: jnp.concatenate([q["v"].ravel(), q["w"].ravel()])  # tree_leaves order
    unflat = lambda v: {"v": v[:12].reshape(3, 4), "w": v[12:].reshape(4, 3)}

    def jrows(x):  # {"energy": (N, 1, P), "logits": (N, 3, P)}
        j = jax.vmap(jax.jacrev(lambda v, xi: fn(unflat(v), xi)), (None, 0))(flat(p), x)
        return {"energy": j["energy"][:, None], "logits": j["logits"]}

    j1, j2 = jrows(x1), jrows(x2)
    full = {n: jnp.einsum("iop,jqp->ijoq", j1[n], j2[n]) for n in j1}
    for method in ("jacobian", "ntk_vp"):
        kt = ntk.empirical_ntk(fn, p, x1, x2, method=method, trace_axes=())
        assert set(kt) == {"logits", "energy"}
        assert kt["logits"].shape == (5, 3, 3, 3) and kt["energy"].shape == (5, 3)
        assert_tree_allclose(kt["logits"], full["logits"])
        assert_tree_allclose(kt["energy"], full["energy"][:, :, 0, 0])
        km = ntk.empirical_ntk(fn, p, x1, x2, method=method, chunk_size=2)  # mean trace
        assert_tree_allclose(km["logits"], jnp.einsum("ijoo->ij", full["logits"]) / 3)
        # batch-diagonal: K(x_i, x_i) only, also chunked with padding (5 rows, chunks of 2)
        same = {n: jnp.einsum("iop,iqp->ioq", j1[n], j1[n]) for n in j1}
        for chunk in (None, 2):
            kd = ntk.empirical_ntk(
                fn, p, x1, method=method, trace_axes=(), batch_diagonal=True, chunk_size=chunk
            )
            assert kd["logits"].shape == (5, 3, 3)
            assert_tree_allclose(kd["logits"], same["logits"])
            assert_tree_allclose(kd["energy"], same["energy"][:, 0, 0])
        kd2 = ntk.empirical_ntk(
            fn, p, x1[:3], x2, method=method, batch_diagonal=True, trace_axes=(), diagonal_axes=(0,)
        )
        cross = jnp.einsum("iop,iop->io", j1["logits"][:3], j2["logits"])
        assert_tree_allclose(kd2["logits"], cross)
    # ntk_vp with two batches: K(x1, x2) v for v on x2, a pytree like the outputs.
    v = {"logits": jax.random.normal(k[0], (3, 3)), "energy": jax.random.normal(k[1], (3,))}
    kv = ntk.ntk_vp(fn, p, x1, v, x2=x2)
    jcat1 = jnp.concatenate([j1["energy"], j1["logits"]], 1)  # (5, 4, P), leaves order
    jcat2 = jnp.concatenate([j2["energy"], j2["logits"]], 1)
    vcat = jnp.concatenate([v["energy"][:, None], v["logits"]], 1)
    ref = jnp.einsum("iop,jqp,jq->io", jcat1, jcat2, vcat)
    assert_tree_allclose(kv["energy"], ref[:, 0])
    assert_tree_allclose(kv["logits"], ref[:, 1:])
    # jit and vmap of the pytree kernel
    kj = jax.jit(lambda q: ntk.empirical_ntk(fn, q, x1, batch_diagonal=True, trace_axes=()))(p)
    assert_tree_allclose(kj["logits"], same["logits"])


def test_compiles_once_per_configuration(problem):
    model, x1, x2, _ = problem
    traces = []

    def apply(p, x):
        traces.append(1)
        return p(x)

    ntk.empirical_ntk(apply, model, x1, method="jacobian")
    first = len(traces)
    moved = jax.tree_util.tree_map(lambda a: a * 1.1 if eqx.is_inexact_array(a) else a, model)
    ntk.empirical_ntk(apply, moved, 2 * x1, method="jacobian")
    ntk.ntk_vp(apply, model, x1, jnp.ones((5, 2)))
    second = len(traces)
    ntk.ntk_vp(apply, moved, 3 * x1, jnp.zeros((5, 2)))
    assert len(traces) == second  # ntk_vp with new values reuses its program
    f_lin = ntk.linearize(apply, model)
    f_lin(moved, x1[0])
    third = len(traces)
    f_lin(model, x1[1])
    ntk.linearize(apply, model)(moved, x1[2])  # a new linearize of the same apply_fn reuses it
    assert len(traces) == third
    # the 2nd empirical_ntk call (new values, same structure) traced nothing: compare with a
    # fresh count of one ntk_vp compile
    traces.clear()
    ntk.empirical_ntk(apply, model, x1, method="jacobian")
    ntk.empirical_ntk(apply, moved, x1 + 1.0, method="jacobian")
    assert len(traces) == 0 and first > 0


def _deq_params(key, n=6, d=3, o=2):
    k = jax.random.split(key, 4)
    w = jax.random.normal(k[0], (n, n))
    w = 0.5 * w / jnp.linalg.norm(w, 2)  # ‖W‖₂ = 0.5: tanh(Wz + Ux + b) is a contraction
    return {
        "W": w,
        "U": jax.random.normal(k[1], (n, d)) / jnp.sqrt(d),
        "b": 0.1 * jax.random.normal(k[2], (n,)),
        "V": jax.random.normal(k[3], (o, n)) / jnp.sqrt(n),
    }


def _cell(z, a):
    return jnp.tanh(a["W"] @ z + a["U"] @ a["x"] + a["b"])


def _deq_implicit(p, x):
    z0 = jnp.zeros(p["W"].shape[0])
    sol = cx.fixed_point(
        _cell,
        z0,
        {**p, "x": x},
        solver=cx.Anderson(),
        adjoint=cx.ImplicitAdjoint(),
        tol=1e-14,
        max_steps=200,
    )
    return p["V"] @ sol.value


def _deq_unrolled(p, x):
    # The weight-tied network repeated to convergence: 0.5**120 ≈ 1e-36, so the iterate and its
    # derivatives (which contract at the same rate) are converged to float64 precision.
    z = jax.lax.fori_loop(0, 120, lambda _, z: _cell(z, {**p, "x": x}), jnp.zeros(p["W"].shape[0]))
    return p["V"] @ z


@pytest.fixture(scope="module")
def deq_problem():
    p = _deq_params(jax.random.PRNGKey(3))
    xs = jax.random.normal(jax.random.PRNGKey(4), (4, 3))
    k_unr = jax.jit(
        lambda p, xs: ntk.empirical_ntk(_deq_unrolled, p, xs, method="jacobian", trace_axes=())
    )(p, xs)
    return p, xs, k_unr


@pytest.mark.parametrize("method", ["jacobian", "ntk_vp"])
def test_ntk_through_deq_equals_unrolled_network(deq_problem, method):
    # jacobian: reverse mode through the implicit adjoint; ntk_vp: its forward mode (jvp).
    p, xs, k_unr = deq_problem
    k_imp = jax.jit(
        lambda p, xs: ntk.empirical_ntk(_deq_implicit, p, xs, method=method, trace_axes=())
    )(p, xs)
    assert_tree_allclose(k_imp, k_unr, rtol=1e-6, atol=1e-9)
    assert float(jnp.abs(k_imp).max()) > 1e-2  # not trivially zero


@pytest.mark.slow
def test_sharded_over_four_host_devices():
    # A fresh process with 4 CPU devices: chunks are rounded to a multiple of 4 and sharded;
    # kernels and surfaces equal the single-device results.
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import os
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
        import jax, jax.numpy as jnp, equinox as eqx
        jax.config.update("jax_enable_x64", True)
        import contractax as cx
        assert jax.device_count() == 4
        m = eqx.nn.MLP(3, 2, 8, 2, key=jax.random.PRNGKey(0))
        x = jax.random.normal(jax.random.PRNGKey(1), (7, 3))
        f = lambda p, x: p(x)
        k1 = cx.ntk.empirical_ntk(f, m, x, trace_axes=(), method="jacobian")
        k2 = eqx.filter_jit(lambda m, x: cx.ntk.empirical_ntk(
            f, m, x, trace_axes=(), chunk_size=3, method="ntk_vp"))(m, x)
        assert float(jnp.abs(k1 - k2).max()) < 1e-12
        g = jnp.linspace(-1, 1, 5)
        p = {"w": jnp.ones((3, 2))}
        d = cx.landscape.random_direction(jax.random.PRNGKey(0), p)
        z = jax.jit(lambda p: cx.landscape.surface(
            lambda q, a: jnp.sum(q["w"] ** 2), p, d, d, g, g, chunk_size=3))(p)
        pt = lambda a, b: jnp.sum((p["w"] + (a + b) * d["w"]) ** 2)
        ref = jax.vmap(lambda a: jax.vmap(lambda b: pt(a, b))(g))(g)
        assert float(jnp.abs(z - ref).max()) < 1e-12
        print("ok")
    """)
    env = {k: v for k, v in __import__("os").environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]
