"""Recurrent cells (LSTM, GRU, tanh RNN) in PyTorch's conventions, and the chaotic LSTM.

The cells are equinox modules with the weight layout of `torch.nn.LSTMCell`,
`torch.nn.GRUCell` and `torch.nn.RNNCell`, so weights can be copied across; `input_size=0`
gives an autonomous cell (no input weights), `use_bias=False` drops both bias vectors.

`chaotic_lstm` is the two-unit LSTM of seed `002_4194898dbbee6895.txt` (Ribeiro et al.,
§3.1 and Appendix A.1) written as a map `step(x, theta)` on the state `x = (h, c)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._checks import check_count
from .._types import Array, Float

__all__ = ["LSTMCell", "GRUCell", "TanhRNNCell", "chaotic_lstm", "CHAOTIC_LSTM_WEIGHTS"]


def _uniform(key, shape, bound, dtype):
    return jax.random.uniform(key, shape, dtype, minval=-bound, maxval=bound)


def _check_input(input_size: int, x) -> None:
    if input_size == 0 and x is not None:
        raise ValueError("This cell was built with input_size=0; call it with input=None.")
    if input_size > 0 and (x is None or jnp.shape(x) != (input_size,)):
        got = None if x is None else jnp.shape(x)
        raise ValueError(
            f"The cell expects an input of shape ({input_size},), got {got}; "
            "vmap the cell over a batch of inputs."
        )


def _check_state(x, name: str, size: int) -> None:
    if jnp.shape(x) != (size,):
        raise ValueError(
            f"The cell expects the state `{name}` of shape ({size},) (hidden_size), got "
            f"{jnp.shape(x)}; vmap the cell over a batch of states."
        )


class _Cell(eqx.Module):
    """Shared weights of the three cells: `gates` stacked blocks of `hidden_size` rows."""

    weight_ih: Float[Array, "gh i"] | None
    weight_hh: Float[Array, "gh h"]
    bias_ih: Float[Array, " gh"] | None
    bias_hh: Float[Array, " gh"] | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)

    def __init__(self, gates, input_size, hidden_size, use_bias, dtype, key):
        input_size = check_count(input_size, "input_size", minimum=0)
        hidden_size = check_count(hidden_size, "hidden_size", minimum=1)
        dtype = jnp.zeros((), dtype).dtype if dtype is not None else jnp.zeros(()).dtype
        bound = 1.0 / math.sqrt(hidden_size)
        k1, k2, k3, k4 = jax.random.split(key, 4)
        rows = gates * hidden_size
        self.weight_ih = _uniform(k1, (rows, input_size), bound, dtype) if input_size > 0 else None
        self.weight_hh = _uniform(k2, (rows, hidden_size), bound, dtype)
        self.bias_ih = _uniform(k3, (rows,), bound, dtype) if use_bias else None
        self.bias_hh = _uniform(k4, (rows,), bound, dtype) if use_bias else None
        self.input_size = input_size
        self.hidden_size = hidden_size

    def _pre(self, x, h):
        """(W_ih x + b_ih, W_hh h + b_hh)."""
        gi = jnp.zeros(self.weight_hh.shape[0], h.dtype)
        if self.weight_ih is not None:
            gi = self.weight_ih @ x
        gh = self.weight_hh @ h
        if self.bias_ih is not None:
            gi = gi + self.bias_ih
            gh = gh + self.bias_hh
        return gi, gh


class LSTMCell(_Cell):
    r"""LSTM cell with PyTorch's gate order $(i, f, g, o)$.

    $$\begin{aligned}
    (i, f, g, o) &= (\sigma, \sigma, \tanh, \sigma)(W_{ih} u + b_{ih} + W_{hh} h + b_{hh}),\\
    c' &= f \odot c + i \odot g, \qquad h' = o \odot \tanh(c').
    \end{aligned}$$

    Weights are initialised as in PyTorch, uniform on $[-1/\sqrt{H}, 1/\sqrt{H}]$.

    **Arguments:**

    - `input_size`: input dimension; `0` for an autonomous cell (call with `input=None`).
    - `hidden_size`: $H$.
    - `use_bias`: keep `bias_ih` and `bias_hh` (both, as PyTorch does).
    - `key`: PRNG key for the initial weights.

    **Returns:** (from `__call__(input, state)`) the new state `(h, c)`.

    ```python
    cell = LSTMCell(3, 8, key=jax.random.key(0))
    h, c = cell(jnp.ones(3), (jnp.zeros(8), jnp.zeros(8)))
    ```

    Source: seed 002 (Ribeiro et al.), Appendix A.1, eq. (10)–(11).
    """

    def __init__(
        self, input_size: int, hidden_size: int, use_bias: bool = True, *, dtype=None, key
    ):
        super().__init__(4, input_size, hidden_size, use_bias, dtype, key)

    def __call__(self, input, state):
        _check_input(self.input_size, input)
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError("The LSTM cell expects the state as a pair `(h, c)`.")
        h, c = state
        _check_state(h, "h", self.hidden_size)
        _check_state(c, "c", self.hidden_size)
        gi, gh = self._pre(input, h)
        i, f, g, o = jnp.split(gi + gh, 4)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
        return h_new, c_new


class GRUCell(_Cell):
    r"""GRU cell with PyTorch's gate order $(r, z, n)$.

    $$\begin{aligned}
    r &= \sigma(W_{ir} u + b_{ir} + W_{hr} h + b_{hr}), \quad
    z = \sigma(W_{iz} u + b_{iz} + W_{hz} h + b_{hz}),\\
    n &= \tanh(W_{in} u + b_{in} + r \odot (W_{hn} h + b_{hn})), \quad
    h' = (1 - z) \odot n + z \odot h.
    \end{aligned}$$

    **Arguments:** as [`LSTMCell`][contractax.models.lstm.LSTMCell].

    **Returns:** (from `__call__(input, h)`) the new hidden state `h'`.

    Source: Chung et al. (2014), cited in seed 002 §1; PyTorch `GRUCell` conventions.
    """

    def __init__(
        self, input_size: int, hidden_size: int, use_bias: bool = True, *, dtype=None, key
    ):
        super().__init__(3, input_size, hidden_size, use_bias, dtype, key)

    def __call__(self, input, h):
        _check_input(self.input_size, input)
        _check_state(h, "h", self.hidden_size)
        gi, gh = self._pre(input, h)
        i_r, i_z, i_n = jnp.split(gi, 3)
        h_r, h_z, h_n = jnp.split(gh, 3)
        r = jax.nn.sigmoid(i_r + h_r)
        z = jax.nn.sigmoid(i_z + h_z)
        n = jnp.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h


class TanhRNNCell(_Cell):
    r"""Vanilla (Elman) cell $h' = \tanh(W_{ih} u + b_{ih} + W_{hh} h + b_{hh})$.

    **Arguments:** as [`LSTMCell`][contractax.models.lstm.LSTMCell].

    **Returns:** (from `__call__(input, h)`) the new hidden state `h'`.

    Source: seed 002 §2 (vanilla RNNs); PyTorch `RNNCell` conventions.
    """

    def __init__(
        self, input_size: int, hidden_size: int, use_bias: bool = True, *, dtype=None, key
    ):
        super().__init__(1, input_size, hidden_size, use_bias, dtype, key)

    def __call__(self, input, h):
        _check_input(self.input_size, input)
        _check_state(h, "h", self.hidden_size)
        gi, gh = self._pre(input, h)
        return jnp.tanh(gi + gh)


# Rows stacked in PyTorch's gate order (i, f, g, o); each block is a 2x2 matrix W_h*.
CHAOTIC_LSTM_WEIGHTS = {
    # From the authors' released code (chaotic_lstm.py): chaotic at s = 1.
    "code": (
        (-1.0, -4.0),
        (-3.0, -2.0),  # W_hi
        (-2.0, 6.0),
        (0.0, -6.0),  # W_hf
        (-1.0, -6.0),
        (6.0, -9.0),  # W_hg
        (4.0, 1.0),
        (-9.0, -7.0),
    ),  # W_ho
    # As printed in Appendix A.1 (two signs lost: W_hi[0,1] and W_ho[1,1]).
    "printed": (
        (-1.0, 4.0),
        (-3.0, -2.0),
        (-2.0, 6.0),
        (0.0, -6.0),
        (-1.0, -6.0),
        (6.0, -9.0),
        (4.0, 1.0),
        (-9.0, 7.0),
    ),
}


def _chaotic_step(x: Float[Array, " 4"], theta: Float[Array, " 16"]) -> Float[Array, " 4"]:
    if jnp.shape(x) != (4,) or jnp.shape(theta) != (16,):
        raise ValueError(
            "The chaotic LSTM step expects a state x = (h, c) of shape (4,) and weights theta "
            f"of shape (16,); got x of shape {jnp.shape(x)} and theta of shape "
            f"{jnp.shape(theta)} (vmap over batches)."
        )
    w = theta.reshape(8, 2)
    h, c = x[:2], x[2:]
    pre = w @ h
    i, f, g, o = pre[0:2], pre[2:4], pre[4:6], pre[6:8]
    c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
    return jnp.concatenate([h_new, c_new])


def chaotic_lstm(
    printed: bool = False, dtype=None
) -> tuple[
    Callable[[Float[Array, " 4"], Float[Array, " 16"]], Float[Array, " 4"]],
    Float[Array, " 16"],
    Float[Array, " 4"],
]:
    r"""The chaotic two-unit LSTM of Ribeiro et al. as a map on $x = (h, c) \in \mathbb{R}^4$.

    Zero input and no biases (eq. 10–11):
    $c_{t} = \sigma(W_{hf} h_{t-1}) c_{t-1} + \sigma(W_{hi} h_{t-1}) \tanh(W_{hg} h_{t-1})$,
    $h_t = \sigma(W_{ho} h_{t-1}) \tanh(c_t)$. `theta` is the flattened $8 \times 2$ matrix
    $W_{hh} = [W_{hi}; W_{hf}; W_{hg}; W_{ho}]$ (PyTorch's `weight_hh_l0`), so the scaled
    model of Fig. 1 is `step(x, s * theta)`.

    By default the weights are those of the authors' released code (`chaotic_lstm.py`),
    $W_{hi} = [[-1, -4], [-3, -2]]$ and $W_{ho} = [[4, 1], [-9, -7]]$: with them the
    attractor at $s = 1$ is chaotic (largest Lyapunov exponent $\approx +0.17$ per step).
    The matrices printed in Appendix A.1 lost two signs (see `seeds/README.md`, erratum 1);
    `printed=True` returns them (not chaotic at $s = 1$, exponent $\approx 0$).

    **Arguments:**

    - `printed`: use the weights as printed in the paper instead of the code's.
    - `dtype`: floating dtype of `theta` and `x0` (default: JAX's default float).

    **Returns:** `(step, theta, x0)`: `step(x, theta) -> x_next`, `theta` of shape `(16,)`,
    `x0 = 0.5 * ones(4)` ($h_0 = c_0 = [0.5, 0.5]$).

    ```python
    step, theta, x0 = chaotic_lstm()
    xs = contractax.rnn.unroll(step, x0, 1.2 * theta, 200)
    ```

    Source: seed 002 (Ribeiro et al.) §3.1, Appendix A.1; errata in `seeds/README.md`.
    """
    dtype = jnp.zeros((), dtype).dtype if dtype is not None else jnp.zeros(()).dtype
    theta = jnp.asarray(CHAOTIC_LSTM_WEIGHTS["printed" if printed else "code"], dtype).ravel()
    x0 = jnp.full((4,), 0.5, dtype)
    return _chaotic_step, theta, x0
