"""The report writer shows each figure's caption; the experiment cache stores any result."""

import json

import jax.numpy as jnp
import numpy as np

from experiments import _cache
from experiments._report import Claim, Result, write_report


def test_captions_reach_report_and_html(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "curve.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "demo" / "bare.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    res = Result(
        claims=[Claim("000 §3", "s", "e", "m", True, items=("000-6",))],
        captions={"curve": "Rate against scale (Bullo, slide 12)."},
    )
    sec = {"name": "demo", "title": "T", "result": res, "error": None, "seconds": 1.0,
           "figure_files": ["curve.png", "bare.png"]}  # fmt: skip
    write_report(tmp_path, [sec], "quick", {"jax": "x"})
    md = (tmp_path / "REPORT.md").read_text()
    page = (tmp_path / "index.html").read_text()
    for text in (md, page):
        assert "Rate against scale (Bullo, slide 12)." in text
        assert "bare (no caption given)" in text
    assert "000-6" in md


def test_cache_stores_dicts_with_mixed_keys(tmp_path):
    _cache.set_cache_dir(tmp_path)
    try:
        value = {"a": jnp.ones(2), 0.5: [jnp.zeros(1), (1, jnp.ones(1))]}
        first = _cache.cached("part/mixed", lambda: value)
        again = _cache.cached("part/mixed", lambda: None)  # loaded, not recomputed
    finally:
        _cache.set_cache_dir(None)
    assert first is value
    np.testing.assert_array_equal(again[0.5][1][1], np.ones(1))
    assert isinstance(again["a"], np.ndarray)


def test_full_mode_runs_are_published_beside_the_quick_page(tmp_path):
    from experiments._full_docs import publish

    run = tmp_path / "run"
    (run / "demo").mkdir(parents=True)
    (run / "demo" / "curve.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    claims = [Claim("000 §3", "s", "e", "m", False, items=("000-6",)).to_dict()]
    (run / "claims.json").write_text(json.dumps([{"experiment": "demo"} | claims[0]]))
    (run / "REPORT.md").write_text("# r\n\n| t |\n\n## demo: T\n\n![c](demo/curve.png)\n")
    docs = tmp_path / "docs"
    assert publish([run], docs) == "0 of 1 claims pass, 1 fail"
    page = (docs / "reproducing-full.md").read_text()
    assert "](reproductions/full/demo/curve.png)" in page and "**FAIL**" in page
    assert "](curve.png)" in (docs / "reproductions" / "full" / "demo" / "REPORT.md").read_text()
    assert (docs / "reproductions" / "full" / "demo" / "curve.png").exists()


def test_full_page_shows_the_quick_outcome_beside_the_full_one(tmp_path):
    from experiments._full_docs import publish

    run = tmp_path / "run"
    (run / "demo").mkdir(parents=True)
    row = lambda st, ok: {"experiment": "demo"} | Claim("000 §3", st, "e", "m", ok).to_dict()
    (run / "claims.json").write_text(json.dumps([row("same", True), row("new", True)]))
    (run / "REPORT.md").write_text("# r\n\n## demo: T\n")
    docs = tmp_path / "docs"
    (docs / "reproductions").mkdir(parents=True)
    (docs / "reproductions" / "claims.json").write_text(json.dumps([row("same", False)]))
    publish([run], docs)
    page = (docs / "reproducing-full.md").read_text()
    assert "| demo |  | same | **FAIL** | PASS |" in page
    assert "| demo |  | new | — | PASS |" in page
    assert "1 of 2 rows change outcome" in page


def test_full_page_keeps_a_note_on_a_run_until_it_is_removed(tmp_path):
    from experiments._full_docs import publish

    run = tmp_path / "run"
    run.mkdir()
    row = {"experiment": "demo"} | Claim("000 §3", "s", "e", "m", True).to_dict()
    (run / "claims.json").write_text(json.dumps([row]))
    (run / "REPORT.md").write_text("# r\n\n## demo: T\n")
    docs = tmp_path / "docs"
    publish([run], docs, {"demo": "ran before the fix"})
    assert "- **demo**: ran before the fix" in (docs / "reproducing-full.md").read_text()
    publish([run], docs)  # republished without notes: the note stays with the run
    assert "ran before the fix" in (docs / "reproducing-full.md").read_text()
    publish([run], docs, {"demo": ""})
    assert "ran before the fix" not in (docs / "reproducing-full.md").read_text()
