"""Progress on stderr: a tqdm bar in a terminal, plain log lines in CI and pipes.

Results never go through here; they go to stdout from ``cli``.
"""

from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger("mlpcli")


def bars_enabled() -> bool:
    """tqdm bars only when a person is watching: stderr is a terminal, ``CI`` is unset and the log
    shows progress (not ``-q``, nor a quiet search unit)."""
    return sys.stderr.isatty() and not os.environ.get("CI") and log.isEnabledFor(logging.INFO)


#: Without a bar (CI, a pipe), long work logs a line this often, so that a CI system that kills
#: jobs silent for minutes sees it is alive, and a log shows how far it got.
LINE_SECONDS = 10.0


def bar(total: int, desc: str, unit: str = "it", leave: bool = False):
    """A tqdm bar when ``bars_enabled()``; else a stand-in with the same methods that logs
    ``desc: done/total unit (percent)`` every ``LINE_SECONDS`` while the work lasts."""
    if bars_enabled():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, leave=leave, file=sys.stderr, dynamic_ncols=True)
    return _LineBar(total, desc, unit)


class _LineBar:
    def __init__(self, total: int = 0, desc: str = "", unit: str = "it") -> None:
        self.total, self.desc, self.unit, self.done = total, desc, unit, 0
        self.next_line = time.monotonic() + LINE_SECONDS

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.desc and time.monotonic() >= self.next_line:
            self.next_line = time.monotonic() + LINE_SECONDS
            percent = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
            log.info("%s: %d/%d %s%s", self.desc, self.done, self.total, self.unit, percent)

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass
