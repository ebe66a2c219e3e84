"""gd and rnn: compiled once per static configuration (trace counts), bad arguments named, one
Lanczos with a dimension-free breakdown threshold (float32 and float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx


class Counter:
    """Wrap a callback; count how often it is traced (called with tracers)."""

    def __init__(self, fn):
        self.fn, self.traces = fn, 0

    def __call__(self, *a):
        if any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(a)):
            self.traces += 1
        return self.fn(*a)


def _twice(call):
    """Run `call` twice; return (traces after the first call, traces added by the second)."""
    n1 = call()
    n2 = call()
    return n1, n2 - n1


def test_gd_entries_trace_once_per_configuration():
    A = jnp.array([[2.0, 0.5], [0.5, 1.0]])
    loss = Counter(lambda x, a: 0.5 * x @ a @ x)
    x0 = jnp.array([1.0, -1.0])

    def run(lr):
        def call():
            cx.gd.run(loss, x0, lr, 20, args=A, every=2)
            return loss.traces

        return call

    n1 = run(0.1)()
    assert n1 >= 1
    run(0.3)()  # a new step size (a Python float) is data, not configuration
    run(np.float64(0.2))()  # NumPy and JAX scalars too
    run(jnp.asarray(0.2))()
    assert loss.traces == n1
    loss.traces = 0
    first, again = _twice(lambda: (cx.gd.sharpness(loss, x0, A), loss.traces)[1])
    assert first >= 1 and again == 0
    loss.traces = 0
    r1 = cx.gd.lyapunov_radius(loss, x0, 0.1, A)
    n1 = loss.traces
    r2 = cx.gd.lyapunov_radius(loss, x0, 0.5, A)
    assert loss.traces == n1
    ev = np.linalg.eigvalsh(np.asarray(A))
    np.testing.assert_allclose([r1, r2], [max(abs(1 - lr * ev)) for lr in (0.1, 0.5)], rtol=1e-10)


def test_rnn_entries_trace_once_per_configuration(key):
    step = Counter(lambda x, a: jnp.tanh(a * x))
    x0 = jnp.array([0.3, -0.2])
    step_theta = lambda x, t: step(x, t[0])  # noqa: E731
    calls = {
        "unroll": lambda: cx.rnn.unroll(step, x0, 1.5, 10),
        "orbit_diagram": lambda: cx.rnn.orbit_diagram(
            step, _identity, jnp.linspace(0.5, 2.0, 5), x0[None], 10, 5, chunk_size=2
        ),
        "lyapunov_spectrum": lambda: cx.rnn.lyapunov_spectrum(step, x0, 0.5, 20, 5),
        "entropy_bound": lambda: cx.rnn.entropy_bound(step, jnp.ones((3, 2)), 0.5),
        "forward_sensitivities": lambda: cx.rnn.forward_sensitivities(
            step_theta, x0, jnp.array([0.7]), 5
        ),
    }
    for name, call in calls.items():
        step.traces = 0
        call()
        n1 = step.traces
        call()
        assert n1 >= 1 and step.traces == n1, name
    loss = Counter(lambda th, a: jnp.sum((th - a) ** 2))
    center, d = jnp.zeros(3), jnp.ones(3)
    grid = jnp.linspace(-1.0, 1.0, 5)
    first, again = _twice(
        lambda: (cx.rnn.loss_slice(loss, 1.0, center, [d], [grid], chunk_size=2), loss.traces)[1]
    )
    assert first >= 1 and again == 0
    losses = Counter(lambda th, a: jnp.cumsum(th**2))
    first, again = _twice(
        lambda: (cx.rnn.lipschitz_vs_length(losses, jnp.ones(3), None, key), losses.traces)[1]
    )
    assert first >= 1 and again == 0


def _identity(s):
    return s


def test_gd_bad_arguments_name_them(no_typecheck):
    f = lambda x: jnp.sum(x**2)
    x0 = jnp.ones(2)
    for lr in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="lr"):
            cx.gd.run(f, x0, lr, 10)
    with pytest.raises(Exception, match="lr"):  # traced: eqx.error_if at run time
        jax.jit(lambda lr: cx.gd.run(f, x0, lr, 10).final)(-0.1)
    for kw, name in (
        ({"steps": -1}, "steps"),
        ({"every": 0}, "every"),
        ({"burn_in": -1}, "burn_in"),
    ):
        with pytest.raises(ValueError, match=name):
            cx.gd.run(f, x0, 0.1, **({"steps": 10} | kw))
    traj = cx.gd.run(f, x0, 0.1, np.int64(10), every=np.int32(2))
    assert traj.values.shape == (5, 2)
    xs = jnp.tile(jnp.array([0.1, -0.1]), 50)
    for kw, name in (
        ({"rtol": -1e-6}, "rtol"),
        ({"atol": -1.0}, "atol"),
        ({"window": 0}, "window"),
        ({"window": -5}, "window"),
        ({"max_period": 0}, "max_period"),
        ({"diverge_at": 0.0}, "diverge_at"),
    ):
        with pytest.raises(ValueError, match=name):
            cx.gd.classify(xs, **kw)
    assert int(cx.gd.classify(xs, window=np.int64(40), max_period=np.int64(4)).period) == 2
    with pytest.raises(ValueError, match="num_iters"):
        cx.gd.sharpness(f, x0, num_iters=0)
    with pytest.raises(ValueError, match="depth L"):
        cx.gd.deep_linear_global_bound(jnp.eye(2), 0)


def test_rnn_and_cell_bad_arguments_name_them(getkey, no_typecheck):
    step = lambda x, a: a * x
    with pytest.raises(ValueError, match="steps"):
        cx.rnn.unroll(step, jnp.ones(2), 0.5, -3)
    with pytest.raises(ValueError, match="steps"):
        cx.rnn.unroll(step, jnp.ones(2), 0.5, 2.5)
    assert cx.rnn.unroll(step, jnp.ones(2), 0.5, np.int64(3)).shape == (3, 2)
    assert cx.rnn.unroll(step, jnp.ones(2), 0.5, 0).shape == (0, 2)
    with pytest.raises(ValueError, match="chunk_size"):
        cx.rnn.orbit_diagram(step, _identity, jnp.ones(3), jnp.ones((1, 2)), 10, 5, chunk_size=0)
    with pytest.raises(ValueError, match="chunk_size"):
        cx.rnn.loss_slice(lambda t, a: jnp.sum(t), None, jnp.ones(2), [jnp.ones(2)], [jnp.ones(3)],
                          chunk_size=0)  # fmt: skip
    with pytest.raises(ValueError, match=r"directions\[0\].*shape \(3,\)"):
        cx.rnn.loss_slice(lambda t, a: jnp.sum(t), None, jnp.ones(2), [jnp.ones(3)], [jnp.ones(3)])
    with pytest.raises(ValueError, match="tol"):
        cx.rnn.local_minima(jnp.ones(5), -1.0)
    cell = cx.models.LSTMCell(3, 4, key=getkey())
    h = (jnp.zeros(4), jnp.zeros(4))
    with pytest.raises(ValueError, match=r"input of shape \(3,\), got \(2, 3\)"):
        cell(jnp.ones((2, 3)), h)
    with pytest.raises(ValueError, match=r"`c` of shape \(4,\).*got \(5,\)"):
        cell(jnp.ones(3), (jnp.zeros(4), jnp.zeros(5)))
    with pytest.raises(ValueError, match=r"pair"):
        cell(jnp.ones(3), jnp.zeros(4))
    gru = cx.models.GRUCell(np.int64(2), np.int64(3), key=getkey())
    with pytest.raises(ValueError, match=r"`h` of shape \(3,\).*got \(2, 3\)"):
        gru(jnp.ones(2), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="hidden_size"):
        cx.models.TanhRNNCell(2, 0, key=getkey())
    chaos, theta, x0 = cx.models.chaotic_lstm()
    with pytest.raises(ValueError, match=r"shape \(4,\).*shape \(16,\).*got x of shape \(2,\)"):
        chaos(x0[:2], theta)


def test_local_minima_is_public_and_exact():
    v = jnp.array([1.0, 0.0, 1.0, 0.5, 2.0, 1.9, 1.95])
    np.testing.assert_array_equal(cx.rnn.local_minima(v), [0, 1, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(cx.rnn.local_minima(v, 0.2), [0, 1, 0, 1, 0, 0, 0])
    assert int(cx.rnn.count_local_minima(v)) == 3
    assert not np.any(cx.rnn.local_minima(jnp.ones(2)))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_one_lanczos_breakdown_and_large_dimension(dtype):
    from contractax._lanczos import lanczos_eigenvalues

    # (1) rank-2 Hessian in R^40, full Krylov space: breakdown after 2 steps, no spurious values
    u = jax.random.normal(jax.random.PRNGKey(0), (40, 2), dtype)
    H = u @ u.T
    f = lambda x: 0.5 * x @ H @ x
    lo, hi = float(cx.gd.sharpness(lambda x: -f(x), jnp.zeros(40, dtype), num_iters=None)), None
    hi = float(cx.gd.sharpness(f, jnp.zeros(40, dtype), num_iters=None))
    ev = np.linalg.eigvalsh(np.asarray(H, np.float64))
    rtol = 1e-4 if dtype == jnp.float32 else 1e-10
    np.testing.assert_allclose(hi, ev[-1], rtol=rtol)
    np.testing.assert_allclose(-lo, ev[0], atol=rtol * ev[-1])  # λ_min = 0 of H
    # (2) d = 3000, 60 steps: the threshold does not grow with d (it used to be 1e3·eps·d)
    d = 3000
    diag = (jnp.linspace(0.0, 1.0, d, dtype=dtype) ** 3).at[-1].set(2.0)  # an isolated top
    run = jax.jit(lambda k: lanczos_eigenvalues(lambda v: diag * v, d, 60, k, dtype))
    ritz = run(jax.random.PRNGKey(1))
    assert ritz.dtype == dtype
    np.testing.assert_allclose(float(ritz[-1]), 2.0, rtol=1e-5 if dtype == jnp.float32 else 1e-10)
    assert float(ritz[0]) >= -1e-5
