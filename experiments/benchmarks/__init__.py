"""Side-by-side benchmarks against peers; `python -m experiments.benchmarks [all|NAME ...]`.

Each module here exposes `run(quick: bool = True) -> dict` (JSON-compatible) and is timed on
the machine it runs on; `_common` has the timing helpers.
"""
