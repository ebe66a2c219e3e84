"""Reproductions of the quantitative claims of the seed documents (see `python -m experiments.run`)."""
