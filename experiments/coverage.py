"""Coverage of the 155 checklist items by a report: `python -m experiments.coverage [RESULTS_DIR]`.

Reads `RESULTS_DIR/claims.json` (default `results`, written by `python -m experiments.run`) and
the item ids of the checklist `seeds/CLAIMS.md`, vendored in `experiments/claims_items.json`
(CI has no copy of the seeds). Prints, per seed, how many items are

- **covered**: at least one row naming the item passed or failed;
- **not reproduced**: every row naming it is `not reproduced` (data or hardware absent);
- **missing**: no row names it;

and the list of missing ids. Rows naming ids the checklist does not have are listed too.

`python -m experiments.coverage --vendor PATH/TO/CLAIMS.md` regenerates the vendored list.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ITEMS_FILE = Path(__file__).with_name("claims_items.json")
SEEDS = {
    "000": "Flynn",
    "001": "Bullo",
    "002": "Ribeiro",
    "003": "Nar & Sastry",
    "004": "Hieu thesis",
}
_ROW = re.compile(r"^\|\s*(00[0-4]-\d{1,2})\s*\|")


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row, with escaped pipes (`\\|`) kept inside a cell."""
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [p.strip().replace("\\|", "|") for p in parts]


def parse_checklist(text: str) -> list[dict]:
    """The item rows of CLAIMS.md: id, section, claim text and the v0.1.0 category."""
    items = []
    for line in text.splitlines():
        if not _ROW.match(line):
            continue
        cells = _cells(line)
        items.append(dict(id=cells[0], section=cells[1], claim=cells[2], category_v010=cells[4]))
    return items


def load_items(path: Path = ITEMS_FILE) -> list[dict]:
    return json.loads(path.read_text())["items"]


def coverage(claims: list[dict], items: list[dict]) -> dict:
    """Per seed: covered / not reproduced / missing ids, and ids named but unknown."""
    outcomes = defaultdict(set)
    for c in claims:
        for item in c.get("items", []):
            outcomes[item].add(c["outcome"])
    known = {it["id"] for it in items}
    per_seed = {}
    for seed in SEEDS:
        ids = [it["id"] for it in items if it["id"].startswith(seed + "-")]
        covered = [i for i in ids if outcomes[i] & {"pass", "fail"}]
        not_rep = [i for i in ids if outcomes[i] and not outcomes[i] & {"pass", "fail"}]
        missing = [i for i in ids if not outcomes[i]]
        per_seed[seed] = dict(
            total=len(ids), covered=covered, not_reproduced=not_rep, missing=missing
        )
    unknown = sorted(i for i in outcomes if i not in known)
    return dict(seeds=per_seed, unknown=unknown)


def format_coverage(cov: dict) -> str:
    lines = [
        "| seed | items | covered | not reproduced | missing |",
        "|---|---|---|---|---|",
    ]
    tot = defaultdict(int)
    for seed, s in cov["seeds"].items():
        row = [s["total"], len(s["covered"]), len(s["not_reproduced"]), len(s["missing"])]
        for k, v in zip(("total", "covered", "nr", "missing"), row):
            tot[k] += v
        lines.append(f"| {seed} {SEEDS[seed]} | " + " | ".join(map(str, row)) + " |")
    lines.append(
        f"| **total** | {tot['total']} | {tot['covered']} | {tot['nr']} | {tot['missing']} |"
    )
    lines.append("")
    for seed, s in cov["seeds"].items():
        if s["missing"]:
            lines.append(f"missing {seed}: " + ", ".join(s["missing"]))
        if s["not_reproduced"]:
            lines.append(f"not reproduced {seed}: " + ", ".join(s["not_reproduced"]))
    if cov["unknown"]:
        lines.append("ids named by rows but not in the checklist: " + ", ".join(cov["unknown"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="results", help="folder with claims.json")
    parser.add_argument(
        "--vendor", metavar="CLAIMS_MD", help="regenerate claims_items.json from CLAIMS.md"
    )
    args = parser.parse_args(argv)
    if args.vendor:
        items = parse_checklist(Path(args.vendor).read_text())
        ITEMS_FILE.write_text(
            json.dumps(
                {"source": "seeds/CLAIMS.md (v0.1.0 checklist)", "items": items},
                indent=1,
                ensure_ascii=False,
            )
            + "\n"
        )
        print(f"wrote {len(items)} items to {ITEMS_FILE}")
        return 0
    path = Path(args.results) / "claims.json"
    if not path.exists():
        print(f"no {path}: run `python -m experiments.run` first", file=sys.stderr)
        return 2
    print(format_coverage(coverage(json.loads(path.read_text()), load_items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
