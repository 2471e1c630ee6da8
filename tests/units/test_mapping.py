"""``--cluster`` builds the data on Dask workers: a loopback cluster (real `dask scheduler` and
`dask worker` processes on 127.0.0.1, stopped by pid, killed in the end) decodes and extracts
the same bytes as this process, and an unreadable file is the same clean message.

Shards and chunks are made small (``shard_length``, ``PIECE_BYTES``, ``chunk_images``,
``SHARD_BYTES``) so that a few dozen images make several decoding shards, each decoded in pieces,
and several extraction shards of two chunks each. Broken on purpose once each, and seen to fail:
the client storing decoded shards in the wrong order; joining a shard's pieces in reverse order;
the client writing an extraction shard's rows one row off; ``units.mapping`` opening the cluster
for an empty list of shards (the fully cached run). (A worker extracting its shard in one piece
instead of chunk by chunk gave the same bytes on these images, so no test can show that the chunk
boundaries matter here; they are kept the same anyway, see ``features.spread``.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("distributed")

from loopback import cluster  # noqa: F401 (the fixture)

from mlpcli.cli import cli
from mlpcli.config import load_config
from mlpcli.data import shard_cache
from mlpcli.data.filelist import load_files
from mlpcli.data.folder import folder_files
from mlpcli.data.shape import as_preprocess
from mlpcli.errors import DataError
from mlpcli.features import FeatureConfig, pipeline, spread
from mlpcli.train.fit import prepare
from mlpcli.units.mapping import ClusterMap

FEATURES = (
    FeatureConfig("raw", {}),
    FeatureConfig("hog", {"orientations": 9, "cell": 8, "block": 2, "block_norm": "L2-Hys"}),
    FeatureConfig("color_hist", {"space": "hsv", "bins": 10}),
)
MAX_PIXELS = 10_000_000


def write_photos(root: Path, n_per_class: int = 14, seed: int = 0) -> Path:
    """root/<class>/: JPEGs large enough for draft decoding (portrait and landscape) and PNGs,
    smooth content with a class-dependent color."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(("dog", "cat")):
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            height, width = (150, 110) if i % 2 else (96, 160)
            rows, cols = np.mgrid[:height, :width]
            pixels = np.stack([rows * (1 + label), cols, (rows + cols) // 2], axis=-1) % 256
            pixels = np.clip(pixels + rng.normal(0, 12, pixels.shape), 0, 255).astype(np.uint8)
            suffix = "jpg" if i % 3 else "png"
            Image.fromarray(pixels).save(root / name / f"photo {i:02d}.{suffix}", quality=90)
    return root


@pytest.fixture
def small_shards(monkeypatch):
    """Decoding shards of about 4 files, decoded in pieces of 3 files; extraction chunks of 4
    images, 2 chunks a shard."""
    monkeypatch.setattr(shard_cache, "shard_length", lambda image_size: 4)
    monkeypatch.setattr(shard_cache, "PIECE_BYTES", 3 * 24 * 20 * 3)

    def chunk_images(height, width, n_features, dtype):
        return 4

    monkeypatch.setattr(pipeline, "chunk_images", chunk_images)
    monkeypatch.setattr(spread, "SHARD_BYTES", 2 * 4 * 24 * 20 * 3)


class Counting:
    """A mapper that counts the shards it hands to ``ClusterMap``, by function name."""

    def __init__(self, client) -> None:
        self.mapper, self.calls = ClusterMap(client, window=2), {}

    def __call__(self, fn, calls):
        for index, value in self.mapper(fn, calls):
            self.calls[fn.__name__] = self.calls.get(fn.__name__, 0) + 1
            yield index, value


def test_cluster_decodes_and_extracts_the_same_bytes_as_local(cluster, tmp_path, small_shards):
    files = folder_files(write_photos(tmp_path / "photos"))
    spec = as_preprocess((24, 20))
    mapper = Counting(cluster.client)
    local = load_files(files, spec, "fail", None, MAX_PIXELS)
    remote = load_files(files, spec, "fail", None, MAX_PIXELS, mapper)
    assert mapper.calls["decode_shard"] > len(remote.images.shards) > 1  # pieces of several shards
    assert np.asarray(remote.images).tobytes() == np.asarray(local.images).tobytes()
    assert remote.fingerprint == local.fingerprint and remote.labels.tolist() == local.labels.tolist()
    expected = pipeline.extract_features(local.images, FEATURES)
    X = pipeline.extract_features(remote.images, FEATURES, mapper=mapper)
    assert mapper.calls["extract_shard"] == 4  # 28 images: shards of 8, 8, 8 and 4
    assert X.dtype == expected.dtype and X.tobytes() == expected.tobytes()


def write_config(tmp_path: Path, photos: Path, **sections) -> Path:
    config = {
        "seed": 1,
        "data": {
            "format": "folder",
            "path": str(photos),
            "image_size": [24, 20],
            "val_fraction": 0.25,
            "cache_dir": str(tmp_path / "cache"),
        },
        "features": ["raw", {"name": "hog"}, "color_hist"],
        "model": {"hidden": [8]},
        "train": {"epochs": 2, "batch_size": 8},
        "output": {"dir": str(tmp_path / "runs")},
        **sections,
    }
    if config.get("mode") == "end_to_end":
        del config["features"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_end_to_end_images_and_pixels_are_the_same_bytes_from_the_cluster(cluster, tmp_path, small_shards):
    config = load_config(write_config(tmp_path, write_photos(tmp_path / "photos"), mode="end_to_end"))
    local = prepare(config, use_cache=False)
    remote = prepare(config, use_cache=False, mapper=ClusterMap(cluster.client))
    assert np.asarray(remote.dataset.images).tobytes() == np.asarray(local.dataset.images).tobytes()
    assert remote.X.shape == (28, 24 * 20 * 3) and remote.X.tobytes() == local.X.tobytes()


def break_one(photos: Path) -> Path:
    broken = photos / "cat" / "photo 05.jpg"
    broken.write_bytes(b"not a jpeg at all")
    return broken


def test_an_unreadable_file_on_a_worker_is_the_same_message_as_here(cluster, tmp_path, small_shards):
    photos = write_photos(tmp_path / "photos")
    broken = break_one(photos)
    files, spec = folder_files(photos), as_preprocess((24, 20))
    messages = []
    for mapper in (None, ClusterMap(cluster.client)):
        with pytest.raises(DataError) as raised:
            load_files(files, spec, "fail", None, MAX_PIXELS, mapper)
        messages.append(str(raised.value))
        skipped = load_files(files, spec, "skip", None, MAX_PIXELS, mapper)
        assert [item["path"] for item in skipped.skipped] == [str(broken)] and len(skipped) == 27
    assert messages[0] == messages[1] and messages[0].startswith(f"{broken}: cannot read as an image")


def train(*args):
    return CliRunner().invoke(cli, ["train", *map(str, args)])


def test_train_with_cluster_gives_the_local_run_and_reports_a_bad_file_cleanly(cluster, tmp_path):
    photos = write_photos(tmp_path / "photos")
    config = write_config(tmp_path, photos)
    here = train("--config", config, "--no-cache", "--json")
    there = train("--config", config, "--no-cache", "--json", "--cluster", cluster.address)
    assert here.exit_code == 0 and there.exit_code == 0, there.stderr
    assert "building shards on dask " + cluster.address in there.stderr
    keys = ("train_accuracy", "val_accuracy", "train_loss", "val_loss")
    assert [yaml.safe_load(there.stdout)[k] for k in keys] == [yaml.safe_load(here.stdout)[k] for k in keys]
    broken = break_one(photos)
    failed = [train("--config", config, "--no-cache", *extra) for extra in ((), ("--cluster", cluster.address))]
    assert [result.exit_code for result in failed] == [1, 1]
    assert failed[0].stderr.splitlines()[-1] == failed[1].stderr.splitlines()[-1]
    assert str(broken) in failed[1].stderr and "Traceback" not in failed[1].stderr


def invoke(command, config, *extra):
    return CliRunner().invoke(cli, [command, "--config", str(config), *map(str, extra)])


def test_a_wrong_address_fails_up_front_even_when_everything_is_cached(tmp_path):
    """Nothing listens on port 1 of the loopback. A fully cached run has nothing to build on the
    cluster, yet the user asked for one: train, kfold and search each fail at once (exit 1, the
    address and what to check), before any run folder is made (train used to exit 0, silently
    without the cluster; kfold failed only once its folds were submitted, its run folder made)."""
    search = {"strategy": "random", "trials": 2, "space": {"train.lr": {"choice": [0.01, 0.05]}}}
    config = write_config(tmp_path, write_photos(tmp_path / "photos", n_per_class=4), search=search)
    assert train("--config", config, "--json").exit_code == 0  # everything cached now
    runs = sorted((tmp_path / "runs").iterdir())
    for command, extra in (("train", ()), ("kfold", ("--k", 2)), ("search", ("--k", 2))):
        result = invoke(command, config, *extra, "--cluster", "tcp://127.0.0.1:1", "--timeout", 2)
        assert result.exit_code == 1, (command, result.output)
        assert "--cluster tcp://127.0.0.1:1: cannot connect" in result.stderr and "dask scheduler" in result.stderr
        assert "Traceback" not in result.stderr
    assert sorted((tmp_path / "runs").iterdir()) == runs
    bad = invoke("train", config, "--cluster", "local:0")
    assert bad.exit_code == 2 and "local:N with N >= 1" in bad.stderr


def test_each_command_opens_its_cluster_once(cluster, tmp_path, monkeypatch):
    """``kfold --cluster local:2`` opened one cluster to build the data and a second for the folds;
    train, kfold and search each open one now. (``local:N`` is stood in for by the loopback
    cluster, counted, so the test starts no Dask cluster of its own.)"""
    from mlpcli.units.cluster import DaskExecutor

    opened, connect = [], DaskExecutor.connect

    def start_local(n_workers, retries=0, dashboard=True):
        opened.append(f"local:{n_workers}")
        return connect(cluster.address, 30, retries)

    monkeypatch.setattr(DaskExecutor, "start_local", start_local)
    search = {"strategy": "random", "trials": 2, "space": {"train.lr": {"choice": [0.01, 0.05]}}}
    config = write_config(tmp_path, write_photos(tmp_path / "photos", n_per_class=4), search=search)
    for command, extra in (("train", ()), ("kfold", ("--k", 2)), ("search", ("--k", 2))):
        opened.clear()
        result = invoke(command, config, *extra, "--no-cache", "--json", "--cluster", "local:2")
        assert result.exit_code == 0, (command, result.stderr)
        assert opened == ["local:2"], command


def counted_cluster_calls(monkeypatch) -> list[str]:
    """The names of the functions ClusterMap runs on the cluster from now on, in order."""
    names: list[str] = []
    original = ClusterMap.__call__

    def counting(self, fn, calls):
        names.append(fn.__name__)
        return original(self, fn, calls)

    monkeypatch.setattr(ClusterMap, "__call__", counting)
    return names


def test_kfold_and_search_build_their_data_on_the_cluster(cluster, tmp_path, monkeypatch):
    shards_built = counted_cluster_calls(monkeypatch)
    search = {"strategy": "random", "trials": 2, "space": {"train.lr": {"choice": [0.01, 0.05]}}}
    config = write_config(tmp_path, write_photos(tmp_path / "photos", n_per_class=6), search=search)
    for command in ("kfold", "search"):
        result = CliRunner().invoke(
            cli, [command, "--config", str(config), "--k", "2", "--no-cache", "--json", "--cluster", cluster.address]
        )
        assert result.exit_code == 0, result.stderr
    assert shards_built == ["decode_shard", "extract_shard"] * 2


def test_a_call_that_raises_on_a_worker_raises_here_and_the_rest_is_cancelled(cluster):
    import operator

    mapper, pulled = ClusterMap(cluster.client, window=2), []
    calls = [(1, 1), (2, 0), *[(3, 1)] * 20]

    def reading():
        for call in calls:
            pulled.append(call)
            yield call

    with pytest.raises(ZeroDivisionError):
        list(mapper(operator.truediv, reading()))
    assert len(pulled) < len(calls)  # calls are read as room frees up, and none after the error
    assert dict(mapper(operator.truediv, [(6, 3), (1, 4)])) == {0: 2.0, 1: 0.25}


def test_kfold_with_flips_extracts_the_mirrored_images_on_the_cluster_too(cluster, tmp_path, monkeypatch):
    """``train.tta: flip``: the folds' mirrored features are built on the cluster (a second
    extraction), and the folds' scores are the same as in this process."""
    built = counted_cluster_calls(monkeypatch)
    config = write_config(
        tmp_path, write_photos(tmp_path / "photos", n_per_class=6), train={"epochs": 2, "tta": "flip"}
    )
    results = [
        CliRunner().invoke(cli, ["kfold", "--config", str(config), "--k", "2", "--no-cache", "--json", *extra])
        for extra in ((), ("--cluster", cluster.address))
    ]
    assert [r.exit_code for r in results] == [0, 0], results[1].stderr
    assert built == ["decode_shard", "extract_shard", "extract_shard"]
    here, there = (yaml.safe_load(r.stdout) for r in results)
    assert there["fold_losses"] == here["fold_losses"] and there["oof_accuracy"] == here["oof_accuracy"]
