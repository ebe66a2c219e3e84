"""The README's example runs as written."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parents[1]


@pytest.mark.parametrize("doc", ["README.md", "docs/getting-started.md"])
def test_readme_example_runs(doc, capsys):
    text = (ROOT / doc).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, f"{doc} has no python example"
    for code in blocks:
        exec(compile(code, doc, "exec"), {})
    out = capsys.readouterr().out
    assert out
