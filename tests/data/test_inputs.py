"""Inputs of real projects: data.format csv, data.val_path, data.classes, data.color."""

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_config, write_image_folder
from PIL import Image

from mlpcli.cli import cli
from mlpcli.config import load_config
from mlpcli.data import class_names, load_dataset, load_labelled
from mlpcli.errors import ConfigError, DataError
from mlpcli.train.fit import holdout_split


def _config(tmp_path, **data):
    return load_config(write_config(tmp_path / "config.yaml", data=data)).data


def _image(path, color=(200, 30, 30), size=(20, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def _csv(tmp_path, text, name="labels.csv", encoding="utf-8", newline="\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def _photos(tmp_path):
    """Two classes of images with spaces and non-ASCII letters in their names."""
    for i in range(4):
        _image(tmp_path / "img" / f"chat noir {i}.png", (200, 30, 30))
        _image(tmp_path / "img" / f"hündin_é {i}.png", (30, 30, 200))
    rows = [f"img/chat noir {i}.png,cat" for i in range(4)] + [f"img/hündin_é {i}.png,dog" for i in range(4)]
    return rows


def test_csv_reads_paths_relative_to_itself_with_spaces_and_non_ascii_names(tmp_path, monkeypatch):
    path = _csv(tmp_path, "path,label\n" + "\n".join(_photos(tmp_path)) + "\n")
    monkeypatch.chdir(tmp_path / "img")  # relative to the CSV, not to the working folder
    dataset = load_dataset(_config(tmp_path, format="csv", path=str(path)), 0, cache=False)
    assert dataset.class_names == ("cat", "dog") and len(dataset) == 8
    assert dataset.images[0, 0, 0, 0] > 150 and dataset.images[-1, 0, 0, 2] > 150
    assert dataset.fixed_val is None  # no split column: val_fraction decides


@pytest.mark.parametrize("encoding, newline", [("utf-8-sig", "\n"), ("utf-8", "\r\n"), ("utf-8-sig", "\r\n")])
def test_csv_with_a_bom_or_windows_line_ends_and_spaces_around_labels(tmp_path, encoding, newline):
    rows = [row.replace(",", ",  ") + " " for row in _photos(tmp_path)]  # " cat " -> cat
    path = _csv(tmp_path, "path, label \n" + "\n".join(rows) + "\n\n", encoding=encoding, newline=newline)
    config = _config(tmp_path, format="csv", path=str(path))
    assert class_names(config) == ("cat", "dog")
    assert np.bincount(load_dataset(config, 0, cache=False).labels).tolist() == [4, 4]


def test_a_split_column_fixes_validation_and_test_rows_are_left_to_evaluate(tmp_path):
    rows = _photos(tmp_path)
    splits = ["train", "train", "VAL", "test"] * 2
    path = _csv(
        tmp_path,
        "label,path,split\n"
        + "\n".join(f"{r.split(',')[1]},{r.split(',')[0]},{s}" for r, s in zip(rows, splits))
        + "\n",
    )
    config = _config(tmp_path, format="csv", path=str(path), val_fraction=0.5)
    dataset = load_dataset(config, 0, cache=False)
    assert len(dataset) == 6
    train, val = holdout_split(SimpleNamespace(data=config, seed=0), dataset.labels, dataset.fixed_val)
    assert train.tolist() == [0, 1, 3, 4] and val.tolist() == [2, 5]
    assert len(load_labelled(path, (8, 8))) == 2  # evaluate --data: the test rows


def test_a_csv_row_naming_a_missing_file_names_the_csv_line_and_the_fix(tmp_path):
    rows = _photos(tmp_path)
    rows.insert(2, "img/gone.png,cat")
    path = _csv(tmp_path, "path,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"labels.csv: 1 listed file\(s\) not found:\n  line 4: .*gone.png"):
        load_dataset(_config(tmp_path, format="csv", path=str(path)), 0, cache=False)
    skipped = load_dataset(_config(tmp_path, format="csv", path=str(path), on_error="skip"), 0, cache=False)
    assert len(skipped) == 8 and "gone.png" in skipped.skipped[0]["path"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("file,label\na.png,cat\n", "line 1: the header must name the columns path and label"),
        ("path,label\na.png\n", "line 2: expected 2 cells"),
        ("path,label\n,cat\n", "line 2: empty path"),
        ("path,label,split\na.png,cat,holdout\n", "line 2: split must be one of train, val, test; got 'holdout'"),
        ("", "empty; expected a header line"),
    ],
)
def test_a_malformed_csv_names_the_line_and_what_is_expected(tmp_path, text, message):
    path = _csv(tmp_path, text)
    with pytest.raises(DataError, match=message):
        load_dataset(_config(tmp_path, format="csv", path=str(path)), 0, cache=False)


def test_val_path_is_the_validation_split(tmp_path):
    write_image_folder(tmp_path / "train", n_per_class=4, classes=("cat", "dog"))
    write_image_folder(tmp_path / "val", n_per_class=2, classes=("dog",))
    config = _config(tmp_path, format="folder", path=str(tmp_path / "train"), val_path=str(tmp_path / "val"))
    dataset = load_dataset(config, 0, cache=False)
    train, val = holdout_split(SimpleNamespace(data=config, seed=0), dataset.labels, dataset.fixed_val)
    assert train.tolist() == list(range(8)) and val.tolist() == [8, 9]
    assert dataset.labels[val].tolist() == [1, 1]  # "dog" by name, not by folder position


def test_an_unknown_label_in_val_path_is_a_data_error_with_the_fix(tmp_path):
    write_image_folder(tmp_path / "train", n_per_class=3, classes=("cat", "dog"))
    write_image_folder(tmp_path / "val", n_per_class=2, classes=("cat", "wolf"))
    config = _config(tmp_path, format="folder", path=str(tmp_path / "train"), val_path=str(tmp_path / "val"))
    with pytest.raises(
        DataError,
        match=r"val: data.val_path has class folder\(s\) 'wolf' that are not training "
        r"classes \(cat, dog\); rename or remove them",
    ):
        load_dataset(config, 0, cache=False)


def test_val_path_is_refused_for_array_formats(tmp_path):
    with pytest.raises(ConfigError, match="data.val_path: only for data.format folder or csv"):
        load_dataset(_config(tmp_path, val_path=str(tmp_path)), 0, cache=False)


def test_classes_orders_and_subsets_a_folder(tmp_path):
    write_image_folder(tmp_path / "train", n_per_class=3, classes=("cat", "dog", "frog"))
    config = _config(tmp_path, format="folder", path=str(tmp_path / "train"), classes=["frog", "cat"])
    dataset = load_dataset(config, 0, cache=False)
    assert dataset.class_names == ("frog", "cat") == class_names(config)
    assert dataset.labels.tolist() == [1, 1, 1, 0, 0, 0]
    assert all("dog" not in source for source in dataset.sources)


def test_classes_subsets_the_synthetic_shapes(tmp_path):
    dataset = load_dataset(_config(tmp_path, classes=["square", "circle"], n_per_class=3), 0, cache=False)
    assert dataset.class_names == ("square", "circle") and len(dataset) == 6


def test_a_class_listed_but_absent_is_a_data_error_naming_it(tmp_path):
    write_image_folder(tmp_path / "train", n_per_class=2, classes=("cat", "dog"))
    config = _config(tmp_path, format="folder", path=str(tmp_path / "train"), classes=["cat", "cow"])
    with pytest.raises(DataError, match="data.classes lists 'cow', which the data does not have"):
        load_dataset(config, 0, cache=False)
    with pytest.raises(DataError, match="'cow'"):
        class_names(config)


def test_classes_must_be_distinct_names(tmp_path):
    with pytest.raises(ConfigError, match="data.classes: must be a non-empty list of distinct class names"):
        _config(tmp_path, classes=["cat", " cat"])


def test_gray_is_the_same_for_files_and_arrays(tmp_path):
    write_image_folder(tmp_path / "train", n_per_class=2, classes=("cat", "dog"), size=(16, 16))
    folder = load_dataset(
        _config(tmp_path, format="folder", path=str(tmp_path / "train"), color="gray"), 0, cache=False
    )
    assert (folder.images[..., 0] == folder.images[..., 2]).all()
    colored = load_dataset(_config(tmp_path, format="folder", path=str(tmp_path / "train")), 0, cache=False)
    np.savez(tmp_path / "d.npz", images=colored.images, labels=colored.labels)
    arrays = load_dataset(_config(tmp_path, format="npz", path=str(tmp_path / "d.npz"), color="gray"), 0)
    assert np.array_equal(arrays.images, folder.images)


def test_the_cache_key_changes_with_each_new_key(tmp_path):
    write_image_folder(tmp_path / "train", n_per_class=2, classes=("cat", "dog"))
    base = {"format": "folder", "path": str(tmp_path / "train")}
    keys = {
        load_dataset(_config(tmp_path, **base, **extra), 0).fingerprint
        for extra in (
            {},
            {"color": "gray"},
            {"resize": "pad"},
            {"resize": "pad", "pad_fill": 9},
            {"resize": "center_crop"},
            {"classes": ["dog", "cat"]},
        )
    }
    assert len(keys) == 6


def test_train_validates_on_the_csv_split_and_on_val_path(tmp_path):
    write_image_folder(tmp_path / "images", n_per_class=6, classes=("cat", "dog"))
    splits = ["train", "train", "train", "val", "val", "test"]
    rows = [f"images/{name}/{i:03d}.png,{name},{splits[i]}" for name in ("cat", "dog") for i in range(6)]
    path = _csv(tmp_path, "path,label,split\n" + "\n".join(rows) + "\n")
    write_image_folder(tmp_path / "val", n_per_class=3, classes=("cat", "dog"), seed=1)
    for data, n_train, n_val in (
        ({"format": "csv", "path": str(path)}, 6, 4),
        ({"format": "folder", "path": str(tmp_path / "images"), "val_path": str(tmp_path / "val")}, 12, 6),
    ):
        config = write_config(tmp_path / "config.yaml", data=data)
        result = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", str(tmp_path / "run"), "--json"])
        assert result.exit_code == 0, result.stderr
        metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
        assert (metrics["train"]["n"], metrics["val"]["n"]) == (n_train, n_val)
        shutil.rmtree(tmp_path / "run")
