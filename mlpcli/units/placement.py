"""Where units of work run: the value ``--jobs``, ``--cluster`` and ``--timeout`` make.

No NumPy here: the CLI builds a ``Placement`` before ``--threads`` has limited BLAS.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Seconds to wait for a Dask scheduler to answer (``--timeout``'s default).
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Placement:
    """``jobs`` local processes, or the Dask cluster at ``cluster`` (``tcp://HOST:PORT`` or
    ``local:N``; then ``jobs`` is None) reached within ``timeout`` seconds; neither: this process."""

    jobs: int | None = None
    cluster: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def here(self) -> bool:
        """No cluster and at most one job: the units run in this process."""
        return self.cluster is None and (self.jobs is None or self.jobs <= 1)
