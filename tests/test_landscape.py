"""Tests for contractax.landscape: filter/layer normalisation norms, orthogonality, PCA of a
trajectory lying in a known plane, surfaces and lines against closed forms (with chunks that do
not divide the grid), flatness summaries, plots and input errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from contractax import landscape as ls

from .conftest import assert_tree_allclose


class _Net(eqx.Module):
    conv: eqx.nn.Conv2d
    lin: eqx.nn.Linear
    scale: jax.Array

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.conv = eqx.nn.Conv2d(2, 3, 3, key=k1)
        self.lin = eqx.nn.Linear(5, 4, key=k2)
        self.scale = jnp.array([1.0, 2.0, 3.0])


@pytest.fixture(scope="module")
def net():
    return _Net(jax.random.PRNGKey(0))


def _half_sq(p, args=None):
    return 0.5 * sum(jnp.sum(a**2) for a in jax.tree_util.tree_leaves(eqx.filter(p, eqx.is_array)))


def test_filter_normalisation_norms(net, getkey):
    d = ls.random_direction(getkey(), net)  # filter, biasbn
    for w, u in [(net.conv.weight, d.conv.weight), (net.lin.weight, d.lin.weight)]:
        axes = tuple(range(1, w.ndim))  # filter = output unit = axis 0
        np.testing.assert_allclose(
            jnp.linalg.norm(u.reshape(u.shape[0], -1), axis=1),
            jnp.linalg.norm(w.reshape(w.shape[0], -1), axis=1),
            rtol=1e-12,
        )
        assert axes  # weights are ≥ 2-D
    for b in (d.conv.bias, d.lin.bias, d.scale):
        assert float(jnp.abs(b).max()) == 0.0
    # layer: whole-leaf norms match; ignore=None copies 1-D leaves from the parameters.
    dl = ls.random_direction(getkey(), net, normalize="layer", ignore=None)
    np.testing.assert_allclose(jnp.linalg.norm(dl.conv.weight), jnp.linalg.norm(net.conv.weight))
    np.testing.assert_allclose(dl.scale, net.scale)
    # The module's non-array field (activation etc.) is not part of the direction.
    assert jax.tree_util.tree_structure(d) == jax.tree_util.tree_structure(
        eqx.filter(net, eqx.is_inexact_array)
    )


def test_normalisation_is_scale_invariant_per_filter(net, getkey):
    # Rescaling filter j of the weights by c_j rescales filter j of the direction by c_j
    # (the invariance to ReLU node rescalings that motivates it).
    key = getkey()
    c = jnp.array([0.5, 2.0, 7.0, 1.0])
    scaled = eqx.tree_at(lambda m: m.lin.weight, net, net.lin.weight * c[:, None])
    d0 = ls.random_direction(key, net)
    d1 = ls.random_direction(key, scaled)
    np.testing.assert_allclose(d1.lin.weight, d0.lin.weight * c[:, None], rtol=1e-12)


def test_orthogonalize(net, getkey):
    d1 = ls.random_direction(getkey(), net, normalize=None, ignore=None)
    d2 = ls.random_direction(getkey(), net, normalize=None, ignore=None)
    o = ls.orthogonalize(d1, d2)
    dot = sum(
        jnp.vdot(a, b) for a, b in zip(jax.tree_util.tree_leaves(d1), jax.tree_util.tree_leaves(o))
    )
    assert abs(float(dot)) < 1e-10


def test_pca_on_trajectory_in_known_plane(getkey):
    n = 17
    q, _ = jnp.linalg.qr(jax.random.normal(getkey(), (n, 2)))
    c = jax.random.normal(getkey(), (n,))
    t = jnp.linspace(0.0, 1.0, 9)
    coef = jnp.stack([3.0 * (1 - t) * jnp.cos(4 * t), (1 - t) * jnp.sin(4 * t)], axis=1)
    flat = c[None] + coef @ q.T  # ends at c (t = 1), lies in the plane c + span(q)
    unflat = lambda m: {"a": m[:, :12].reshape(-1, 3, 4), "b": m[:, 12:]}
    res = ls.pca_directions(unflat(flat))
    assert res.coords.shape == (9, 2) and res.distance.shape == (9,)
    np.testing.assert_allclose(res.explained_variance.sum(), 1.0, rtol=1e-10)
    np.testing.assert_allclose(res.distance, 0.0, atol=1e-10)
    v = jnp.stack([jnp.concatenate([r["a"].ravel(), r["b"]]) for r in (res.d1, res.d2)])
    np.testing.assert_allclose(v @ v.T, jnp.eye(2), atol=1e-10)
    # Same plane: the projector onto span(d1, d2) equals the one onto span(q).
    np.testing.assert_allclose(v.T @ v, q @ q.T, atol=1e-10)
    # Coordinates reproduce the checkpoints; the first has non-negative coordinates.
    np.testing.assert_allclose(c[None] + res.coords @ v, flat, atol=1e-10)
    assert bool(jnp.all(res.coords[0] >= 0))
    # Lift one checkpoint off the plane by 0.3 along a normal: its distance becomes 0.3.
    normal = jnp.zeros(n).at[0].set(1.0)
    normal = normal - q @ (q.T @ normal)
    normal = normal / jnp.linalg.norm(normal)
    off = flat.at[4].add(0.3 * normal)
    res2 = ls.pca_directions(unflat(off), center={"a": c[:12].reshape(3, 4), "b": c[12:]})
    assert float(res2.distance.max()) > 0.0 and float(res2.explained_variance.sum()) < 1.0


def test_surface_and_line_closed_form(net, getkey):
    d1 = ls.random_direction(getkey(), net, ignore=None)
    d2 = ls.random_direction(getkey(), net, ignore=None)
    leaves = lambda t: jax.tree_util.tree_leaves(eqx.filter(t, eqx.is_inexact_array))
    dot = lambda x, y: sum(jnp.vdot(a, b) for a, b in zip(leaves(x), leaves(y)))
    alphas, betas = jnp.linspace(-1, 1, 5), jnp.linspace(-0.5, 1.5, 7)
    z = ls.surface(_half_sq, net, d1, d2, alphas, betas, chunk_size=4)  # 35 points, chunks of 4
    a, b = jnp.meshgrid(alphas, betas, indexing="ij")
    ref = (
        0.5 * (dot(net, net) + a**2 * dot(d1, d1) + b**2 * dot(d2, d2))
        + a * dot(net, d1)
        + b * dot(net, d2)
        + a * b * dot(d1, d2)
    )
    np.testing.assert_allclose(z, ref, rtol=1e-12)
    # jit, and the unchunked program, agree.
    zj = eqx.filter_jit(ls.surface)(_half_sq, net, d1, d2, alphas, betas)
    np.testing.assert_allclose(zj, ref, rtol=1e-12)
    # line from net to net + d1 equals the α-axis of the surface at β = 0.
    moved = eqx.apply_updates(net, d1)
    s = jnp.linspace(-1, 1, 5)
    np.testing.assert_allclose(
        ls.line(_half_sq, net, moved, s, chunk_size=2),
        0.5 * dot(net, net) + s * dot(net, d1) + 0.5 * s**2 * dot(d1, d1),
        rtol=1e-12,
    )


def test_surface_args_vmap_and_grad(getkey):
    # Loss with data in args; vmap over data sets, grad w.r.t. the center.
    p = {"w": jax.random.normal(getkey(), (3, 2))}
    d1 = ls.random_direction(getkey(), p)
    d2 = ls.random_direction(getkey(), p)
    loss = lambda q, x: jnp.sum((x @ q["w"]) ** 2)
    xs = jax.random.normal(getkey(), (2, 4, 3))
    g = jnp.linspace(-1, 1, 3)
    zs = jax.vmap(lambda x: ls.surface(loss, p, d1, d2, g, g, args=x))(xs)
    assert_tree_allclose(zs[1], ls.surface(loss, p, d1, d2, g, g, args=xs[1]))
    grad = jax.grad(lambda q: ls.surface(loss, q, d1, d2, g, g, args=xs[0]).sum())(p)
    w = p["w"]
    ref = sum(2 * xs[0].T @ xs[0] @ (w + a * d1["w"] + b * d2["w"]) for a in g for b in g)
    np.testing.assert_allclose(grad["w"], ref, rtol=1e-10)


def test_flatness_summaries(getkey):
    alphas = betas = jnp.linspace(-1, 1, 11)
    a, b = jnp.meshgrid(alphas, betas, indexing="ij")
    z = a**2 + 4 * b**2
    frac = ls.basin_area(alphas, betas, z, level=0.25)
    np.testing.assert_allclose(frac, np.mean(np.asarray(z) <= 0.25))
    # Sharpness of ½‖θ‖² along layer-normalised directions d with ‖d‖ = ‖θ‖ per leaf:
    # the increase is r⟨θ, d⟩ + ½ r² ‖θ‖², recomputed here with the same keys.
    p = {"w": jax.random.normal(getkey(), (4, 3)), "v": jax.random.normal(getkey(), (2, 4))}
    key = getkey()
    fl = ls.sharpness_at_radius(_half_sq, p, key, 0.1, num_directions=5, normalize="layer")
    incs = []
    for k in jax.random.split(key, 5):
        d = ls.random_direction(k, p, normalize="layer")
        dot = sum(jnp.vdot(p[n], d[n]) for n in p)
        incs.append(0.1 * dot + 0.5 * 0.01 * 2 * _half_sq(p))
    np.testing.assert_allclose(fl.max_increase, max(incs), rtol=1e-10)
    np.testing.assert_allclose(fl.mean_increase, np.mean(incs), rtol=1e-10)
    np.testing.assert_allclose(fl.base, _half_sq(p))


def test_bad_inputs_raise(net, getkey):
    with pytest.raises(ValueError, match="normalize"):
        ls.random_direction(getkey(), net, normalize="unit")
    with pytest.raises(ValueError, match="ignore"):
        ls.random_direction(getkey(), net, ignore="bias")
    with pytest.raises(ValueError, match="1-D"):
        ls.surface(_half_sq, net, net, net, jnp.zeros((2, 2)), jnp.zeros(2))
    with pytest.raises(ValueError, match="alphas"):
        ls.surface(_half_sq, net, net, net, jnp.zeros(0), jnp.zeros(2))
    with pytest.raises(ValueError, match="chunk_size"):
        ls.surface(_half_sq, net, net, net, jnp.zeros(2), jnp.zeros(2), chunk_size=0)
    with pytest.raises(ValueError, match="chunk_size"):
        ls.line(_half_sq, net, net, jnp.zeros(2), chunk_size=0)
    with pytest.raises(ValueError, match="num_directions"):
        ls.sharpness_at_radius(_half_sq, net, getkey(), 0.1, num_directions=0)
    with pytest.raises(ValueError, match="T ≥ 2"):
        ls.pca_directions({"a": jnp.zeros((1, 3))})
    with pytest.raises(ValueError, match="`direction` must have the array leaves of `params`"):
        ls.normalize_direction({"a": jnp.zeros((2, 2))}, {"b": jnp.zeros((2, 2))})
    assert hasattr(cx, "landscape") and not hasattr(ls, "contour_plot")


def test_direction_structure_and_shape_checked(net, getkey):
    # A wrong-shape leaf would broadcast silently ((4,) against (4, 5)); a dict for a module is
    # a different structure. Each names the argument, the leaf and both shapes.
    d = ls.random_direction(getkey(), net)
    bad = eqx.tree_at(lambda m: m.lin.bias, d, jnp.ones((1, 4)))
    g = jnp.linspace(-1, 1, 3)
    for call, name in [
        (lambda: ls.surface(_half_sq, net, d, bad, g, g), "`d2`"),
        (lambda: ls.surface(_half_sq, net, bad, d, g, g), "`d1`"),
        (lambda: ls.line(_half_sq, net, bad, g), "`b`"),
        (lambda: ls.orthogonalize(d, bad), "`d2`"),
        (lambda: ls.normalize_direction(bad, net), "`direction`"),
    ]:
        with pytest.raises(ValueError, match=name) as e:
            call()
        assert ".lin.bias" in str(e.value) and "(1, 4)" in str(e.value) and "(4,)" in str(e.value)
    with pytest.raises(ValueError, match="`d1` must have the array leaves of `center`"):
        ls.surface(_half_sq, net, {"w": jnp.ones(3)}, d, g, g)
    # A zero d1 in Gram-Schmidt divides by zero: an error (also under jit), not NaN.
    zero = jax.tree_util.tree_map(jnp.zeros_like, d)
    for fn in (ls.orthogonalize, jax.jit(ls.orthogonalize)):
        with pytest.raises(Exception, match="zero direction"):
            jax.block_until_ready(fn(zero, d))


def test_single_input_weights_are_perturbed_and_biases_are_not(getkey):
    # Issue 18.2: Linear(1, out).weight (out, 1) and a 1×1 conv on one channel (out, 1, 1, 1)
    # are weights: each filter is one entry, so d_j = ±|θ_j| (norm-matched, non-zero). The
    # biases — 1-D, and equinox's Conv bias (out, 1, 1) by its name — are zeroed.
    lin = eqx.nn.Linear(1, 5, key=getkey())
    conv = eqx.nn.Conv2d(1, 4, 1, key=getkey())
    for layer in (lin, conv):
        d = ls.random_direction(getkey(), layer)
        w, dw = layer.weight, d.weight
        assert w.shape[1:] in [(1,), (1, 1, 1)]
        np.testing.assert_allclose(jnp.abs(dw), jnp.abs(w), rtol=1e-12)
        assert float(jnp.abs(dw).min()) > 0
        assert float(jnp.abs(d.bias).max()) == 0.0
        # ignore=None copies the biases (Li et al.), the weights stay normalised.
        dn = ls.random_direction(getkey(), layer, ignore=None)
        np.testing.assert_allclose(dn.bias, layer.bias)
        np.testing.assert_allclose(jnp.abs(dn.weight), jnp.abs(w), rtol=1e-12)
    assert conv.bias.shape == (4, 1, 1)
    # A single-input MLP's first layer now moves in a landscape: the loss changes along d.
    mlp = eqx.nn.MLP(1, 1, 8, 1, key=getkey())
    d = ls.random_direction(getkey(), mlp)
    first = jax.tree_util.tree_map(jnp.zeros_like, d)
    first = eqx.tree_at(lambda m: m.layers[0].weight, first, d.layers[0].weight)
    x = jnp.linspace(-1.0, 1.0, 7)[:, None]
    loss = lambda p, a: jnp.sum(jax.vmap(p)(a) ** 2)
    vals = ls.line(loss, mlp, eqx.apply_updates(mlp, first), jnp.array([0.0, 0.5]), args=x)
    assert abs(float(vals[1] - vals[0])) > 1e-6
    # A callable `ignore` names further bias-like leaves (here: every leaf of the last layer).
    last = lambda path, leaf: "layers[1]" in jax.tree_util.keystr(path)
    dc = ls.random_direction(getkey(), mlp, ignore=last)
    assert float(jnp.abs(dc.layers[1].weight).max()) == 0.0
    assert float(jnp.abs(dc.layers[0].weight).min()) > 0.0


def test_line_and_surface_compile_once(net, getkey):
    # The same loss function and structure: one trace for new values of everything else.
    d1, d2 = ls.random_direction(getkey(), net), ls.random_direction(getkey(), net)
    g = jnp.linspace(-1, 1, 4)
    traces = []

    def loss(p, args):
        traces.append(1)
        return _half_sq(p) * args

    for scale in (1.0, 2.0, 3.0):
        ls.surface(loss, net, d1, d2, g * scale, g, args=jnp.asarray(scale), chunk_size=5)
    n_surface = len(traces)
    for scale in (1.0, 2.0):
        ls.line(loss, net, eqx.apply_updates(net, d1), g * scale, args=jnp.asarray(scale))
    n_line = len(traces) - n_surface
    # each compile traces the loss a fixed number of times (vmap body; for the automatic chunk
    # also one probe of a single point): the count does not grow with the number of calls.
    ls.surface(loss, net, d1, d2, g, g * 5, args=jnp.asarray(0.5), chunk_size=5)
    ls.line(loss, net, eqx.apply_updates(net, d2), g, args=jnp.asarray(4.0))
    assert len(traces) == n_surface + n_line
    assert n_surface <= 3 and n_line <= 3


def test_automatic_chunk_matches_explicit(net, getkey):
    d1, d2 = ls.random_direction(getkey(), net), ls.random_direction(getkey(), net)
    g = jnp.linspace(-1, 1, 9)
    z_auto = ls.surface(_half_sq, net, d1, d2, g, g)
    z_one = ls.surface(_half_sq, net, d1, d2, g, g, chunk_size=81)
    z_small = ls.surface(_half_sq, net, d1, d2, g, g, chunk_size=np.int64(7))
    np.testing.assert_allclose(z_auto, z_one, rtol=1e-12)
    np.testing.assert_allclose(z_small, z_one, rtol=1e-12)
    from contractax import _directions

    point = lambda c, a, b, pt: _half_sq(_directions.shift(c, (pt[0], pt[1]), (a, b)))
    n = _directions.auto_chunk(point, (net, d1, d2, jnp.zeros(2)), 10**9, 1000)
    assert 1 <= n <= _directions.CHUNK_BYTES // 1000
