"""deq_ntk's data choice for §4.1–4.2 (CIFAR-10 when its batches are present, digits otherwise),
the Prop. 4 closed form at tight equilibria, and the PL* judge of Thms 2.6.3–2.6.4; the 001-37
Jacobians of implicit_robustness."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import contractax as cx
from experiments import (
    _deq_ntk_cell as cell,
    _deq_ntk_mondeq as mon,
    _deq_ntk_plstar as plstar,
    _implicit_spread as spread,
)
from tests.test_data import _write_cifar


def test_landscape_data_uses_cifar_when_present(tmp_path, monkeypatch):
    _write_cifar(tmp_path / "cifar-10-batches-py", n=300)
    monkeypatch.setenv("CONTRACTAX_DATA", str(tmp_path))
    split, name = cell.landscape_data(quick=True)
    assert name == "CIFAR-10"
    assert split.x_train.shape == (384, 3072) and split.x_test.shape == (300, 3072)
    assert (
        split.x_train.dtype == np.float32 and 0 <= split.x_train.min() <= split.x_train.max() <= 1
    )


def test_landscape_data_falls_back_to_digits(tmp_path, monkeypatch):
    monkeypatch.delenv("CONTRACTAX_DATA", raising=False)
    assert cell.landscape_data(quick=True)[1] == "digits"
    monkeypatch.setenv("CONTRACTAX_DATA", str(tmp_path))  # set, but no CIFAR there
    split, name = cell.landscape_data(quick=True)
    assert name == "digits" and split.x_train.shape[1] == 64


def test_landscape_data_broken_cifar_raises(tmp_path, monkeypatch):
    root = tmp_path / "cifar-10-batches-py"
    _write_cifar(root)
    (root / "test_batch").unlink()  # a missing batch is an error, not a silent fallback
    monkeypatch.setenv("CONTRACTAX_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="missing CIFAR-10 batch"):
        cell.landscape_data(quick=True)


def test_prop4_kernel_matches_autodiff_at_tight_equilibria():
    """Prop. 4's closed form equals the autodiff NTK through the implicit layer (to 1e-10) once
    the equilibria are solved to 1e-13."""
    key = jax.random.PRNGKey(3)
    net = mon._tight(mon.thesis_model(key, 12, 5))
    x = jax.random.normal(jax.random.PRNGKey(4), (6, 5))
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    z = jax.vmap(lambda xi: net.features(xi, **mon.SOLVE))(x)
    k = cx.ntk.empirical_ntk(mon._apply, net, x)
    kp = mon.prop4_kernel(net, x, z)
    assert float(jnp.linalg.norm(k - kp) / jnp.linalg.norm(k)) < 1e-10


def _training(lam, grad_sq, loss):
    h = dict(
        lam=np.asarray(lam),
        loss=np.asarray(loss),
        grad_sq=np.asarray(grad_sq),
        eta=0.1,
        step_loss=np.array([1.0, 0.9, 0.81]),
        step_grad_sq=np.array([2.0, 1.8, 1.62]),
    )
    return {"widths": [8], 8: h}


def _pl(loss, grad_sq, beta, eta=0.1):
    return dict(
        n=8,
        N=4,
        eta=eta,
        loss=np.asarray(loss),
        grad_sq=np.asarray(grad_sq),
        final_loss=float(loss[-1] * 0.9),
        beta=np.asarray(beta),
        dist=np.array([0.0, 0.1]),
        attempts=[(eta, eta * max(beta))],
    )


def test_plstar_judge_passes_and_fails_on_the_inequalities():
    good_t = _training([1.0, 1.0], [2.5, 2.5], [1.0, 1.0])  # ‖∇L‖² ≥ 2λL
    loss = np.array([1.0, 0.9, 0.81])  # ratio 0.9 ≤ 1 − ημ*/2 = 1 − 0.1·2/2
    good_pl = _pl(loss, 2.0 * loss, beta=[5.0, 8.0])
    assert plstar.judge(good_pl, good_t)[0].passed
    # Thm 2.6.4 violated: ‖∇L‖² < 2λmin(K)L
    assert not plstar.judge(good_pl, _training([1.0, 1.0], [1.5, 2.5], [1.0, 1.0]))[0].passed
    # η·β > 1: the theorem's hypothesis fails, so the row cannot pass
    assert not plstar.judge(_pl(loss, 2.0 * loss, beta=[5.0, 11.0]), good_t)[0].passed
    # a step that decreases too little for the PL* rate
    slow = np.array([1.0, 0.95, 0.9])
    assert not plstar.judge(_pl(slow, 2.0 * slow, beta=[5.0]), good_t)[0].passed


def test_spread_jacobian_matches_finite_differences():
    rng = np.random.default_rng(0)
    n, m, q = 6, 4, 3
    A = rng.standard_normal((n, n))
    A = 0.4 * A / np.max(np.sum(np.abs(A), 1))
    p = dict(
        A=A, B=rng.standard_normal((n, m)), b=rng.standard_normal(n), C=rng.standard_normal((q, n))
    )
    u = rng.standard_normal(m)

    def solve(u):
        x = np.zeros(n)
        for _ in range(200):
            x = np.maximum(A @ x + p["B"] @ u + p["b"], 0.0)
        return x

    J = spread.jacobians(p, [u], [solve(u)])[0]
    h = 1e-6
    fd = np.stack(
        [(p["C"] @ (solve(u + h * e) - solve(u - h * e))) / (2 * h) for e in np.eye(m)], 1
    )
    np.testing.assert_allclose(J, fd, atol=1e-6)
