"""Publish finished full-mode runs: `python -m experiments._full_docs RUN_DIR ... [--docs docs]`.

Each RUN_DIR is the `--out` folder of `python -m experiments.run NAME --full` (long full runs
are run one experiment at a time, so that a session that stops keeps what finished). Copies
each run's REPORT.md, claims.json and figures to `docs/reproductions/full/<name>/` and writes
`docs/reproducing-full.md`: one claims table over all the runs, with each experiment's section
of its REPORT.md (figure links rewritten), beside the quick-mode page `docs/reproducing.md`.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from experiments._report import _VERDICT_MD, _claims_table, _md_escape, summary


def _sections(report: str, name: str) -> str:
    """The experiment sections of a REPORT.md (after the claims table), links made relative."""
    start = report.find("\n## ")
    body = report[start:] if start >= 0 else ""
    return body.replace(f"]({name}/", f"](reproductions/full/{name}/")


def _key(c: dict) -> tuple:
    return (c["experiment"], c["source"], c["statement"])


def side_by_side(full: list[dict], quick: list[dict]) -> list[str]:
    """One row per full-mode claim: its quick-mode outcome (matched on experiment, source and
    statement; "—" when quick mode has no such row) beside the full-mode one."""
    by_key = {_key(c): c for c in quick}
    rows = [
        "| experiment | items | statement | quick | full |",
        "|---|---|---|---|---|",
    ]
    for c in full:
        q = by_key.get(_key(c))
        rows.append(
            f"| {c['experiment']} | {', '.join(c['items'])} | {_md_escape(c['statement'])} | "
            f"{_VERDICT_MD[q['outcome']] if q else '—'} | {_VERDICT_MD[c['outcome']]} |"
        )
    changed = sum(1 for c in full if (q := by_key.get(_key(c))) and q["outcome"] != c["outcome"])
    return [*rows, "", f"{changed} of {len(full)} rows change outcome between the modes."]


def publish(runs: list[Path], docs: Path, notes: dict[str, str] | None = None) -> str:
    """Copy the runs and write the page. `notes` maps an experiment to a sentence kept in
    `docs/reproductions/full/<name>/NOTE.md` (an empty sentence removes it) and shown under the
    intro, e.g. that a published run predates a later fix."""
    claims, bodies, names = [], [], []
    for run in runs:
        rows = json.loads((run / "claims.json").read_text())
        if not rows:
            continue
        name = rows[0]["experiment"]
        names.append(name)
        claims += rows
        dest = docs / "reproductions" / "full" / name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(run / "claims.json", dest / "claims.json")
        report = (run / "REPORT.md").read_text().replace(f"]({name}/", "](")
        (dest / "REPORT.md").write_text(report)  # figure links relative to its new folder
        for png in sorted((run / name).glob("*.png")):
            shutil.copy(png, dest / png.name)
        bodies.append(_sections((run / "REPORT.md").read_text(), name))
        note = dest / "NOTE.md"
        if notes and notes.get(name):
            note.write_text(notes[name] + "\n")
        elif notes and name in notes:
            note.unlink(missing_ok=True)
    lines = [
        "# Reproducing the papers: full mode",
        "",
        "The papers' sizes, `python -m experiments.run NAME --full` one experiment at a time on a "
        f"2-core CPU (no GPU), for {', '.join(names)} ({summary(claims)}). Experiments not listed "
        "here were not run in full mode; their quick-mode rows are on "
        "[Reproducing the papers](reproducing.md). Each run's REPORT.md and claims.json are in "
        "`docs/reproductions/full/<experiment>/`.",
        "",
    ]
    run_notes = [
        f"- **{n}**: {(docs / 'reproductions' / 'full' / n / 'NOTE.md').read_text().strip()}"
        for n in names
        if (docs / "reproductions" / "full" / n / "NOTE.md").exists()
    ]
    if run_notes:
        lines += ["Notes on the runs:", "", *run_notes, ""]
    lines += [
        *_claims_table(claims),
        "",
    ]
    quick_file = docs / "reproductions" / "claims.json"
    if quick_file.exists():
        lines += [
            "## Quick and full mode side by side",
            "",
            "The outcome of each full-mode row beside the row of the same statement in the "
            "committed quick run ([Reproducing the papers](reproducing.md)); the measured values "
            "differ because quick mode shrinks the sizes.",
            "",
            *side_by_side(claims, json.loads(quick_file.read_text())),
            "",
        ]
    lines += bodies
    (docs / "reproducing-full.md").write_text("\n".join(lines) + "\n")
    return summary(claims)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--docs", type=Path, default=Path("docs"))
    p.add_argument(
        "--note", action="append", default=[], metavar="NAME=TEXT",
        help="a note on one experiment's run, kept with it (NAME= removes it)",
    )  # fmt: skip
    a = p.parse_args(argv)
    notes = dict(n.split("=", 1) for n in a.note)
    print(publish(a.runs, a.docs, notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
