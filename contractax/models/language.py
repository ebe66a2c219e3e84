r"""The word-level LSTM language model of Ribeiro et al. 2020, App. A.3.

Embedding → dropout → LSTM → dropout → linear decoder whose weight is the embedding matrix
(tied weights, Press & Wolf 2017): for tokens $w_1..w_T$,
$e_t = E[w_t]$, $(h_t, c_t) = \mathrm{LSTM}(\mathrm{drop}(e_t), (h_{t-1}, c_{t-1}))$,
$\mathrm{logits}_t = E\,\mathrm{drop}(h_t) + b$. The paper uses embedding = hidden = 800,
dropout 0.5, truncated BPTT of 80 tokens, Adam (lr 1e-3, divided by 10 on a 7-epoch plateau),
gradient clipping at 0.25 and batch 100, and reports test perplexity 106 on Wikitext-2.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._checks import check_count, check_in_interval
from .lstm import LSTMCell

__all__ = ["LSTMLanguageModel"]

State = tuple[Float[Array, " h"], Float[Array, " h"]]
BatchState = tuple[Float[Array, "B h"], Float[Array, "B h"]]


def _dropout(x, rate, key):
    if key is None or rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


class LSTMLanguageModel(eqx.Module):
    r"""Embedding, one LSTM layer and a tied decoder (Ribeiro et al. 2020, App. A.3).

    **Arguments:**

    - `vocab_size`: number of words $V$.
    - `size`: embedding = hidden size (tied weights need them equal; 800 in the paper).
    - `dropout`: rate before and after the LSTM (0.5 in the paper).
    - `key`: PRNG key for the initial weights (embedding and decoder bias uniform on
      $[-0.1, 0.1]$ and zero, as PyTorch's example; the LSTM as `torch.nn.LSTM`).

    `__call__(tokens, state=None, *, key=None)` returns `(logits, state)` for a `(T,)` id
    sequence: `logits` of shape `(T, V)` and the final `(h, c)`. Dropout is applied only when a
    `key` is given (training); without one the model is deterministic (evaluation).

    ```python
    lm = LSTMLanguageModel(10_000, 800, key=jax.random.key(0))
    logits, state = lm(tokens[:80])
    ```

    Source: Ribeiro et al. 2020, App. A.3; Zaremba et al. 2014; Press & Wolf 2017 (tying).
    """

    embedding: Float[Array, "V d"]
    cell: LSTMCell
    decoder_bias: Float[Array, " V"]
    dropout: float = eqx.field(static=True)

    def __init__(self, vocab_size: int, size: int = 800, dropout: float = 0.5, *, key):
        vocab_size = check_count(vocab_size, "vocab_size", minimum=2)
        size = check_count(size, "size")
        self.dropout = float(check_in_interval(dropout, "dropout", 0.0, 1.0, closed="left"))
        k1, k2 = jax.random.split(key)
        self.embedding = jax.random.uniform(k1, (vocab_size, size), minval=-0.1, maxval=0.1)
        self.cell = LSTMCell(size, size, key=k2)
        self.decoder_bias = jnp.zeros(vocab_size, self.embedding.dtype)

    @property
    def vocab_size(self) -> int:
        return self.embedding.shape[0]

    def initial_state(self) -> State:
        h = jnp.zeros(self.cell.hidden_size, self.embedding.dtype)
        return h, h

    def __call__(
        self,
        tokens: Int[ArrayLike, " T"],
        state: State | None = None,
        *,
        key: PRNGKeyArray | None = None,
    ) -> tuple[Float[Array, "T V"], State]:
        if jnp.ndim(tokens) != 1 or not jnp.issubdtype(jnp.asarray(tokens).dtype, jnp.integer):
            raise ValueError(
                f"tokens must be a 1-D integer id sequence, got shape {jnp.shape(tokens)} and "
                f"dtype {jnp.asarray(tokens).dtype}; vmap the model over a batch."
            )
        tokens = jnp.asarray(tokens)
        state = self.initial_state() if state is None else state
        k_in, k_out = (None, None) if key is None else jax.random.split(key)
        x = _dropout(self.embedding[tokens], self.dropout, k_in)

        def body(s, xt):
            s = self.cell(xt, s)
            return s, s[0]

        state, hs = jax.lax.scan(body, state, x)
        hs = _dropout(hs, self.dropout, k_out)
        return hs @ self.embedding.T + self.decoder_bias[None, :], state

    def loss(
        self,
        inputs: Int[ArrayLike, "B T"],
        targets: Int[ArrayLike, "B T"],
        states: BatchState | None = None,
        *,
        key: PRNGKeyArray | None = None,
    ) -> tuple[Float[Array, ""], BatchState]:
        """Mean cross-entropy (nats per token) over a `(B, T)` chunk, and the final states.

        `states` are carried from the previous chunk (truncated BPTT: no gradient flows into
        them); `None` starts every stream from zeros.
        """
        inputs, targets = jnp.asarray(inputs), jnp.asarray(targets)
        b = inputs.shape[0]
        if states is None:
            h = jnp.zeros((b, self.cell.hidden_size), self.embedding.dtype)
            states = (h, h)
        states = jax.lax.stop_gradient(states)
        keys = None if key is None else jax.random.split(key, b)
        run = jax.vmap(
            lambda t, s, k: self(t, s, key=k), in_axes=(0, 0, None if keys is None else 0)
        )
        logits, states = run(inputs, states, keys)
        logp = jax.nn.log_softmax(logits, axis=-1)
        nll = -jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
        return jnp.mean(nll), states
