"""Claims, experiment results and the report writer shared by every experiment module.

An experiment module `experiments/<name>.py` defines

    TITLE = "..."                      # one line
    def run(quick: bool = True) -> Result

and returns `Result(claims=[Claim(...)], figures={"name": fig}, metrics={...}, method="...")`.
`experiments.run` discovers the modules, saves the figures as PNG, and writes
`metrics.json`, `REPORT.md`, `claims.json` and `index.html`.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Claim:
    """One checkable item of a seed, checked by measurement.

    `passed` is decided by the experiment from the measurement: True (pass), False (fail,
    reported as such, never hidden) or None (**not reproduced**: the data or hardware it needs is
    truly absent; `reason` must then say what is missing and how to supply it, e.g. "needs the
    Wikitext-2 files; set CONTRACTAX_DATA"). `items` names the ids of `seeds/CLAIMS.md` that the
    row checks (e.g. ``("002-14", "002-15")``).
    """

    source: str  # e.g. "001 §Max log norms over hypercubes"
    statement: str
    expected: str
    measured: str
    passed: bool | None
    method: str = ""
    items: tuple[str, ...] = ()
    reason: str = ""  # required when passed is None

    def __post_init__(self):
        if self.passed is not None:
            self.passed = bool(self.passed)
        elif not self.reason:
            raise ValueError(f"a not-reproduced claim needs a reason: {self.statement!r}")
        self.items = tuple(self.items)
        for item in self.items:
            if not _ITEM.fullmatch(item):
                raise ValueError(f"claim item ids look like '002-14', got {item!r}")

    @property
    def outcome(self) -> str:
        """'pass', 'fail' or 'not reproduced'."""
        return {True: "pass", False: "fail", None: "not reproduced"}[self.passed]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"items": list(self.items), "outcome": self.outcome}


_ITEM = re.compile(r"00[0-4]-\d{1,2}")


@dataclass
class Result:
    claims: list[Claim] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)  # name -> matplotlib Figure
    # name -> one or two sentences: what the figure shows and which figure of which paper it
    # corresponds to (e.g. "Ribeiro et al. 2020, Fig. 3: ..."); shown as the caption.
    captions: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    method: str = ""  # a paragraph: how it was measured, sizes, caveats


def to_jsonable(x: Any) -> Any:
    """Convert arrays, numpy scalars and nested containers to JSON-compatible values."""
    if isinstance(x, dict):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if hasattr(x, "__array__") and not isinstance(x, (str, bytes)):
        a = np.asarray(x)
        if a.ndim == 0:
            return to_jsonable(a.item())
        return to_jsonable(a.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return to_jsonable(x.item())
    return x


def _md_escape(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


_VERDICT_MD = {"pass": "PASS", "fail": "**FAIL**", "not reproduced": "*not reproduced*"}


def summary(claims: list[dict]) -> str:
    """'N of M claims pass, F fail, K not reproduced'."""
    n = {k: sum(c["outcome"] == k for c in claims) for k in _VERDICT_MD}
    text = f"{n['pass']} of {len(claims)} claims pass, {n['fail']} fail"
    return text + (f", {n['not reproduced']} not reproduced" if n["not reproduced"] else "")


def _claims_table(claims: list[dict]) -> list[str]:
    """The Markdown table of claims (one row each, failures in bold)."""
    rows = [
        "| experiment | items | source | statement | expected | measured | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in claims:
        verdict = _VERDICT_MD[c["outcome"]]
        measured = c["measured"] if c["outcome"] != "not reproduced" else c["reason"]
        rows.append(
            f"| {c['experiment']} | {', '.join(c['items'])} | {_md_escape(c['source'])} | "
            f"{_md_escape(c['statement'])} | {_md_escape(c['expected'])} | {_md_escape(measured)} "
            f"| {verdict} |"
        )
    return rows


def write_report(out: Path, sections: list[dict], mode: str, env: dict) -> None:
    """Write REPORT.md, claims.json and a self-contained index.html.

    `sections` holds one dict per experiment: name, title, result (Result), figure_files,
    seconds, error (str or None).
    """
    claims = []
    for s in sections:
        for c in s["result"].claims if s["result"] else []:
            claims.append({"experiment": s["name"]} | c.to_dict())
    (out / "claims.json").write_text(json.dumps(to_jsonable(claims), indent=2))

    lines = [
        "# contractax reproduction report",
        "",
        f"Mode: **{mode}**. {summary(claims)}. "
        f"Environment: {', '.join(f'{k} {v}' for k, v in env.items())}.",
        "",
        *_claims_table(claims),
        "",
    ]
    for s in sections:
        lines += [f"## {s['name']}: {s['title']}", ""]
        lines.append(f"Ran in {s['seconds']:.1f} s.")
        lines.append("")
        if s["error"]:
            lines += ["**The experiment raised an error:**", "", "```", s["error"], "```", ""]
            continue
        r = s["result"]
        if r.method:
            lines += [r.method, ""]
        for c in r.claims:
            if c.method:
                lines.append(f"- *{_md_escape(c.statement)}*: {c.method}")
        if any(c.method for c in r.claims):
            lines.append("")
        for fname in s["figure_files"]:
            cap = _md_escape(caption(r, fname))
            lines += [f"![{cap}]({s['name']}/{fname})", "", f"*{fname}*: {cap}", ""]
    (out / "REPORT.md").write_text("\n".join(lines))
    _write_html(out, sections, claims, mode, env)


def caption(result: Result, fname: str) -> str:
    """The caption of figure file `fname` (`Result.captions` is keyed by the figure's name);
    the experiment's figures without one are named as such, never silently blank."""
    stem = fname.rsplit(".", 1)[0]
    return result.captions.get(stem) or f"{stem} (no caption given)"


def _write_html(out: Path, sections, claims, mode, env) -> None:
    e = html.escape
    css = {"pass": "pass", "fail": "fail", "not reproduced": "nr"}
    rows = "".join(
        f"<tr class={css[c['outcome']]}><td>{e(c['experiment'])}</td>"
        f"<td>{e(', '.join(c['items']))}</td>"
        f"<td>{e(c['source'])}</td><td>{e(c['statement'])}</td><td>{e(c['expected'])}</td>"
        f"<td>{e(c['measured'] if c['outcome'] != 'not reproduced' else c['reason'])}</td>"
        f"<td>{e(c['outcome'].upper())}</td></tr>"
        for c in claims
    )
    body = []
    for s in sections:
        body.append(f"<h2>{e(s['name'])}: {e(s['title'])}</h2><p>Ran in {s['seconds']:.1f} s.</p>")
        if s["error"]:
            body.append(f"<pre class=fail>{e(s['error'])}</pre>")
            continue
        if s["result"].method:
            body.append(f"<p>{e(s['result'].method)}</p>")
        for fname in s["figure_files"]:
            data = base64.b64encode((out / s["name"] / fname).read_bytes()).decode()
            body.append(
                f"<figure><img src='data:image/png;base64,{data}'>"
                f"<figcaption><b>{e(fname)}</b>: {e(caption(s['result'], fname))}</figcaption>"
                "</figure>"
            )
    page = f"""<!doctype html><html><head><meta charset=utf-8><title>contractax report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:1em}}
table{{border-collapse:collapse;font-size:0.85em}}td,th{{border:1px solid #ccc;padding:4px}}
tr.fail td{{background:#fdd}}tr.nr td{{background:#eee;font-style:italic}}tr.pass td:last-child{{background:#dfd}}img{{max-width:100%}}
pre.fail{{background:#fdd;padding:1em}}</style></head><body>
<h1>contractax reproduction report</h1><p>Mode: <b>{e(mode)}</b>. {e(summary(claims))}.
Environment: {e(", ".join(f"{k} {v}" for k, v in env.items()))}.</p>
<table><tr><th>experiment</th><th>items</th><th>source</th><th>statement</th><th>expected</th><th>measured</th>
<th>result</th></tr>{rows}</table>{"".join(body)}</body></html>"""
    (out / "index.html").write_text(page)


def write_docs_page(out: Path, docs: Path, sections: list[dict], mode: str, env: dict) -> None:
    """Write `docs/reproducing.md` (claims table, method paragraphs, figures copied to
    `docs/reproductions/<experiment>/`) from a finished run."""
    import shutil

    dest = docs / "reproductions"
    claims = [
        {"experiment": s["name"]} | c.to_dict()
        for s in sections
        if s["result"]
        for c in s["result"].claims
    ]
    lines = [
        "# Reproducing the papers",
        "",
        "Every quantitative claim of the five source documents that contractax checks, as measured by",
        f"`python -m experiments.run all --{mode}` ({summary(claims)}; "
        f"{', '.join(f'{k} {v}' for k, v in env.items())}). `make demo` regenerates this table in",
        "`results/REPORT.md` and `results/index.html`; `make full` runs the papers' sizes (its",
        "results, beside these: [Reproducing the papers: full mode](reproducing-full.md)).",
        "",
        *_claims_table(claims),
        "",
    ]
    for s in sections:
        lines += [f"## {s['name']}: {s['title']}", ""]
        if s["error"]:
            lines += ["The experiment raised an error in this run; see `results/REPORT.md`.", ""]
            continue
        if s["result"].method:
            lines += [s["result"].method, ""]
        (dest / s["name"]).mkdir(parents=True, exist_ok=True)
        for fname in s["figure_files"]:
            shutil.copy(out / s["name"] / fname, dest / s["name"] / fname)
            cap = _md_escape(caption(s["result"], fname))
            lines += [f"![{cap}](reproductions/{s['name']}/{fname})", "", f"*{cap}*", ""]
    (docs / "reproducing.md").write_text("\n".join(lines))
    dest.mkdir(parents=True, exist_ok=True)  # the quick rows, for the side-by-side full page
    (dest / "claims.json").write_text(json.dumps(to_jsonable(claims), indent=1, ensure_ascii=False))
