"""Fetch an archive over HTTP(S) with a progress bar, verify its MD5, unpack it safely.

An interrupted download keeps its ``.part`` file and the next attempt resumes it with an HTTP
Range request (or starts over if the server ignores ranges).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import DataError
from ..progress import bar, log

DATASETS = {
    "cifar10": {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "md5": "c58f30108f718f92721af3b95e74349a",
        "folder": "cifar-10-batches-py",
    }
}
CHUNK = 1 << 20


def download_dataset(
    name: str, dest: str | Path, url: str | None = None, md5: str | None = None, timeout: float = 60
) -> Path:
    """Download and unpack data set ``name`` into ``dest``; returns the unpacked folder."""
    spec = DATASETS[name]
    dest = Path(dest)
    target = dest / spec["folder"]
    if target.is_dir():
        log.info("%s already present in %s", name, target)
        return target
    url = url or spec["url"]
    archive = dest / Path(url.split("?")[0]).name
    fetch(url, archive, timeout)
    verify_md5(archive, md5 or spec["md5"])
    extract_tar(archive, dest)
    if not target.is_dir():
        raise DataError(f"{archive}: unpacked, but {target} is not in it")
    archive.unlink()
    return target


def fetch(url: str, path: Path, timeout: float = 60) -> None:
    """Download ``url`` to ``path``, resuming ``path.part`` if an earlier attempt left one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return
    part = path.with_name(path.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = have > 0 and response.status == 206
            total = int(response.headers.get("Content-Length", 0)) + (have if resumed else 0)
            with open(part, "ab" if resumed else "wb") as out, bar(total, "download", unit="B") as progress:
                progress.update(have if resumed else 0)
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    progress.update(len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DataError(f"download of {url} failed ({exc}); run the command again to resume") from None
    os.replace(part, path)


def verify_md5(path: Path, expected: str) -> None:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        path.unlink()
        raise DataError(
            f"{path}: MD5 {digest.hexdigest()} does not match the published {expected}; "
            f"the file was removed, run the command again to re-download"
        )


def extract_tar(archive: Path, dest: Path) -> None:
    """Unpack only regular files and folders that stay inside ``dest``; refuse anything else."""
    root = dest.resolve()
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                target = (root / member.name).resolve()
                if not (member.isfile() or member.isdir()) or not target.is_relative_to(root):
                    raise DataError(f"{archive}: refusing unsafe archive entry {member.name!r}")
            for member in members:
                target = root / member.name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:  # not a regular file after all (the check above allows no other)
                    raise DataError(f"{archive}: refusing unsafe archive entry {member.name!r}")
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{archive}: cannot unpack ({exc})") from None
