"""One progress display for host-side loops (chunks, epochs, experiment parts).

tqdm when it is installed and the output is a terminal; nothing in CI logs (``CI`` set) or when
``CONTRACTAX_PROGRESS=0``. ``CONTRACTAX_PROGRESS=1`` forces it on. tqdm is optional: without it
the iterable is returned unchanged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def enabled(requested: bool | None = None) -> bool:
    """Whether to draw a bar: `requested` if given, else the environment decides."""
    if requested is not None:
        return bool(requested)
    env = os.environ.get("CONTRACTAX_PROGRESS")
    if env is not None:
        return env not in ("0", "", "false", "False")
    return not os.environ.get("CI") and sys.stderr.isatty()


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str = "", show: bool | None = None
) -> Iterable[T]:
    """Wrap `iterable` in a tqdm bar when `enabled(show)` and tqdm is importable."""
    if not enabled(show):
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)
