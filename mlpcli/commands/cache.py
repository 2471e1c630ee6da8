"""``mlpcli cache info|clear``: what the cache folder holds, and emptying it."""

from __future__ import annotations

from pathlib import Path


def cache_folder_of(config_path: str | None, folder: str | None) -> Path:
    """The folder named by ``--dir``, else the config's ``data.cache_dir``, else the default."""
    if folder is not None:
        return Path(folder)
    if config_path is not None:
        from ..config import load_config

        return Path(load_config(config_path).data.cache_dir)
    from ..config import DataConfig

    return Path(DataConfig().cache_dir)


def run_cache_info(folder: Path) -> dict:
    """{"folder", "exists", "bytes", "kinds": {kind: {"entries", "bytes"}}}."""
    from ..cache_folder import summary

    return {"exists": folder.is_dir(), **summary(folder)}


def run_cache_clear(folder: Path) -> dict:
    """{"folder", "entries", "bytes"} removed: only mlpcli's own entries are touched."""
    from ..cache_folder import clear

    return {"folder": str(folder.resolve()), **clear(folder)}
