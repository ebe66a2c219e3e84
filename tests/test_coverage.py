"""experiments.coverage: per-seed covered / not reproduced / missing on a synthetic claims.json."""

import json

from experiments import coverage


def _claim(items, outcome):
    return {"experiment": "x", "items": items, "outcome": outcome}


def test_vendored_list_matches_the_checklist_counts():
    items = coverage.load_items()
    assert len(items) == 155
    per_seed = {s: sum(it["id"].startswith(s + "-") for it in items) for s in coverage.SEEDS}
    assert per_seed == {"000": 30, "001": 37, "002": 27, "003": 20, "004": 41}
    assert len({it["id"] for it in items}) == 155
    assert all(it["claim"] for it in items)


def test_parse_checklist_keeps_escaped_pipes():
    text = (
        "| # | § | claim | report | cat | note |\n|---|---|---|---|---|---|\n"
        "| 002-11 | §4 eq 8 | log\\|det J\\| ≤ Σ | R54 | c | note \\| x |\n"
        "| 003-2 | §1 | GD | — | d | |\n"
    )
    items = coverage.parse_checklist(text)
    assert [it["id"] for it in items] == ["002-11", "003-2"]
    assert items[0]["claim"] == "log|det J| ≤ Σ"
    assert items[0]["category_v010"] == "c"


def test_coverage_states(tmp_path, capsys):
    claims = [
        _claim(["000-1", "000-2"], "pass"),
        _claim(["000-3"], "fail"),
        _claim(["000-4"], "not reproduced"),
        _claim(["000-2"], "not reproduced"),  # covered wins over not reproduced
        _claim(["001-99"], "pass"),  # not a checklist id
        _claim([], "pass"),  # an extra row
    ]
    (tmp_path / "claims.json").write_text(json.dumps(claims))
    cov = coverage.coverage(claims, coverage.load_items())
    s0 = cov["seeds"]["000"]
    assert s0["covered"] == ["000-1", "000-2", "000-3"]
    assert s0["not_reproduced"] == ["000-4"]
    assert len(s0["missing"]) == 30 - 4 and "000-5" in s0["missing"]
    assert cov["seeds"]["001"]["covered"] == []
    assert cov["unknown"] == ["001-99"]
    assert coverage.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| 000 Flynn | 30 | 3 | 1 | 26 |" in out
    assert "| **total** | 155 | 3 | 1 | 151 |" in out
    assert "not reproduced 000: 000-4" in out
    assert "001-99" in out


def test_missing_results_dir(tmp_path):
    assert coverage.main([str(tmp_path / "nowhere")]) == 2
