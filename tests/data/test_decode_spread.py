"""Decoding through a mapper (``--cluster``) without a cluster: a plain generator stands in for
the Dask workers (tests/units/test_mapping.py has the real ones)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import write_image_folder

from mlpcli.data.filelist import load_files
from mlpcli.data.folder import folder_files
from mlpcli.data.shape import as_preprocess
from mlpcli.errors import DataError


def here(fn, calls):
    """What ``ClusterMap`` does, in this process and in order."""
    for index, call in enumerate(calls):
        yield index, fn(*call)


def hiding(path: Path):
    """A mapper whose "worker" cannot see ``path``: it is renamed away while each call runs."""

    def mapper(fn, calls):
        for index, call in enumerate(calls):
            away = path.with_name(path.name + ".away")
            path.rename(away)
            try:
                value = fn(*call)
            finally:
                away.rename(path)
            yield index, value

    return mapper


def test_decoding_through_a_mapper_gives_the_local_images(tmp_path):
    files = folder_files(write_image_folder(tmp_path / "images", n_per_class=5))
    spec = as_preprocess((16, 12))
    local = load_files(files, spec, "fail", None, 10**7)
    mapped = load_files(files, spec, "fail", None, 10**7, here)
    assert np.asarray(mapped.images).tobytes() == np.asarray(local.images).tobytes()


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_a_file_a_worker_cannot_see_is_a_setup_error_and_is_not_cached(tmp_path, on_error):
    """Without the check the run failed (or skipped the photo) with "file not found", and the
    shard was cached with it as unreadable, so the next run failed too (seen by removing it)."""
    files = folder_files(write_image_folder(tmp_path / "images", n_per_class=5))
    spec, cache_dir = as_preprocess((16, 12)), str(tmp_path / "cache")
    unseen = files.paths[3]
    with pytest.raises(DataError, match="not found on a Dask worker, though it is here") as raised:
        load_files(files, spec, on_error, cache_dir, 10**7, hiding(unseen))
    assert str(raised.value).startswith(f"{unseen}: ") and "storage every worker sees" in str(raised.value)
    again = load_files(files, spec, "fail", cache_dir, 10**7, here)
    assert len(again) == len(files.paths) and not again.skipped
