"""Progress on stderr: a tqdm bar in a terminal, plain log lines in CI and pipes.

Results never go through here; they go to stdout from ``cli``.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("mlpcli")


def bars_enabled() -> bool:
    """tqdm bars only when a person is watching: stderr is a terminal, ``CI`` is unset and the log
    shows progress (not ``-q``, nor a quiet search unit)."""
    return sys.stderr.isatty() and not os.environ.get("CI") and log.isEnabledFor(logging.INFO)


def bar(total: int, desc: str, unit: str = "it", leave: bool = False):
    """A tqdm bar when ``bars_enabled()``, else a do-nothing stand-in with the same methods."""
    if bars_enabled():
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit=unit, leave=leave, file=sys.stderr, dynamic_ncols=True)
    return _NoBar()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass
