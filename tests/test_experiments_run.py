"""`python -m experiments.run`: the parallel runner gives the sequential runner's report."""

import json

import pytest

from experiments import run


def test_jobs_must_be_positive(tmp_path):
    with pytest.raises(SystemExit):
        run.main(["fixed_points", "--jobs", "0", "--out", str(tmp_path)])


def test_unknown_experiment_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        run.main(["no_such_experiment", "--out", str(tmp_path)])


def test_expected_seconds_name_real_experiments():
    assert set(run._EXPECTED_SECONDS) <= set(run.available())


@pytest.mark.slow
def test_parallel_run_equals_sequential(tmp_path):
    names = ["fixed_points", "deq_foundations"]
    assert run.main([*names, "--quick", "--out", str(tmp_path / "seq")]) == 0
    assert run.main([*names, "--quick", "--jobs", "2", "--out", str(tmp_path / "par")]) == 0

    def rows(d):
        return [
            (c["experiment"], c["statement"], c["measured"], c["outcome"])
            for c in json.loads((tmp_path / d / "claims.json").read_text())
        ]

    assert rows("seq") == rows("par")
    for name in names:
        assert sorted(p.name for p in (tmp_path / "seq" / name).iterdir()) == sorted(
            p.name for p in (tmp_path / "par" / name).iterdir()
        )
