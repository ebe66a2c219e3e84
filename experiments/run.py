"""Run the reproductions: `python -m experiments.run [all|NAME ...] [--quick|--full] [--out DIR]`.

Each experiment module in this package (a file not starting with `_`) exposes `TITLE` and
`run(quick: bool) -> Result`. Figures go to `OUT/<name>/*.png`, metrics to
`OUT/<name>/metrics.json`; `OUT/REPORT.md`, `OUT/claims.json` and `OUT/index.html` summarise.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path

import experiments
from experiments._cache import set_cache_dir
from experiments._report import summary, to_jsonable, write_docs_page, write_report

ORDER = [
    "lognorms",
    "fixed_points",
    "implicit_robustness",
    "flynn_timescale",
    "step_size",
    "rnn_memory",
    "deq_ntk",
    "deq_foundations",
    "ren_sysid",
    "lbdn_robustness",
]


def available() -> list[str]:
    names = [
        m.name
        for m in pkgutil.iter_modules(experiments.__path__)
        if not m.name.startswith("_") and m.name not in ("run", "benchmarks", "coverage")
    ]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=["all"])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", default=True)
    mode.add_argument("--full", action="store_true")
    parser.add_argument("--out", default="results")
    parser.add_argument(
        "--docs", default=None, help="also write DOCS/reproducing.md with the table and figures"
    )
    parser.add_argument(
        "--x64",
        action="store_true",
        default=True,
        help="run in float64 (theorem checks); on by default",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="run this many experiments at once, each in its own process (the report is the "
        "same; `make demo` uses 2, one per core)",
    )
    parser.add_argument(
        "--cache",
        action="store_true",
        help="keep finished long parts under OUT/_cache and reuse them (always on with --full)",
    )
    args = parser.parse_args(argv)
    quick = not args.full

    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    import matplotlib

    matplotlib.use("Agg")

    names = available() if args.names in (["all"], []) else args.names
    unknown = [n for n in names if n not in available()]
    if unknown:
        parser.error(f"unknown experiment(s) {unknown}; available: {available()}")
    if args.jobs < 1:
        parser.error(f"--jobs must be ≥ 1, got {args.jobs}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "_cache" if (args.full or args.cache) else None
    t_all = time.perf_counter()
    if args.jobs == 1 or len(names) == 1:
        set_cache_dir(cache)
        sections = [
            _run_one(name, quick, out, f"[{i + 1}/{len(names)}]") for i, name in enumerate(names)
        ]
    else:
        sections = _run_parallel(names, quick, out, cache, args.x64, args.jobs)
    failed_runs = sum(s["error"] is not None for s in sections)
    print(f"all {len(names)} experiment(s) in {time.perf_counter() - t_all:.1f} s", flush=True)
    env = {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "machine": platform.machine(),
    }
    write_report(out, sections, "quick" if quick else "full", env)
    if args.docs:
        write_docs_page(out, Path(args.docs), sections, "quick" if quick else "full", env)
    print(f"wrote {out / 'REPORT.md'}, {out / 'index.html'}, {out / 'claims.json'}")
    return 1 if failed_runs else 0


# Quick-mode seconds of the last idle run, longest first: with --jobs the longest experiments
# start first so the processes finish together (an unknown name goes last).
_EXPECTED_SECONDS = {  # quick-mode seconds measured on 2 cores (2026-12-04), for the order
    "deq_ntk": 209,
    "flynn_timescale": 88,
    "lognorms": 87,
    "rnn_memory": 78,
    "step_size": 64,
    "lbdn_robustness": 62,
    "implicit_robustness": 52,
    "fixed_points": 48,
    "ren_sysid": 41,
    "deq_foundations": 23,
}


def _run_one(name: str, quick: bool, out: Path, tag: str) -> dict:
    """Run one experiment, save its figures and metrics under `out/name`, and return its
    report section (the figures replaced by their file names)."""
    import matplotlib.pyplot as plt

    print(f"{tag} {name} ({'quick' if quick else 'full'}) ...", flush=True)
    t0 = time.perf_counter()
    sec = {"name": name, "title": "", "result": None, "figure_files": [], "error": None}
    try:
        mod = importlib.import_module(f"experiments.{name}")
        sec["title"] = getattr(mod, "TITLE", name)
        res = mod.run(quick=quick)
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        for fname, fig in res.figures.items():
            fn = f"{fname}.png"
            fig.savefig(d / fn, dpi=110, bbox_inches="tight")
            plt.close(fig)
            sec["figure_files"].append(fn)
        res.metrics = to_jsonable(res.metrics)
        res.figures = {}
        (d / "metrics.json").write_text(json.dumps(res.metrics, indent=2))
        sec["result"] = res
        print(f"    {name}: {summary([c.to_dict() for c in res.claims])}", flush=True)
    except Exception:  # report it, keep going with the others
        sec["error"] = traceback.format_exc()
        print(sec["error"], file=sys.stderr, flush=True)
    sec["seconds"] = time.perf_counter() - t0
    print(f"    {name} done in {sec['seconds']:.1f} s", flush=True)
    return sec


def _worker_init(cache: Path | None, x64: bool) -> None:
    import jax
    import matplotlib

    matplotlib.use("Agg")
    if x64:
        jax.config.update("jax_enable_x64", True)
    set_cache_dir(cache)


def _run_parallel(names, quick, out, cache, x64, jobs) -> list[dict]:
    """`_run_one` for each name in `jobs` fresh processes (spawned: JAX is not fork-safe),
    longest expected first; the sections come back in `names` order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    order = sorted(names, key=lambda n: -_EXPECTED_SECONDS.get(n, 0))
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        jobs, mp_context=ctx, initializer=_worker_init, initargs=(cache, x64)
    ) as pool:
        futures = {
            n: pool.submit(_run_one, n, quick, out, f"[{i + 1}/{len(names)}]")
            for i, n in enumerate(order)
        }
        return [futures[n].result() for n in names]


if __name__ == "__main__":
    sys.exit(main())
