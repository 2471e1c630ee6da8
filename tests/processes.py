"""Child processes for the tests: started in their own session (no terminal, like CI), waited on
with deadlines (a test fails, never hangs), interrupted the way supervisors do it (SIGINT to the
whole process group, like ``timeout -s INT``) and always stopped afterwards, whatever they spawned.

    with Child([sys.executable, "-m", "mlpcli", ...]) as child:
        child.wait_for_line("epoch 1/")          # a line on stderr, within a deadline
        child.interrupt()                        # SIGINT to the process group
        code = child.finish(timeout=60)          # exit code; child.stdout / child.stderr hold the text
        assert child.leftovers() == []           # nothing of its session still runs
    # leaving the block kills the whole session (SIGKILL), pass or fail
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Generous: the suite must pass on 2 cores shared with two busy loops.
DEADLINE = 120.0


def _default_sigint() -> None:
    """In the child before exec: Ctrl-C's default action, as in a terminal's foreground job. A
    shell starts a background job (``pytest &``, a CI step run that way) with SIGINT ignored, and
    exec keeps an ignored signal, so Python would install no KeyboardInterrupt handler and every
    interrupt test would see its child finish instead (exit 0)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def mlpcli_args(*args) -> list[str]:
    return [sys.executable, "-m", "mlpcli", *map(str, args)]


def child_env(**extra: str) -> dict:
    """This worktree's mlpcli, no progress bars, one BLAS thread per process."""
    path = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in path if p),
        "CI": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONFAULTHANDLER": "1",
        **extra,
    }


class Child:
    """A process in a new session whose stdout and stderr are read by threads, so that waiting for
    a line has a deadline (a plain ``readline`` blocks for as long as the child is silent)."""

    def __init__(self, args, env=None, cwd=None, stdin=subprocess.DEVNULL) -> None:
        self.process = subprocess.Popen(
            args,
            env=child_env() if env is None else env,
            cwd=cwd,
            text=True,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
        self.sid = self.process.pid  # session and process group id of everything it starts
        self._out, self._err, self._lock = [], [], threading.Lock()
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self._out), (self.process.stderr, self._err))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, lines: list) -> None:
        for line in stream:
            with self._lock:
                lines.append(line)

    @property
    def stdout(self) -> str:
        with self._lock:
            return "".join(self._out)

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._err)

    def wait_for_line(self, text: str, timeout: float = DEADLINE, stream: str = "stderr") -> None:
        """Until a line of stderr (or ``stream``) contains ``text``; fails (with stderr) at the
        deadline or if the child exits first."""
        wait_until(lambda: text in getattr(self, stream), timeout, f"a line with {text!r} on {stream}", self)

    def wait_for_file(self, found, timeout: float = DEADLINE) -> None:
        """Until ``found()`` (say, ``lambda: list(run.glob("units/*/model.json"))``) is true."""
        wait_until(found, timeout, "the file", self)

    def interrupt(self, sig: int = signal.SIGINT) -> None:
        """SIGINT (or ``sig``) to the process group, as Ctrl-C in a terminal and ``timeout -s INT`` send it."""
        os.killpg(self.sid, sig)

    def finish(self, timeout: float = DEADLINE) -> int:
        """The exit code, once the child and its output are done; fails after ``timeout`` seconds."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._dump_stacks()
            raise AssertionError(f"still running after {timeout:g} s; stderr:\n{self.stderr[-6000:]}") from None
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def _dump_stacks(self) -> None:
        """SIGABRT: with PYTHONFAULTHANDLER (see ``child_env``) a hung Python child prints every
        thread's stack on stderr, which the failure message then shows."""
        _signal(self.process.pid, signal.SIGABRT)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for reader in self._readers:
            reader.join(timeout=2)

    def leftovers(self, timeout: float = 10.0) -> list[str]:
        """The processes of the child's session still alive ``timeout`` seconds after it ended (their
        command lines); a process winding down gets that long to go."""
        deadline = time.monotonic() + timeout
        while session_members(self.sid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return [_cmdline(pid) for pid in session_members(self.sid)]

    def kill(self) -> None:
        """SIGKILL to every process of the session (the group and any that left it), then reap."""
        for pid in session_members(self.sid):
            _signal(pid, signal.SIGKILL)
        _signal_group(self.sid, signal.SIGKILL)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


@contextmanager
def reaped(process: subprocess.Popen):
    """For a test that needs a plain Popen (a pipe it closes itself): kill ``process`` on the way
    out if it still runs, so a failed test never leaves it behind."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def wait_until(found, timeout: float, what: str, child: Child | None = None) -> None:
    """Poll ``found()`` until true; fail after ``timeout`` seconds or when ``child`` has exited."""
    deadline = time.monotonic() + timeout
    while not found():
        if child is not None and child.process.poll() is not None and not found():
            raise AssertionError(f"exited ({child.process.returncode}) before {what}; stderr:\n{child.stderr[-3000:]}")
        if time.monotonic() > deadline:
            tail = child.stderr[-3000:] if child is not None else ""
            raise AssertionError(f"no {what} within {timeout:g} s; stderr:\n{tail}")
        time.sleep(0.02)


def session_members(sid: int) -> list[int]:
    """Live (not zombie) processes whose session id is ``sid``, found by scanning /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def _cmdline(pid: int) -> str:
    try:
        return f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return f"{pid}: (gone)"


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
