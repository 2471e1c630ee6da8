"""The cache folder as a whole: a size cap with least recently used entries out first, and
``mlpcli cache info|clear`` (which touch only mlpcli's own entries)."""

import json
import os

import numpy as np
from click.testing import CliRunner
from conftest import write_config

from mlpcli import cache_folder
from mlpcli.cli import cli


def _entry(folder, name, size, age):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (1_000_000 - age, 1_000_000 - age))
    return path


def test_the_cap_removes_least_recently_used_entries_first_and_keeps_this_runs(tmp_path):
    old = _entry(tmp_path, "features-old.npy", 100, age=30)
    shard = [_entry(tmp_path, "images/s.npy", 100, age=20), _entry(tmp_path, "images/s.json", 10, age=20)]
    kept_by_run = _entry(tmp_path, "fitted-mine.npz", 100, age=25)
    new = _entry(tmp_path, "features-new.npy", 100, age=10)
    foreign = _entry(tmp_path, "notes.txt", 1000, age=99)
    freed = cache_folder.enforce_limit(tmp_path, 250, keep={kept_by_run.resolve()})
    assert freed == 210 and not old.exists() and not any(p.exists() for p in shard)
    assert kept_by_run.exists() and new.exists() and foreign.exists()
    assert cache_folder.enforce_limit(tmp_path, 10_000) == 0


def test_a_run_keeps_the_cache_under_its_cap(tmp_path):
    cache = tmp_path / "cache"
    stale = _entry(cache, "features-stale.npy", 2_000_000, age=10)
    config = write_config(tmp_path / "c.yaml", data={"cache_max_gb": 0.001})
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.stderr
    assert not stale.exists() and list(cache.glob("features-*.npy"))  # this run's entry stays


def test_cache_info_and_clear(tmp_path):
    _entry(tmp_path, "features-a.npy", 300, age=1)
    _entry(tmp_path, "images/b.npy", 200, age=1)
    _entry(tmp_path, "images/b.json", 20, age=1)
    foreign = _entry(tmp_path, "keep-me.txt", 5, age=1)
    runner = CliRunner()
    info = json.loads(runner.invoke(cli, ["cache", "info", "--dir", str(tmp_path), "--json"]).stdout)
    assert info["bytes"] == 520 and info["kinds"]["images"] == {"entries": 1, "bytes": 220}
    cleared = runner.invoke(cli, ["cache", "clear", "--dir", str(tmp_path)])
    assert cleared.exit_code == 0 and "removed 2 entries" in cleared.stdout
    assert foreign.exists() and not list(tmp_path.glob("features-*")) and not list(tmp_path.glob("images/*"))
    missing = runner.invoke(cli, ["cache", "info", "--dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 0 and "does not exist yet" in missing.stdout
    assert np.isclose(
        json.loads(runner.invoke(cli, ["cache", "info", "--dir", str(tmp_path), "--json"]).stdout)["bytes"], 0
    )
