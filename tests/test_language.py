"""Wikitext-2 loader on files the test writes, truncated-BPTT batches, the LSTM language model."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import contractax as cx

TEXT = {
    "train": " = Title = \n the cat sat on the mat . \n the dog sat on the log . \n <unk> ran . \n",
    "valid": " the cat ran . \n",
    "test": " the dog sat . \n",
}


@pytest.fixture
def corpus_dir(tmp_path):
    for split, text in TEXT.items():
        (tmp_path / f"wiki.{split}.tokens").write_text(text * 3, encoding="utf-8")
    return tmp_path


def test_loader_reads_words_and_eos(corpus_dir, monkeypatch):
    c = cx.data.load_wikitext2(corpus_dir)
    words = TEXT["train"].splitlines()
    n_train = 3 * sum(len(line.split()) + 1 for line in words)
    assert len(c.train) == n_train and c.vocab[c.train[0]] == "="
    assert [c.vocab[i] for i in c.valid[:5]] == ["the", "cat", "ran", ".", "<eos>"]
    assert c.train.dtype == np.int32 and max(c.test) < len(c.vocab)
    monkeypatch.setenv("CONTRACTAX_DATA", str(corpus_dir))
    assert np.array_equal(cx.data.load_wikitext2().test, c.test)


def test_loader_errors_name_the_file(corpus_dir, tmp_path_factory, monkeypatch):
    monkeypatch.delenv("CONTRACTAX_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="CONTRACTAX_DATA"):
        cx.data.load_wikitext2()
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(FileNotFoundError, match="wiki.train.tokens"):
        cx.data.load_wikitext2(empty)
    (corpus_dir / "wiki.test.tokens").write_text("zebra\n")
    with pytest.raises(ValueError, match="wiki.test.tokens.*zebra"):
        cx.data.load_wikitext2(corpus_dir)


def test_bptt_batches_are_shifted_streams():
    tokens = np.arange(103)
    x, y = cx.data.bptt_batches(tokens, batch_size=4, bptt=6)
    assert x.shape == y.shape == (4, 4, 6)  # 25 per stream -> (25 - 1) // 6 chunks
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(x[1, 2], np.arange(25 * 2 + 6, 25 * 2 + 12))
    with pytest.raises(ValueError, match="batch_size"):
        cx.data.bptt_batches(tokens, batch_size=0, bptt=6)
    with pytest.raises(ValueError, match="no chunk"):
        cx.data.bptt_batches(tokens[:5], batch_size=4, bptt=6)


def test_language_model_is_tied_and_matches_a_manual_unroll(getkey):
    lm = cx.models.LSTMLanguageModel(7, 5, dropout=0.5, key=getkey())
    tokens = jnp.array([1, 4, 2, 6])
    logits, (h, c) = lm(tokens)
    s = lm.initial_state()
    for t, w in enumerate(tokens):  # the definition, step by step
        s = lm.cell(lm.embedding[w], s)
        np.testing.assert_allclose(logits[t], lm.embedding @ s[0] + lm.decoder_bias, rtol=1e-12)
    np.testing.assert_allclose(h, s[0], rtol=1e-12)
    # tied: the decoder's gradient flows into the one embedding matrix
    g = jax.grad(lambda m: m(tokens)[0][-1, 3])(lm)
    assert jnp.any(g.embedding[3] != 0) and jnp.all(g.embedding[0] == 0)
    a, _ = lm(tokens, key=getkey())
    assert not np.allclose(a, logits)  # dropout only with a key


def test_language_model_refuses_a_batch_and_bad_sizes(no_typecheck, getkey):
    lm = cx.models.LSTMLanguageModel(7, 5, key=getkey())
    with pytest.raises(ValueError, match="tokens must be a 1-D integer"):
        lm(jnp.ones((2, 3), int))
    with pytest.raises(ValueError, match="dropout"):
        cx.models.LSTMLanguageModel(7, 5, dropout=1.0, key=getkey())
    with pytest.raises(ValueError, match="vocab_size"):
        cx.models.LSTMLanguageModel(1, 5, key=getkey())


def test_truncated_bptt_training_lowers_the_loss(corpus_dir):
    c = cx.data.load_wikitext2(corpus_dir)
    x, y = cx.data.bptt_batches(c.train, batch_size=2, bptt=8)
    lm = cx.models.LSTMLanguageModel(len(c.vocab), 16, dropout=0.0, key=jax.random.PRNGKey(0))
    opt = optax.chain(optax.clip_by_global_norm(0.25), optax.adam(1e-2))
    state = opt.init(eqx.filter(lm, eqx.is_array))

    @eqx.filter_jit
    def step(lm, state, xb, yb, carry):
        (loss, carry), g = eqx.filter_value_and_grad(lambda m: m.loss(xb, yb, carry), has_aux=True)(
            lm
        )
        upd, state = opt.update(g, state)
        return eqx.apply_updates(lm, upd), state, carry, loss

    first = float(lm.loss(x[0], y[0])[0])
    np.testing.assert_allclose(first, np.log(len(c.vocab)), rtol=0.1)  # ≈ uniform at init
    for _ in range(30):
        carry = None
        for k in range(len(x)):
            lm, state, carry, loss = step(lm, state, x[k], y[k], carry)
    assert float(lm.loss(x[0], y[0])[0]) < 0.5 * first


def test_wikitext_report_rows_with_and_without_the_files(corpus_dir, tmp_path_factory):
    from experiments._rnn_wikitext import wikitext_rows

    absent = wikitext_rows(True, root=tmp_path_factory.mktemp("none"))
    assert [c.outcome for c in absent] == ["not reproduced"] * 2
    assert "CONTRACTAX_DATA" in absent[0].reason and absent[1].items == ("002-24",)
    tiny = dict(size=8, dropout=0.0, bptt=4, batch=2, lr=1e-2, epochs=2, patience=1, tokens=None)
    tiny |= {"eval_batch": 1}
    rows = wikitext_rows(True, root=corpus_dir, config=tiny)
    assert [c.items for c in rows] == [("002-23",), ("002-24",)]
    assert all(c.passed in (True, False) for c in rows) and "perplexity" in rows[0].measured
