"""`python -m experiments.benchmarks [all|NAME ...] [--full] [--out DIR]`: run, write JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

import experiments.benchmarks as pkg
from experiments._report import to_jsonable
from experiments.benchmarks._common import machine


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("names", nargs="*", default=["all"])
    p.add_argument("--full", action="store_true")
    p.add_argument("--out", default="results/benchmarks")
    a = p.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", False)
    names = available() if a.names in (["all"], []) else a.names
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        print(f"benchmark {name} ...", flush=True)
        res = importlib.import_module(f"experiments.benchmarks.{name}").run(quick=not a.full)
        res = {"machine": machine()} | res
        (out / f"{name}.json").write_text(json.dumps(to_jsonable(res), indent=2))
        print(json.dumps(to_jsonable(res), indent=2)[:3000], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
