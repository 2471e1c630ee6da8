"""``Dataset.sources`` of a decoded folder: read like the list of paths, held without an object
per image (issue 23: 100,000 path strings stayed alive for the whole run, and with them the heap
pages they were allocated among). Watched failing with ``sources`` built as a list."""

import numpy as np
import pytest
from conftest import write_image_folder

from mlpcli.data.dataset import Names
from mlpcli.data.folder import load_folder


def test_a_folder_s_sources_are_names_holding_no_object_per_image(tmp_path):
    root = write_image_folder(tmp_path / "photos", n_per_class=3, size=(6, 6))
    dataset = load_folder(root, (6, 6), cache_dir=str(tmp_path / "cache"))
    expected = [str(path) for path in sorted(root.rglob("*.png"))]
    assert isinstance(dataset.sources, Names)
    assert sorted(type(value).__name__ for value in vars(dataset.sources).values()) == ["ndarray", "str"]
    assert dataset.sources == expected and list(dataset.sources) == expected


def test_names_read_like_a_list():
    items = ["a/b.png", "cé/d f.png", "", "日本/x.jpg"]
    names = Names(items)
    assert len(names) == 4 and names[1] == "cé/d f.png" and names[-1] == "日本/x.jpg" and names[2] == ""
    assert names[1:3] == items[1:3] and names.index("日本/x.jpg") == 3 and "a/b.png" in names
    assert names == items and names == Names(items) and names != items[:3] and names != "a/b.png"
    assert not Names([]) and Names([]) == []
    with pytest.raises(IndexError):
        names[4]
    assert np.array_equal(names._ends, [0, 7, 17, 17, 25])
